//go:build unix

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"

	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// Changing events through the binary, for a Google and a Microsoft account
// alike: a recurring event with a reminder and an online meeting, one
// occurrence changed and then the series, an invitation answered, an
// occurrence and the series deleted; and the recipient allowlist on an
// update's attendees, a cancellation and an answer, refused before
// anything reaches the provider.

// evAccount is alice's account at one provider with what the test reads
// of the fake.
type evAccount struct {
	*harness
	name, conference string
	key              string
	s                *httpServer
	c                *mcpclient.Client
	day              time.Time
	// invite adds an event bob organizes with alice invited; its id as
	// mailcal sees it.
	invite func(summary string, start time.Time) string
	// answered is alice's answer to the invitation as its organizer got it
	// ("" if none): the response and the comment.
	answered func(id string) (response, comment string)
	// cancelled counts the cancellations the event titled summary sent bob.
	cancelled func(summary string) int
	// state is what the provider holds of alice's events and the meeting
	// mail they sent, to see that a refused call changed nothing.
	state func() string
}

func googleEvents(t *testing.T) *evAccount {
	fx := newGoogleFixture(t, googletest.Options{})
	f := fx.fg.LoadFixtures(alice)
	key, s, c := fx.connectAlice(t, "")
	find := func(id string) (googletest.Event, bool) {
		for _, ev := range fx.fg.Events(alice, "primary") {
			if ev.ID == id {
				return ev, true
			}
		}
		return googletest.Event{}, false
	}
	return &evAccount{
		harness: fx.harness, name: "google", conference: "meet", key: key, s: s, c: c, day: f.Day,
		invite: func(summary string, start time.Time) string {
			return fx.fg.AddEvent(alice, "primary", googletest.Event{Summary: summary, Organizer: bob, Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Berlin",
				Attendees: []googletest.Attendee{{Email: bob, Organizer: true, ResponseStatus: "accepted"}, {Email: alice}}})
		},
		answered: func(id string) (string, string) {
			ev, _ := find(id)
			for _, a := range ev.Attendees {
				if a.Email == alice && ev.SendUpdates == "all" {
					return a.ResponseStatus, a.Comment
				}
			}
			return "", ""
		},
		cancelled: func(summary string) int {
			n := 0
			for _, ev := range fx.fg.Events(alice, "primary") {
				if ev.Summary == summary && ev.Status == "cancelled" && ev.SendUpdates == "all" && len(ev.Attendees) > 0 {
					n++
				}
			}
			return n
		},
		state: func() string { return fmt.Sprintf("%+v", fx.fg.Events(alice, "primary")) },
	}
}

func microsoftEvents(t *testing.T) *evAccount {
	fx := newMicrosoftFixture(t, microsofttest.Options{})
	f := fx.fm.LoadFixtures(alice)
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	return &evAccount{
		harness: fx.harness, name: "microsoft", conference: "teams", key: key, s: s, c: c, day: f.Day,
		invite: func(summary string, start time.Time) string {
			return microsofttest.ImmutableID(fx.fm.AddEvent(alice, "", microsofttest.Event{Subject: summary, Start: start, End: start.Add(time.Hour),
				TimeZone: "W. Europe Standard Time", Organizer: &microsofttest.Recipient{Name: "Bob", Address: bob},
				Attendees: []microsofttest.Attendee{{Email: alice}}}))
		},
		answered: func(string) (string, string) {
			for _, inv := range fx.fm.Invitations(alice) {
				if inv.Kind == "response" && inv.To.Address == bob {
					return map[string]string{"tentativelyAccepted": "tentative"}[inv.Response], inv.Comment
				}
			}
			return "", ""
		},
		cancelled: func(summary string) int {
			n := 0
			for _, inv := range fx.fm.Invitations(alice) {
				if inv.Kind == "cancellation" && inv.To.Address == bob && strings.Contains(inv.Subject, summary) {
					n++
				}
			}
			return n
		},
		state: func() string { return fmt.Sprintf("%+v", fx.fm.Invitations(alice)) },
	}
}

type evResult struct {
	Event struct {
		ttEvent
		JoinURL string `json:"join_url"`
	} `json:"event"`
	Notified []string `json:"notified"`
}

func TestE2EEventChanges(t *testing.T) {
	t.Parallel()
	bothProviders(t, googleEvents, microsoftEvents, func(t *testing.T, a *evAccount) { a.testChanges(t) })
}

func (a *evAccount) testChanges(t *testing.T) {
	first := a.day.AddDate(0, 0, 20)
	date := func(d int) string { return first.AddDate(0, 0, d).Format(time.DateOnly) }
	window := map[string]any{"time_min": first.Format(time.RFC3339), "time_max": first.AddDate(0, 0, 6).Format(time.RFC3339), "time_zone": "Europe/Berlin"}
	series := func() []ttEvent {
		var l ttEvents
		a.callOK(t, a.c, "list_events", window, &l)
		return l.find("Planning")
	}

	// A daily series of 5 with a reminder, bob invited and a meeting link.
	var created evResult
	a.callOK(t, a.c, "create_event", map[string]any{"summary": "Planning", "start": date(0) + "T10:00:00", "end": date(0) + "T10:30:00",
		"time_zone": "Europe/Berlin", "attendees": []any{bob}, "recurrence": []any{"RRULE:FREQ=DAILY;COUNT=5"},
		"reminders": []any{map[string]any{"minutes": 10}}, "conference": a.conference}, &created)
	if created.Event.JoinURL == "" {
		t.Errorf("the new event has no join link: %+v", created.Event)
	}
	occ := series()
	if len(occ) != 5 || occ[1].RecurringEventID == "" {
		t.Fatalf("%d occurrences listed (%+v), want 5 of one series", len(occ), occ)
	}
	// Listed, each occurrence carries the meeting's link.
	var links struct {
		Events []struct {
			Summary string `json:"summary"`
			JoinURL string `json:"join_url"`
		} `json:"events"`
	}
	a.callOK(t, a.c, "list_events", window, &links)
	for _, e := range links.Events {
		if e.Summary == "Planning" && e.JoinURL != created.Event.JoinURL {
			t.Errorf("listed occurrence join_url %q, want the series' %q", e.JoinURL, created.Event.JoinURL)
		}
	}

	// One occurrence moved and renamed; then the whole series' place.
	var changed evResult
	a.callOK(t, a.c, "update_event", map[string]any{"event_id": occ[1].ID, "scope": "instance", "summary": "Planning (moved)",
		"start": date(1) + "T11:00:00", "end": date(1) + "T11:30:00", "time_zone": "Europe/Berlin"}, &changed)
	if changed.Event.Summary != "Planning (moved)" || changed.Event.RecurringEventID != occ[1].RecurringEventID || len(changed.Notified) != 1 || changed.Notified[0] != bob {
		t.Errorf("the occurrence changed: %+v", changed)
	}
	a.callOK(t, a.c, "update_event", map[string]any{"event_id": occ[2].ID, "scope": "series", "location": "Room 9"}, nil)
	occ = series()
	if len(occ) != 4 {
		t.Fatalf("after the changes %d occurrences keep the title, want 4: %+v", len(occ), occ)
	}
	for _, o := range occ {
		if o.Location != "Room 9" {
			t.Errorf("occurrence %s: location %q, want the series' new Room 9", o.Start, o.Location)
		}
	}
	// The series' place cleared again.
	a.callOK(t, a.c, "update_event", map[string]any{"event_id": occ[2].ID, "scope": "series", "clear": []any{"location"}}, nil)
	occ = series()
	for _, o := range occ {
		if o.Location != "" {
			t.Errorf("occurrence %s: location %q after clear, want none", o.Start, o.Location)
		}
	}
	a.callFails(t, a.c, "update_event", map[string]any{"event_id": occ[0].RecurringEventID, "scope": "instance", "summary": "x"}, "whole series")

	// An invitation from bob, answered with a comment; alice's own event
	// has nothing to answer.
	invite := a.invite("Bob's review", first.AddDate(0, 0, 1).Add(15*time.Hour))
	a.callOK(t, a.c, "respond_to_event", map[string]any{"event_id": invite, "response": "tentative", "comment": "may be late"}, nil)
	if r, c := a.answered(invite); r != "tentative" || c != "may be late" {
		t.Errorf("bob got the answer %q with comment %q", r, c)
	}
	a.callFails(t, a.c, "respond_to_event", map[string]any{"event_id": occ[0].ID, "response": "accepted"}, "organized by "+alice+" itself")

	// One occurrence deleted: bob is told.
	a.callOK(t, a.c, "delete_event", map[string]any{"event_id": occ[3].ID, "scope": "instance"}, nil)
	if n := len(series()); n != 3 {
		t.Errorf("%d occurrences after deleting one, want 3", n)
	}
	if n := a.cancelled("Planning"); n != 1 {
		t.Errorf("%d cancellations sent to bob, want 1", n)
	}

	// The allowlist: an update that mails bob, the series' cancellation and
	// the answer to bob are refused, and nothing reaches the provider.
	put := func(body string) {
		t.Helper()
		r := a.do(t, a.s, "PUT", "/api/policy", strings.NewReader(body), "Authorization", "Bearer "+a.key, "Content-Type", "application/json")
		if r.status != 200 {
			t.Fatalf("PUT /api/policy %s = %d %s", body, r.status, r.body)
		}
	}
	put(`{"recipient_allowlist":["*@corp.example"]}`)
	before := a.state()
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"update_event", map[string]any{"event_id": occ[0].ID, "scope": "series", "summary": "Planning v2"}, "update was not sent"},
		{"update_event", map[string]any{"event_id": occ[0].ID, "add_attendees": []any{"ann@corp.example"}}, "update was not sent"},
		{"delete_event", map[string]any{"event_id": occ[0].ID, "scope": "series"}, "cancellation was not sent"},
		{"respond_to_event", map[string]any{"event_id": invite, "response": "declined"}, "answer to the invitation was not sent"},
	} {
		a.callFails(t, a.c, c.tool, c.args, c.want, bob, "recipient allowlist")
	}
	if after := a.state(); after != before {
		t.Errorf("refused calls reached the provider:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(series()); n != 3 {
		t.Errorf("%d occurrences after the refused calls, want 3", n)
	}

	// Lifted: the series goes, with its cancellation.
	put(`{"recipient_allowlist":[]}`)
	a.callOK(t, a.c, "delete_event", map[string]any{"event_id": occ[0].ID, "scope": "series"}, nil)
	if n := len(series()); n != 0 {
		t.Errorf("%d occurrences after deleting the series", n)
	}
	if n := a.cancelled("Planning"); n < 2 {
		t.Errorf("%d cancellations sent to bob, want the series' too", n)
	}
}
