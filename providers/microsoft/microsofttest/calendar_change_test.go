package microsofttest

import (
	"net/url"
	"testing"
	"time"
)

// PATCH, DELETE, cancel and the answers as Graph documents them.
func TestChangeEvents(t *testing.T) {
	m := newMailTest(t)
	start := m.fx.Day.AddDate(0, 0, 5).Add(9 * time.Hour)
	own := m.s.AddEvent(alice, "", Event{Subject: "Sync", Start: start, End: start.Add(time.Hour), Attendees: []Attendee{{Email: "bob@example.com"}}})
	invited := m.s.AddEvent(alice, "", Event{Subject: "Bob's", Start: start, End: start.Add(time.Hour),
		Organizer: &Recipient{Name: "Bob", Address: "bob@example.com"}, Attendees: []Attendee{{Email: alice}}})
	path := func(id string) string { return "/me/events/" + url.PathEscape(id) }
	req := func(method, p string, body any) answer { return request(t, m.s, method, p, m.tok, body) }

	// PATCH changes what is sent; an unknown property is 400.
	a := req("PATCH", path(own), map[string]any{"subject": "Sync v2", "location": map[string]string{"displayName": "Room 3"}})
	if a.status != 200 || a.body["subject"] != "Sync v2" || field(a.body, "location", "displayName") != "Room 3" {
		t.Fatalf("PATCH %d %s", a.status, a.raw)
	}
	wantError(t, req("PATCH", path(own), map[string]any{"colour": "red"}), 400, "RequestBodyRead")
	wantError(t, req("PATCH", path(own), map[string]any{"end": map[string]string{"dateTime": "2020-01-01T00:00:00", "timeZone": "UTC"}}), 400, "ErrorInvalidRequest")

	// An attendee cannot cancel; the organizer cannot answer.
	wantError(t, req("POST", path(invited)+"/cancel", map[string]any{"comment": "no"}), 400, "ErrorInvalidRequest")
	wantError(t, req("POST", path(own)+"/accept", map[string]any{"sendResponse": true}), 400, "ErrorInvalidRequest")
	if a := req("POST", path(invited)+"/tentativelyAccept", map[string]any{"comment": "maybe", "sendResponse": false}); a.status != 202 {
		t.Fatalf("tentativelyAccept %d %s", a.status, a.raw)
	}
	if a := req("GET", path(invited), nil); field(a.body, "responseStatus", "response") != "tentativelyAccepted" {
		t.Fatalf("after the answer %s", a.raw)
	}
	// sendResponse false: nothing sent. The organizer's cancel: 202, a
	// cancellation with the comment, and the event gone.
	if a := req("POST", path(own)+"/cancel", map[string]any{"comment": "sorry"}); a.status != 202 {
		t.Fatalf("cancel %d %s", a.status, a.raw)
	}
	invs := m.s.Invitations(alice)
	last := invs[len(invs)-1]
	if last.Kind != "cancellation" || last.Comment != "sorry" || last.To.Address != "bob@example.com" {
		t.Fatalf("messages %+v", invs)
	}
	for _, inv := range invs {
		if inv.Kind == "response" {
			t.Fatalf("an answer with sendResponse false was sent: %+v", inv)
		}
	}
	wantError(t, req("GET", path(own), nil), 404, "ErrorItemNotFound")
	wantError(t, req("DELETE", path(own), nil), 404, "ErrorItemNotFound")
	if a := req("DELETE", path(invited), nil); a.status != 204 {
		t.Fatalf("DELETE %d %s", a.status, a.raw)
	}
}

// A change of the organizer's own reminder sends the attendees nothing.
func TestPatchReminderSendsNothing(t *testing.T) {
	m := newMailTest(t)
	start := m.fx.Day.AddDate(0, 0, 5).Add(9 * time.Hour)
	own := m.s.AddEvent(alice, "", Event{Subject: "Sync", Start: start, End: start.Add(time.Hour), Attendees: []Attendee{{Email: "bob@example.com"}}})
	n := len(m.s.Invitations(alice))
	a := request(t, m.s, "PATCH", "/me/events/"+url.PathEscape(own), m.tok, map[string]any{"reminderMinutesBeforeStart": 5, "isReminderOn": true})
	if a.status != 200 || a.body["reminderMinutesBeforeStart"] != float64(5) {
		t.Fatalf("PATCH %d %s", a.status, a.raw)
	}
	if got := len(m.s.Invitations(alice)); got != n {
		t.Fatalf("%d messages sent for a reminder", got-n)
	}
}

// A series' instances in a window: occurrences and exceptions, deleted
// ones left out; the window is required.
func TestSeriesInstances(t *testing.T) {
	m := newMailTest(t)
	start := m.fx.Day.AddDate(0, 0, 7).Add(9 * time.Hour)
	series := m.s.AddEvent(alice, "", Event{Subject: "Daily", Start: start, End: start.Add(15 * time.Minute), Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"}})
	p := "/me/events/" + url.PathEscape(series) + "/instances"
	wantError(t, m.get(p), 400, "ErrorInvalidParameter")
	win := q("startDateTime", start.Add(-time.Hour).UTC().Format(time.RFC3339), "endDateTime", start.AddDate(0, 0, 3).UTC().Format(time.RFC3339))
	items := m.get(p + win).values()
	if len(items) != 3 || items[0]["type"] != "occurrence" || items[0]["seriesMasterId"] != series {
		t.Fatalf("instances %+v", items)
	}
	if a := request(t, m.s, "DELETE", "/me/events/"+url.PathEscape(str(items[1]["id"])), m.tok, nil); a.status != 204 {
		t.Fatalf("DELETE an occurrence %d %s", a.status, a.raw)
	}
	if items := m.get(p + win).values(); len(items) != 2 {
		t.Fatalf("after deleting one: %d instances", len(items))
	}
}

// A change of an occurrence through a calendar it is not in is 404 and
// leaves the occurrence as it was (no exception made).
func TestChangeOccurrenceOtherCalendar(t *testing.T) {
	m := newMailTest(t)
	start := m.fx.Day.AddDate(0, 0, 7).Add(9 * time.Hour)
	series := m.s.AddEvent(alice, "", Event{Subject: "Daily", Start: start, End: start.Add(15 * time.Minute), Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3"}})
	win := q("startDateTime", start.Add(-time.Hour).UTC().Format(time.RFC3339), "endDateTime", start.AddDate(0, 0, 3).UTC().Format(time.RFC3339))
	occ := str(m.get("/me/events/" + url.PathEscape(series) + "/instances" + win).values()[0]["id"])
	other := "/me/calendars/" + url.PathEscape(m.fx.Team) + "/events/" + url.PathEscape(occ)
	wantError(t, request(t, m.s, "PATCH", other, m.tok, map[string]any{"subject": "Moved"}), 404, "ErrorItemNotFound")
	wantError(t, request(t, m.s, "DELETE", other, m.tok, nil), 404, "ErrorItemNotFound")
	if a := m.get("/me/events/" + url.PathEscape(occ)); a.status != 200 || a.body["type"] != "occurrence" || a.body["subject"] != "Daily" {
		t.Fatalf("the occurrence after the refused changes: %d %s", a.status, a.raw)
	}
}
