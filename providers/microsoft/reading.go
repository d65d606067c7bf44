package microsoft

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/htmltext"
)

// Reading conversations (messages filtered by conversationId) and
// attachments (/messages/{id}/attachments/{id} and its $value).

var _ providers.Reading = (*mailbox)(nil)

// threadPageSize is $top of a conversation's pages; maxThreadRead bounds
// the messages read of one conversation (the latest MaxThreadMessages are
// kept).
const (
	threadPageSize = 50
	maxThreadRead  = 1000
)

// threadFields are what Thread reads of each message: Get's fields.
const threadFields = summaryFields + ",ccRecipients,replyTo,internetMessageId,body"

// Thread lists the messages whose conversationId is the conversation's,
// oldest first, bodies and attachments' metadata included: one request a
// page of 50 (by a message's id, that message's conversationId first; the
// account's folders the first time, for the labels).
// Graph sorts by receivedDateTime only when the $filter names that
// property first (else it answers InefficientFilter): the filter starts
// with an always-true receivedDateTime clause, as List's does.
func (mb *mailbox) Thread(ctx context.Context, q providers.ThreadQuery) (providers.Thread, error) {
	id := q.ThreadID
	if id == "" {
		if err := checkID("message_id", q.MessageID); err != nil {
			return providers.Thread{}, err
		}
		var m message
		err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/messages/" + url.PathEscape(q.MessageID),
			query: url.Values{"$select": {"conversationId"}}, need: scopeMailRead}, &m)
		if err != nil {
			return providers.Thread{}, reword(err, fmt.Sprintf("message_id %q: no such message in the mailbox", q.MessageID))
		}
		id = m.ConversationID
	}
	if err := checkID("thread_id", id); err != nil {
		return providers.Thread{}, err
	}
	params := url.Values{
		"$select":  {threadFields},
		"$expand":  {"attachments($select=id,name,contentType,size,isInline)"},
		"$filter":  {"receivedDateTime ge 1900-01-01T00:00:00Z and conversationId eq " + odataString(id)},
		"$orderby": {"receivedDateTime asc"},
		"$top":     {strconv.Itoa(threadPageSize)},
	}
	var all []message
	for {
		var res struct {
			Value    []message `json:"value"`
			NextLink string    `json:"@odata.nextLink"`
		}
		if err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/messages", query: params, need: scopeMailRead}, &res); err != nil {
			return providers.Thread{}, err
		}
		all = append(all, res.Value...)
		if res.NextLink == "" || len(all) >= maxThreadRead {
			break
		}
		skip, skipToken, err := nextPage(res.NextLink)
		if err != nil {
			return providers.Thread{}, err
		}
		params.Del("$skip")
		params.Del("$skiptoken")
		if skipToken != "" {
			params.Set("$skiptoken", skipToken)
		} else {
			params.Set("$skip", skip)
		}
	}
	if len(all) == 0 {
		return providers.Thread{}, &providers.Error{Kind: providers.ErrNotFound, Status: http.StatusNotFound,
			Message: fmt.Sprintf("thread_id %q: no such conversation in the mailbox", id)}
	}
	// Each message's folder is one of its labels, as in List: the
	// account's folders are read once and kept a while (a failure only
	// leaves the folders out).
	_, _ = mb.folders(ctx)
	out := providers.Thread{ID: id}
	if len(all) > providers.MaxThreadMessages {
		all, out.More = all[len(all)-providers.MaxThreadMessages:], true
	}
	for _, m := range all {
		msg, src := mb.toMessage(m)
		out.Messages = append(out.Messages, providers.ThreadMessage{Message: msg, HTML: src})
	}
	return out, nil
}

// toMessage is a message read in full as providers.Message, and its HTML
// body when it has one.
func (mb *mailbox) toMessage(m message) (providers.Message, string) {
	out := providers.Message{
		MessageSummary: summary(m),
		Cc:             joinRecipients(m.Cc),
		ReplyTo:        joinRecipients(m.ReplyTo),
		MessageID:      strings.TrimSpace(m.InternetMsgID),
		Attachments:    []providers.AttachmentInfo{},
	}
	if folders, ok := mb.g.api.folders.get(mb.g.account, mb.g.api.now()); ok {
		if l := folders.label(m.ParentFolderID); l != "" {
			out.Labels = append([]string{l}, out.Labels...)
		}
	}
	for _, a := range m.Attachments {
		if !a.IsInline {
			out.Attachments = append(out.Attachments, providers.AttachmentInfo{ID: a.ID, Filename: a.Name, MIMEType: a.ContentType, Size: a.Size})
		}
	}
	out.HasAttachments = m.HasAttachments || len(out.Attachments) > 0
	var src string
	if m.Body != nil {
		text := strings.ReplaceAll(m.Body.Content, "\r\n", "\n")
		if strings.EqualFold(m.Body.ContentType, "html") {
			src = text
			out.BodyText, out.Links = htmltext.ConvertLinks(text)
			out.BodyFromHTML = true
		} else {
			out.BodyText, out.Links = htmltext.ShortenURLs(text)
		}
	}
	return out, src
}

// nextPage is the $skip or $skiptoken of a next-page link (the link itself
// is never requested: it could point anywhere).
func nextPage(next string) (skip, skipToken string, err error) {
	invalid := &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph's next-page link has no $skip or $skiptoken mailcal can page with"}
	u, perr := url.Parse(next)
	if perr != nil {
		return "", "", invalid
	}
	q := u.Query()
	if t := q.Get("$skiptoken"); t != "" {
		if !safeSkipToken(t) {
			return "", "", invalid
		}
		return "", t, nil
	}
	if n, perr := strconv.ParseInt(q.Get("$skip"), 10, 64); perr == nil && n > 0 {
		return strconv.FormatInt(n, 10), "", nil
	}
	return "", "", invalid
}

// Attachment reads an attachment's metadata, then, for a file within the
// limit, its raw content ($value), reading no more than the limit. An
// attached Outlook item (a message, event or contact) and a link to a
// cloud file have no file to read: they are refused, saying so.
func (mb *mailbox) Attachment(ctx context.Context, q providers.AttachmentQuery) (providers.AttachmentContent, error) {
	if err := checkID("message_id", q.MessageID); err != nil {
		return providers.AttachmentContent{}, err
	}
	if err := checkID("attachment_id", q.AttachmentID); err != nil {
		return providers.AttachmentContent{}, err
	}
	path := "/me/messages/" + url.PathEscape(q.MessageID) + "/attachments/" + url.PathEscape(q.AttachmentID)
	var a struct {
		Type        string `json:"@odata.type"`
		ID          string `json:"id"`
		Name        string `json:"name"`
		ContentType string `json:"contentType"`
		Size        int64  `json:"size"`
	}
	err := mb.g.do(ctx, req{method: http.MethodGet, path: path, query: url.Values{"$select": {"id,name,contentType,size"}}, need: scopeMailRead}, &a)
	if err != nil {
		return providers.AttachmentContent{}, reword(err, fmt.Sprintf("message %s has no attachment %q (get_message lists its attachments and their ids)", q.MessageID, q.AttachmentID))
	}
	switch strings.TrimPrefix(a.Type, "#") {
	case "microsoft.graph.itemAttachment":
		return providers.AttachmentContent{}, &providers.Error{Kind: providers.ErrInvalid, Status: http.StatusBadRequest, Message: fmt.Sprintf(
			"attachment %q is an Outlook item (an email, event or contact) attached to the message, not a file; it can be opened in Outlook", a.Name)}
	case "microsoft.graph.referenceAttachment":
		return providers.AttachmentContent{}, &providers.Error{Kind: providers.ErrInvalid, Status: http.StatusBadRequest, Message: fmt.Sprintf(
			"attachment %q is a link to a file kept in OneDrive or SharePoint, not a file in the message; it can be opened from Outlook", a.Name)}
	}
	ctype, params, _ := mime.ParseMediaType(a.ContentType)
	info := providers.AttachmentInfo{ID: q.AttachmentID, Filename: a.Name, MIMEType: ctype, Size: a.Size}
	if info.MIMEType == "" {
		info.MIMEType = a.ContentType
	}
	limit := q.LimitOf(info)
	if info.Size > limit {
		return providers.AttachmentContent{}, &providers.SizeError{Name: a.Name, Size: info.Size, Limit: limit}
	}
	resp, err := mb.g.send(ctx, req{method: http.MethodGet, path: path + "/$value", need: scopeMailRead})
	if err != nil {
		return providers.AttachmentContent{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return providers.AttachmentContent{}, mapResponse(resp, body, scopeMailRead)
	}
	if resp.ContentLength > limit {
		return providers.AttachmentContent{}, &providers.SizeError{Name: a.Name, Size: resp.ContentLength, Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return providers.AttachmentContent{}, networkError(err)
	}
	if int64(len(data)) > limit {
		return providers.AttachmentContent{}, &providers.SizeError{Name: a.Name, Size: max(info.Size, int64(len(data))), Limit: limit}
	}
	info.Size = int64(len(data))
	return providers.AttachmentContent{AttachmentInfo: info, Charset: params["charset"], Data: data}, nil
}

// reword replaces a not-found error's message.
func reword(err error, msg string) error {
	if pe, ok := err.(*providers.Error); ok && pe.Kind == providers.ErrNotFound {
		pe.Message = msg
	}
	return err
}
