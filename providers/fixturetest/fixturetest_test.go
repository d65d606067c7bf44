package fixturetest

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC)

func TestMessages(t *testing.T) {
	msgs := Messages("alice@example.com")
	if len(msgs) != 34 {
		t.Fatalf("%d messages, want 34", len(msgs))
	}
	keys := map[string]bool{}
	ids := map[string]bool{}
	for i, m := range msgs {
		if keys[m.Key] {
			t.Errorf("duplicate key %s", m.Key)
		}
		keys[m.Key] = true
		if i > 0 && m.Ago > msgs[i-1].Ago {
			t.Errorf("%s is older than %s, which comes first", m.Key, msgs[i-1].Key)
		}
		if m.Folder == "" {
			t.Errorf("%s has no folder", m.Key)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw(now, "alice@example.com")))
		if err != nil {
			t.Fatalf("%s: %v", m.Key, err)
		}
		if got, _ := parsed.Header.Date(); !got.Equal(m.Date(now)) {
			t.Errorf("%s: Date %v, want %v", m.Key, got, m.Date(now))
		}
		if strings.Contains(string(m.Raw(now, "alice@example.com")), "{me}") {
			t.Errorf("%s: {me} left in the raw message", m.Key)
		}
		ids[m.ID(now)] = true
	}
	for _, m := range msgs {
		for _, ref := range strings.Fields(m.InReplyTo + " " + m.References) {
			if !ids[ref] {
				t.Errorf("%s refers to %s, which no fixture message is", m.Key, ref)
			}
		}
	}
}

func TestCalendars(t *testing.T) {
	berlin := MustZone("Europe/Berlin")
	day := time.Date(2026, 3, 27, 0, 0, 0, 0, berlin)
	c := Calendars(day, "alice@example.com")
	keys := map[string]Event{}
	for _, e := range c.Events {
		if e.Key == "" {
			if e.Calendar != Holidays {
				t.Errorf("event %q has no key", e.Summary)
			}
			continue
		}
		if _, dup := keys[e.Key]; dup {
			t.Errorf("duplicate key %s", e.Key)
		}
		if !e.End.After(e.Start) {
			t.Errorf("%s ends before it starts", e.Key)
		}
		if e.Series != "" && len(keys[e.Series].Recurrence) == 0 {
			t.Errorf("%s is an exception of %s, which is not an earlier recurring event", e.Key, e.Series)
		}
		keys[e.Key] = e
	}
	if !c.StandupMoved.After(day) || !c.StandupCancelled.After(c.StandupMoved) {
		t.Errorf("standup exceptions %v, %v: want after today, in order", c.StandupMoved, c.StandupCancelled)
	}
	for _, wd := range []time.Weekday{c.StandupMoved.Weekday(), c.StandupCancelled.Weekday()} {
		if wd != time.Monday && wd != time.Wednesday && wd != time.Friday {
			t.Errorf("a standup exception on %v, not a standup day", wd)
		}
	}
}
