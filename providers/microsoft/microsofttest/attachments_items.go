package microsofttest

// Attachments that are not files: an Outlook item (an email, event or
// contact) attached to a message, and a link to a file in OneDrive or
// SharePoint. Outlook makes them; Graph reads them as itemAttachment and
// referenceAttachment (no contentBytes; $value gives an item's MIME
// content and refuses a reference).

// AttachItem attaches an Outlook item, whose MIME content is raw, to a
// user's message (an ordinary or immutable id) and returns the
// attachment's immutable id; it panics when there is no such message (a
// test's mistake).
func (s *Server) AttachItem(email, messageID, name string, raw []byte) string {
	return s.attachKind(email, messageID, &attachment{name: name, contentType: "message/rfc822", data: raw, kind: "item"})
}

// AttachReference attaches a link to a cloud file named name to a user's
// message and returns the attachment's immutable id.
func (s *Server) AttachReference(email, messageID, name string) string {
	return s.attachKind(email, messageID, &attachment{name: name, contentType: "application/octet-stream", kind: "reference"})
}

func (s *Server) attachKind(email, messageID string, a *attachment) string {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(email)
	m, _ := mb.findMessage(messageID)
	if m == nil {
		panic("microsofttest: no message " + messageID)
	}
	a.seq, a.modified = mb.next(), s.Now()
	m.attachments = append(m.attachments, a)
	m.changes++
	return attachmentID(mb, m, a, true)
}
