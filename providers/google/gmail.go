package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/htmltext"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// uploadThreshold: messages larger than this (RFC 5322 bytes) are sent
// through the media upload endpoint (message/rfc822) instead of as a
// base64url "raw" field in a JSON body.
const uploadThreshold = 5 << 20

// mailbox implements providers.Mail over the Gmail API for the
// authenticated user ("me").
type mailbox struct {
	hc          *http.Client // the account's client
	batch       *batcher
	api         string // the Gmail API's base URL, ending in "/"
	account     string // the From address
	concurrency int    // batches of List at once
	labelCache  *labelCache

	newService func() (*gmail.Service, error)
	svcOnce    sync.Once
	svc        *gmail.Service
	svcErr     error
}

// service is the client library's Gmail service, made on first use.
func (mb *mailbox) service() (*gmail.Service, error) {
	mb.svcOnce.Do(func() {
		if mb.svc, mb.svcErr = mb.newService(); mb.svcErr != nil {
			mb.svcErr = fmt.Errorf("google: building the Gmail client: %w", mb.svcErr)
		}
	})
	return mb.svc, mb.svcErr
}

var _ providers.Mail = (*mailbox)(nil)

// Send builds the message with mimemsg and sends it. A reply (m.ReplyTo)
// first reads the original's Message-ID, References and Subject: the new
// message gets In-Reply-To = the original's Message-ID, References = the
// original's References (or In-Reply-To) + its Message-ID, the original's
// thread, and the original's subject with one "Re: " prefix (a different
// subject is refused: see below). From is the account's address.
//
// Send is not retried after it may have reached Gmail: a 5xx, a timeout or
// a lost connection is ErrUncertain. Only 429 and 403 rate limits (the
// request was not processed) are retried.
func (mb *mailbox) Send(ctx context.Context, m providers.OutgoingMessage) (providers.SentMessage, error) {
	raw, threadID, err := mb.prepare(ctx, m)
	if err != nil {
		return providers.SentMessage{}, err
	}
	return mb.sendRaw(ctx, raw, threadID, "it may have been sent: check the Sent folder before sending it again")
}

// sendRaw sends a built message (in the thread threadID, if any):
// messages.send with the raw field, or through the upload endpoint when
// large. advice says, for an uncertain failure, what may have happened.
func (mb *mailbox) sendRaw(ctx context.Context, raw []byte, threadID, advice string) (providers.SentMessage, error) {
	body := &gmail.Message{ThreadId: threadID}
	svc, err := mb.service()
	if err != nil {
		return providers.SentMessage{}, err
	}
	call := svc.Users.Messages.Send("me", body)
	if len(raw) > uploadThreshold {
		// One multipart upload request (a chunk size above the message's
		// size), whose body the retry transport can replay on a 429.
		chunk := (len(raw)/googleapi.MinUploadChunkSize + 1) * googleapi.MinUploadChunkSize
		call = call.Media(bytes.NewReader(raw), googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(chunk))
	} else {
		body.Raw = base64.URLEncoding.EncodeToString(raw)
	}
	sent, err := call.Context(ctx).Do()
	if err != nil {
		return providers.SentMessage{}, mapUncertain(err, advice)
	}
	return providers.SentMessage{ID: sent.Id, ThreadID: sent.ThreadId}, nil
}

// prepare builds m's RFC 5322 bytes for the account, and for a reply
// the original's thread (see Send).
func (mb *mailbox) prepare(ctx context.Context, m providers.OutgoingMessage) ([]byte, string, error) {
	// Fail early, before any request, when the attachments alone (base64,
	// 4/3 of their size) cannot fit.
	est := len(m.Text) + len(m.HTML)
	for _, a := range m.Attachments {
		est += len(a.Data) / 3 * 4
	}
	if est > Spec.Limits.MaxMessageBytes {
		return nil, "", tooLarge(est)
	}
	msg := mimemsg.Message{
		Limits: Spec.Limits,
		From:   providers.Address{Email: mb.account},
		To:     m.To, Cc: m.Cc, Bcc: m.Bcc,
		Subject:     m.Subject,
		Text:        m.Text,
		HTML:        m.HTML,
		Attachments: m.Attachments,
	}
	threadID := ""
	if m.ReplyTo != "" {
		th, err := mb.threading(ctx, m.ReplyTo, "reply_to_message_id")
		if err != nil {
			return nil, "", err
		}
		threadID, msg.InReplyTo, msg.References = th.threadID, th.inReplyTo, th.references
		hs := th.headers
		// Gmail threads a reply only when its subject matches the
		// original's (Re: and Fwd: aside): a different one would start a
		// new conversation.
		origSubject := decodeHeader(header(hs, "Subject"))
		msg.Subject = mimemsg.ReplySubject(origSubject)
		if strings.TrimSpace(m.Subject) != "" && mimemsg.BaseSubject(m.Subject) != mimemsg.BaseSubject(origSubject) {
			return nil, "", &providers.FieldError{Field: "subject", Msg: fmt.Sprintf(
				"a reply keeps the original's subject (%q) so that it stays in its conversation; leave subject out, or send a new message (without reply_to_message_id) to change it",
				msg.Subject)}
		}
	}
	raw, err := build(msg)
	return raw, threadID, err
}

// build is mimemsg.Build with its errors as providers' kinds.
func build(msg mimemsg.Message) ([]byte, error) {
	raw, err := mimemsg.Build(msg)
	var fe *providers.FieldError
	switch {
	case errors.Is(err, providers.ErrTooLarge):
		return nil, &providers.Error{Kind: providers.ErrTooLarge,
			Message: strings.TrimPrefix(err.Error(), providers.ErrTooLarge.Error()+": ")}
	case errors.As(err, &fe):
		return nil, fe
	case err != nil:
		return nil, &providers.Error{Kind: providers.ErrInvalid, Message: err.Error()}
	}
	return raw, nil
}

// thread is what a reply or forward takes of its original: its thread, the
// In-Reply-To and References that keep it there, and its headers.
type thread struct {
	threadID, inReplyTo string
	references          []string
	headers             []*gmail.MessagePartHeader
}

// threading reads the headers of the message id (named field in errors)
// that a reply or forward refers to: In-Reply-To = its Message-ID,
// References = its References (or In-Reply-To) + its Message-ID.
func (mb *mailbox) threading(ctx context.Context, id, field string) (thread, error) {
	svc, err := mb.service()
	if err != nil {
		return thread{}, err
	}
	orig, err := svc.Users.Messages.Get("me", id).Format("metadata").
		MetadataHeaders("Message-ID", "References", "In-Reply-To", "Subject").Fields("threadId,payload/headers").Context(ctx).Do()
	if err != nil {
		err = mapError(err)
		var pe *providers.Error
		if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
			pe.Message = fmt.Sprintf("%s %q: no such message in the mailbox", field, id)
		}
		return thread{}, err
	}
	th := thread{threadID: orig.ThreadId}
	if orig.Payload != nil {
		th.headers = orig.Payload.Headers
	}
	th.inReplyTo, th.references = replyIDs(th.headers)
	return th, nil
}

// replyIDs are the In-Reply-To and References of a message answering one
// with headers hs.
func replyIDs(hs []*gmail.MessagePartHeader) (string, []string) {
	origID := strings.TrimSpace(header(hs, "Message-ID"))
	if !isMsgID(origID) {
		origID = ""
	}
	refs := msgIDs(header(hs, "References"))
	if len(refs) == 0 {
		refs = msgIDs(header(hs, "In-Reply-To"))
	}
	if origID != "" && !slices.Contains(refs, origID) {
		refs = append(refs, origID)
	}
	return origID, refs
}

// maxReferences bounds the References of a reply: the thread's first id and
// the latest ones are kept (RFC 5322 3.6.4 allows trimming).
const maxReferences = 20

// msgIDs returns the well-formed message ids ("<x@y>") of a References or
// In-Reply-To value, trimmed to maxReferences - 1 (room for one more).
func msgIDs(v string) []string {
	var ids []string
	for _, f := range strings.Fields(v) {
		if isMsgID(f) && !slices.Contains(ids, f) {
			ids = append(ids, f)
		}
	}
	if len(ids) > maxReferences-1 {
		ids = append(ids[:1], ids[len(ids)-(maxReferences-2):]...)
	}
	return ids
}

func isMsgID(s string) bool {
	return len(s) > 2 && len(s) <= mimemsg.MaxMessageIDBytes && s[0] == '<' && s[len(s)-1] == '>' &&
		!strings.ContainsAny(s[1:len(s)-1], "<> \t\r\n\"") && strings.Contains(s, "@")
}

func tooLarge(n int) error {
	return &providers.Error{Kind: providers.ErrTooLarge, Message: fmt.Sprintf(
		"the message would be about %.1f MB; Gmail accepts at most %.1f MB including attachments (base64 adds a third to their size)",
		float64(n)/(1<<20), float64(Spec.Limits.MaxMessageBytes)/(1<<20))}
}

// Get reads a message in full (messages.get, its answer decoded here:
// answers.go): the text/plain body (or the text/html one turned into
// text), converted to UTF-8 from its charset, and the attachments'
// metadata.
func (mb *mailbox) Get(ctx context.Context, id string) (providers.Message, error) {
	m := new(gmail.Message)
	if err := getJSON(ctx, mb.hc, mb.api+"users/me/messages/"+url.PathEscape(id)+"?format=full&alt=json&prettyPrint=false", m); err != nil {
		return providers.Message{}, mapError(err)
	}
	out, _, err := mb.message(ctx, m)
	return out, err
}

// message reads a message answered in full: its headers, its text (the
// text/plain part, or the text/html one turned into text, then also
// returned as it is) and its attachments' metadata.
func (mb *mailbox) message(ctx context.Context, m *gmail.Message) (providers.Message, string, error) {
	meta := metaOf(m)
	out := providers.Message{MessageSummary: meta.summary(), Attachments: []providers.AttachmentInfo{}}
	out.Labels = slices.Clone(out.Labels)
	if err := mb.nameLabels(ctx, out.Labels); err != nil {
		return providers.Message{}, "", err
	}
	out.Labels = dropEmpty(out.Labels)
	if m.Payload == nil {
		return out, "", nil
	}
	hs := m.Payload.Headers
	out.Cc = decodeHeader(header(hs, "Cc"))
	out.ReplyTo = decodeHeader(header(hs, "Reply-To"))
	out.MessageID = strings.TrimSpace(header(hs, "Message-ID"))

	var w partWalker
	w.visit(m.Payload, 0)
	out.Attachments = append(out.Attachments, w.attachments...)
	out.HasAttachments = len(w.attachments) > 0
	part, fromHTML := w.plain, false
	if part == nil && w.html != nil {
		part, fromHTML = w.html, true
	}
	var source string
	if part != nil {
		b, err := mb.partData(ctx, m.Id, part)
		if err != nil {
			return providers.Message{}, "", err
		}
		// MIME text has CRLF line breaks; the model gets plain \n.
		text := strings.ReplaceAll(toUTF8(b, partCharset(part)), "\r\n", "\n")
		var links []htmltext.Link
		if fromHTML {
			source = text
			text, links = htmltext.ConvertLinks(text)
		} else {
			text, links = htmltext.ShortenURLs(text)
		}
		out.BodyText, out.BodyFromHTML, out.Links = text, fromHTML, links
	}
	return out, source, nil
}

// partData returns a part's decoded body; Gmail keeps large bodies behind an
// attachment id even for text parts.
func (mb *mailbox) partData(ctx context.Context, msgID string, p *gmail.MessagePart) ([]byte, error) {
	if p.Body == nil {
		return nil, nil
	}
	data := p.Body.Data
	if data == "" && p.Body.AttachmentId != "" {
		svc, err := mb.service()
		if err != nil {
			return nil, err
		}
		att, err := svc.Users.Messages.Attachments.Get("me", msgID, p.Body.AttachmentId).Context(ctx).Do()
		if err != nil {
			return nil, mapError(err)
		}
		data = att.Data
	}
	return decodeBase64URL(data), nil
}

// decodeBase64URL decodes Gmail's base64url data, padded or not (and, to be
// lenient, standard base64). Undecodable data gives nil.
func decodeBase64URL(s string) []byte {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b
	}
	return nil
}

// partWalker finds the body parts and attachments of a MIME tree.
type partWalker struct {
	plain, html *gmail.MessagePart
	attachments []providers.AttachmentInfo
	parts       []*gmail.MessagePart // the attachments' parts
}

func (w *partWalker) visit(p *gmail.MessagePart, depth int) {
	if p == nil || depth > 32 {
		return
	}
	mt := strings.ToLower(p.MimeType)
	if isAttachment(p) {
		info := providers.AttachmentInfo{Filename: decodeHeader(p.Filename), MIMEType: p.MimeType}
		// The part id names the attachment: Gmail's attachment ids
		// differ from one read of a message to the next.
		info.ID = p.PartId
		if p.Body != nil {
			info.Size = p.Body.Size
			if info.ID == "" {
				info.ID = p.Body.AttachmentId
			}
		}
		if info.Filename == "" && mt == "message/rfc822" {
			info.Filename = "message.eml"
		}
		w.attachments = append(w.attachments, info)
		w.parts = append(w.parts, p)
		return
	}
	if strings.HasPrefix(mt, "multipart/") || len(p.Parts) > 0 {
		for _, c := range p.Parts {
			w.visit(c, depth+1)
		}
		return
	}
	switch mt {
	case "text/plain":
		if w.plain == nil {
			w.plain = p
		}
	case "text/html":
		if w.html == nil {
			w.html = p
		}
	}
}

// isAttachment: a part with a file name, a Content-Disposition of
// attachment, an attached message, or a non-text leaf stored behind an
// attachment id (an unnamed inline image).
func isAttachment(p *gmail.MessagePart) bool {
	if p.Filename != "" {
		return true
	}
	mt := strings.ToLower(p.MimeType)
	if mt == "message/rfc822" {
		return true
	}
	if strings.HasPrefix(mt, "multipart/") {
		return false
	}
	if d := strings.ToLower(strings.TrimSpace(header(p.Headers, "Content-Disposition"))); strings.HasPrefix(d, "attachment") {
		return true
	}
	return !strings.HasPrefix(mt, "text/") && len(p.Parts) == 0 && p.Body != nil && p.Body.AttachmentId != ""
}

// header returns the first value of a header, names compared without regard
// to case ("Message-Id" and "Message-ID").
func header(hs []*gmail.MessagePartHeader, name string) string {
	for _, h := range hs {
		if h != nil && strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}
