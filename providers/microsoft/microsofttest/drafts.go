package microsofttest

// Draft is a draft as the fake keeps it, for tests: a message with isDraft
// true in the Drafts folder.
type Draft struct {
	ID, ImmutableID, ConversationID string
	Subject                         string
	To, Cc, Bcc                     []Recipient
	Attachments                     []string // names
}

// Drafts returns the user's drafts in the Drafts folder, oldest first.
func (s *Server) Drafts(email string) []Draft {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(email)
	if mb == nil {
		return nil
	}
	drafts := mb.wellKnown("drafts")
	var out []Draft
	for _, m := range mb.msgs {
		if !m.isDraft || m.folder != drafts {
			continue
		}
		d := Draft{ID: mb.messageID(m, false), ImmutableID: mb.messageID(m, true), ConversationID: mb.conversationID(m), Subject: m.subject,
			To: append([]Recipient(nil), m.to...), Cc: append([]Recipient(nil), m.cc...), Bcc: append([]Recipient(nil), m.bcc...)}
		for _, a := range m.attachments {
			d.Attachments = append(d.Attachments, a.name)
		}
		out = append(out, d)
	}
	return out
}
