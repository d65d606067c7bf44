package google

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

func calendarFixture(s *googletest.Server) (weekly string) {
	s.AddCalendar(alice, googletest.Calendar{Primary: true, TimeZone: "Europe/Paris"})
	s.AddCalendar(alice, googletest.Calendar{ID: "team@group.calendar.google.com", Summary: "Team", TimeZone: "America/New_York", AccessRole: "reader"})
	ny, _ := time.LoadLocation("America/New_York")
	paris, _ := time.LoadLocation("Europe/Paris")
	s.AddEvent(alice, "primary", googletest.Event{Summary: "NY call", Start: time.Date(2026, 12, 1, 9, 0, 0, 0, ny), End: time.Date(2026, 12, 1, 10, 0, 0, 0, ny),
		TimeZone: "America/New_York", Attendees: []googletest.Attendee{{Email: bob, DisplayName: "Bob", ResponseStatus: "accepted"}}, Location: "Zoom"})
	s.AddEvent(alice, "primary", googletest.Event{Summary: "Holiday", AllDay: true, Start: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)})
	weekly = s.AddEvent(alice, "primary", googletest.Event{Summary: "Standup", Start: time.Date(2026, 11, 30, 9, 30, 0, 0, paris), End: time.Date(2026, 11, 30, 9, 45, 0, 0, paris),
		TimeZone: "Europe/Paris", Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"}})
	s.AddEvent(alice, "team@group.calendar.google.com", googletest.Event{Summary: "Team sync", Start: time.Date(2026, 12, 1, 14, 0, 0, 0, ny), End: time.Date(2026, 12, 1, 15, 0, 0, 0, ny), TimeZone: "America/New_York"})
	return weekly
}

func TestCalendars(t *testing.T) {
	s := fake(t)
	calendarFixture(s)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	cals, err := cal.ListCalendars(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cals) != 2 {
		t.Fatalf("%+v", cals)
	}
	var prim, team providers.CalendarInfo
	for _, c := range cals {
		if c.Primary {
			prim = c
		} else {
			team = c
		}
	}
	if prim.ID != alice || prim.TimeZone != "Europe/Paris" || prim.AccessRole != "owner" ||
		team.ID != "team@group.calendar.google.com" || team.Summary != "Team" || team.TimeZone != "America/New_York" || team.AccessRole != "reader" {
		t.Fatalf("%+v", cals)
	}
}

func TestListEvents(t *testing.T) {
	s := fake(t)
	weekly := calendarFixture(s)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	ctx := context.Background()
	q := providers.EventQuery{TimeMin: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), TimeMax: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}

	// In the calendar's zone.
	page, err := cal.ListEvents(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if page.TimeZone != "Europe/Paris" {
		t.Fatalf("zone %q", page.TimeZone)
	}
	var lines []string
	for _, e := range page.Events {
		lines = append(lines, fmt.Sprintf("%s %s %s %v %s", e.Summary, e.Start, e.End, e.AllDay, e.RecurringEventID))
	}
	want := []string{
		"Standup 2026-12-01T09:30:00+01:00 2026-12-01T09:45:00+01:00 false " + weekly,
		"Holiday 2026-12-02 2026-12-04 true ",
		"Standup 2026-12-02T09:30:00+01:00 2026-12-02T09:45:00+01:00 false " + weekly,
		"NY call 2026-12-01T15:00:00+01:00 2026-12-01T16:00:00+01:00 false ",
	}
	slices.Sort(lines)
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Ordered by start time.
	for i := 1; i < len(page.Events); i++ {
		if page.Events[i].Start < page.Events[i-1].Start && !page.Events[i].AllDay && !page.Events[i-1].AllDay {
			t.Fatalf("not ordered: %v", lines)
		}
	}
	for _, e := range page.Events {
		if e.Summary == "NY call" {
			if e.Location != "Zoom" || len(e.Attendees) != 1 || e.Attendees[0].Email != bob || e.Attendees[0].Response != "accepted" || e.Status != "confirmed" || e.HTMLLink == "" || e.Organizer == "" {
				t.Fatalf("%+v", e)
			}
		}
	}

	// In a requested zone.
	q.TimeZone = "Asia/Tokyo"
	page, err = cal.ListEvents(ctx, q)
	if err != nil || page.TimeZone != "Asia/Tokyo" {
		t.Fatal(err, page.TimeZone)
	}
	for _, e := range page.Events {
		if e.Summary == "NY call" && e.Start != "2026-12-01T23:00:00+09:00" {
			t.Fatalf("%+v", e)
		}
	}

	// Pages, query, another calendar.
	q.TimeZone, q.MaxResults = "", 2
	page, err = cal.ListEvents(ctx, q)
	if err != nil || len(page.Events) != 2 || page.NextPageToken == "" {
		t.Fatalf("%v %+v", err, page)
	}
	q.PageToken = page.NextPageToken
	page, err = cal.ListEvents(ctx, q)
	if err != nil || len(page.Events) != 2 || page.NextPageToken != "" {
		t.Fatalf("%v %+v", err, page)
	}
	page, err = cal.ListEvents(ctx, providers.EventQuery{TimeMin: q.TimeMin, TimeMax: q.TimeMax, Query: "holiday"})
	if err != nil || len(page.Events) != 1 || page.Events[0].Summary != "Holiday" {
		t.Fatalf("%v %+v", err, page)
	}
	page, err = cal.ListEvents(ctx, providers.EventQuery{CalendarID: "team@group.calendar.google.com", TimeMin: q.TimeMin, TimeMax: q.TimeMax})
	if err != nil || len(page.Events) != 1 || page.TimeZone != "America/New_York" || page.Events[0].Start != "2026-12-01T14:00:00-05:00" {
		t.Fatalf("%v %+v", err, page)
	}

	_, err = cal.ListEvents(ctx, providers.EventQuery{CalendarID: "nope@group.calendar.google.com"})
	wantKind(t, err, providers.ErrNotFound)
	_, err = cal.ListEvents(ctx, providers.EventQuery{TimeZone: "Mars/Olympus"})
	if pe := wantKind(t, err, providers.ErrInvalid); !strings.Contains(pe.Message, "time_zone") {
		t.Fatalf("%v", pe)
	}
}

func TestCreateEvent(t *testing.T) {
	s := fake(t)
	calendarFixture(s)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	ctx := context.Background()
	ny, _ := time.LoadLocation("America/New_York")

	ev, err := cal.CreateEvent(ctx, providers.NewEvent{Summary: "Dentist", Location: "Main St", Description: "Bring card",
		Start: time.Date(2026, 12, 10, 10, 0, 0, 0, ny), End: time.Date(2026, 12, 10, 11, 0, 0, 0, ny), TimeZone: "America/New_York",
		Attendees: []string{bob}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID == "" || ev.Start != "2026-12-10T10:00:00-05:00" || ev.End != "2026-12-10T11:00:00-05:00" || ev.Summary != "Dentist" ||
		ev.Location != "Main St" || len(ev.Attendees) != 1 || ev.Attendees[0].Email != bob {
		t.Fatalf("%+v", ev)
	}
	var stored *googletest.Event
	for _, e := range s.Events(alice, "primary") {
		if e.ID == ev.ID {
			stored = &e
		}
	}
	if stored == nil || stored.TimeZone != "America/New_York" || !stored.Start.Equal(time.Date(2026, 12, 10, 15, 0, 0, 0, time.UTC)) || stored.Description != "Bring card" {
		t.Fatalf("stored %+v", stored)
	}
	// Invitations: sent unless asked not to (sendUpdates=all / none).
	if stored.SendUpdates != "" {
		t.Errorf("no send_updates given, but sendUpdates=%q was sent", stored.SendUpdates)
	}
	for _, want := range []string{"all", "none"} {
		ev, err := cal.CreateEvent(ctx, providers.NewEvent{Summary: "Sync " + want, Start: time.Date(2026, 12, 10, 10, 0, 0, 0, ny),
			End: time.Date(2026, 12, 10, 11, 0, 0, 0, ny), Attendees: []string{bob}, SendUpdates: want})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.Events(alice, "primary") {
			if e.ID == ev.ID && e.SendUpdates != want {
				t.Errorf("send_updates %s: Google was sent sendUpdates=%q", want, e.SendUpdates)
			}
		}
	}
	_, err = cal.CreateEvent(ctx, providers.NewEvent{Summary: "x", Start: time.Date(2026, 12, 10, 10, 0, 0, 0, ny), End: time.Date(2026, 12, 10, 11, 0, 0, 0, ny), SendUpdates: "everyone"})
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "send_updates" {
		t.Errorf("send_updates everyone: %v, want a send_updates field error", err)
	}

	ev, err = cal.CreateEvent(ctx, providers.NewEvent{Summary: "Trip", AllDay: true,
		Start: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 23, 0, 0, 0, 0, time.UTC)})
	if err != nil || !ev.AllDay || ev.Start != "2026-12-20" || ev.End != "2026-12-23" {
		t.Fatalf("%v %+v", err, ev)
	}

	// With offsets only.
	ev, err = cal.CreateEvent(ctx, providers.NewEvent{Summary: "UTC", Start: time.Date(2026, 12, 11, 8, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 11, 9, 0, 0, 0, time.UTC)})
	if err != nil || !strings.HasPrefix(ev.Start, "2026-12-11T") {
		t.Fatalf("%v %+v", err, ev)
	}
	if at, _ := time.Parse(time.RFC3339, ev.Start); !at.Equal(time.Date(2026, 12, 11, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", ev)
	}

	// Not retried on 503: uncertain.
	s.ResetAPIStats()
	n := len(s.Events(alice, "primary"))
	s.FailAPI("/calendar/v3/calendars/", 1, 503, "backendError", 0)
	_, err = cal.CreateEvent(ctx, providers.NewEvent{Summary: "x", Start: time.Date(2026, 12, 11, 8, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 11, 9, 0, 0, 0, time.UTC)})
	wantKind(t, err, providers.ErrUncertain)
	if s.APIRequests("/") != 1 || len(s.Events(alice, "primary")) != n {
		t.Fatal("retried")
	}
	// Google's 400 (end before start) comes back as ErrInvalid.
	_, err = cal.CreateEvent(ctx, providers.NewEvent{Summary: "x", Start: time.Date(2026, 12, 11, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 11, 8, 0, 0, 0, time.UTC)})
	wantKind(t, err, providers.ErrInvalid)
}
