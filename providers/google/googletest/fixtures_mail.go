package googletest

import (
	"strings"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// The fixture mailbox: fixturetest's 34 messages, with Gmail's labels.

func (s *Server) loadMessages(email string, f *Fixtures) {
	s.api.mu.Lock()
	for _, l := range []string{"Work", "Receipts"} { // Label_1, Label_2
		s.api.mailboxLocked(email).ensureLabel(l)
	}
	s.api.mu.Unlock()
	for _, m := range fixturetest.Messages(email) {
		id := s.AddMessage(email, m.Raw(f.Now, email), gmailLabels(m)...)
		f.Messages[m.Key] = id
	}
	s.api.mu.Lock()
	mb := s.api.mailboxLocked(email)
	f.Threads["phoenix"] = mb.msgs[f.Messages["phoenix-1"]].threadID
	f.Threads["lunch"] = mb.msgs[f.Messages["lunch-1"]].threadID
	f.Threads["offsite"] = mb.msgs[f.Messages["offsite-1"]].threadID
	s.api.mu.Unlock()
}

// gmailLabels are the label ids Gmail gives a fixture message: its folder's
// system label, UNREAD, IMPORTANT, its inbox category, STARRED, then its
// user labels.
func gmailLabels(m fixturetest.Message) []string {
	folders := map[fixturetest.Folder]string{fixturetest.Inbox: "INBOX", fixturetest.Sent: "SENT",
		fixturetest.Spam: "SPAM", fixturetest.Trash: "TRASH"}
	labels := []string{folders[m.Folder]}
	if m.Unread {
		labels = append(labels, "UNREAD")
	}
	if m.Important {
		labels = append(labels, "IMPORTANT")
	}
	if m.Category != "" {
		labels = append(labels, "CATEGORY_"+strings.ToUpper(string(m.Category)))
	}
	if m.Starred {
		labels = append(labels, "STARRED")
	}
	return append(labels, m.Labels...)
}
