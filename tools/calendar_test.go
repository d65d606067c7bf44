package tools

import (
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
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
