package microsoft

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// Default and largest page size of List.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// summaryFields are what List asks for ($select): one request a page.
const summaryFields = "id,conversationId,subject,from,toRecipients,receivedDateTime,bodyPreview,isRead,hasAttachments,parentFolderId,categories"

// wellKnownFolders are the folder names Graph accepts in place of an id.
var wellKnownFolders = []string{"inbox", "sentitems", "drafts", "archive", "deleteditems", "junkemail", "outbox", "clutter", "conversationhistory", "scheduled", "searchfolders", "recoverableitemsdeletions"}

// folderWords are the names other mail services give to well-known folders,
// so that an agent's "SENT" or "trash" finds the same folder for every
// account (tool texts say "label SENT" whatever the provider).
var folderWords = map[string]string{"sent": "sentitems", "trash": "deleteditems", "spam": "junkemail", "junk": "junkemail", "draft": "drafts"}

// mailbox implements providers.Mail over Graph for the signed-in user.
type mailbox struct {
	g *graph
}

var _ providers.Mail = (*mailbox)(nil)

// message is Graph's message resource, the fields mailcal reads.
type message struct {
	ID               string      `json:"id"`
	ConversationID   string      `json:"conversationId"`
	Subject          string      `json:"subject"`
	From             *recipient  `json:"from"`
	To               []recipient `json:"toRecipients"`
	Cc               []recipient `json:"ccRecipients"`
	ReplyTo          []recipient `json:"replyTo"`
	ReceivedDateTime string      `json:"receivedDateTime"`
	BodyPreview      string      `json:"bodyPreview"`
	IsRead           bool        `json:"isRead"`
	HasAttachments   bool        `json:"hasAttachments"`
	ParentFolderID   string      `json:"parentFolderId"`
	Categories       []string    `json:"categories"`
	InternetMsgID    string      `json:"internetMessageId"`
	Body             *struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Attachments []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		ContentType string `json:"contentType"`
		Size        int64  `json:"size"`
		IsInline    bool   `json:"isInline"`
	} `json:"attachments"`
}

type recipient struct {
	EmailAddress struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

func (r recipient) String() string {
	return providers.Address{Name: strings.TrimSpace(r.EmailAddress.Name), Email: strings.TrimSpace(r.EmailAddress.Address)}.String()
}

func joinRecipients(rs []recipient) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		if s := r.String(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// List lists messages newest first in one request a page:
//
//   - no label: every folder but Deleted Items and Junk Email (Gmail's "all
//     mail but spam and trash"), those two excluded by $filter; their ids
//     are read once per account and kept briefly (folderSet);
//   - a label: one folder, by its well-known name (inbox, sentitems, …),
//     its display name (any case; "Parent/Child" for a subfolder) or its id;
//   - a category's name (any case; no folder has it): every folder but
//     Deleted Items and Junk Email, $filter categories/any(…);
//   - unread_only: $filter isRead eq false;
//   - a query: Graph's $search (KQL), which refuses $filter and $orderby
//     and sorts by date itself. The folder exclusion and unread_only are then
//     applied to each page of results here, so a page may hold fewer than
//     max_results messages (or none) and still have a next page.
func (mb *mailbox) List(ctx context.Context, q providers.MessageQuery) (providers.MessagePage, error) {
	n := q.MaxResults
	if n <= 0 {
		n = defaultPageSize
	}
	n = min(n, maxPageSize)
	query := strings.TrimSpace(q.Query)
	label := strings.TrimSpace(q.Label)
	hash := listingHash("messages", strings.ToLower(label), query, strconv.FormatBool(q.UnreadOnly))
	var tok pageToken
	if q.PageToken != "" {
		var err error
		if tok, err = decodePageToken(q.PageToken, hash); err != nil {
			return providers.MessagePage{}, err
		}
	}

	path, folderLabel := "/me/messages", ""
	var exclude []string
	var folders *folderSet
	category := ""
	if label != "" {
		id, name, err := mb.resolveFolder(ctx, label)
		if err != nil {
			// Not a folder: a category of the mailbox (triage.go), any case.
			if category = mb.listedCategory(ctx, label); category == "" {
				return providers.MessagePage{}, err
			}
		} else {
			path, folderLabel = "/me/mailFolders/"+url.PathEscape(id)+"/messages", name
		}
	}
	if label == "" || category != "" {
		var err error
		if folders, err = mb.folders(ctx); err != nil {
			return providers.MessagePage{}, err
		}
		exclude = folders.excluded()
	}

	params := url.Values{"$select": {summaryFields}, "$top": {strconv.Itoa(n)}}
	if query != "" {
		params.Set("$search", kqlSearch(query))
	} else {
		// $orderby's property must come first in $filter (else Graph
		// answers InefficientFilter).
		filter := []string{"receivedDateTime ge 1900-01-01T00:00:00Z"}
		for _, id := range exclude {
			filter = append(filter, "parentFolderId ne "+odataString(id))
		}
		if q.UnreadOnly {
			filter = append(filter, "isRead eq false")
		}
		if category != "" {
			filter = append(filter, "categories/any(c:c eq "+odataString(category)+")")
		}
		params.Set("$filter", strings.Join(filter, " and "))
		params.Set("$orderby", "receivedDateTime desc")
	}
	tok.apply(params)

	var res struct {
		Value    []message `json:"value"`
		NextLink string    `json:"@odata.nextLink"`
	}
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: path, query: params, need: scopeMailRead}, &res); err != nil {
		return providers.MessagePage{}, notFoundFolder(err, label)
	}
	page := providers.MessagePage{Messages: make([]providers.MessageSummary, 0, len(res.Value))}
	for _, m := range res.Value {
		if m.ID == "" || query != "" && (slices.Contains(exclude, m.ParentFolderID) || q.UnreadOnly && m.IsRead ||
			category != "" && !slices.ContainsFunc(m.Categories, func(c string) bool { return strings.EqualFold(c, category) })) {
			continue
		}
		s := summary(m)
		if l := cmp.Or(folderLabel, folders.label(m.ParentFolderID)); l != "" {
			s.Labels = append([]string{l}, s.Labels...)
		}
		page.Messages = append(page.Messages, s)
	}
	var err error
	page.NextPageToken, err = nextToken(res.NextLink, hash, 0, 0)
	return page, err
}

// kqlSearch quotes a query for $search: the whole KQL expression in double
// quotes, inner double quotes and backslashes escaped with a backslash.
func kqlSearch(q string) string {
	q = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, q)
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(q) + `"`
}

// odataString is an OData string literal: single quotes, doubled inside.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func summary(m message) providers.MessageSummary {
	s := providers.MessageSummary{
		ID:             m.ID,
		ThreadID:       m.ConversationID,
		To:             joinRecipients(m.To),
		Subject:        m.Subject,
		Snippet:        strings.TrimSpace(m.BodyPreview),
		Labels:         slices.Clone(m.Categories),
		Unread:         !m.IsRead,
		HasAttachments: m.HasAttachments,
	}
	if s.Labels == nil {
		s.Labels = []string{}
	}
	if m.From != nil {
		s.From = m.From.String()
	}
	if t, err := time.Parse(time.RFC3339, m.ReceivedDateTime); err == nil {
		s.Date = t.UTC()
	}
	return s
}

// Get reads a message: headers, the body as text (an HTML body converted
// by htmltext, long and tracking links left as [n] markers listed in Links,
// as the Gmail client does) and the metadata of its attachments (not inline
// images), in one request.
func (mb *mailbox) Get(ctx context.Context, id string) (providers.Message, error) {
	if err := checkID("id", id); err != nil {
		return providers.Message{}, err
	}
	params := url.Values{
		"$select": {summaryFields + ",ccRecipients,replyTo,internetMessageId,body"},
		"$expand": {"attachments($select=id,name,contentType,size,isInline)"},
	}
	var m message
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/messages/" + url.PathEscape(id), query: params, need: scopeMailRead}, &m); err != nil {
		return providers.Message{}, err
	}
	out, _ := mb.toMessage(m)
	return out, nil
}

// checkID refuses what cannot be a Graph id (they are base64url, with "="
// padding) before it goes into a request's path.
func checkID(field, id string) error {
	if id == "" || len(id) > 512 {
		return &providers.FieldError{Field: field, Msg: "not an Outlook id (from list_messages or get_message)"}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '+' || c == '/') {
			return &providers.FieldError{Field: field, Msg: fmt.Sprintf("%q is not an Outlook id (from list_messages or get_message)", clip(id))}
		}
	}
	return nil
}
