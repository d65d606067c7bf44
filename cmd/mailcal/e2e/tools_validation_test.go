//go:build unix

package e2e

import (
	"fmt"
	"maps"
	"testing"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// testBadInput: invalid arguments are tool errors naming the field and what
// is allowed, and reach no Google API; the server keeps serving.
func (e *ttEnv) testBadInput(t *testing.T) {
	e.fg.ResetAPIStats()
	att := func(name, content, mt string) map[string]any {
		a := map[string]any{"filename": name, "content_base64": content}
		if mt != "" {
			a["mime_type"] = mt
		}
		return a
	}
	send := func(extra map[string]any) map[string]any {
		a := map[string]any{"to": []string{googletest.FixtureBob}, "subject": "Hi", "body": "Hello"}
		maps.Copy(a, extra)
		return a
	}
	event := func(extra map[string]any) map[string]any {
		a := map[string]any{"summary": "Meeting", "start": "2030-01-10T10:00:00+01:00", "end": "2030-01-10T11:00:00+01:00"}
		maps.Copy(a, extra)
		return a
	}
	for _, tc := range []struct {
		tool  string
		args  map[string]any
		wants []string
	}{
		{"list_messages", map[string]any{"max_results": 1000}, []string{"max_results", "between 1 and 100", "1000"}},
		{"list_messages", map[string]any{"max_results": 101}, []string{"max_results", "between 1 and 100"}},
		{"list_messages", map[string]any{"max_results": -1}, []string{"max_results", "between 1 and 100"}},
		{"list_messages", map[string]any{"max_results": "ten"}, []string{"max_results", "a number"}},
		{"list_messages", map[string]any{"unread_only": "yes"}, []string{"unread_only", "true or false"}},
		{"list_messages", map[string]any{"page_token": "a b"}, []string{"page_token", "spaces"}},
		{"list_messages", map[string]any{"label": "INBOX\nBcc: x"}, []string{"label", "one line"}},
		{"list_messages", map[string]any{"maxResults": 5}, []string{"maxResults", "unknown argument"}},
		{"list_messages", map[string]any{"account": "nobody@example.com"}, []string{"nobody@example.com", "not connected", alice}},
		{"get_message", map[string]any{}, []string{"id", "required"}},
		{"get_message", map[string]any{"id": "18c0ffee", "max_body_chars": 5}, []string{"max_body_chars", "between 100 and 100000"}},
		{"get_message", map[string]any{"id": "18c0ffee", "body_offset": -1}, []string{"body_offset"}},
		{"list_events", map[string]any{"time_min": "tomorrow"}, []string{"time_min", "RFC 3339", "tomorrow"}},
		{"list_events", map[string]any{"time_max": "2026-11-24"}, []string{"time_max", "RFC 3339"}},
		{"list_events", map[string]any{"time_min": "2026-11-24T10:00:00+01:00", "time_max": "2026-11-23T10:00:00+01:00"}, []string{"time_max", "after time_min"}},
		{"list_events", map[string]any{"time_min": "2026-01-01T00:00:00Z", "time_max": "2028-01-01T00:00:00Z"}, []string{"time_max", "366 days"}},
		{"list_events", map[string]any{"time_zone": "Mars/Olympus_Mons"}, []string{"time_zone", "IANA"}},
		{"list_events", map[string]any{"max_results": 251}, []string{"max_results", "between 1 and 250"}},
		{"list_events", map[string]any{"calendar_id": "a b"}, []string{"calendar_id"}},
		{"create_event", event(map[string]any{"end": "2030-01-10T09:00:00+01:00"}), []string{"end", "after start"}},
		{"create_event", event(map[string]any{"start": "2030-01-10T10:00:00", "end": "2030-01-10T11:00:00"}), []string{"time_zone", "required"}},
		{"create_event", event(map[string]any{"end": "2030-01-11"}), []string{"end", "both be dates"}},
		{"create_event", event(map[string]any{"start": "next monday"}), []string{"start", "next monday"}},
		{"create_event", event(map[string]any{"summary": "  "}), []string{"summary", "required"}},
		{"create_event", event(map[string]any{"time_zone": "Berlin"}), []string{"time_zone", "Berlin"}},
		{"create_event", event(map[string]any{"attendees": []string{"bob at example"}}), []string{"attendees[0]"}},
		{"send_email", map[string]any{"subject": "Hi", "body": "Hello"}, []string{"to", "required"}},
		{"send_email", send(map[string]any{"to": []string{"not an address"}}), []string{"to[0]"}},
		{"send_email", send(map[string]any{"cc": []string{googletest.FixtureCarol, "carol@"}}), []string{"cc[1]"}},
		{"send_email", send(map[string]any{"subject": ""}), []string{"subject", "required"}},
		{"send_email", send(map[string]any{"body": ""}), []string{"body"}},
		{"send_email", send(map[string]any{"attachments": []any{att("../etc/passwd", "aGk=", "")}}), []string{"attachments[0].filename"}},
		{"send_email", send(map[string]any{"attachments": []any{att("a.txt", "aGk=", ""), att("b.txt", "not base64!", "")}}), []string{"attachments[1].content_base64", "base64"}},
		{"send_email", send(map[string]any{"attachments": []any{att("a.txt", "aGk=", "text")}}), []string{"attachments[0].mime_type", "invalid argument"}},
		// An attachment without content (it used to be sent as an empty file).
		{"send_email", send(map[string]any{"attachments": []any{map[string]any{"filename": "a.txt"}}}), []string{"attachments[0].content_base64", "required"}},
		{"send_email", send(map[string]any{"attachments": []any{att("a.txt", "", "")}}), []string{"attachments[0].content_base64", "required"}},
		// More than 100 recipients in one list.
		{"send_email", send(map[string]any{"to": ttAddresses(101)}), []string{"invalid argument to", "at most 100", "101"}},
		{"send_email", send(map[string]any{"cc": ttAddresses(101)}), []string{"invalid argument cc", "at most 100", "101"}},
		{"send_email", send(map[string]any{"bcc": ttAddresses(101)}), []string{"invalid argument bcc", "at most 100", "101"}},
	} {
		text := e.fails(t, tc.tool, tc.args, tc.wants...)
		if t.Failed() {
			t.Logf("%s %v → %s", tc.tool, tc.args, text)
		}
	}
	if n := e.fg.APIRequests("/"); n != 0 {
		t.Errorf("%d Google API requests for calls with invalid arguments, want none", n)
	}
	// An unknown label is Google's to judge: one labels request, an error
	// naming the label.
	e.fails(t, "list_messages", map[string]any{"label": "NoSuchLabel"}, "label NoSuchLabel", "not found")
	// The server keeps serving.
	var cals struct {
		Calendars []ttCalendar `json:"calendars"`
	}
	e.ok(t, "list_calendars", nil, &cals)
	if len(cals.Calendars) != 3 {
		t.Errorf("list_calendars after the bad calls: %d calendars, want 3", len(cals.Calendars))
	}
}

// ttAddresses returns n distinct recipient addresses.
func ttAddresses(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%d@example.com", i)
	}
	return out
}
