package googletest

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Gmail's messages.get in its four formats (full, metadata, minimal, raw)
// and messages.attachments.get.

type messageJSON struct {
	ID           string    `json:"id"`
	ThreadID     string    `json:"threadId"`
	LabelIDs     []string  `json:"labelIds,omitempty"`
	Snippet      string    `json:"snippet,omitempty"`
	Payload      *partJSON `json:"payload,omitempty"`
	SizeEstimate int       `json:"sizeEstimate,omitempty"`
	HistoryID    string    `json:"historyId,omitempty"`
	InternalDate string    `json:"internalDate,omitempty"`
	Raw          string    `json:"raw,omitempty"`
}

type partJSON struct {
	PartID   string      `json:"partId"`
	MimeType string      `json:"mimeType"`
	Filename string      `json:"filename"`
	Headers  []header    `json:"headers"`
	Body     *bodyJSON   `json:"body,omitempty"`
	Parts    []*partJSON `json:"parts,omitempty"`
}

type bodyJSON struct {
	AttachmentID string `json:"attachmentId,omitempty"`
	Size         int    `json:"size"`
	Data         string `json:"data,omitempty"`
}

func (s *Server) gmailGet(w http.ResponseWriter, r *http.Request, c call) {
	email, scopes := c.email, c.scopes
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	switch format {
	case "":
		format = "full"
	case "full", "metadata", "minimal", "raw":
	default:
		invalidValue(w, "format", "TYPE_ENUM", q.Get("format"))
		return
	}
	if (format == "full" || format == "raw") && metadataOnly(scopes, gmailGetMethod) {
		WriteAPIError(w, http.StatusForbidden, "Metadata scope doesn't allow format "+strings.ToUpper(format), "forbidden")
		return
	}
	m := s.findMessage(w, email, c.params["id"])
	if m == nil {
		return
	}
	s.writeAPI(w, r, http.StatusOK, renderMessage(m, format, q["metadataHeaders"]))
}

// findMessage looks a message up, answering 400/404 as Gmail does when it
// cannot be found. The message's fields read are immutable.
func (s *Server) findMessage(w http.ResponseWriter, email, id string) *mailMsg {
	if !hexID.MatchString(id) {
		WriteAPIError(w, http.StatusBadRequest, "Invalid id value", "invalidArgument")
		return nil
	}
	s.api.mu.Lock()
	m := s.api.mailboxLocked(email).msgs[strings.ToLower(id)]
	var c *mailMsg
	if m != nil {
		cp := *m
		cp.labels = slices.Clone(m.labels)
		c = &cp
	}
	s.api.mu.Unlock()
	if c == nil {
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
	}
	return c
}

func renderMessage(m *mailMsg, format string, metadataHeaders []string) messageJSON {
	out := messageJSON{
		ID: m.id, ThreadID: m.threadID, LabelIDs: m.labels, Snippet: m.snippet, SizeEstimate: len(m.raw),
		HistoryID: strconv.FormatUint(m.history, 10), InternalDate: strconv.FormatInt(m.date.UnixMilli(), 10),
	}
	switch format {
	case "raw":
		out.Raw = base64.URLEncoding.EncodeToString(m.raw)
	case "metadata":
		hs := []header{}
		for _, h := range m.root.headers {
			if len(metadataHeaders) == 0 || slices.ContainsFunc(metadataHeaders, func(n string) bool { return strings.EqualFold(n, h.Name) }) {
				hs = append(hs, h)
			}
		}
		out.Payload = &partJSON{MimeType: m.root.mimeType, Headers: hs}
	case "full":
		out.Payload = renderPart(m.id, m.root)
	}
	return out
}

// renderPart renders a part tree as messages.get and threads.get answer
// it. Attachments get an id minted for this answer: Gmail's attachment ids
// differ from one read of a message to the next (every one stays valid),
// so a client can match an attachment across reads only by its part id.
func renderPart(msgID string, p *mimePart) *partJSON {
	out := &partJSON{PartID: p.partID, MimeType: p.mimeType, Filename: p.filename, Headers: p.headers, Body: &bodyJSON{}}
	if out.Headers == nil {
		out.Headers = []header{}
	}
	switch {
	case p.parts != nil:
		for _, c := range p.parts {
			out.Parts = append(out.Parts, renderPart(msgID, c))
		}
	case p.attID != "":
		out.Body = &bodyJSON{AttachmentID: mintAttachmentID(msgID, p.partID), Size: len(p.body)}
	default:
		out.Body = &bodyJSON{Size: len(p.body)}
		if len(p.body) > 0 {
			out.Body.Data = base64.URLEncoding.EncodeToString(p.body)
		}
	}
	return out
}

func (s *Server) gmailAttachment(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	m := s.findMessage(w, email, c.params["messageId"])
	if m == nil {
		return
	}
	part := m.attachments[c.params["id"]]
	if part == nil {
		part = findAttachment(m, c.params["id"])
	}
	if part == nil {
		WriteAPIError(w, http.StatusBadRequest, "Invalid attachment token", "invalidArgument")
		return
	}
	s.writeAPI(w, r, http.StatusOK, bodyJSON{Size: len(part.body), Data: base64.URLEncoding.EncodeToString(part.body)})
}
