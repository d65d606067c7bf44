package google

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

func storedEvent(t *testing.T, s *googletest.Server, id string) googletest.Event {
	t.Helper()
	for _, e := range s.Events(alice, "primary") {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no stored event %s", id)
	return googletest.Event{}
}

func TestCreateEventExtras(t *testing.T) {
	s := fake(t)
	calendarFixture(s)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	ctx := context.Background()
	paris, _ := time.LoadLocation("Europe/Paris")
	ev := providers.NewEvent{Summary: "Weekly", Start: time.Date(2026, 12, 7, 10, 0, 0, 0, paris), End: time.Date(2026, 12, 7, 11, 0, 0, 0, paris),
		TimeZone: "Europe/Paris", Attendees: []string{bob}, SendUpdates: "all",
		EventExtras: providers.EventExtras{Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"}, Reminders: []int{10, 60}, Conference: providers.ConferenceMeet}}
	got, err := cal.CreateEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.JoinURL, "https://meet.google.com/") || !got.Series || !got.IsOrganizer {
		t.Fatalf("created %+v", got)
	}
	st := storedEvent(t, s, got.ID)
	if !slices.Equal(st.Reminders, []int{10, 60}) || st.HangoutLink != got.JoinURL || !slices.Equal(st.Recurrence, ev.Recurrence) {
		t.Fatalf("stored %+v", st)
	}

	ev.Conference = providers.ConferenceTeams
	_, err = cal.CreateEvent(ctx, ev)
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "conference" || !strings.Contains(fe.Msg, "meet") {
		t.Fatalf("teams on Google: %v", err)
	}
	ev.Conference, ev.Reminders = "", []int{1, 2, 3, 4, 5, 6}
	if _, err = cal.CreateEvent(ctx, ev); !errors.As(err, &fe) || fe.Field != "reminders" {
		t.Fatalf("six reminders: %v", err)
	}
	ev.Reminders, ev.Recurrence = nil, []string{"RRULE:FREQ=DAILY;COUNT=2;UNTIL=20261231"}
	if _, err = cal.CreateEvent(ctx, ev); !errors.As(err, &fe) || fe.Field != "recurrence[0]" {
		t.Fatalf("COUNT and UNTIL: %v", err)
	}
}

func TestUpdateAndDeleteEvent(t *testing.T) {
	s := fake(t)
	weekly := calendarFixture(s)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	ctx := context.Background()
	instance := weekly + "_20261201T083000Z"

	got, err := cal.GetEvent(ctx, "primary", instance)
	if err != nil {
		t.Fatal(err)
	}
	if got.RecurringEventID != weekly || got.Series || !got.IsOrganizer {
		t.Fatalf("instance %+v", got)
	}
	master, err := cal.GetEvent(ctx, "primary", weekly)
	if err != nil || !master.Series || len(master.Recurrence) != 1 {
		t.Fatalf("series %+v %v", master, err)
	}

	// One instance: it becomes an exception of the series.
	title := "Standup (moved)"
	paris, _ := time.LoadLocation("Europe/Paris")
	upd, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: instance, Summary: &title, SendUpdates: "none",
		Times: &providers.EventTimes{Start: time.Date(2026, 12, 1, 11, 0, 0, 0, paris), End: time.Date(2026, 12, 1, 11, 15, 0, 0, paris), TimeZone: "Europe/Paris"}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Summary != title || upd.Start != "2026-12-01T11:00:00+01:00" || upd.RecurringEventID != weekly {
		t.Fatalf("instance updated: %+v", upd)
	}
	// The series: every instance, attendees replaced, a reminder.
	where := "Room 2"
	att := []providers.Attendee{{Email: bob}}
	if _, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: weekly, Location: &where, Attendees: &att, SendUpdates: "all",
		EventExtras: providers.EventExtras{Reminders: []int{5}}}); err != nil {
		t.Fatal(err)
	}
	st := storedEvent(t, s, weekly)
	if st.Location != where || len(st.Attendees) != 1 || st.Attendees[0].Email != bob || st.SendUpdates != "all" || st.Sequence != 1 || !slices.Equal(st.Reminders, []int{5}) {
		t.Fatalf("series stored: %+v", st)
	}
	if ex := storedEvent(t, s, instance); ex.Summary != title {
		t.Fatalf("exception lost: %+v", ex)
	}

	// Delete an instance, then the series; a second delete is not found
	// (Google: 410).
	if err := cal.DeleteEvent(ctx, providers.EventDeletion{EventID: weekly + "_20261202T083000Z", SendUpdates: "all"}); err != nil {
		t.Fatal(err)
	}
	if ex := storedEvent(t, s, weekly+"_20261202T083000Z"); ex.Status != "cancelled" {
		t.Fatalf("deleted instance: %+v", ex)
	}
	if err := cal.DeleteEvent(ctx, providers.EventDeletion{EventID: weekly, SendUpdates: "none"}); err != nil {
		t.Fatal(err)
	}
	if st := storedEvent(t, s, weekly); st.Status != "cancelled" || st.SendUpdates != "none" {
		t.Fatalf("deleted series: %+v", st)
	}
	err = cal.DeleteEvent(ctx, providers.EventDeletion{EventID: weekly})
	if !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: "nosuchevent1", Summary: &title}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
}

func TestRespondToEvent(t *testing.T) {
	s := fake(t)
	calendarFixture(s)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	ctx := context.Background()
	id := s.AddEvent(alice, "primary", googletest.Event{Summary: "Bob's review", Organizer: bob, TimeZone: "UTC",
		Start: time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC),
		Attendees: []googletest.Attendee{{Email: bob, Organizer: true, ResponseStatus: "accepted"}, {Email: alice}, {Email: "carol@example.com"}}})
	ev, err := cal.GetEvent(ctx, "primary", id)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ev.Attendees, func(a providers.Attendee) bool { return a.Self })
	if ev.IsOrganizer || i < 0 || ev.Attendees[i].Email != alice {
		t.Fatalf("invited event: %+v", ev)
	}
	if err := cal.RespondToEvent(ctx, providers.EventResponse{EventID: id, Response: "tentative", Comment: "may be late", Attendee: alice, Notify: true}); err != nil {
		t.Fatal(err)
	}
	st := storedEvent(t, s, id)
	j := slices.IndexFunc(st.Attendees, func(a googletest.Attendee) bool { return a.Email == alice })
	if st.Attendees[j].ResponseStatus != "tentative" || st.Attendees[j].Comment != "may be late" || st.SendUpdates != "all" || len(st.Attendees) != 3 || st.Sequence != 0 {
		t.Fatalf("after the answer: %+v", st)
	}
	// Shared properties are the organizer's (403 forbiddenForNonOrganizer).
	title := "mine now"
	if _, err := cal.UpdateEvent(ctx, providers.EventUpdate{EventID: id, Summary: &title}); !errors.Is(err, providers.ErrForbidden) {
		t.Fatalf("attendee's change: %v", err)
	}
}
