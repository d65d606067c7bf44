package tools

import (
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/providers"
)

// A series organized by alice with bob invited, one of its occurrences,
// and an event bob organizes that alice is invited to.
func addEventFixture(f *fakeProvider) {
	f.addEvent(providers.Event{ID: "series1", Summary: "Standup", Series: true, IsOrganizer: true, Organizer: "alice@example.com",
		Attendees: []providers.Attendee{{Email: "bob@example.com", Response: "accepted"}, {Email: "alice@example.com", Self: true}}})
	f.addEvent(providers.Event{ID: "series1_20261124", Summary: "Standup", RecurringEventID: "series1", IsOrganizer: true,
		Attendees: []providers.Attendee{{Email: "bob@example.com", Response: "accepted"}}})
	f.addEvent(providers.Event{ID: "solo", Summary: "Focus", IsOrganizer: true})
	f.addEvent(providers.Event{ID: "invite1", Summary: "Bob's review", Organizer: "Bob <bob@example.com>", Invited: true, SelfAddress: "alice@example.com",
		Attendees: []providers.Attendee{{Email: "alice@example.com", Self: true}, {Email: "bob@example.com"}}})
}

func TestCreateEventExtrasArgs(t *testing.T) {
	e := newEnv(t, false, alice)
	base := map[string]any{"summary": "Weekly", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	args := with("recurrence", []any{"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4"})
	args["reminders"], args["conference"] = []any{map[string]any{"minutes": 10}, map[string]any{}}, "meet"
	if out := wantOK(t, e.call(t, "create_event", args)); !strings.Contains(out, "meet link is not ready yet") {
		t.Errorf("a conference without its link yet: %q", out)
	}
	wantOK(t, e.call(t, "create_event", with("reminders", []any{})))
	wantOK(t, e.call(t, "create_event", base))
	got := e.prov.created
	if x := got[0].EventExtras; !slices.Equal(x.Recurrence, []string{"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4"}) || !slices.Equal(x.Reminders, []int{10, 0}) || x.Conference != "meet" {
		t.Errorf("extras %+v", x)
	}
	if got[1].Reminders == nil || len(got[1].Reminders) != 0 || got[2].Reminders != nil {
		t.Errorf("an empty list is no reminders, none given the calendar's default: %#v %#v", got[1].Reminders, got[2].Reminders)
	}
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{with("recurrence", []any{"RRULE:FREQ=DAILY;COUNT=3;UNTIL=20261201"}), "recurrence[0]: COUNT and UNTIL"},
		{with("recurrence", []any{"RRULE:INTERVAL=2"}), "FREQ is required"},
		{with("recurrence", []any{"RRULE:FREQ=WEEKLY;BYFOO=1"}), "unknown part BYFOO"},
		{with("recurrence", []any{"EXDATE:20261201T100000Z"}), "needs an RRULE"},
		{with("recurrence", []any{"RRULE:FREQ=HOURLY"}), "FREQ=HOURLY"},
		{with("reminders", []any{map[string]any{"minutes": 50000}}), "reminders[0].minutes"},
		{with("conference", "zoom"), "conference"},
	} {
		wantError(t, e.call(t, "create_event", c.args), c.want)
	}
	if len(e.prov.created) != 3 {
		t.Errorf("refused calls reached the provider")
	}
}

func TestUpdateEventScopeAndAttendees(t *testing.T) {
	e := newEnv(t, false, alice)
	addEventFixture(e.prov)
	// scope series on an occurrence changes the series; a guest added again
	// (in other case) keeps their place and answer.
	out := wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "series1_20261124", "scope": "series", "location": "Room 2",
		"add_attendees": []any{"carol@example.com", "BOB@example.com"}, "conference": "meet"}))
	if !strings.Contains(out, "Join link: https://meet.example/abc") {
		t.Errorf("no join link in %q", out)
	}
	u := e.prov.changes.updates[0]
	if u.EventID != "series1" || *u.Location != "Room 2" || u.Current == nil || u.Current.ID != "series1" {
		t.Fatalf("update %+v", u)
	}
	var emails []string
	for _, a := range *u.Attendees {
		emails = append(emails, a.Email+"/"+a.Response)
	}
	if !slices.Equal(emails, []string{"bob@example.com/accepted", "alice@example.com/", "carol@example.com/"}) {
		t.Errorf("attendees %v", emails)
	}
	if !strings.Contains(out, "bob@example.com, carol@example.com") {
		t.Errorf("text %q", out)
	}
	// remove_attendees, on the occurrence only.
	out = wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "series1_20261124", "scope": "instance", "remove_attendees": []any{"bob@example.com"}}))
	if u := e.prov.changes.updates[1]; u.EventID != "series1_20261124" || len(*u.Attendees) != 0 || !strings.Contains(out, "Removed: bob@example.com") {
		t.Errorf("removal %+v %q", u, out)
	}
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"event_id": "series1", "scope": "instance", "summary": "x"}, "whole series"},
		{map[string]any{"event_id": "solo", "scope": "series", "summary": "x"}, "not recurring"},
		{map[string]any{"event_id": "invite1", "summary": "x"}, "organized by Bob <bob@example.com>"},
		{map[string]any{"event_id": "series1_20261124", "recurrence": []any{"RRULE:FREQ=DAILY"}}, "scope series"},
		{map[string]any{"event_id": "solo"}, "nothing to change"},
		{map[string]any{"event_id": "solo", "start": "2026-11-24T10:00:00Z"}, "start and end together"},
		{map[string]any{"event_id": "solo", "attendees": []any{"a@x.com"}, "add_attendees": []any{"b@x.com"}}, "not both"},
		{map[string]any{"event_id": "gone", "summary": "x"}, "not found"},
		{map[string]any{"event_id": "solo", "clear": []any{"location"}, "location": "Room 3"}, "clear[0]: location is given a new value too"},
		{map[string]any{"event_id": "solo", "clear": []any{"description", "description"}}, "clear[1]: description is named twice"},
		{map[string]any{"event_id": "solo", "clear": []any{"summary"}}, "clear[0]"},
	} {
		wantError(t, e.call(t, "update_event", c.args), c.want)
	}
	if n := len(e.prov.changes.updates); n != 2 {
		t.Fatalf("%d updates reached the provider, want 2", n)
	}
	// clear empties a field (the provider is given "", not left as it is).
	wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "solo", "clear": []any{"location", "description"}}))
	if u := e.prov.changes.updates[2]; u.Location == nil || *u.Location != "" || u.Description == nil || *u.Description != "" || u.Summary != nil {
		t.Errorf("clear: update %+v", u)
	}
}

func TestDeleteAndRespond(t *testing.T) {
	e := newEnv(t, false, alice)
	addEventFixture(e.prov)
	out := wantOK(t, e.call(t, "delete_event", map[string]any{"event_id": "series1_20261124"}))
	if d := e.prov.changes.deletions[0]; d.EventID != "series1_20261124" || d.SendUpdates != "all" || !strings.Contains(out, "occurrence") || !strings.Contains(out, "Cancellation emailed to bob@example.com") {
		t.Errorf("deletion %+v %q", d, out)
	}
	out = wantOK(t, e.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "tentative", "comment": "may be late"}))
	if r := e.prov.changes.responses[0]; r.Response != "tentative" || r.Comment != "may be late" || !r.Notify || r.Attendee != "alice@example.com" || !strings.Contains(out, "sent to bob@example.com") {
		t.Errorf("response %+v %q", r, out)
	}
	wantOK(t, e.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "declined", "send_updates": "none"}))
	if r := e.prov.changes.responses[1]; r.Notify {
		t.Errorf("send_updates none told the organizer: %+v", r)
	}
	wantError(t, e.call(t, "respond_to_event", map[string]any{"event_id": "series1", "response": "accepted"}), "organized by alice@example.com itself")
	wantError(t, e.call(t, "respond_to_event", map[string]any{"event_id": "solo", "response": "accepted"}), "organized by")
	e.prov.addEvent(providers.Event{ID: "shared", Summary: "Team", Organizer: "team@example.com"})
	wantError(t, e.call(t, "respond_to_event", map[string]any{"event_id": "shared", "response": "accepted"}), "not among the attendees")
	wantError(t, e.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "maybe"}), "response")
}

// The allowlist on the event paths: an update's attendees (and those it
// removes), a cancellation, an answer to an organizer outside it.
func TestAllowlistOnEventChanges(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{RecipientAllowlist: []string{"*@corp.example"}, MaxRecipients: 1}, nil)
	addEventFixture(e.prov)
	for _, c := range []struct {
		tool string
		args map[string]any
		want []string
	}{
		{"update_event", map[string]any{"event_id": "solo", "attendees": []any{"ann@corp.example", "eve@evil.example"}}, []string{"eve@evil.example", "recipient allowlist"}},
		{"update_event", map[string]any{"event_id": "series1", "summary": "Renamed"}, []string{"bob@example.com", "recipient allowlist"}},
		{"update_event", map[string]any{"event_id": "series1", "summary": "Quiet", "send_updates": "none"}, []string{"bob@example.com"}},
		{"delete_event", map[string]any{"event_id": "series1"}, []string{"cancellation was not sent", "bob@example.com"}},
		{"respond_to_event", map[string]any{"event_id": "invite1", "response": "accepted"}, []string{"answer to the invitation was not sent", "bob@example.com"}},
	} {
		wantError(t, e.call(t, c.tool, c.args), c.want...)
	}
	ch := e.prov.changes
	if len(ch.updates)+len(ch.deletions)+len(ch.responses) != 0 {
		t.Fatalf("refused changes reached the provider: %+v", ch)
	}
	wantError(t, e.call(t, "update_event", map[string]any{"event_id": "solo", "attendees": []any{"a@corp.example", "b@corp.example"}}), "max_recipients")
	// What tells no one else goes through: a personal change, a deletion of
	// an event without guests, an answer recorded without an email.
	wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "series1", "reminders": []any{map[string]any{"minutes": 5}}}))
	wantOK(t, e.call(t, "delete_event", map[string]any{"event_id": "solo"}))
	wantOK(t, e.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "accepted", "send_updates": "none"}))
}

// The person confirms an event's update and an answer, as a message: the
// question names the people told; declined, nothing reaches the provider.
func TestConfirmEventChanges(t *testing.T) {
	el := &elicitor{action: mcp.ElicitationResponseActionDecline}
	e := newPolicyEnv(t, policy.Policy{ConfirmSends: policy.ConfirmElicit}, el)
	addEventFixture(e.prov)
	wantError(t, e.call(t, "update_event", map[string]any{"event_id": "series1", "summary": "Standup v2"}), "update was not sent", "declined")
	wantError(t, e.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "declined", "comment": "away"}), "answer to the invitation was not sent")
	if ch := e.prov.changes; len(ch.updates)+len(ch.responses) != 0 {
		t.Fatalf("declined changes reached the provider: %+v", ch)
	}
	if len(el.asked) != 2 || !strings.Contains(el.asked[0], "To: bob@example.com") || !strings.Contains(el.asked[0], "Subject: Standup v2") ||
		!strings.Contains(el.asked[1], "To: bob@example.com") || !strings.Contains(el.asked[1], "away") {
		t.Fatalf("asked %q", el.asked)
	}
	el.action = mcp.ElicitationResponseActionAccept
	wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "series1", "summary": "Standup v2"}))
	if len(e.prov.changes.updates) != 1 {
		t.Fatal("an accepted update did not reach the provider")
	}
}

// Event changes that tell others count against max_sends_per_day, one a
// call, and drafts_only refuses them; a personal change is neither.
func TestEventChangesCountedAndDraftsOnly(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{MaxSendsPerDay: 1}, nil)
	addEventFixture(e.prov)
	wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "series1", "summary": "Standup v2"}))
	wantOK(t, e.call(t, "update_event", map[string]any{"event_id": "series1", "reminders": []any{}}))
	wantError(t, e.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "accepted"}), "not sent", "max_sends_per_day")
	wantError(t, e.call(t, "delete_event", map[string]any{"event_id": "series1"}), "not sent")
	if ch := e.prov.changes; len(ch.updates) != 2 || len(ch.responses)+len(ch.deletions) != 0 {
		t.Fatalf("changes %+v", ch)
	}

	d := newPolicyEnv(t, policy.Policy{DraftsOnly: true}, nil)
	addEventFixture(d.prov)
	wantError(t, d.call(t, "update_event", map[string]any{"event_id": "series1", "location": "Room 1"}), "drafts_only")
	wantError(t, d.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "accepted"}), "drafts_only")
	wantOK(t, d.call(t, "respond_to_event", map[string]any{"event_id": "invite1", "response": "accepted", "send_updates": "none"}))
	wantOK(t, d.call(t, "delete_event", map[string]any{"event_id": "solo"}))
}
