package google

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
)

// Reading conversations (users.threads.get) and attachments
// (users.messages.attachments.get).

var _ providers.Reading = (*mailbox)(nil)

// partID is a MIME part id as Gmail numbers them ("1", "0.2.1"), which
// names an attachment across reads of its message; attachmentToken is one
// of Gmail's attachment ids, which differ from one read to the next.
var (
	partID          = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,4}){0,31}$`)
	attachmentToken = regexp.MustCompile(`^[A-Za-z0-9_-]{8,1000}$`)
)

// Thread reads a conversation in one request (threads.get, format full);
// by a message's id, that message's thread id first (messages.get, format
// minimal). Gmail answers a thread's messages oldest first; they are put
// in that order again by internal date all the same.
func (mb *mailbox) Thread(ctx context.Context, q providers.ThreadQuery) (providers.Thread, error) {
	id := q.ThreadID
	if id == "" {
		if !gmailID(q.MessageID) {
			return providers.Thread{}, &providers.FieldError{Field: "message_id", Msg: fmt.Sprintf("%q is not a Gmail message id (from list_messages)", clip(q.MessageID))}
		}
		var m struct {
			ThreadID string `json:"threadId"`
		}
		u := mb.api + "users/me/messages/" + url.PathEscape(q.MessageID) + "?format=minimal&fields=threadId&alt=json&prettyPrint=false"
		if err := getJSON(ctx, mb.hc, u, &m); err != nil {
			return providers.Thread{}, notFound(mapError(err), fmt.Sprintf("message_id %q: no such message in the mailbox", q.MessageID))
		}
		id = m.ThreadID
	}
	if !gmailID(id) {
		return providers.Thread{}, &providers.FieldError{Field: "thread_id", Msg: fmt.Sprintf("%q is not a Gmail thread id (from list_messages)", clip(id))}
	}
	var t struct {
		ID       string           `json:"id"`
		Messages []*gmail.Message `json:"messages"`
	}
	u := mb.api + "users/me/threads/" + url.PathEscape(id) + "?format=full&alt=json&prettyPrint=false"
	if err := getJSON(ctx, mb.hc, u, &t); err != nil {
		return providers.Thread{}, notFound(mapError(err), fmt.Sprintf("thread_id %q: no such conversation in the mailbox", id))
	}
	msgs := slices.DeleteFunc(t.Messages, func(m *gmail.Message) bool { return m == nil || m.Id == "" })
	slices.SortStableFunc(msgs, func(a, b *gmail.Message) int { return int(a.InternalDate - b.InternalDate) })
	out := providers.Thread{ID: id}
	if len(msgs) > providers.MaxThreadMessages {
		msgs, out.More = msgs[len(msgs)-providers.MaxThreadMessages:], true
	}
	for _, m := range msgs {
		msg, src, err := mb.message(ctx, m)
		if err != nil {
			return providers.Thread{}, err
		}
		out.Messages = append(out.Messages, providers.ThreadMessage{Message: msg, HTML: src})
	}
	return out, nil
}

// Attachment reads the message's parts (messages.get) to find the
// attachment by its part id (or by an attachment id of this read), checks
// its declared size against the limit, then reads its data
// (attachments.get), at most the limit's worth of base64.
func (mb *mailbox) Attachment(ctx context.Context, q providers.AttachmentQuery) (providers.AttachmentContent, error) {
	if !gmailID(q.MessageID) {
		return providers.AttachmentContent{}, &providers.FieldError{Field: "message_id", Msg: fmt.Sprintf("%q is not a Gmail message id (from list_messages)", clip(q.MessageID))}
	}
	if !partID.MatchString(q.AttachmentID) && !attachmentToken.MatchString(q.AttachmentID) {
		return providers.AttachmentContent{}, &providers.FieldError{Field: "attachment_id", Msg: fmt.Sprintf("%q is not an attachment id of get_message or get_thread", clip(q.AttachmentID))}
	}
	m := new(gmail.Message)
	u := mb.api + "users/me/messages/" + url.PathEscape(q.MessageID) + "?format=full&fields=id,payload&alt=json&prettyPrint=false"
	if err := getJSON(ctx, mb.hc, u, m); err != nil {
		return providers.AttachmentContent{}, notFound(mapError(err), fmt.Sprintf("message_id %q: no such message in the mailbox", q.MessageID))
	}
	p := findPart(m.Payload, q.AttachmentID, 0)
	if p == nil || p.Body == nil || len(p.Parts) > 0 {
		return providers.AttachmentContent{}, &providers.Error{Kind: providers.ErrNotFound, Status: http.StatusNotFound,
			Message: fmt.Sprintf("message %s has no attachment %q (get_message lists its attachments and their ids)", q.MessageID, q.AttachmentID)}
	}
	info := providers.AttachmentInfo{ID: q.AttachmentID, Filename: decodeHeader(p.Filename), MIMEType: p.MimeType, Size: p.Body.Size}
	limit := q.LimitOf(info)
	if info.Size > limit {
		return providers.AttachmentContent{}, &providers.SizeError{Name: info.Filename, Size: info.Size, Limit: limit}
	}
	data := p.Body.Data
	if data == "" && p.Body.AttachmentId != "" {
		var body struct {
			Data string `json:"data"`
		}
		u := mb.api + "users/me/messages/" + url.PathEscape(q.MessageID) + "/attachments/" + url.PathEscape(p.Body.AttachmentId) + "?alt=json&prettyPrint=false"
		// base64url is 4/3 of the data; the JSON around it a little more.
		err := getJSONLimit(ctx, mb.hc, u, &body, limit/3*4+8<<10)
		var se *providers.SizeError
		if errors.As(err, &se) {
			se.Name, se.Limit, se.Size = info.Filename, limit, max(info.Size, se.Size/4*3)
			return providers.AttachmentContent{}, se
		}
		if err != nil {
			return providers.AttachmentContent{}, mapError(err)
		}
		data = body.Data
	}
	b := decodeBase64URL(data)
	if b == nil && data != "" {
		return providers.AttachmentContent{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail's attachment data is not base64url"}
	}
	if int64(len(b)) > limit {
		return providers.AttachmentContent{}, &providers.SizeError{Name: info.Filename, Size: int64(len(b)), Limit: limit}
	}
	info.Size = int64(len(b))
	return providers.AttachmentContent{AttachmentInfo: info, Charset: partCharset(p), Data: b}, nil
}

// findPart finds the leaf part with the id or the attachment id.
func findPart(p *gmail.MessagePart, id string, depth int) *gmail.MessagePart {
	if p == nil || depth > 32 {
		return nil
	}
	if p.PartId == id || p.Body != nil && p.Body.AttachmentId == id && id != "" {
		return p
	}
	for _, c := range p.Parts {
		if f := findPart(c, id, depth+1); f != nil {
			return f
		}
	}
	return nil
}

// getJSONLimit is getJSON reading at most limit bytes of the answer; a
// larger one is a *providers.SizeError with the bytes seen.
func getJSONLimit(ctx context.Context, hc *http.Client, u string, v any, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "mailcal")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		return err
	}
	if resp.ContentLength > limit {
		return &providers.SizeError{Size: resp.ContentLength}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		return err
	}
	if int64(buf.Len()) > limit {
		return &providers.SizeError{Size: int64(buf.Len())}
	}
	return decodeJSON(buf.Bytes(), v)
}

// notFound rewords a not-found error's message.
func notFound(err error, msg string) error {
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
		pe.Message = msg
	}
	return err
}

// clip shortens a refused value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
