package microsoft

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/htmltext"
)

// Drafts are messages with isDraft true in the Drafts folder: a draft's id
// is its message's (immutable, so it stays valid once the draft is sent).
// They need Mail.ReadWrite (mailcal's mail.modify); sending one, Mail.Send.

// draftFields are what a draft read selects.
const draftFields = "id,isDraft,conversationId,subject,toRecipients,ccRecipients,bccRecipients,lastModifiedDateTime,bodyPreview"

// draft is a draft as Graph answers it.
type draft struct {
	message
	IsDraft      bool        `json:"isDraft"`
	Bcc          []recipient `json:"bccRecipients"`
	LastModified string      `json:"lastModifiedDateTime"`
}

func (d draft) ref() providers.DraftRef {
	return providers.DraftRef{ID: d.ID, MessageID: d.ID, ThreadID: d.ConversationID}
}

func (d draft) summary() providers.DraftSummary {
	s := providers.DraftSummary{DraftRef: d.ref(), To: addresses(d.To), Subject: d.Subject, Snippet: d.BodyPreview}
	if t, err := time.Parse(time.RFC3339, d.LastModified); err == nil {
		s.Date = t
	}
	return s
}

func addresses(rs []recipient) []providers.Address {
	out := make([]providers.Address, 0, len(rs))
	for _, r := range rs {
		out = append(out, providers.Address{Name: strings.TrimSpace(r.EmailAddress.Name), Email: strings.TrimSpace(r.EmailAddress.Address)})
	}
	return out
}

// CreateDraft saves m in Drafts (a reply through createReply, in the
// original's conversation, with its subject).
func (mb *mailbox) CreateDraft(ctx context.Context, m providers.OutgoingMessage) (providers.DraftRef, error) {
	var orig *message
	if m.ReplyTo != "" {
		var err error
		if orig, err = mb.original(ctx, m); err != nil {
			return providers.DraftRef{}, err
		}
	}
	d, err := mb.saveDraft(ctx, m, orig)
	if errors.Is(err, errDraftsRefused) {
		return providers.DraftRef{}, &providers.Error{Kind: providers.ErrForbidden, Status: http.StatusForbidden,
			Message: "Outlook refused to save a draft: drafts need the mail.modify scope (Graph Mail.ReadWrite)"}
	}
	if err != nil {
		return providers.DraftRef{}, err
	}
	return providers.DraftRef{ID: d.ID, MessageID: d.ID, ThreadID: d.ConversationID}, nil
}

// readDraft reads a draft (with extra $expand, if any); a message that is
// not a draft is not found.
func (mb *mailbox) readDraft(ctx context.Context, id, selectFields, expand string) (draft, error) {
	if err := checkID("draft_id", id); err != nil {
		return draft{}, err
	}
	q := url.Values{"$select": {selectFields + ",parentFolderId"}}
	if expand != "" {
		q.Set("$expand", expand)
	}
	var d draft
	err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/messages/" + url.PathEscape(id), query: q, need: scopeMailRead}, &d)
	var pe *providers.Error
	switch {
	case errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound):
		return draft{}, noDraft(id, pe.Status)
	case err != nil:
		return draft{}, err
	case !d.IsDraft:
		return draft{}, &providers.Error{Kind: providers.ErrNotFound, Status: http.StatusNotFound,
			Message: fmt.Sprintf("draft_id %q is a message that is not a draft (already sent?)", clip(id))}
	}
	// A deleted draft stays a draft in Deleted Items: it is gone all the same.
	folders, err := mb.folders(ctx)
	if err != nil {
		return draft{}, err
	}
	if folders.deleted != "" && d.ParentFolderID == folders.deleted {
		return draft{}, &providers.Error{Kind: providers.ErrNotFound, Status: http.StatusNotFound,
			Message: fmt.Sprintf("draft_id %q was deleted (it is in Deleted Items)", clip(id))}
	}
	return d, nil
}

func noDraft(id string, status int) error {
	return &providers.Error{Kind: providers.ErrNotFound, Status: status, Message: fmt.Sprintf("draft_id %q: no such draft", clip(id))}
}

// UpdateDraft replaces the draft's recipients and body (PATCH; the subject
// too when u has one), then, unless kept, its attachments: the old ones
// deleted, u's added. A reply draft keeps its conversation (Outlook's
// conversationId does not change).
func (mb *mailbox) UpdateDraft(ctx context.Context, id string, u providers.DraftUpdate) (providers.DraftRef, error) {
	m := u.OutgoingMessage
	expand := "attachments($select=id,isInline)"
	if u.KeepAttachments {
		expand = ""
	}
	d, err := mb.readDraft(ctx, id, "id,isDraft,conversationId", expand)
	if err != nil {
		return providers.DraftRef{}, err
	}
	payload := outgoing(m, strings.TrimSpace(m.Subject) != "")
	for _, field := range []string{"toRecipients", "ccRecipients", "bccRecipients"} {
		if _, ok := payload[field]; !ok {
			payload[field] = []any{} // cleared
		}
	}
	path := "/me/messages/" + url.PathEscape(id)
	if err := mb.g.do(ctx, req{method: http.MethodPatch, path: path, body: payload, need: scopeMailReadWrite}, nil); err != nil {
		return providers.DraftRef{}, err
	}
	if u.KeepAttachments {
		return d.ref(), nil
	}
	for _, a := range d.Attachments {
		if a.IsInline {
			continue
		}
		if err := checkID("id", a.ID); err != nil {
			return providers.DraftRef{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph answered an attachment without a valid id"}
		}
		err := mb.g.do(ctx, req{method: http.MethodDelete, path: path + "/attachments/" + url.PathEscape(a.ID), need: scopeMailReadWrite}, nil)
		if err != nil && !errors.Is(err, providers.ErrNotFound) {
			return providers.DraftRef{}, draftPartly(err, "removing the draft's old attachments")
		}
	}
	for i, a := range m.Attachments {
		if err := mb.attach(ctx, id, a); err != nil {
			return providers.DraftRef{}, draftPartly(err, fmt.Sprintf("adding attachments[%d] (%s)", i, a.Filename))
		}
	}
	return d.ref(), nil
}

// draftPartly says that a draft update stopped half way.
func draftPartly(err error, doing string) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		pe.Message = fmt.Sprintf("%s: %s; the draft's recipients and text were already updated, its attachments may be incomplete", doing, pe.Message)
	}
	return err
}

// ListDrafts lists the Drafts folder, most recently changed first, one
// request a page.
func (mb *mailbox) ListDrafts(ctx context.Context, q providers.DraftQuery) (providers.DraftPage, error) {
	n := q.MaxResults
	if n <= 0 {
		n = defaultPageSize
	}
	n = min(n, maxPageSize)
	hash := listingHash("drafts")
	var tok pageToken
	if q.PageToken != "" {
		var err error
		if tok, err = decodePageToken(q.PageToken, hash); err != nil {
			return providers.DraftPage{}, err
		}
	}
	params := url.Values{"$select": {draftFields}, "$top": {strconv.Itoa(n)}, "$orderby": {"lastModifiedDateTime desc"}}
	tok.apply(params)
	var res struct {
		Value    []draft `json:"value"`
		NextLink string  `json:"@odata.nextLink"`
	}
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/mailFolders/drafts/messages", query: params, need: scopeMailRead}, &res); err != nil {
		return providers.DraftPage{}, err
	}
	page := providers.DraftPage{Drafts: make([]providers.DraftSummary, 0, len(res.Value))}
	for _, d := range res.Value {
		if d.ID == "" {
			continue
		}
		page.Drafts = append(page.Drafts, d.summary())
	}
	var err error
	page.NextPageToken, err = nextToken(res.NextLink, hash, 0, 0)
	return page, err
}

// GetDraft reads a draft with its body and its attachments' metadata, in
// one request.
func (mb *mailbox) GetDraft(ctx context.Context, id string) (providers.Draft, error) {
	d, err := mb.readDraft(ctx, id, draftFields+",body", "attachments($select=id,name,contentType,size,isInline)")
	if err != nil {
		return providers.Draft{}, err
	}
	out := providers.Draft{DraftSummary: d.summary(), Cc: addresses(d.Cc), Bcc: addresses(d.Bcc), Attachments: []providers.AttachmentInfo{}}
	if d.Body != nil {
		body := strings.ReplaceAll(d.Body.Content, "\r\n", "\n")
		if strings.EqualFold(d.Body.ContentType, "html") {
			out.HTML, out.Text = body, htmltext.Convert(body)
		} else {
			out.Text = body
		}
	}
	for _, a := range d.Attachments {
		if !a.IsInline {
			out.Attachments = append(out.Attachments, providers.AttachmentInfo{ID: a.ID, Filename: a.Name, MIMEType: a.ContentType, Size: a.Size})
		}
	}
	return out, nil
}

// SendDraft sends a draft (POST /send, after checking it is one): it moves
// to Sent Items, keeping its immutable id. Not repeated once it may have
// reached Graph.
func (mb *mailbox) SendDraft(ctx context.Context, id string) (providers.SentMessage, error) {
	d, err := mb.readDraft(ctx, id, "id,isDraft,conversationId", "")
	if err != nil {
		return providers.SentMessage{}, err
	}
	err = mb.g.do(ctx, req{method: http.MethodPost, path: "/me/messages/" + url.PathEscape(id) + "/send", need: scopeMailSend}, nil)
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
		return providers.SentMessage{}, noDraft(id, pe.Status)
	}
	if err != nil {
		return providers.SentMessage{}, mapUncertain(err, fmt.Sprintf("it may have been sent: check Sent Items (message id %s) before sending it again", id))
	}
	return providers.SentMessage{ID: d.ID, ThreadID: d.ConversationID}, nil
}

// DeleteDraft deletes a draft (after checking it is one: a message that is
// not a draft is refused). Outlook moves it to Deleted Items.
func (mb *mailbox) DeleteDraft(ctx context.Context, id string) error {
	if _, err := mb.readDraft(ctx, id, "id,isDraft", ""); err != nil {
		return err
	}
	err := mb.g.do(ctx, req{method: http.MethodDelete, path: "/me/messages/" + url.PathEscape(id), need: scopeMailReadWrite}, nil)
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
		return noDraft(id, pe.Status)
	}
	return err
}
