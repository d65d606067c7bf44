package google

import (
	"context"
	"html"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/mailcal/mailcal/providers"
)

// Default and largest page size of List.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// summaryQuery is the query of List's per-message reads: the metadata
// format with the headers a summary shows, and only the fields it reads
// (partial response); prettyPrint=false, as the client library sends.
var summaryQuery = func() string {
	q := url.Values{
		"format":          {"metadata"},
		"metadataHeaders": {"From", "To", "Subject", "Date"},
		"fields":          {"id,threadId,labelIds,snippet,internalDate,payload(mimeType,headers)"},
		"alt":             {"json"},
		"prettyPrint":     {"false"},
	}
	return "?" + q.Encode()
}()

// systemLabels are Gmail's system label ids, accepted in any case.
var systemLabels = []string{
	"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CHAT",
	"CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES", "CATEGORY_FORUMS",
}

// List makes one messages.list call (its answer decoded here: answers.go),
// then reads the listed messages' metadata in batches (batch.go) of up to
// 50 calls, Options.Concurrency batches at a time, keeping the list's
// order: a page takes two round trips (three past 50 messages, the batches
// in parallel) instead of one per message. A message deleted in between
// (404) is left out.
//
// HasAttachments: Gmail has no attachment flag and the metadata format has
// no parts, so a message counts as having attachments when its top-level
// MIME type is multipart/mixed (what mail clients use to add attachments;
// inline images in multipart/related do not count).
func (mb *mailbox) List(ctx context.Context, q providers.MessageQuery) (providers.MessagePage, error) {
	params := url.Values{"fields": {"messages/id,nextPageToken"}, "alt": {"json"}, "prettyPrint": {"false"}}
	var terms []string
	if s := strings.TrimSpace(q.Query); s != "" {
		terms = append(terms, s)
	}
	if q.UnreadOnly {
		terms = append(terms, "is:unread")
	}
	if len(terms) > 0 {
		params.Set("q", strings.Join(terms, " "))
	}
	if q.Label != "" {
		id, err := mb.labelID(ctx, q.Label)
		if err != nil {
			return providers.MessagePage{}, err
		}
		params.Set("labelIds", id)
	}
	n := q.MaxResults
	if n <= 0 {
		n = defaultPageSize
	}
	params.Set("maxResults", strconv.Itoa(min(n, maxPageSize)))
	if q.PageToken != "" {
		params.Set("pageToken", q.PageToken)
	}
	var list struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		NextPageToken string `json:"nextPageToken"`
	}
	if err := getJSON(ctx, mb.hc, mb.api+"users/me/messages?"+params.Encode(), &list); err != nil {
		return providers.MessagePage{}, mapError(err)
	}
	ids := make([]string, 0, len(list.Messages))
	for _, lm := range list.Messages {
		if lm.ID != "" {
			ids = append(ids, lm.ID)
		}
	}
	rows, err := mb.summaries(ctx, ids)
	if err != nil {
		return providers.MessagePage{}, err
	}
	page := providers.MessagePage{Messages: make([]providers.MessageSummary, 0, len(rows)), NextPageToken: list.NextPageToken}
	for _, r := range rows {
		if r != nil {
			page.Messages = append(page.Messages, *r)
		}
	}
	labels := make([][]string, len(page.Messages))
	for i := range page.Messages {
		labels[i] = page.Messages[i].Labels
	}
	if err := mb.nameLabels(ctx, labels...); err != nil {
		return providers.MessagePage{}, err
	}
	for i := range page.Messages {
		page.Messages[i].Labels = dropEmpty(page.Messages[i].Labels)
	}
	return page, nil
}

// summaries reads the messages' metadata; a message gone since it was
// listed is nil.
func (mb *mailbox) summaries(ctx context.Context, ids []string) ([]*providers.MessageSummary, error) {
	rows := make([]*providers.MessageSummary, len(ids))
	batch := func(ctx context.Context, start int) error {
		chunk := ids[start:min(start+maxBatchCalls, len(ids))]
		paths := make([]string, len(chunk))
		for i, id := range chunk {
			paths[i] = "users/me/messages/" + url.PathEscape(id) + summaryQuery
		}
		return mb.batch.get(ctx, paths, func(i int, a *callAnswer) error {
			if a.status/100 != 2 {
				return nil // gone since the list
			}
			var m messageMeta
			if err := decodeJSON(a.body, &m); err != nil {
				return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail's answer is not the JSON its API documents"}
			}
			s := m.summary()
			rows[start+i] = &s
			return nil
		})
	}
	switch {
	case len(ids) == 0:
		return rows, nil
	case len(ids) <= maxBatchCalls: // one batch (a default page): no goroutine
		if err := batch(ctx, 0); err != nil {
			return nil, mapError(err)
		}
		return rows, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(mb.concurrency)
	for start := 0; start < len(ids); start += maxBatchCalls {
		g.Go(func() error { return batch(gctx, start) })
	}
	if err := g.Wait(); err != nil {
		return nil, mapError(err)
	}
	return rows, nil
}

// messageMeta is what a summary reads of a message.
type messageMeta struct {
	ID           string   `json:"id"`
	ThreadID     string   `json:"threadId"`
	LabelIDs     []string `json:"labelIds"`
	Snippet      string   `json:"snippet"`
	InternalDate int64    `json:"internalDate,string"`
	Payload      struct {
		MimeType string `json:"mimeType"`
		Headers  []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"payload"`
}

// metaOf is the summary's part of a message read in full.
func metaOf(m *gmail.Message) messageMeta {
	mm := messageMeta{ID: m.Id, ThreadID: m.ThreadId, LabelIDs: m.LabelIds, Snippet: m.Snippet, InternalDate: m.InternalDate}
	if m.Payload != nil {
		mm.Payload.MimeType = m.Payload.MimeType
		for _, h := range m.Payload.Headers {
			if h != nil {
				mm.Payload.Headers = append(mm.Payload.Headers, struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				}{h.Name, h.Value})
			}
		}
	}
	return mm
}

// header returns the first value of a header, names compared without
// regard to case.
func (m *messageMeta) header(name string) string {
	for _, h := range m.Payload.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func (m *messageMeta) summary() providers.MessageSummary {
	s := providers.MessageSummary{
		ID:             m.ID,
		ThreadID:       m.ThreadID,
		From:           decodeHeader(m.header("From")),
		To:             decodeHeader(m.header("To")),
		Subject:        decodeHeader(m.header("Subject")),
		Snippet:        html.UnescapeString(m.Snippet),
		Labels:         m.LabelIDs,
		Unread:         slices.Contains(m.LabelIDs, "UNREAD"),
		HasAttachments: strings.EqualFold(m.Payload.MimeType, "multipart/mixed"),
	}
	if d, err := parseDate(m.header("Date")); err == nil {
		s.Date = d
	} else if m.InternalDate > 0 {
		s.Date = time.UnixMilli(m.InternalDate).UTC()
	}
	return s
}

// rfc5322Date is the Date header as nearly every mailer writes it (RFC 5322
// 3.3 with the day of the week, a numeric zone and no comment).
const rfc5322Date = "Mon, 2 Jan 2006 15:04:05 -0700"

// parseDate is mail.ParseDate, quicker for the common form: ParseDate tries
// its layouts without a day of the week first, and each failed layout costs
// an allocated error (24 of them before the common form matches). When
// rfc5322Date parses the header, ParseDate gives the same time: the layouts
// it tries before that one all start with the day of the month.
func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(rfc5322Date, strings.TrimSpace(v)); err == nil {
		return t, nil
	}
	return mail.ParseDate(v)
}
