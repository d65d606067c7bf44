package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/mail"
	"strings"
	"time"

	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/htmltext"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// Drafts over Gmail's users.drafts: a draft has its own id and holds a
// message (labelled DRAFT) whose id changes with every update.

// CreateDraft builds m as Send does (a reply: threaded, "Re:") and saves it
// (drafts.create; large ones through the upload endpoint).
func (mb *mailbox) CreateDraft(ctx context.Context, m providers.OutgoingMessage) (providers.DraftRef, error) {
	raw, threadID, err := mb.prepare(ctx, m)
	if err != nil {
		return providers.DraftRef{}, err
	}
	svc, err := mb.service()
	if err != nil {
		return providers.DraftRef{}, err
	}
	d := &gmail.Draft{Message: &gmail.Message{ThreadId: threadID}}
	call := svc.Users.Drafts.Create("me", d)
	if len(raw) > uploadThreshold {
		call = call.Media(bytes.NewReader(raw), googleapi.ContentType("message/rfc822"), uploadChunk(len(raw)))
	} else {
		d.Message.Raw = base64.URLEncoding.EncodeToString(raw)
	}
	out, err := call.Context(ctx).Do()
	if err != nil {
		return providers.DraftRef{}, mapError(err)
	}
	return draftRef(out), nil
}

// uploadChunk is a chunk size above n: one upload request.
func uploadChunk(n int) googleapi.MediaOption {
	return googleapi.ChunkSize((n/googleapi.MinUploadChunkSize + 1) * googleapi.MinUploadChunkSize)
}

func draftRef(d *gmail.Draft) providers.DraftRef {
	r := providers.DraftRef{ID: d.Id}
	if d.Message != nil {
		r.MessageID, r.ThreadID = d.Message.Id, d.Message.ThreadId
	}
	return r
}

// UpdateDraft reads the draft's threading headers and subject (and, to
// keep them, its attachments), then replaces its message (drafts.update): a
// reply stays in its thread, with its subject unless u gives one of the
// same conversation.
func (mb *mailbox) UpdateDraft(ctx context.Context, id string, u providers.DraftUpdate) (providers.DraftRef, error) {
	m := u.OutgoingMessage
	svc, err := mb.service()
	if err != nil {
		return providers.DraftRef{}, err
	}
	get := svc.Users.Drafts.Get("me", id)
	if u.KeepAttachments {
		get = get.Format("full")
	} else {
		get = get.Format("metadata").Fields("id,message(threadId,payload/headers)")
	}
	cur, err := get.Context(ctx).Do()
	if err != nil {
		return providers.DraftRef{}, draftError(err, id)
	}
	var hs []*gmail.MessagePartHeader
	threadID := ""
	if cur.Message != nil {
		threadID = cur.Message.ThreadId
		if cur.Message.Payload != nil {
			hs = cur.Message.Payload.Headers
		}
	}
	msg := mimemsg.Message{
		Limits: Spec.Limits,
		From:   providers.Address{Email: mb.account},
		To:     m.To, Cc: m.Cc, Bcc: m.Bcc,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML, Attachments: m.Attachments,
	}
	old := decodeHeader(header(hs, "Subject"))
	if msg.InReplyTo = strings.TrimSpace(header(hs, "In-Reply-To")); !isMsgID(msg.InReplyTo) {
		msg.InReplyTo = ""
	}
	if msg.InReplyTo != "" {
		msg.References = msgIDs(header(hs, "References"))
		if strings.TrimSpace(m.Subject) != "" && mimemsg.BaseSubject(m.Subject) != mimemsg.BaseSubject(old) {
			return providers.DraftRef{}, &providers.FieldError{Field: "subject", Msg: fmt.Sprintf(
				"this draft is a reply and keeps its subject (%q) so that it stays in its conversation; leave subject out", old)}
		}
	} else {
		threadID = "" // a new message's draft: its own thread
	}
	if strings.TrimSpace(msg.Subject) == "" {
		msg.Subject = old
	}
	if u.KeepAttachments && cur.Message != nil {
		if msg.Attachments, err = mb.attachmentsOf(ctx, cur.Message); err != nil {
			return providers.DraftRef{}, err
		}
	}
	raw, err := build(msg)
	if err != nil {
		return providers.DraftRef{}, err
	}
	d := &gmail.Draft{Id: id, Message: &gmail.Message{ThreadId: threadID}}
	call := svc.Users.Drafts.Update("me", id, d)
	if len(raw) > uploadThreshold {
		call = call.Media(bytes.NewReader(raw), googleapi.ContentType("message/rfc822"), uploadChunk(len(raw)))
	} else {
		d.Message.Raw = base64.URLEncoding.EncodeToString(raw)
	}
	out, err := call.Context(ctx).Do()
	if err != nil {
		return providers.DraftRef{}, draftError(err, id)
	}
	return draftRef(out), nil
}

// attachmentsOf reads the attachments of a message read in full.
func (mb *mailbox) attachmentsOf(ctx context.Context, m *gmail.Message) ([]providers.Attachment, error) {
	var w partWalker
	w.visit(m.Payload, 0)
	out := make([]providers.Attachment, 0, len(w.parts))
	size := 0
	for i, p := range w.parts {
		if size += int(w.attachments[i].Size) / 3 * 4; size > Spec.Limits.MaxMessageBytes {
			return nil, tooLarge(size)
		}
		data, err := mb.partData(ctx, m.Id, p)
		if err != nil {
			return nil, err
		}
		out = append(out, providers.Attachment{Filename: attachmentName(w.attachments[i].Filename, i), MIMEType: partType(p), Data: data})
	}
	return out, nil
}

// partType is a part's MIME type, application/octet-stream when it has
// none that could be sent.
func partType(p *gmail.MessagePart) string {
	mt := strings.ToLower(strings.TrimSpace(p.MimeType))
	if mt == "" || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return mt
}

// draftError maps a drafts call's failure; a 404 names the draft.
func draftError(err error, id string) error {
	err = mapError(err)
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
		pe.Message = fmt.Sprintf("draft_id %q: no such draft", id)
	}
	return err
}

// ListDrafts is drafts.list, then the drafts' messages' metadata in one
// batch (as List reads messages): two round trips a page.
func (mb *mailbox) ListDrafts(ctx context.Context, q providers.DraftQuery) (providers.DraftPage, error) {
	svc, err := mb.service()
	if err != nil {
		return providers.DraftPage{}, err
	}
	n := q.MaxResults
	if n <= 0 || n > maxPageSize {
		n = defaultPageSize
	}
	call := svc.Users.Drafts.List("me").MaxResults(int64(n)).Fields("drafts(id,message/id),nextPageToken")
	if q.PageToken != "" {
		call = call.PageToken(q.PageToken)
	}
	res, err := call.Context(ctx).Do()
	if err != nil {
		return providers.DraftPage{}, mapError(err)
	}
	ids := make([]string, 0, len(res.Drafts))
	for _, d := range res.Drafts {
		if d == nil || d.Message == nil || d.Message.Id == "" {
			return providers.DraftPage{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail listed a draft without its message"}
		}
		ids = append(ids, d.Message.Id)
	}
	rows, err := mb.summaries(ctx, ids)
	if err != nil {
		return providers.DraftPage{}, err
	}
	page := providers.DraftPage{NextPageToken: res.NextPageToken, Drafts: make([]providers.DraftSummary, 0, len(rows))}
	for i, r := range rows {
		if r == nil {
			continue // sent or deleted since the list
		}
		page.Drafts = append(page.Drafts, providers.DraftSummary{
			DraftRef: providers.DraftRef{ID: res.Drafts[i].Id, MessageID: r.ID, ThreadID: r.ThreadID},
			To:       addressList(r.To), Subject: r.Subject, Date: r.Date, Snippet: r.Snippet,
		})
	}
	return page, nil
}

// addressList parses a decoded address header, leniently: what does not
// parse is kept as it is, as one address.
func addressList(v string) []providers.Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	list, err := (&mail.AddressParser{}).ParseList(v)
	if err != nil {
		return []providers.Address{{Email: v}}
	}
	out := make([]providers.Address, 0, len(list))
	for _, a := range list {
		out = append(out, providers.Address{Name: a.Name, Email: a.Address})
	}
	return out
}

// GetDraft reads a draft in full (drafts.get): recipients, subject, body
// and the attachments' names.
func (mb *mailbox) GetDraft(ctx context.Context, id string) (providers.Draft, error) {
	svc, err := mb.service()
	if err != nil {
		return providers.Draft{}, err
	}
	d, err := svc.Users.Drafts.Get("me", id).Format("full").Context(ctx).Do()
	if err != nil {
		return providers.Draft{}, draftError(err, id)
	}
	if d.Message == nil || d.Message.Payload == nil {
		return providers.Draft{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail answered the draft without its message"}
	}
	m := d.Message
	hs := m.Payload.Headers
	out := providers.Draft{
		DraftSummary: providers.DraftSummary{
			DraftRef: draftRef(d),
			To:       addressList(decodeHeader(header(hs, "To"))),
			Subject:  decodeHeader(header(hs, "Subject")),
			Snippet:  html.UnescapeString(m.Snippet),
		},
		Cc:  addressList(decodeHeader(header(hs, "Cc"))),
		Bcc: addressList(decodeHeader(header(hs, "Bcc"))),
	}
	if t, err := parseDate(header(hs, "Date")); err == nil {
		out.Date = t
	} else if m.InternalDate > 0 {
		out.Date = time.UnixMilli(m.InternalDate).UTC()
	}
	var w partWalker
	w.visit(m.Payload, 0)
	out.Attachments = w.attachments
	if w.plain != nil {
		b, err := mb.partData(ctx, m.Id, w.plain)
		if err != nil {
			return providers.Draft{}, err
		}
		out.Text = strings.ReplaceAll(toUTF8(b, partCharset(w.plain)), "\r\n", "\n")
	}
	if w.html != nil {
		b, err := mb.partData(ctx, m.Id, w.html)
		if err != nil {
			return providers.Draft{}, err
		}
		out.HTML = toUTF8(b, partCharset(w.html))
		if out.Text == "" {
			out.Text = htmltext.Convert(out.HTML)
		}
	}
	return out, nil
}

// SendDraft is drafts.send; never repeated once it may have reached Gmail.
func (mb *mailbox) SendDraft(ctx context.Context, id string) (providers.SentMessage, error) {
	svc, err := mb.service()
	if err != nil {
		return providers.SentMessage{}, err
	}
	sent, err := svc.Users.Drafts.Send("me", &gmail.Draft{Id: id}).Context(ctx).Do()
	if err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == 404 {
			return providers.SentMessage{}, draftError(err, id)
		}
		return providers.SentMessage{}, mapUncertain(err, fmt.Sprintf("it may have been sent: check the Sent folder and the drafts (draft %s) before sending it again", id))
	}
	return providers.SentMessage{ID: sent.Id, ThreadID: sent.ThreadId}, nil
}

// DeleteDraft is drafts.delete: the draft is gone for good (not in Trash).
func (mb *mailbox) DeleteDraft(ctx context.Context, id string) error {
	svc, err := mb.service()
	if err != nil {
		return err
	}
	if err := svc.Users.Drafts.Delete("me", id).Context(ctx).Do(); err != nil {
		return draftError(err, id)
	}
	return nil
}
