package fixturetest

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
)

func TestConversation(t *testing.T) {
	msgs := Conversation(10, "alice@example.com", now)
	if len(msgs) != 10 || msgs[0].Key != "conv-1" || msgs[9].Key != "conv-10" {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, m := range msgs {
		raw := m.Raw(now, "alice@example.com")
		parsed, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", m.Key, err)
		}
		if i > 0 {
			if m.InReplyTo != msgs[i-1].ID(now) || len(MessageIDs(m.References)) != i || ThreadSubject(m.Subject) != ThreadSubject(msgs[0].Subject) {
				t.Errorf("%s does not answer %s: %q %q", m.Key, msgs[i-1].Key, m.InReplyTo, m.References)
			}
			if m.Ago >= msgs[i-1].Ago {
				t.Errorf("%s is not newer than the message before", m.Key)
			}
		}
		// Each quotes the whole history: its text holds every earlier one's.
		var b bytes.Buffer
		m.Root.Leaves(func(p Part) {
			if strings.HasPrefix(p.ContentType, "text/plain") {
				b.Write(p.Body)
			}
		})
		if n := strings.Count(b.String(), "Thanks for the update."); n != i+1 || parsed.Header.Get("Subject") == "" {
			t.Errorf("%s holds %d texts, want %d", m.Key, n, i+1)
		}
	}
}
