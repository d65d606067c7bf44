package microsofttest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
)

// Reading attachments: list, get (metadata and contentBytes) and $value
// (the raw content).

var attachmentSchema = &schema{
	typeName: "microsoft.graph.attachment",
	fields:   map[string]fieldKind{},
	selectable: []string{"id", "lastModifiedDateTime", "name", "contentType", "size", "isInline", "contentId", "contentLocation",
		"contentBytes"},
}

func attachmentID(mb *mailbox, m *message, a *attachment, immutable bool) string {
	return itemID{mailbox: mb.key, kind: kindAttachment, a: m.seq, b: a.seq, immutable: immutable}.String()
}

func renderAttachment(mb *mailbox, m *message, a *attachment, immutable bool) map[string]any {
	var cid any
	if a.contentID != "" {
		cid = a.contentID
	}
	base := map[string]any{
		"id": attachmentID(mb, m, a, immutable), "lastModifiedDateTime": graphTime(a.modified), "name": a.name,
		"contentType": a.contentType, "size": len(a.data), "isInline": a.inline,
	}
	switch a.kind {
	case "item":
		base["@odata.type"] = "#microsoft.graph.itemAttachment"
		return base
	case "reference":
		base["@odata.type"], base["size"] = "#microsoft.graph.referenceAttachment", 0
		return base
	}
	base["@odata.type"], base["@odata.mediaContentType"] = "#microsoft.graph.fileAttachment", a.contentType
	base["contentId"], base["contentLocation"] = cid, nil
	base["contentBytes"] = base64.StdEncoding.EncodeToString(a.data)
	return base
}

func (s *Server) listAttachments(c *call) {
	lq, ok := c.parseListQuery(attachmentSchema, 1000, nil)
	if !ok {
		return
	}
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	var items []any
	for _, a := range m.attachments {
		items = append(items, project(renderAttachment(mb, m, a, c.prefer.immutable), lq.selected, nil))
	}
	if c.prefer.immutable {
		c.apply(`IdType="ImmutableId"`)
	}
	c.ok(http.StatusOK, c.page(lq, c.context("messages('"+url.PathEscape(c.params["id"])+"')/attachments"+selectSuffix(lq.selected)), items))
}

// attachment finds the {att} attachment of the {id} message.
func (c *call) attachment(mb *mailbox) (*message, *attachment) {
	m := c.message(mb)
	if m == nil {
		return nil, nil
	}
	id, ok := parseID(c.params["att"])
	if !ok {
		c.badID()
		return nil, nil
	}
	for _, a := range m.attachments {
		if id.kind == kindAttachment && id.mailbox == mb.key && id.a == m.seq && id.b == a.seq {
			return m, a
		}
	}
	c.notFound()
	return nil, nil
}

func (s *Server) getAttachment(c *call) {
	sel, err := parseSelect(get(c.r.URL.Query(), "$select"), attachmentSchema)
	if err != nil {
		c.queryFail(err)
		return
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	m, a := c.attachment(mb)
	if a == nil {
		return
	}
	out := project(renderAttachment(mb, m, a, c.prefer.immutable), sel, nil)
	out["@odata.context"] = c.context("messages('" + url.PathEscape(c.params["id"]) + "')/attachments/$entity")
	c.ok(http.StatusOK, out)
}

// getAttachmentValue is the raw content of a file attachment ($value).
func (s *Server) getAttachmentValue(c *call) {
	s.graph.mu.Lock()
	mb := s.mailboxLocked(c.user.UPN)
	_, a := c.attachment(mb)
	var data []byte
	var ctype, kind string
	if a != nil {
		data, ctype, kind = a.data, a.contentType, a.kind
	}
	s.graph.mu.Unlock()
	if a == nil {
		return
	}
	switch kind {
	case "reference":
		// $value reads file and item attachments only.
		c.fail(http.StatusBadRequest, "ErrorInvalidRequest", "The raw content of a reference attachment cannot be read; it is a link to a file.")
		return
	case "item":
		ctype = "message/rfc822"
	}
	c.headers()
	c.w.Header().Set("Content-Type", ctype)
	c.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(data)
}
