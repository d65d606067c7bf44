package microsofttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// Sending: sendMail (JSON or MIME), sending a draft, replies and forwards
// (createReply, createReplyAll, createForward make drafts; reply, replyAll
// and forward send at once), and what tests read of what was sent.

// maxMessageSize is Exchange Online's default largest message a mailbox
// sends (MaxSendSize, 35 MB); past it the send fails.
const maxMessageSize = 35 << 20

// SentMessage is a message a user sent, as Graph took it.
type SentMessage struct {
	// ID and ImmutableID are its ids in Sent Items ("" when not saved
	// there).
	ID, ImmutableID   string
	ConversationID    string
	InternetMessageID string
	// InReplyTo and References are the headers it went out with (a reply:
	// the original's Message-ID).
	InReplyTo, References string
	Via                   string // sendMail, send, reply, replyAll, forward
	Subject               string
	ContentType           string // text or html
	Body                  string
	UniqueBody            string // the part written for this message (without the quoted original)
	From                  Recipient
	To, Cc, Bcc, ReplyTo  []Recipient
	Attachments           []SentAttachment
	Headers               []Header // the custom x- headers set
	MIME                  []byte   // the MIME message, when sent in MIME format
	SavedToSentItems      bool
	Sent                  time.Time
}

// SentAttachment is an attachment of a sent message.
type SentAttachment struct {
	Name, ContentType, ContentID string
	IsInline                     bool
	Data                         []byte
}

// Sent returns the messages a user sent, oldest first.
func (s *Server) Sent(email string) []SentMessage {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(email)
	out := make([]SentMessage, len(mb.sent))
	for i, m := range mb.sent {
		m.To, m.Cc, m.Bcc, m.ReplyTo = slices.Clone(m.To), slices.Clone(m.Cc), slices.Clone(m.Bcc), slices.Clone(m.ReplyTo)
		m.Attachments, m.Headers, m.MIME = slices.Clone(m.Attachments), slices.Clone(m.Headers), slices.Clone(m.MIME)
		out[i] = m
	}
	return out
}

// sendMail is POST /sendMail: {"message": …, "saveToSentItems": …} or a
// base64 MIME message; 202 without a body.
func (s *Server) sendMail(c *call) {
	var in *msgInput
	var p *parsedMIME
	save := true
	if isMIMERequest(c.r) {
		var ok bool
		if p, ok = c.readMIME(); !ok {
			return
		}
	} else {
		var body map[string]json.RawMessage
		if !c.readBody(&body) {
			return
		}
		for k, v := range body {
			switch k {
			case "message":
			case "saveToSentItems":
				var b any
				json.Unmarshal(v, &b)
				switch x := b.(type) {
				case bool:
					save = x
				case string: // the reference's own example sends "false"
					save = !strings.EqualFold(x, "false")
				default:
					c.queryFail(bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'.", string(v)))
					return
				}
			default:
				c.queryFail(bodyReadError("The parameter '%s' in the request payload is not a valid parameter for the operation 'sendMail'.", k))
				return
			}
		}
		raw, ok := body["message"]
		if !ok || string(raw) == "null" {
			c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
			return
		}
		var err *queryError
		if in, err = parseMessageInput(raw); err != nil {
			c.queryFail(err)
			return
		}
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	m := s.newDraft(mb, mb.wellKnown("drafts"))
	var mimeRaw []byte
	if p != nil {
		fromMIME(m, p)
		mimeRaw = p.raw
	} else if err := in.apply(m, mb); err != nil {
		c.queryFail(err)
		return
	}
	if err := s.send(mb, m, "sendMail", save, mimeRaw, false); err != nil {
		c.queryFail(err)
		return
	}
	c.noContent(http.StatusAccepted)
}

// sendDraft is POST /messages/{id}/send.
func (s *Server) sendDraft(c *call) {
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	if !m.isDraft {
		c.fail(http.StatusBadRequest, "ErrorInvalidOperation", "The item can't be sent because it isn't a draft.")
		return
	}
	if err := s.send(mb, m, "send", true, nil, true); err != nil {
		c.queryFail(err)
		return
	}
	c.noContent(http.StatusAccepted)
}

// send sends a message of mb: it goes to Sent Items (a stored draft moves
// there; its ordinary id changes) or, unsaved, away. Call with g.mu held.
func (s *Server) send(mb *mailbox, m *message, via string, save bool, mimeRaw []byte, stored bool) *queryError {
	if err := validRecipients(m); err != nil {
		return err
	}
	size := len(m.body.content)
	for _, a := range m.attachments {
		size += len(a.data)
	}
	if size > maxMessageSize {
		return &queryError{"ErrorMessageSizeExceeded", "The message exceeds the maximum supported size."}
	}
	now := s.Now()
	owner := Recipient{Name: mb.owner.DisplayName, Address: mb.owner.Email}
	m.from, m.sender = &owner, &owner
	m.isDraft, m.isRead, m.sent, m.received, m.modified = false, true, now, now, now
	m.folder = mb.wellKnown("sentitems")
	m.headers = slices.Concat(sentHeaders(m, now), m.headers)
	if !stored {
		mb.store(m)
	}
	if !save {
		mb.msgs = slices.DeleteFunc(mb.msgs, func(o *message) bool { return o == m })
	}
	rec := SentMessage{
		ConversationID: mb.conversationID(m), InternetMessageID: m.internetMessageID, InReplyTo: m.inReplyTo,
		References: m.references, Via: via, Subject: m.subject, ContentType: m.body.typ, Body: m.body.content,
		UniqueBody: m.uniqueBody.content, From: owner, To: slices.Clone(m.to), Cc: slices.Clone(m.cc),
		Bcc: slices.Clone(m.bcc), ReplyTo: slices.Clone(m.replyTo), MIME: mimeRaw, SavedToSentItems: save, Sent: now,
	}
	if save {
		rec.ID, rec.ImmutableID = mb.messageID(m, false), mb.messageID(m, true)
	}
	for _, h := range m.headers {
		if strings.HasPrefix(strings.ToLower(h.Name), "x-") {
			rec.Headers = append(rec.Headers, h)
		}
	}
	for _, a := range m.attachments {
		rec.Attachments = append(rec.Attachments, SentAttachment{Name: a.name, ContentType: a.contentType, ContentID: a.contentID,
			IsInline: a.inline, Data: slices.Clone(a.data)})
	}
	mb.sent = append(mb.sent, rec)
	return nil
}

// sentHeaders are the Internet headers a sent message goes out with.
func sentHeaders(m *message, now time.Time) []Header {
	list := func(rs []Recipient) string {
		var parts []string
		for _, r := range rs {
			parts = append(parts, formatRecipient(r))
		}
		return strings.Join(parts, ", ")
	}
	hs := []Header{{"From", formatRecipient(*m.from)}, {"To", list(m.to)}}
	if len(m.cc) > 0 {
		hs = append(hs, Header{"CC", list(m.cc)})
	}
	hs = append(hs, Header{"Subject", m.subject}, Header{"Date", now.UTC().Format(time.RFC1123Z)},
		Header{"Message-ID", m.internetMessageID})
	if m.inReplyTo != "" {
		hs = append(hs, Header{"In-Reply-To", m.inReplyTo}, Header{"References", strings.TrimSpace(m.references)})
	}
	ctype := "text/plain"
	if m.body.typ == "html" {
		ctype = "text/html"
	}
	if m.hasAttachments() {
		ctype = "multipart/mixed"
	}
	return append(hs, Header{"Content-Type", ctype}, Header{"MIME-Version", "1.0"})
}

func formatRecipient(r Recipient) string {
	if r.Name == "" || r.Name == r.Address {
		return "<" + r.Address + ">"
	}
	return fmt.Sprintf("%q <%s>", r.Name, r.Address)
}

// respond is createReply, createReplyAll, createForward (a draft: 201 with
// it) and reply, replyAll, forward (sent: 202), in JSON ({"comment",
// "message", "toRecipients"}) or, to send, MIME.
func (s *Server) respond(action string) func(c *call) {
	forward := strings.HasSuffix(strings.ToLower(action), "forward")
	all := strings.HasSuffix(action, "All")
	draftOnly := strings.HasPrefix(action, "create")
	return func(c *call) {
		var in *msgInput
		var p *parsedMIME
		var comment *string
		var forwardTo *[]Recipient
		if isMIMERequest(c.r) && !draftOnly {
			var ok bool
			if p, ok = c.readMIME(); !ok {
				return
			}
		} else {
			var raw []byte
			if !c.readRaw(&raw) {
				return
			}
			var body map[string]json.RawMessage
			if len(bytes.TrimSpace(raw)) > 0 && json.Unmarshal(raw, &body) != nil {
				c.fail(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
				return
			}
			for k, v := range body {
				var err *queryError
				switch {
				case k == "comment":
					err = decodeInto(v, &comment, "Edm.String")
				case k == "message":
					in, err = parseMessageInput(v)
				case k == "toRecipients" && forward:
					var list []Recipient
					if list, err = decodeRecipients(k, v); err == nil {
						forwardTo = &list
					}
				default:
					err = bodyReadError("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", k, action)
				}
				if err != nil {
					c.queryFail(err)
					return
				}
			}
			if comment != nil && in != nil && in.body != nil {
				// Either a comment or the message's body (message-reply).
				c.fail(http.StatusBadRequest, "ErrorInvalidRequest", "A comment and the message's body can't both be specified.")
				return
			}
		}
		s.graph.mu.Lock()
		defer s.graph.mu.Unlock()
		mb := s.mailboxLocked(c.user.UPN)
		orig := c.message(mb)
		if orig == nil {
			return
		}
		m := s.newDraft(mb, mb.wellKnown("drafts"))
		s.prepareResponse(c, mb, orig, m, forward, all)
		// What is written for this message (a comment, or the message's
		// body) goes above the quoted original.
		own := bodyContent{typ: "html"}
		switch {
		case comment != nil:
			own.content = commentHTML(*comment)
		case in != nil && in.body != nil && in.body.typ == "text":
			own.content = commentHTML(in.body.content)
			in.body = nil
		case in != nil && in.body != nil:
			own.content = in.body.content
			in.body = nil
		}
		m.body = bodyContent{typ: "html", content: own.content + m.body.content}
		m.uniqueBody = own
		if forwardTo != nil {
			m.to = *forwardTo
		}
		switch {
		case p != nil:
			conv, irt, refs, to := m.conv, m.inReplyTo, m.references, m.to
			fromMIME(m, p)
			m.conv, m.inReplyTo, m.references = conv, irt, refs
			if !forward { // the MIME form replies to the original's sender
				m.to = to
			}
		case in != nil:
			if err := in.apply(m, mb); err != nil {
				c.queryFail(err)
				return
			}
		}
		if draftOnly {
			mb.store(m)
			c.answerMessage(mb, m, http.StatusCreated)
			return
		}
		var raw []byte
		if p != nil {
			raw = p.raw
		}
		if err := s.send(mb, m, action, true, raw, false); err != nil {
			c.queryFail(err)
			return
		}
		c.noContent(http.StatusAccepted)
	}
}

// prepareResponse fills a reply or forward of orig: subject, recipients,
// the quoted original, its conversation and references, and for a forward
// its attachments.
func (s *Server) prepareResponse(c *call, mb *mailbox, orig, m *message, forward, all bool) {
	prefix := "RE: "
	if forward {
		prefix = "FW: "
	}
	m.subject = prefix + fixturetest.TrimReplyPrefix(orig.subject)
	m.conv, m.inReplyTo = orig.conv, orig.internetMessageID
	m.references = strings.TrimSpace(orig.references + " " + orig.internetMessageID)
	if forward {
		for _, a := range orig.attachments {
			cp := *a
			cp.seq, cp.data = 0, slices.Clone(a.data)
			m.attachments = append(m.attachments, &cp)
		}
	} else {
		own := orig.from != nil && strings.EqualFold(orig.from.Address, mb.owner.Email)
		switch {
		case len(orig.replyTo) > 0:
			m.to = slices.Clone(orig.replyTo)
		case own: // a reply to one's own sent message goes to its recipients
			m.to = slices.Clone(orig.to)
		case orig.from != nil:
			m.to = []Recipient{*orig.from}
		}
		if all {
			me := strings.ToLower(mb.owner.Email)
			seen := map[string]bool{me: true}
			for _, r := range m.to {
				seen[strings.ToLower(r.Address)] = true
			}
			for _, r := range orig.to {
				if !seen[strings.ToLower(r.Address)] {
					seen[strings.ToLower(r.Address)] = true
					m.to = append(m.to, r)
				}
			}
			for _, r := range orig.cc {
				if !seen[strings.ToLower(r.Address)] {
					seen[strings.ToLower(r.Address)] = true
					m.cc = append(m.cc, r)
				}
			}
		}
	}
	loc, zone := time.UTC, ""
	if c.prefer.timeZone != "" {
		if l, ok := resolveZone(c.prefer.timeZone); ok {
			loc, zone = l, c.prefer.timeZone
			c.apply(`outlook.timezone="` + zone + `"`)
		}
	}
	var to []string
	for _, r := range orig.to {
		to = append(to, html.EscapeString(formatRecipient(r)))
	}
	from := ""
	if orig.from != nil {
		from = html.EscapeString(formatRecipient(*orig.from))
	}
	quoted := bodyAs(orig.body, "html").content
	m.body = bodyContent{typ: "html", content: `<hr style="display:inline-block;width:98%" tabindex="-1">` +
		`<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">` +
		"<b>From:</b> " + from + "<br><b>Sent:</b> " + orig.sent.In(loc).Format("Monday, January 2, 2006 3:04 PM") +
		"<br><b>To:</b> " + strings.Join(to, "; ") + "<br><b>Subject:</b> " + html.EscapeString(orig.subject) +
		"</font><div>&nbsp;</div></div>" + quoted}
}

// commentHTML is a reply's comment as the HTML Outlook writes above the
// quoted original.
func commentHTML(comment string) string {
	if comment == "" {
		return ""
	}
	return `<div dir="ltr">` + strings.ReplaceAll(html.EscapeString(comment), "\n", "<br>") + "</div>"
}
