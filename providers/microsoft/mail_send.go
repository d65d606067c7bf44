package microsoft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// Graph's limits on sending.
const (
	// inlineMax: an attachment goes in a JSON request when under 3 MB;
	// larger ones through an upload session.
	inlineMax = 3 << 20
	// maxRequestBytes: a JSON request to Outlook's API is at most 4 MB
	// (base64 attachments included).
	maxRequestBytes = 4 << 20
	// requestMargin is left under maxRequestBytes for what the estimate
	// of a request body does not count exactly.
	requestMargin = 64 << 10
	// uploadChunk is one PUT of an upload session: under 4 MB, a multiple
	// of 320 KiB.
	uploadChunk = 10 * 320 << 10
	// maxUpload is the largest attachment an upload session takes.
	maxUpload = 150 << 20
)

// errDraftsRefused: Graph refused to create a draft (403): the grant has
// Mail.Send without Mail.ReadWrite.
var errDraftsRefused = errors.New("drafts refused")

// Send sends a message. It makes a draft (POST /me/messages, or
// createReply for a reply so that Outlook keeps the conversation), adds
// the attachments that did not fit in it (under 3 MB each: one request
// each; up to 150 MB: an upload session in chunks), then sends the draft:
// the result has the message's id (immutable, so it is the id of the copy in
// Sent Items) and its conversation. Drafts need Mail.ReadWrite (mailcal's
// mail.modify); with Mail.Send alone (Graph answers 403, remembered for the
// access token's lifetime) the message goes in one request (sendMail, or
// reply), whose 202 names no id: the result then has no id, and a reply's
// conversation only; its attachments must fit in one 4 MB request.
//
// Nothing that may have sent the message is repeated: a failure after the
// send request may have reached Graph (a 5xx, a timeout) is
// ErrUncertain. A draft left by a failure that certainly sent nothing is
// deleted.
func (mb *mailbox) Send(ctx context.Context, m providers.OutgoingMessage) (providers.SentMessage, error) {
	est := len(m.Text) + len(m.HTML)
	for i, a := range m.Attachments {
		est += (len(a.Data) + 2) / 3 * 4
		if len(a.Data) > maxUpload {
			return providers.SentMessage{}, &providers.FieldError{Field: fmt.Sprintf("attachments[%d]", i), Msg: "Outlook takes attachments of at most 150 MB"}
		}
	}
	if est > Spec.Limits.MaxMessageBytes {
		return providers.SentMessage{}, &providers.Error{Kind: providers.ErrTooLarge, Message: fmt.Sprintf(
			"the message would be about %.1f MB; Outlook accepts at most %.0f MB including attachments (which grow by a third when encoded)",
			float64(est)/(1<<20), float64(Spec.Limits.MaxMessageBytes)/(1<<20))}
	}
	var orig *message
	if m.ReplyTo != "" {
		var err error
		if orig, err = mb.original(ctx, m); err != nil {
			return providers.SentMessage{}, err
		}
	}
	api := mb.g.api
	key := tokenKey(ctx, mb.g.src)
	if _, refused := api.noDrafts.get(key, api.now()); !refused || key == "" {
		sent, err := mb.sendDraft(ctx, m, orig)
		if !errors.Is(err, errDraftsRefused) {
			return sent, err
		}
		if key != "" {
			api.noDrafts.put(key, true, api.now())
		}
	}
	return mb.sendDirect(ctx, m, orig)
}

// original reads the message a reply answers, and checks the reply keeps
// its subject (Outlook threads by subject too: another one starts a new
// conversation).
func (mb *mailbox) original(ctx context.Context, m providers.OutgoingMessage) (*message, error) {
	if err := checkID("reply_to_message_id", m.ReplyTo); err != nil {
		return nil, err
	}
	var orig message
	err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/messages/" + url.PathEscape(m.ReplyTo),
		query: url.Values{"$select": {"id,subject,conversationId"}}, need: scopeMailRead}, &orig)
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
		return nil, &providers.Error{Kind: providers.ErrNotFound, Status: pe.Status, Message: fmt.Sprintf("reply_to_message_id %q: no such message in the mailbox", clip(m.ReplyTo))}
	}
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.Subject) != "" && mimemsg.BaseSubject(m.Subject) != mimemsg.BaseSubject(orig.Subject) {
		return nil, &providers.FieldError{Field: "subject", Msg: fmt.Sprintf(
			"a reply keeps the original's subject (%q) so that it stays in its conversation; leave subject out, or send a new message (without reply_to_message_id) to change it",
			mimemsg.ReplySubject(orig.Subject))}
	}
	return &orig, nil
}

// outgoing is the message resource of m: recipients and body (HTML when
// given, which Exchange sends with a text alternative; else text); the
// subject for a new message only (a reply's is Outlook's "RE: …").
func outgoing(m providers.OutgoingMessage, subject bool) map[string]any {
	out := map[string]any{}
	if subject {
		out["subject"] = m.Subject
	}
	if m.HTML != "" {
		out["body"] = map[string]string{"contentType": "HTML", "content": m.HTML}
	} else {
		out["body"] = map[string]string{"contentType": "Text", "content": m.Text}
	}
	for field, list := range map[string][]providers.Address{"toRecipients": m.To, "ccRecipients": m.Cc, "bccRecipients": m.Bcc} {
		if len(list) == 0 {
			continue
		}
		rs := make([]map[string]any, 0, len(list))
		for _, a := range list {
			rs = append(rs, map[string]any{"emailAddress": map[string]string{"name": a.Name, "address": a.Email}})
		}
		out[field] = rs
	}
	return out
}

// fileAttachment is Graph's fileAttachment; contentBytes is base64 in JSON.
func fileAttachment(a providers.Attachment) map[string]any {
	return map[string]any{
		"@odata.type":  "#microsoft.graph.fileAttachment",
		"name":         a.Filename,
		"contentType":  mimeType(a),
		"contentBytes": a.Data,
	}
}

func mimeType(a providers.Attachment) string {
	if a.MIMEType != "" {
		return a.MIMEType
	}
	if t := mime.TypeByExtension(path.Ext(a.Filename)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// jsonSize estimates the JSON size of a message with these attachments
// inline: the texts (escaping aside) and the attachments' base64.
func jsonSize(m providers.OutgoingMessage, atts []providers.Attachment) int {
	n := len(m.Text) + len(m.HTML) + len(m.Subject) + 1024
	for _, list := range [][]providers.Address{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			n += len(a.Name) + len(a.Email) + 64
		}
	}
	for _, a := range atts {
		n += (len(a.Data)+2)/3*4 + len(a.Filename) + 128
	}
	return n
}

// saveDraft saves m as a draft (POST /me/messages, or createReply for a
// reply, orig) and adds the attachments that did not fit in that request.
// A draft left by a failure is deleted. Drafts refused with a 403 are
// errDraftsRefused.
func (mb *mailbox) saveDraft(ctx context.Context, m providers.OutgoingMessage, orig *message) (message, error) {
	var draft message
	var later []providers.Attachment
	var err error
	if orig == nil {
		payload := outgoing(m, true)
		var inline []map[string]any
		var inlined []providers.Attachment
		for _, a := range m.Attachments {
			if len(a.Data) < inlineMax && jsonSize(m, append(inlined, a)) <= maxRequestBytes-requestMargin {
				inlined = append(inlined, a)
				inline = append(inline, fileAttachment(a))
			} else {
				later = append(later, a)
			}
		}
		if len(inline) > 0 {
			payload["attachments"] = inline
		}
		err = mb.g.do(ctx, req{method: http.MethodPost, path: "/me/messages", body: payload, need: scopeMailReadWrite}, &draft)
	} else {
		later = m.Attachments
		err = mb.g.do(ctx, req{method: http.MethodPost, path: "/me/messages/" + url.PathEscape(orig.ID) + "/createReply",
			body: map[string]any{"message": outgoing(m, false)}, need: scopeMailReadWrite}, &draft)
	}
	var pe *providers.Error
	switch {
	case errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrForbidden) && pe.Status == http.StatusForbidden:
		return message{}, errDraftsRefused
	case errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrUnavailable):
		pe.Message += "; nothing was sent (a draft may have been left in Drafts)"
		return message{}, pe
	case err != nil:
		return message{}, err
	case checkID("id", draft.ID) != nil:
		return message{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph answered a draft without a valid id; nothing was sent"}
	}
	for i, a := range later {
		if err := mb.attach(ctx, draft.ID, a); err != nil {
			mb.discard(ctx, draft.ID)
			var pe *providers.Error
			if errors.As(err, &pe) {
				pe.Message = fmt.Sprintf("adding attachments[%d] (%s): %s; nothing was sent", attachmentIndex(m, a, i), a.Filename, pe.Message)
			}
			return message{}, err
		}
	}
	return draft, nil
}

// sendDraft sends m as a draft, then sends the draft.
func (mb *mailbox) sendDraft(ctx context.Context, m providers.OutgoingMessage, orig *message) (providers.SentMessage, error) {
	draft, err := mb.saveDraft(ctx, m, orig)
	if err != nil {
		return providers.SentMessage{}, err
	}
	var pe *providers.Error
	err = mb.g.do(ctx, req{method: http.MethodPost, path: "/me/messages/" + url.PathEscape(draft.ID) + "/send", need: scopeMailSend}, nil)
	if err != nil {
		err = mapUncertain(err, fmt.Sprintf("it may have been sent: check Sent Items (message id %s) before sending it again", draft.ID))
		if !errors.As(err, &pe) || !errors.Is(pe.Kind, providers.ErrUncertain) {
			mb.discard(ctx, draft.ID)
		}
		return providers.SentMessage{}, err
	}
	return providers.SentMessage{ID: draft.ID, ThreadID: draft.ConversationID}, nil
}

// attachmentIndex is a's index in m.Attachments (for errors).
func attachmentIndex(m providers.OutgoingMessage, a providers.Attachment, fallback int) int {
	for i := range m.Attachments {
		if m.Attachments[i].Filename == a.Filename && len(m.Attachments[i].Data) == len(a.Data) {
			return i
		}
	}
	return fallback
}

// discard deletes a draft that will not be sent, best effort, even when
// ctx has ended.
func (mb *mailbox) discard(ctx context.Context, id string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = mb.g.do(dctx, req{method: http.MethodDelete, path: "/me/messages/" + url.PathEscape(id), need: scopeMailReadWrite}, nil)
}

// attach adds an attachment to a draft: in one request under 3 MB, else
// through an upload session.
func (mb *mailbox) attach(ctx context.Context, draftID string, a providers.Attachment) error {
	p := "/me/messages/" + url.PathEscape(draftID) + "/attachments"
	if len(a.Data) < inlineMax {
		return mb.g.do(ctx, req{method: http.MethodPost, path: p, body: fileAttachment(a), need: scopeMailReadWrite}, nil)
	}
	var sess struct {
		UploadURL string `json:"uploadUrl"`
	}
	item := map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": a.Filename, "size": len(a.Data), "contentType": mimeType(a)}}
	if err := mb.g.do(ctx, req{method: http.MethodPost, path: p + "/createUploadSession", body: item, need: scopeMailReadWrite}, &sess); err != nil {
		return err
	}
	u, err := mb.g.api.checkUploadURL(sess.UploadURL)
	if err != nil {
		return err
	}
	return mb.g.api.upload(ctx, u, a.Data)
}

// uploadHosts are the hosts (and their subdomains) Outlook's upload
// sessions point at, besides Graph's own host.
var uploadHosts = []string{"outlook.office.com", "outlook.office365.com", "outlook.office365.us", "outlook.live.com", "partner.outlook.cn"}

// checkUploadURL accepts an upload session's URL only on Graph's host or
// Outlook's, over https (http only where Graph's base is loopback http):
// the URL comes from an answer, and the bytes of the attachment go to it.
func (a *API) checkUploadURL(raw string) (*url.URL, error) {
	bad := &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph's upload session points somewhere mailcal does not send attachments to; nothing was sent"}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" {
		return nil, bad
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case strings.EqualFold(u.Host, a.graph.Host) && u.Scheme == a.graph.Scheme:
		return u, nil
	case u.Scheme != "https":
		return nil, bad
	}
	for _, h := range uploadHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return u, nil
		}
	}
	return nil, bad
}

// upload PUTs data to an upload session in chunks, without the access
// token (the session's URL carries its own). Each chunk's PUT may be
// repeated (it names its byte range).
func (a *API) upload(ctx context.Context, u *url.URL, data []byte) error {
	hc := &http.Client{Transport: a.retrying(a.base), CheckRedirect: noRedirects}
	total := len(data)
	for off := 0; off < total; off += uploadChunk {
		end := min(off+uploadChunk, total)
		chunk := data[off:end]
		r, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(chunk))
		if err != nil {
			return &providers.Error{Kind: providers.ErrInvalid, Message: "building the upload request"}
		}
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(chunk)), nil }
		r.ContentLength = int64(len(chunk))
		r.Header.Set("Content-Type", "application/octet-stream")
		r.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, end-1, total))
		resp, err := hc.Do(r)
		if err != nil {
			return networkError(err) // redacted: the URL carries the session's token
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		last := end == total
		switch {
		case resp.StatusCode == http.StatusOK && !last, resp.StatusCode == http.StatusCreated && last, resp.StatusCode == http.StatusOK && last:
		case resp.StatusCode < 300:
			return &providers.Error{Kind: providers.ErrInvalidAnswer, Status: resp.StatusCode,
				Message: fmt.Sprintf("the upload session answered HTTP %d after bytes %d-%d of %d", resp.StatusCode, off, end-1, total)}
		default:
			return mapResponse(resp, body, scopeMailReadWrite)
		}
	}
	return nil
}

// sendDirect sends m in one request (sendMail, or reply for a reply):
// what a grant without Mail.ReadWrite can do. Graph answers 202 without
// an id.
func (mb *mailbox) sendDirect(ctx context.Context, m providers.OutgoingMessage, orig *message) (providers.SentMessage, error) {
	if n := jsonSize(m, m.Attachments); n > maxRequestBytes-requestMargin {
		return providers.SentMessage{}, &providers.Error{Kind: providers.ErrTooLarge, Message: fmt.Sprintf(
			"the message would be a %.1f MB request; without the mail.modify scope (Graph Mail.ReadWrite, which lets mailcal upload large attachments to a draft) Outlook takes at most 4 MB in one request, attachments included: reconnect the account with scope mail.modify, or send smaller files",
			float64(n)/(1<<20))}
	}
	payload := outgoing(m, orig == nil)
	if len(m.Attachments) > 0 {
		atts := make([]map[string]any, 0, len(m.Attachments))
		for _, a := range m.Attachments {
			atts = append(atts, fileAttachment(a))
		}
		payload["attachments"] = atts
	}
	r := req{method: http.MethodPost, path: "/me/sendMail", body: map[string]any{"message": payload, "saveToSentItems": true}, need: scopeMailSend}
	sent := providers.SentMessage{}
	if orig != nil {
		r.path, r.body = "/me/messages/"+url.PathEscape(orig.ID)+"/reply", map[string]any{"message": payload}
		sent.ThreadID = orig.ConversationID
	}
	if err := mb.g.do(ctx, r, nil); err != nil {
		return providers.SentMessage{}, mapUncertain(err, "it may have been sent: check Sent Items before sending it again")
	}
	return sent, nil
}
