package microsofttest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
)

// Writing mail: drafts (created in JSON or MIME, updated, deleted, moved),
// attachments, and the message properties a request may set.

func (s *Server) mailWriteRoutes() {
	s.addRoute("POST", "sendMail", permMailSend, s.sendMail)
	s.addRoute("POST", "messages", permMailWrite, s.createDraft)
	s.addRoute("POST", "mailFolders/{folder}/messages", permMailWrite, s.createDraft)
	s.addRoute("PATCH", "messages/{id}", permMailWrite, s.updateMessage)
	s.addRoute("DELETE", "messages/{id}", permMailWrite, s.deleteMessage)
	s.addRoute("POST", "messages/{id}/move", permMailWrite, s.moveMessage)
	s.addRoute("POST", "messages/{id}/send", permMailSend, s.sendDraft)
	for _, action := range []string{"createReply", "createReplyAll", "createForward"} {
		s.addRoute("POST", "messages/{id}/"+action, permMailWrite, s.respond(action))
	}
	for _, action := range []string{"reply", "replyAll", "forward"} {
		s.addRoute("POST", "messages/{id}/"+action, permMailSend, s.respond(action))
		s.addRoute("POST", "mailFolders/{folder}/messages/{id}/"+action, permMailSend, s.respond(action))
	}
	s.addRoute("POST", "messages/{id}/attachments", permMailWrite, s.addAttachment)
	s.addRoute("DELETE", "messages/{id}/attachments/{att}", permMailWrite, s.deleteAttachment)
	s.addRoute("POST", "messages/{id}/attachments/createUploadSession", permMailWrite, s.createUploadSession)
}

// msgInput is what a request body sets on a message.
type msgInput struct {
	subject      *string
	body         *bodyContent
	to, cc, bcc  *[]Recipient
	replyTo      *[]Recipient
	importance   *string
	inference    *string
	isRead       *bool
	readReceipt  *bool
	delivReceipt *bool
	categories   *[]string
	flag         *string
	headers      *[]Header
	attachments  []*attachment
}

// readOnlyProps are message properties a request may carry but not change.
var readOnlyProps = []string{"@odata.type", "@odata.etag", "@odata.context", "id", "createdDateTime", "lastModifiedDateTime",
	"changeKey", "receivedDateTime", "sentDateTime", "hasAttachments", "internetMessageId", "bodyPreview", "parentFolderId",
	"conversationId", "conversationIndex", "isDraft", "webLink", "uniqueBody", "from", "sender"}

func bodyReadError(format string, args ...any) *queryError {
	return &queryError{"RequestBodyRead", fmt.Sprintf(format, args...)}
}

// parseMessageInput reads a message resource of a request body.
func parseMessageInput(raw json.RawMessage) (*msgInput, *queryError) {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil || props == nil {
		return nil, bodyReadError("Cannot read the message: a JSON object is expected.")
	}
	in := &msgInput{}
	for name, v := range props {
		var err *queryError
		switch name {
		case "subject":
			err = decodeInto(v, &in.subject, "Edm.String")
		case "body":
			var b struct{ ContentType, Content string }
			if json.Unmarshal(v, &b) != nil {
				return nil, bodyReadError("Cannot read the property 'body': an itemBody object is expected.")
			}
			typ := strings.ToLower(b.ContentType)
			if typ == "" {
				typ = "text"
			}
			if typ != "text" && typ != "html" {
				return nil, bodyReadError("Requested value '%s' was not found.", b.ContentType)
			}
			in.body = &bodyContent{typ: typ, content: b.Content}
		case "toRecipients", "ccRecipients", "bccRecipients", "replyTo":
			list, e := decodeRecipients(name, v)
			if e != nil {
				return nil, e
			}
			switch name {
			case "toRecipients":
				in.to = &list
			case "ccRecipients":
				in.cc = &list
			case "bccRecipients":
				in.bcc = &list
			default:
				in.replyTo = &list
			}
		case "importance", "inferenceClassification":
			var val string
			if json.Unmarshal(v, &val) != nil {
				return nil, bodyReadError("Cannot read the property '%s'.", name)
			}
			val = strings.ToLower(val)
			allowed := map[string][]string{"importance": {"low", "normal", "high"}, "inferenceClassification": {"focused", "other"}}[name]
			if !slices.Contains(allowed, val) {
				return nil, bodyReadError("Requested value '%s' was not found.", val)
			}
			if name == "importance" {
				in.importance = &val
			} else {
				in.inference = &val
			}
		case "isRead":
			err = decodeInto(v, &in.isRead, "Edm.Boolean")
		case "isReadReceiptRequested":
			err = decodeInto(v, &in.readReceipt, "Edm.Boolean")
		case "isDeliveryReceiptRequested":
			err = decodeInto(v, &in.delivReceipt, "Edm.Boolean")
		case "categories":
			err = decodeInto(v, &in.categories, "Collection(Edm.String)")
		case "flag":
			var f struct{ FlagStatus string }
			if json.Unmarshal(v, &f) != nil || !slices.Contains([]string{"notFlagged", "flagged", "complete"}, f.FlagStatus) {
				return nil, bodyReadError("Cannot read the property 'flag': flagStatus must be notFlagged, flagged or complete.")
			}
			in.flag = &f.FlagStatus
		case "internetMessageHeaders":
			var hs []Header
			if json.Unmarshal(v, &hs) != nil {
				return nil, bodyReadError("Cannot read the property 'internetMessageHeaders'.")
			}
			for _, h := range hs {
				// Only custom headers may be set (the message resource's
				// internetMessageHeaders).
				if !strings.HasPrefix(strings.ToLower(h.Name), "x-") {
					return nil, &queryError{"InvalidInternetMessageHeader",
						"The internet message header name '" + h.Name + "' should start with 'x-' or 'X-'."}
				}
			}
			in.headers = &hs
		case "attachments":
			var list []json.RawMessage
			if json.Unmarshal(v, &list) != nil {
				return nil, bodyReadError("Cannot read the property 'attachments': a collection is expected.")
			}
			for _, item := range list {
				a, e := parseAttachmentInput(item)
				if e != nil {
					return nil, e
				}
				in.attachments = append(in.attachments, a)
			}
		default:
			if !slices.Contains(readOnlyProps, name) {
				return nil, bodyReadError("The property '%s' does not exist on type 'microsoft.graph.message'. "+
					"Make sure to only use property names that are defined by the type or mark the type as open type.", name)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

// decodeInto decodes a property of an OData type into *dst.
func decodeInto[T any](v json.RawMessage, dst **T, edm string) *queryError {
	var x T
	if err := json.Unmarshal(v, &x); err != nil {
		return bodyReadError("Cannot convert the literal '%s' to the expected type '%s'.", strings.Trim(string(v), `"`), edm)
	}
	*dst = &x
	return nil
}

func decodeRecipients(name string, v json.RawMessage) ([]Recipient, *queryError) {
	var items []struct {
		EmailAddress *Recipient `json:"emailAddress"`
	}
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, bodyReadError("Cannot read the property '%s': a collection of recipients is expected.", name)
	}
	out := []Recipient{}
	for _, it := range items {
		if it.EmailAddress == nil {
			return nil, bodyReadError("Cannot read the property '%s': a recipient has no emailAddress.", name)
		}
		out = append(out, *it.EmailAddress)
	}
	return out, nil
}

// parseAttachmentInput reads a fileAttachment of a request body.
func parseAttachmentInput(raw json.RawMessage) (*attachment, *queryError) {
	var in struct {
		Type         string  `json:"@odata.type"`
		Name         string  `json:"name"`
		ContentType  string  `json:"contentType"`
		ContentBytes *string `json:"contentBytes"`
		IsInline     bool    `json:"isInline"`
		ContentID    string  `json:"contentId"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, bodyReadError("Cannot read the attachment.")
	}
	switch strings.TrimPrefix(in.Type, "#") {
	case "microsoft.graph.fileAttachment":
	case "":
		// The attachment type is abstract: the kind must be named.
		return nil, bodyReadError("Cannot create an abstract class: the attachment's @odata.type is missing.")
	default:
		return nil, &queryError{"ErrorInvalidParameter", "microsofttest: only file attachments are supported by the fake, not " + in.Type}
	}
	if in.ContentBytes == nil {
		return nil, &queryError{"ErrorInvalidParameter", "The value of the parameter 'ContentBytes' is empty."}
	}
	data, err := base64.StdEncoding.DecodeString(*in.ContentBytes)
	if err != nil {
		return nil, bodyReadError("Cannot convert the literal '%.20s…' to the expected type 'Edm.Binary'.", *in.ContentBytes)
	}
	if strings.TrimSpace(in.Name) == "" {
		return nil, &queryError{"ErrorInvalidParameter", "The value of the parameter 'Name' is empty."}
	}
	if in.ContentType == "" {
		in.ContentType = "application/octet-stream"
	}
	return &attachment{name: in.Name, contentType: in.ContentType, data: data, inline: in.IsInline, contentID: in.ContentID}, nil
}

// apply sets the properties of in on m; on a message that is not a draft
// only the flags may change.
func (in *msgInput) apply(m *message, mb *mailbox) *queryError {
	if !m.isDraft && (in.subject != nil || in.body != nil || in.to != nil || in.cc != nil || in.bcc != nil || in.replyTo != nil ||
		len(in.attachments) > 0 || in.headers != nil) {
		return &queryError{"ErrorInvalidPropertyUpdateSentMessage", "Update operation is not supported for this property on a sent message."}
	}
	set := func(dst *[]Recipient, src *[]Recipient) {
		if src != nil {
			*dst = slices.Clone(*src)
		}
	}
	if in.subject != nil {
		m.subject = *in.subject
	}
	if in.body != nil {
		m.body, m.uniqueBody = *in.body, *in.body
	}
	set(&m.to, in.to)
	set(&m.cc, in.cc)
	set(&m.bcc, in.bcc)
	set(&m.replyTo, in.replyTo)
	for _, p := range []struct {
		dst *string
		src *string
	}{{&m.importance, in.importance}, {&m.inference, in.inference}, {&m.flag, in.flag}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	for _, p := range []struct {
		dst *bool
		src *bool
	}{{&m.isRead, in.isRead}, {&m.readReceipt, in.readReceipt}, {&m.delivReceipt, in.delivReceipt}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if in.categories != nil {
		m.categories = slices.Clone(*in.categories)
		for _, c := range m.categories {
			mb.ensureCategory(c)
		}
	}
	if in.headers != nil {
		m.headers = slices.Clone(*in.headers)
	}
	for _, a := range in.attachments {
		a.seq = mb.next()
		m.attachments = append(m.attachments, a)
	}
	return nil
}

// newDraft is an empty draft of the mailbox in folder. Call with g.mu held.
func (s *Server) newDraft(mb *mailbox, f *folder) *message {
	now := s.Now()
	return &message{folder: f, isDraft: true, isRead: true, importance: "normal", flag: "notFlagged", inference: "focused",
		created: now, modified: now, received: now, sent: now, body: bodyContent{typ: "html"}, uniqueBody: bodyContent{typ: "html"},
		internetMessageID: fmt.Sprintf("<%s@%s>", strings.ToUpper(newGUID()[:23]), "fake.prod.outlook.com")}
}

// createDraft is POST /messages (JSON, or MIME in base64 as text/plain).
func (s *Server) createDraft(c *call) {
	in, p, ok := c.readMessageOrMIME()
	if !ok {
		return
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	f := mb.wellKnown("drafts")
	if name, has := c.params["folder"]; has {
		if f, ok = mb.findFolder(name); !ok || f == nil {
			c.folderProblem(ok)
			return
		}
	}
	m := s.newDraft(mb, f)
	if p != nil {
		fromMIME(m, p)
	} else if err := in.apply(m, mb); err != nil {
		c.queryFail(err)
		return
	}
	mb.store(m)
	c.answerMessage(mb, m, http.StatusCreated)
}

// answerMessage answers status with a message the request made or changed.
func (c *call) answerMessage(mb *mailbox, m *message, status int) {
	out := c.renderMessage(mb, m, nil, false)
	out["@odata.context"] = c.context("messages/$entity")
	c.ok(status, out)
}

func (c *call) folderProblem(wellFormed bool) {
	if !wellFormed {
		c.badID()
		return
	}
	c.notFound()
}

// fromMIME sets a draft's content from a MIME message.
func fromMIME(m *message, p *parsedMIME) {
	m.subject, m.body, m.uniqueBody = p.subject, p.body, uniqueBody(p.body)
	m.to, m.cc, m.bcc, m.replyTo = p.to, p.cc, p.bcc, p.replyTo
	m.attachments = append(m.attachments, p.attachments...)
	m.inReplyTo, m.references = p.inReplyTo, p.references
	for _, h := range p.headers {
		if strings.HasPrefix(strings.ToLower(h.Name), "x-") {
			m.headers = append(m.headers, h)
		}
	}
}

// readMessageOrMIME reads a body that is a message resource (JSON) or, as
// text/plain, a base64 MIME message.
func (c *call) readMessageOrMIME() (*msgInput, *parsedMIME, bool) {
	if isMIMERequest(c.r) {
		p, ok := c.readMIME()
		return nil, p, ok
	}
	var raw json.RawMessage
	if !c.readBody(&raw) {
		return nil, nil, false
	}
	in, err := parseMessageInput(raw)
	if err != nil {
		return nil, nil, c.queryFail(err)
	}
	return in, nil, true
}

func isMIMERequest(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "text/plain")
}

// readMIME reads a base64 MIME body ("Send Outlook messages from another
// user" MIME format: base64 of the RFC 5322 message, in 4 MB).
func (c *call) readMIME() (*parsedMIME, bool) {
	var raw []byte
	if !c.readRaw(&raw) {
		return nil, false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		c.fail(http.StatusBadRequest, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
		return nil, false
	}
	p, err := parseMIME(dec)
	if err != nil {
		c.fail(http.StatusBadRequest, "ErrorMimeContentInvalid", "The MIME content is not valid: "+err.Error())
		return nil, false
	}
	p.raw = dec
	return p, true
}

func (s *Server) updateMessage(c *call) {
	var raw json.RawMessage
	if !c.readBody(&raw) {
		return
	}
	in, err := parseMessageInput(raw)
	if err != nil {
		c.queryFail(err)
		return
	}
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	if err := in.apply(m, mb); err != nil {
		c.queryFail(err)
		return
	}
	m.changes++
	m.modified = s.Now()
	c.answerMessage(mb, m, http.StatusOK)
}

// deleteMessage moves a message to Deleted Items, and deletes one that is
// there.
func (s *Server) deleteMessage(c *call) {
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	if trash := mb.wellKnown("deleteditems"); m.folder != trash {
		m.folder = trash
	} else {
		mb.msgs = slices.DeleteFunc(mb.msgs, func(o *message) bool { return o == m })
	}
	c.noContent(http.StatusNoContent)
}

// moveMessage moves a message to another folder: 201 with the message,
// under a new id unless immutable ids are asked for.
func (s *Server) moveMessage(c *call) {
	var in struct {
		DestinationID string `json:"destinationId"`
	}
	if !c.readBody(&in) {
		return
	}
	if in.DestinationID == "" {
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'DestinationId' is empty.")
		return
	}
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	f, ok := mb.findFolder(in.DestinationID)
	if !ok || f == nil {
		c.folderProblem(ok)
		return
	}
	m.folder, m.modified = f, s.Now()
	m.changes++
	c.answerMessage(mb, m, http.StatusCreated)
}

func (s *Server) addAttachment(c *call) {
	var raw json.RawMessage
	if !c.readBody(&raw) {
		return
	}
	a, err := parseAttachmentInput(raw)
	if err != nil {
		c.queryFail(err)
		return
	}
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	a.seq, a.modified = mb.next(), s.Now()
	m.attachments = append(m.attachments, a)
	m.changes++
	out := renderAttachment(mb, m, a, c.prefer.immutable)
	out["@odata.context"] = c.context("messages('" + c.params["id"] + "')/attachments/$entity")
	c.ok(http.StatusCreated, out)
}

func (s *Server) deleteAttachment(c *call) {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	m, a := c.attachment(mb)
	if a == nil {
		return
	}
	m.attachments = slices.DeleteFunc(m.attachments, func(o *attachment) bool { return o == a })
	c.noContent(http.StatusNoContent)
}

// validRecipients checks a message's recipients as sending does; the
// error is Graph's.
func validRecipients(m *message) *queryError {
	all := slices.Concat(m.to, m.cc, m.bcc)
	if len(all) == 0 {
		return &queryError{"ErrorInvalidRecipients", "At least one recipient is required, but none were found."}
	}
	for _, r := range all {
		if a, err := mail.ParseAddress(r.Address); err != nil || a.Address != r.Address {
			return &queryError{"ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient '" + r.Address +
				"' is not resolved. All recipients must be resolved before a message can be submitted."}
		}
	}
	return nil
}
