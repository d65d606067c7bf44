//go:build unix

package e2e

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

func (e *ttEnv) events(t *testing.T, args map[string]any) ttEvents {
	t.Helper()
	var l ttEvents
	e.ok(t, "list_events", args, &l)
	if l.Events == nil {
		t.Errorf("list_events %v: events is null, want an array", args)
	}
	return l
}

// ttCheckTime checks a listed time: the instant, written in zone loc.
func ttCheckTime(t *testing.T, who, got string, want time.Time, loc *time.Location) {
	t.Helper()
	if w := want.In(loc).Format(time.RFC3339); got != w {
		t.Errorf("%s: %q, want %q", who, got, w)
	}
}

// testListEvents: the default window, an explicit one, time_zone and all-day
// events on the primary calendar.
func (e *ttEnv) testListEvents(t *testing.T) {
	t.Parallel()
	// Default: now to 7 days ahead, in the calendar's zone.
	l := e.events(t, nil)
	if l.TimeZone != "Europe/Berlin" || l.CalendarID != "primary" || l.Account != alice {
		t.Errorf("default list_events: time_zone %q calendar_id %q account %q", l.TimeZone, l.CalendarID, l.Account)
	}
	now := time.Now()
	for _, ev := range l.Events {
		start, err1 := time.Parse(time.RFC3339, ev.Start)
		end, err2 := time.Parse(time.RFC3339, ev.End)
		if ev.AllDay {
			start, err1 = time.ParseInLocation(time.DateOnly, ev.Start, ttBerlin)
			end, err2 = time.ParseInLocation(time.DateOnly, ev.End, ttBerlin)
		}
		if err1 != nil || err2 != nil {
			t.Errorf("event %q: start %q end %q do not parse", ev.Summary, ev.Start, ev.End)
			continue
		}
		if !end.After(now.Add(-time.Minute)) || !start.Before(now.Add(7*24*time.Hour+time.Minute)) {
			t.Errorf("event %q (%s – %s) is outside the default window of 7 days from now", ev.Summary, ev.Start, ev.End)
		}
		if ev.Status == "cancelled" || ev.Summary == "Offsite planning" {
			t.Errorf("a cancelled event is listed: %+v", ev)
		}
		if ev.ID == "" || ev.HTMLLink == "" {
			t.Errorf("event %q has no id or html_link", ev.Summary)
		}
	}
	dentist := l.one(t, "Dentist")
	ttCheckTime(t, "default window: dentist start", dentist.Start, e.at(1, 8, 30, ttBerlin), ttBerlin)
	ttCheckTime(t, "default window: dentist end", dentist.End, e.at(1, 9, 15, ttBerlin), ttBerlin)
	if dentist.AllDay || dentist.Location != "Zahnarztpraxis Dr. Weiß, Torstraße 1, 10119 Berlin" || dentist.Status != "confirmed" {
		t.Errorf("dentist %+v", dentist)
	}
	if len(l.find("Anna's birthday")) != 1 || len(l.find("Yoga")) == 0 {
		t.Errorf("the default window lacks the birthday (in 3 days) or yoga (from the day after tomorrow)")
	}

	// An explicit window: tomorrow in Berlin.
	win := map[string]any{"time_min": e.at(1, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(2, 0, 0, ttBerlin).Format(time.RFC3339)}
	l = e.events(t, win)
	review := l.one(t, "Project Phoenix review")
	ttCheckTime(t, "review start", review.Start, e.at(1, 14, 0, ttBerlin), ttBerlin)
	if review.Location != "Room 4.12" || len(review.Attendees) != 4 || !strings.Contains(review.Description, "2. Risks") || !strings.Contains(review.Organizer, alice) {
		t.Errorf("review %+v", review)
	}
	for _, ev := range l.Events {
		if ev.Summary == "Offsite planning" || ev.Summary == "Call with Tokyo office" || ev.Summary == "Lunch with Carol" {
			t.Errorf("%q is outside tomorrow (Berlin) but listed", ev.Summary)
		}
	}
	l.one(t, "Dentist")

	// time_zone: the same events with Los Angeles offsets.
	win["time_zone"] = "America/Los_Angeles"
	la := e.events(t, win)
	if la.TimeZone != "America/Los_Angeles" {
		t.Errorf("time_zone America/Los_Angeles: the answer's time_zone is %q", la.TimeZone)
	}
	d := la.one(t, "Dentist")
	ttCheckTime(t, "dentist start in Los Angeles", d.Start, e.at(1, 8, 30, ttBerlin), ttLosAngeles)
	ttCheckTime(t, "dentist end in Los Angeles", d.End, e.at(1, 9, 15, ttBerlin), ttLosAngeles)
	if len(la.Events) != len(l.Events) {
		t.Errorf("%d events with time_zone, %d without: the zone changed the window", len(la.Events), len(l.Events))
	}
	// Tokyo call, created in Asia/Tokyo, shown in the calendar's zone or
	// the one asked for.
	tk := e.events(t, map[string]any{"time_min": e.at(2, 0, 0, ttTokyo).Format(time.RFC3339), "time_max": e.at(3, 0, 0, ttBerlin).Format(time.RFC3339)})
	call := tk.one(t, "Call with Tokyo office")
	ttCheckTime(t, "Tokyo call in Berlin time", call.Start, e.at(2, 9, 0, ttTokyo), ttBerlin)
	tk = e.events(t, map[string]any{"time_min": e.at(2, 0, 0, ttTokyo).Format(time.RFC3339), "time_max": e.at(3, 0, 0, ttBerlin).Format(time.RFC3339), "time_zone": "Asia/Tokyo"})
	ttCheckTime(t, "Tokyo call in Tokyo time", tk.one(t, "Call with Tokyo office").Start, e.at(2, 9, 0, ttTokyo), ttTokyo)
	// The flight starts in Berlin and lands in New York: both in Berlin time.
	fl := e.events(t, map[string]any{"time_min": e.at(5, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(6, 0, 0, ttBerlin).Format(time.RFC3339)})
	flight := fl.one(t, "Flight BER → JFK (LH 400)")
	ttCheckTime(t, "flight end", flight.End, e.at(5, 10, 5, ttBerlin).Add(8*time.Hour+50*time.Minute), ttBerlin)

	// All day: the birthday the day after tomorrow's tomorrow, as dates.
	ad := e.events(t, map[string]any{"time_min": e.at(3, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(4, 0, 0, ttBerlin).Format(time.RFC3339)})
	b := ad.one(t, "Anna's birthday")
	if !b.AllDay || b.Start != e.date(3) || b.End != e.date(4) {
		t.Errorf("birthday: all_day %v start %q end %q, want true, %s, %s", b.AllDay, b.Start, b.End, e.date(3), e.date(4))
	}
	cf := e.events(t, map[string]any{"time_min": e.at(5, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(6, 0, 0, ttBerlin).Format(time.RFC3339), "query": "GopherCon"})
	if c := cf.one(t, "GopherCon EU (Lisbon)"); !c.AllDay || c.Start != e.date(4) || c.End != e.date(7) {
		t.Errorf("conference: %+v, want all day %s to %s", c, e.date(4), e.date(7))
	}
	if len(cf.Events) != 1 {
		t.Errorf("query GopherCon: %d events", len(cf.Events))
	}
	// max_results pages.
	p1 := e.events(t, map[string]any{"max_results": 2, "time_min": e.at(0, 0, 0, ttBerlin).Format(time.RFC3339)})
	if len(p1.Events) != 2 || p1.NextPageToken == "" {
		t.Fatalf("max_results 2: %d events, token %q", len(p1.Events), p1.NextPageToken)
	}
	p2 := e.events(t, map[string]any{"max_results": 2, "time_min": e.at(0, 0, 0, ttBerlin).Format(time.RFC3339), "page_token": p1.NextPageToken})
	if len(p2.Events) == 0 || p2.Events[0].ID == p1.Events[0].ID || p2.Events[0].ID == p1.Events[1].ID {
		t.Errorf("page 2 of max_results 2: %+v", p2.Events)
	}
}

// testRecurring: recurring events are expanded into instances with their
// series id, exceptions moved or cancelled.
func (e *ttEnv) testRecurring(t *testing.T) {
	t.Parallel()
	l := e.events(t, map[string]any{"time_min": e.at(1, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(15, 0, 0, ttBerlin).Format(time.RFC3339), "max_results": 250})
	standup := e.f.Events["standup"]
	inst := l.find("Team standup")
	if len(inst) < 4 {
		t.Fatalf("%d standup instances in two weeks, want several (Mondays, Wednesdays, Fridays)", len(inst))
	}
	ids := map[string]bool{}
	for _, ev := range inst {
		if ev.RecurringEventID != standup || ids[ev.ID] || ev.ID == standup {
			t.Errorf("standup instance %+v: want recurring_event_id %s and an id of its own", ev, standup)
		}
		ids[ev.ID] = true
		st, _ := time.Parse(time.RFC3339, ev.Start)
		if st.In(ttBerlin).Format("15:04") != "09:30" {
			t.Errorf("standup instance at %s, want 09:30 Berlin", ev.Start)
		}
		if wd := st.In(ttBerlin).Weekday(); wd != time.Monday && wd != time.Wednesday && wd != time.Friday {
			t.Errorf("standup instance on a %s", wd)
		}
		if st.Equal(e.f.StandupCancelled) || st.Equal(e.f.StandupMoved) {
			t.Errorf("the cancelled or moved instance is listed at its original time %s", ev.Start)
		}
	}
	moved := l.one(t, "Team standup (moved to 11:00)")
	if moved.RecurringEventID != standup {
		t.Errorf("moved instance: recurring_event_id %q, want %s", moved.RecurringEventID, standup)
	}
	ttCheckTime(t, "moved instance start", moved.Start, time.Date(e.f.StandupMoved.Year(), e.f.StandupMoved.Month(), e.f.StandupMoved.Day(), 11, 0, 0, 0, ttBerlin), ttBerlin)
	yoga := l.find("Yoga")
	if len(yoga) != 1 { // day 2 and 9 are in the window, but day 9 is an EXDATE
		t.Errorf("%d yoga instances between tomorrow and 15 days on (one is excluded), want 1", len(yoga))
	}
	for _, y := range yoga {
		if y.RecurringEventID != e.f.Events["yoga"] {
			t.Errorf("yoga instance %+v", y)
		}
	}
	// A recurring all-day event: rent, monthly on the 1st.
	rent := e.events(t, map[string]any{"time_min": e.at(0, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(70, 0, 0, ttBerlin).Format(time.RFC3339), "query": "rent"})
	if len(rent.Events) < 2 {
		t.Fatalf("%d rent instances in 70 days, want 2 or 3", len(rent.Events))
	}
	for _, r := range rent.Events {
		if !r.AllDay || !strings.HasSuffix(r.Start, "-01") || r.RecurringEventID != e.f.Events["rent"] {
			t.Errorf("rent instance %+v: want all day on the 1st, of series %s", r, e.f.Events["rent"])
		}
	}
}

// testOtherCalendars: calendar_id of the Team (New York) and holidays
// calendars; an unknown calendar is not found.
func (e *ttEnv) testOtherCalendars(t *testing.T) {
	t.Parallel()
	team := e.events(t, map[string]any{"calendar_id": googletest.FixtureTeamCalendar,
		"time_min": e.at(0, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(28, 0, 0, ttBerlin).Format(time.RFC3339)})
	if team.TimeZone != "America/New_York" || team.CalendarID != googletest.FixtureTeamCalendar {
		t.Errorf("Team calendar: time_zone %q calendar_id %q", team.TimeZone, team.CalendarID)
	}
	ttCheckTime(t, "customer call", team.one(t, "Customer call (Acme)").Start, e.at(2, 16, 0, ttNewYork), ttNewYork)
	sprints := team.find("Sprint planning")
	if len(sprints) < 1 || len(sprints) > 2 {
		t.Errorf("%d sprint plannings in 4 weeks (every other Tuesday), want 1 or 2", len(sprints))
	}
	for _, s := range sprints {
		st, _ := time.Parse(time.RFC3339, s.Start)
		if s.RecurringEventID != e.f.Events["sprint"] || st.In(ttNewYork).Weekday() != time.Tuesday || !strings.HasSuffix(s.Start, st.In(ttNewYork).Format("-07:00")) {
			t.Errorf("sprint instance %+v", s)
		}
	}
	if o := team.one(t, "NY offsite"); !o.AllDay || o.Start != e.date(8) || o.End != e.date(10) {
		t.Errorf("NY offsite %+v", o)
	}
	// The holidays calendar's id has a '#'.
	y := e.f.Day.Year()
	hol := e.events(t, map[string]any{"calendar_id": googletest.FixtureHolidayCalendar,
		"time_min": time.Date(y, 12, 20, 0, 0, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": time.Date(y, 12, 31, 0, 0, 0, 0, ttBerlin).Format(time.RFC3339)})
	var names []string
	for _, h := range hol.Events {
		names = append(names, h.Summary)
		if !h.AllDay {
			t.Errorf("holiday %+v is not all day", h)
		}
	}
	if want := []string{"Christmas Eve", "Christmas Day", "Second Day of Christmas"}; !slices.Equal(names, want) {
		t.Errorf("holidays in late December %d: %v, want %v", y, names, want)
	}
	e.fails(t, "list_events", map[string]any{"calendar_id": "nosuchcalendar@group.calendar.google.com"}, "not found", "nosuchcalendar@group.calendar.google.com")
}

func (e *ttEnv) testListCalendars(t *testing.T) {
	t.Parallel()
	var l struct {
		Account   string       `json:"account"`
		Calendars []ttCalendar `json:"calendars"`
	}
	r := e.ok(t, "list_calendars", nil, &l)
	want := []ttCalendar{
		{ID: alice, Summary: alice, Primary: true, TimeZone: "Europe/Berlin", AccessRole: "owner"},
		{ID: googletest.FixtureTeamCalendar, Summary: "Team", TimeZone: "America/New_York", AccessRole: "writer"},
		{ID: googletest.FixtureHolidayCalendar, Summary: "Holidays in Germany", TimeZone: "Europe/Berlin", AccessRole: "reader"},
	}
	if !reflect.DeepEqual(l.Calendars, want) || l.Account != alice {
		t.Errorf("list_calendars: %+v, want %+v", l.Calendars, want)
	}
	for _, c := range want {
		if !strings.Contains(r.text(), c.ID) {
			t.Errorf("list_calendars text does not name %s: %s", c.ID, r.text())
		}
	}
}

// testCreateEvent: timed (wall clock and zone), with offsets, all-day, on a
// secondary calendar; a read-only calendar refuses.
func (e *ttEnv) testCreateEvent(t *testing.T) {
	t.Parallel()
	day := e.at(20, 0, 0, ttNewYork)
	ds := day.Format(time.DateOnly)
	var res ttCreated
	r := e.ok(t, "create_event", map[string]any{
		"summary": "Planning with Bob", "start": ds + "T10:00:00", "end": ds + "T11:30:00", "time_zone": "America/New_York",
		"attendees": []string{googletest.FixtureBob, "Carol Chen <carol@example.com>"}, "location": "Room 1", "description": "Agenda: Q4 plans",
	}, &res)
	wantStart := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, ttNewYork)
	ev := res.Event
	ttCheckTime(t, "created event start", ev.Start, wantStart, ttNewYork)
	ttCheckTime(t, "created event end", ev.End, wantStart.Add(90*time.Minute), ttNewYork)
	if ev.ID == "" || ev.Summary != "Planning with Bob" || ev.AllDay || ev.Location != "Room 1" || len(ev.Attendees) != 2 || res.CalendarID != "primary" {
		t.Errorf("created event %+v", res)
	}
	if !strings.Contains(r.text(), ev.ID) {
		t.Errorf("create_event text does not give the id: %s", r.text())
	}
	find := func(cal, summary string) googletest.Event {
		t.Helper()
		for _, ev := range e.fg.Events(alice, cal) {
			if ev.Summary == summary {
				return ev
			}
		}
		t.Fatalf("the fake's calendar %s has no %q", cal, summary)
		return googletest.Event{}
	}
	got := find("primary", "Planning with Bob")
	var attendees []string
	for _, a := range got.Attendees {
		attendees = append(attendees, a.Email)
	}
	if !got.Start.Equal(wantStart) || !got.End.Equal(wantStart.Add(90*time.Minute)) || got.TimeZone != "America/New_York" || got.AllDay ||
		!slices.Equal(attendees, []string{googletest.FixtureBob, googletest.FixtureCarol}) || got.Location != "Room 1" || got.Description != "Agenda: Q4 plans" {
		t.Errorf("the fake has %+v; want %s to +90 min in America/New_York with bob and carol", got, wantStart)
	}
	// It is listed, in the calendar's zone.
	l := e.events(t, map[string]any{"time_min": wantStart.Add(-time.Hour).Format(time.RFC3339), "time_max": wantStart.Add(time.Hour).Format(time.RFC3339)})
	ttCheckTime(t, "listed created event", l.one(t, "Planning with Bob").Start, wantStart, ttBerlin)

	// With offsets and no zone, on the Team calendar.
	e.ok(t, "create_event", map[string]any{"calendar_id": googletest.FixtureTeamCalendar, "summary": "Retro",
		"start": "2031-03-04T15:00:00+05:30", "end": "2031-03-04T16:00:00+05:30"}, &res)
	wantRetro := time.Date(2031, 3, 4, 15, 0, 0, 0, time.FixedZone("", 5*3600+1800))
	if got := find(googletest.FixtureTeamCalendar, "Retro"); !got.Start.Equal(wantRetro) || res.CalendarID != googletest.FixtureTeamCalendar {
		t.Errorf("Retro in the fake: %+v, want start %s", got, wantRetro)
	}
	if st, err := time.Parse(time.RFC3339, res.Event.Start); err != nil || !st.Equal(wantRetro) {
		t.Errorf("Retro start %q, want %s", res.Event.Start, wantRetro)
	}

	// All day, two days.
	e.ok(t, "create_event", map[string]any{"summary": "Ski trip", "start": e.date(25), "end": e.date(27), "location": "Alps"}, &res)
	if !res.Event.AllDay || res.Event.Start != e.date(25) || res.Event.End != e.date(27) {
		t.Errorf("created all-day event %+v", res.Event)
	}
	ski := find("primary", "Ski trip")
	if !ski.AllDay || ski.Start.Format(time.DateOnly) != e.date(25) || ski.End.Format(time.DateOnly) != e.date(27) {
		t.Errorf("the fake has the all-day event %+v", ski)
	}

	// A calendar the account may only read.
	n := len(e.fg.Events(alice, googletest.FixtureHolidayCalendar))
	e.fails(t, "create_event", map[string]any{"calendar_id": googletest.FixtureHolidayCalendar, "summary": "Mine", "start": e.date(30), "end": e.date(31)},
		"refused access", "writer access")
	if len(e.fg.Events(alice, googletest.FixtureHolidayCalendar)) != n {
		t.Errorf("an event was created in the read-only calendar")
	}
}
