package tools

import (
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

func mcpListTools() mcp.ListToolsRequest { return mcp.ListToolsRequest{} }

func grantWith(scopes ...string) grants.Grant {
	return grants.Grant{Account: "alice@example.com", Scopes: scopes}
}

func TestListEventsDefaultsAndValidation(t *testing.T) {
	e := newEnv(t, false, alice)
	wantOK(t, e.call(t, "list_events", nil))
	q := e.prov.lastQ
	if q.CalendarID != "primary" || !q.TimeMin.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) || q.TimeMax.Sub(q.TimeMin) != 7*24*time.Hour || q.MaxResults != 50 {
		t.Errorf("defaults: %+v", q)
	}
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"time_min": "tomorrow"}, "time_min"},
		{map[string]any{"time_min": "2026-11-24T10:00:00"}, "time_min"},
		{map[string]any{"time_min": "2026-11-24T10:00:00Z", "time_max": "2026-11-23T10:00:00Z"}, "time_max"},
		{map[string]any{"time_min": "2026-01-01T00:00:00Z", "time_max": "2028-01-01T00:00:00Z"}, "366 days"},
		{map[string]any{"time_zone": "Mars/Olympus"}, "time_zone"},
		{map[string]any{"max_results": 1000}, "max_results"},
		{map[string]any{"calendar_id": "a b"}, "calendar_id"},
	} {
		wantError(t, e.call(t, "list_events", c.args), c.want)
	}
}

func TestCreateEvent(t *testing.T) {
	e := newEnv(t, false, alice)
	wantOK(t, e.call(t, "create_event", map[string]any{"summary": "Sync", "start": "2026-11-24T10:00:00", "end": "2026-11-24T10:30", "time_zone": "Europe/Berlin", "attendees": []any{"bob@example.com"}}))
	ev := e.prov.created[0]
	if ev.Start.Format(time.RFC3339) != "2026-11-24T10:00:00+01:00" || ev.End.Sub(ev.Start) != 30*time.Minute || ev.TimeZone != "Europe/Berlin" || ev.Attendees[0] != "bob@example.com" {
		t.Errorf("event = %+v", ev)
	}
	wantOK(t, e.call(t, "create_event", map[string]any{"summary": "Holiday", "start": "2026-12-24", "end": "2026-12-27"}))
	if ev := e.prov.created[1]; !ev.AllDay {
		t.Errorf("all-day event = %+v", ev)
	}
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"summary": "x", "start": "2026-11-24T10:00:00", "end": "2026-11-24T11:00:00"}, "time_zone"},
		{map[string]any{"summary": "x", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T09:00:00Z"}, "after start"},
		{map[string]any{"summary": "x", "start": "2026-11-24", "end": "2026-11-24T09:00:00Z"}, "both"},
		{map[string]any{"summary": " ", "start": "2026-11-24", "end": "2026-11-25"}, "summary"},
		{map[string]any{"summary": "x", "start": "2026-11-24", "end": "2026-11-25", "attendees": []any{"nope"}}, "attendees[0]"},
	} {
		wantError(t, e.call(t, "create_event", c.args), c.want)
	}
	if len(e.prov.created) != 2 {
		t.Fatalf("invalid calls created events: %d", len(e.prov.created))
	}
	// calendar.read alone cannot create: the answer names the missing access.
	ro := newEnv(t, false, grantWith("calendar.read"))
	wantError(t, ro.call(t, "create_event", map[string]any{"summary": "x", "start": "2026-11-24", "end": "2026-11-25"}), "calendar.write")
}

// TestListEventsZoneSaid: the header says the zone of the times, and when
// the answer names none, that the times carry their offsets (never an
// empty "times in").
func TestListEventsZoneSaid(t *testing.T) {
	e := newEnv(t, false, alice)
	if text := wantOK(t, e.call(t, "list_events", nil)); !strings.Contains(text, "(times in Europe/Berlin)") {
		t.Errorf("header: %q", text)
	}
	e.prov.noZone = true
	text := wantOK(t, e.call(t, "list_events", nil))
	if strings.Contains(text, "times in )") || !strings.Contains(text, "times with their UTC offsets") {
		t.Errorf("header without a zone: %q", text)
	}
}

// TestMessageTimesInOneZone: list_messages shows every date in one zone,
// said once: UTC until a calendar answer named the account's zone, then
// that zone.
func TestMessageTimesInOneZone(t *testing.T) {
	e := newEnv(t, false, alice)
	paris := time.FixedZone("CET", 3600)
	tokyo := time.FixedZone("JST", 9*3600)
	e.prov.messages = []providers.Message{
		{MessageSummary: providers.MessageSummary{ID: "m1", Subject: "a", Date: time.Date(2026, 11, 20, 9, 0, 0, 0, paris)}},
		{MessageSummary: providers.MessageSummary{ID: "m2", Subject: "b", Date: time.Date(2026, 11, 20, 18, 30, 0, 0, tokyo)}},
	}
	text := wantOK(t, e.call(t, "list_messages", nil))
	if !strings.Contains(text, "times in UTC") || !strings.Contains(text, "2026-11-20 08:00") || !strings.Contains(text, "2026-11-20 09:30") {
		t.Errorf("before the zone is known: %q", text)
	}
	wantOK(t, e.call(t, "list_calendars", nil)) // the primary calendar is in Europe/Berlin
	text = wantOK(t, e.call(t, "list_messages", nil))
	if !strings.Contains(text, "times in Europe/Berlin") || !strings.Contains(text, "2026-11-20 09:00") || !strings.Contains(text, "2026-11-20 10:30") {
		t.Errorf("once the zone is known: %q", text)
	}
}

// TestInstructionsNameServedProviders: the server's instructions name the
// products of the providers it serves, and no other.
func TestInstructionsNameServedProviders(t *testing.T) {
	got := instructions(testRegistry(t, nil))
	if !strings.Contains(got, "Gmail, Google Calendar") || strings.Contains(got, "Outlook") {
		t.Errorf("instructions: %q", got)
	}
}
