package microsoft_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/microsoft"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

const (
	alice = "alice@contoso.com"
	bob   = "bob@contoso.com"
)

type staticSource struct{ tok *oauth2.Token }

func (s staticSource) Token(context.Context) (*oauth2.Token, error) { return s.tok, nil }
func (staticSource) Invalidate(string)                              {}

// graphCalendar is login's calendar over the fake Graph.
func graphCalendar(t *testing.T, s *microsofttest.Server, login string) providers.Calendar {
	t.Helper()
	tok, err := s.Token(context.Background(), login, "User.Read", "Calendars.ReadWrite", "MailboxSettings.Read")
	if err != nil {
		t.Fatal(err)
	}
	api, err := microsoft.New(microsoft.Options{GraphURL: s.GraphURL()})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := api.Calendar(staticSource{tok})
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func newGraph(t *testing.T) *microsofttest.Server {
	s := microsofttest.New(microsofttest.Options{})
	t.Cleanup(s.Close)
	s.AddAccount(microsofttest.Account{Email: alice, TimeZone: "W. Europe Standard Time"})
	return s
}

func fieldErr(t *testing.T, err error, field, part string) {
	t.Helper()
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != field || !strings.Contains(fe.Msg, part) {
		t.Fatalf("want a %s error naming %q, got %v", field, part, err)
	}
}

func TestCreateEventExtras(t *testing.T) {
	s := newGraph(t)
	cal := graphCalendar(t, s, alice)
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, berlin)
	ev := providers.NewEvent{Summary: "Planning", Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Berlin", Attendees: []string{bob},
		EventExtras: providers.EventExtras{Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"}, Reminders: []int{30}, Conference: providers.ConferenceTeams}}
	got, err := cal.CreateEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.JoinURL, "https://teams.microsoft.com/") {
		t.Fatalf("created %+v", got)
	}
	created := s.CreatedEvents(alice)
	var rec struct {
		Pattern struct {
			Type       string   `json:"type"`
			DaysOfWeek []string `json:"daysOfWeek"`
			Index      string   `json:"index"`
		} `json:"pattern"`
		Range struct {
			Type      string `json:"type"`
			StartDate string `json:"startDate"`
			Count     int    `json:"numberOfOccurrences"`
			EndDate   string `json:"endDate"`
		} `json:"range"`
	}
	if err := json.Unmarshal(created[0].Recurrence, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Pattern.Type != "weekly" || !slices.Equal(rec.Pattern.DaysOfWeek, []string{"monday", "wednesday"}) || rec.Range.Type != "numbered" ||
		rec.Range.Count != 6 || rec.Range.StartDate != "2026-12-07" || created[0].JoinURL != got.JoinURL {
		t.Fatalf("recurrence sent %s", created[0].Recurrence)
	}

	// Monthly on the second Tuesday, until a date.
	ev.Recurrence, ev.Conference, ev.Attendees = []string{"RRULE:FREQ=MONTHLY;BYDAY=2TU;UNTIL=20270630T000000Z"}, "", nil
	if _, err := cal.CreateEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	created = s.CreatedEvents(alice)
	if err := json.Unmarshal(created[1].Recurrence, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Pattern.Type != "relativeMonthly" || rec.Pattern.Index != "second" || !slices.Equal(rec.Pattern.DaysOfWeek, []string{"tuesday"}) ||
		rec.Range.Type != "endDate" || rec.Range.EndDate != "2027-06-30" {
		t.Fatalf("monthly recurrence sent %s", created[1].Recurrence)
	}

	for _, c := range []struct {
		mod         func(*providers.NewEvent)
		field, part string
	}{
		{func(e *providers.NewEvent) { e.Reminders = []int{10, 60} }, "reminders", "one reminder"},
		{func(e *providers.NewEvent) { e.Conference = providers.ConferenceMeet }, "conference", "teams"},
		{func(e *providers.NewEvent) {
			e.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=3", "EXDATE:20261214T090000Z"}
		}, "recurrence", "EXDATE"},
		{func(e *providers.NewEvent) { e.Recurrence = []string{"RRULE:FREQ=DAILY;BYHOUR=9,17"} }, "recurrence", "BYHOUR"},
		{func(e *providers.NewEvent) { e.Recurrence = []string{"RRULE:FREQ=MONTHLY;BYDAY=MO,TU"} }, "recurrence", "BYDAY=MO,TU"},
		{func(e *providers.NewEvent) { e.Recurrence = []string{"RRULE:COUNT=3"} }, "recurrence[0]", "FREQ"},
	} {
		e := ev
		e.Recurrence = nil
		c.mod(&e)
		_, err := cal.CreateEvent(ctx, e)
		fieldErr(t, err, c.field, c.part)
	}
	if n := len(s.CreatedEvents(alice)); n != 2 {
		t.Fatalf("%d events created, want 2: the refused ones reached Graph", n)
	}

	// A personal account's calendar allows no Teams for work meetings.
	s.AddAccount(microsofttest.Account{Email: "carol@outlook.com", Personal: true})
	personal := graphCalendar(t, s, "carol@outlook.com")
	ev.Recurrence, ev.Conference = nil, providers.ConferenceTeams
	_, err = personal.CreateEvent(ctx, ev)
	fieldErr(t, err, "conference", "personal Microsoft account")
}

func TestChangeEvents(t *testing.T) {
	s := newGraph(t)
	cal := graphCalendar(t, s, alice)
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, berlin)
	series := s.AddEvent(alice, "", microsofttest.Event{Subject: "Standup", Start: start, End: start.Add(15 * time.Minute), TimeZone: "W. Europe Standard Time",
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"}, Attendees: []microsofttest.Attendee{{Email: bob}}})
	page, err := cal.ListEvents(ctx, providers.EventQuery{TimeMin: start, TimeMax: start.AddDate(0, 0, 5), MaxResults: 10})
	if err != nil || len(page.Events) != 5 {
		t.Fatalf("occurrences %+v %v", page.Events, err)
	}
	occ := page.Events[1].ID
	got, err := cal.GetEvent(ctx, "primary", occ)
	if err != nil || got.RecurringEventID == "" || !got.IsOrganizer || got.Series {
		t.Fatalf("occurrence %+v %v", got, err)
	}
	series = got.RecurringEventID // Graph's immutable id of the series
	master, err := cal.GetEvent(ctx, "primary", series)
	if err != nil || !master.Series {
		t.Fatalf("series %+v %v", master, err)
	}

	// Outlook always mails a meeting's attendees its changes.
	title := "Standup (moved)"
	_, err = cal.UpdateEvent(ctx, providers.EventUpdate{EventID: occ, Summary: &title, SendUpdates: "none", Current: &got})
	fieldErr(t, err, "send_updates", "always")
	upd, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: occ, Summary: &title, SendUpdates: "all", Current: &got,
		Times: &providers.EventTimes{Start: start.Add(26 * time.Hour), End: start.Add(26*time.Hour + 30*time.Minute), TimeZone: "Europe/Berlin"}})
	if err != nil {
		t.Fatal(err)
	}
	if at, _ := time.Parse(time.RFC3339, upd.Start); upd.Summary != title || upd.RecurringEventID != series || !at.Equal(start.Add(26*time.Hour)) {
		t.Fatalf("updated occurrence %+v", upd)
	}
	where := "Room 4"
	att := []providers.Attendee{{Email: bob}, {Email: "dan@contoso.com", Optional: true}}
	if _, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: series, Location: &where, Attendees: &att, SendUpdates: "all", Current: &master,
		EventExtras: providers.EventExtras{Reminders: []int{5}}}); err != nil {
		t.Fatal(err)
	}
	after, err := cal.GetEvent(ctx, "primary", series)
	if err != nil || after.Location != where || len(after.Attendees) != 2 || !after.Attendees[1].Optional {
		t.Fatalf("series after the update %+v %v", after, err)
	}
	kinds := func() (out []string) {
		for _, inv := range s.Invitations(alice) {
			out = append(out, inv.Kind+" "+inv.To.Address)
		}
		return out
	}
	if k := kinds(); !slices.Contains(k, "update dan@contoso.com") || !slices.Contains(k, "update bob@contoso.com") {
		t.Fatalf("messages %v", k)
	}

	// Delete one occurrence, then the series (a cancellation each).
	third := page.Events[2]
	err = cal.DeleteEvent(ctx, providers.EventDeletion{EventID: third.ID, SendUpdates: "none", Current: &got})
	fieldErr(t, err, "send_updates", "always")
	if err := cal.DeleteEvent(ctx, providers.EventDeletion{EventID: third.ID, SendUpdates: "all", Current: &got}); err != nil {
		t.Fatal(err)
	}
	if _, err := cal.GetEvent(ctx, "primary", third.ID); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("deleted occurrence: %v", err)
	}
	if err := cal.DeleteEvent(ctx, providers.EventDeletion{EventID: series, SendUpdates: "all", Current: &after}); err != nil {
		t.Fatal(err)
	}
	if _, err := cal.GetEvent(ctx, "primary", series); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("deleted series: %v", err)
	}
	if n := strings.Count(strings.Join(kinds(), ","), "cancellation"); n != 4 { // two attendees, twice
		t.Fatalf("cancellations: %v", kinds())
	}
}

func TestRespondToEvent(t *testing.T) {
	s := newGraph(t)
	cal := graphCalendar(t, s, alice)
	ctx := context.Background()
	start := time.Date(2026, 12, 9, 14, 0, 0, 0, time.UTC)
	invited := s.AddEvent(alice, "", microsofttest.Event{Subject: "Bob's review", Start: start, End: start.Add(time.Hour), TimeZone: "UTC",
		Organizer: &microsofttest.Recipient{Name: "Bob", Address: bob}, Attendees: []microsofttest.Attendee{{Email: alice}}})
	own := s.AddEvent(alice, "", microsofttest.Event{Subject: "Mine", Start: start, End: start.Add(time.Hour), TimeZone: "UTC",
		Attendees: []microsofttest.Attendee{{Email: bob}}})
	ev, err := cal.GetEvent(ctx, "primary", invited)
	if err != nil || ev.IsOrganizer || !ev.Invited {
		t.Fatalf("invited event %+v %v", ev, err)
	}
	if err := cal.RespondToEvent(ctx, providers.EventResponse{EventID: invited, Response: providers.ResponseTentative, Comment: "may be late", Notify: true}); err != nil {
		t.Fatal(err)
	}
	if err := cal.RespondToEvent(ctx, providers.EventResponse{EventID: invited, Response: providers.ResponseAccepted}); err != nil {
		t.Fatal(err)
	}
	invs := s.Invitations(alice)
	if len(invs) != 1 || invs[0].Kind != "response" || invs[0].Response != "tentativelyAccepted" || invs[0].Comment != "may be late" || invs[0].To.Address != bob {
		t.Fatalf("responses sent %+v", invs)
	}
	if ev, _ = cal.GetEvent(ctx, "primary", invited); ev.Attendees[0].Response != "accepted" {
		t.Fatalf("after accepting %+v", ev)
	}
	// Graph refuses the organizer's answer (400).
	err = cal.RespondToEvent(ctx, providers.EventResponse{EventID: own, Response: providers.ResponseDeclined, Notify: true})
	if !errors.Is(err, providers.ErrInvalid) || !strings.Contains(err.Error(), "organizer") {
		t.Fatalf("organizer's answer: %v", err)
	}
}

// A single event made a series: the rule starts on the event's own date.
func TestUpdateEventRecurrence(t *testing.T) {
	s := newGraph(t)
	cal := graphCalendar(t, s, alice)
	ctx := context.Background()
	start := time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC)
	id := s.AddEvent(alice, "", microsofttest.Event{Subject: "Focus", Start: start, End: start.Add(time.Hour), TimeZone: "UTC"})
	cur, err := cal.GetEvent(ctx, "", microsofttest.ImmutableID(id))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: cur.ID, Current: &cur,
		EventExtras: providers.EventExtras{Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Series {
		t.Fatalf("not a series: %+v", got)
	}
	page, err := cal.ListEvents(ctx, providers.EventQuery{TimeMin: start.Add(-time.Hour), TimeMax: start.AddDate(0, 0, 30), MaxResults: 10})
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, e := range page.Events {
		starts = append(starts, e.Start)
	}
	if len(starts) != 3 || !strings.HasPrefix(starts[2], "2026-12-24T") {
		t.Fatalf("occurrences %v, want 3 weekly from 2026-12-10", starts)
	}
	// Without what GetEvent read, the start must be given.
	_, err = cal.UpdateEvent(ctx, providers.EventUpdate{EventID: cur.ID, EventExtras: providers.EventExtras{Recurrence: []string{"RRULE:FREQ=DAILY"}}})
	fieldErr(t, err, "recurrence", "start and end")
}
