package googletest

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

func rfc(t time.Time) string { return t.Format(time.RFC3339) }

// byID indexes a list's items.
func byID(items []*calendar.Event) map[string]*calendar.Event {
	m := map[string]*calendar.Event{}
	for _, e := range items {
		m[e.Id] = e
	}
	return m
}

func TestCalendarList(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calRead)
	list, err := svc.CalendarList.List().Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 || list.NextSyncToken == "" {
		t.Fatalf("%d calendars", len(list.Items))
	}
	p, team, hol := list.Items[0], list.Items[1], list.Items[2]
	if p.Id != alice || !p.Primary || p.TimeZone != "Europe/Berlin" || p.AccessRole != "owner" || len(p.DefaultReminders) != 1 ||
		team.Id != FixtureTeamCalendar || team.TimeZone != "America/New_York" || team.AccessRole != "writer" || team.Primary ||
		hol.Id != FixtureHolidayCalendar || hol.AccessRole != "reader" || hol.Summary != "Holidays in Germany" {
		t.Fatalf("calendars: %+v %+v %+v", p, team, hol)
	}
	writable, err := svc.CalendarList.List().MinAccessRole("writer").Do()
	if err != nil || len(writable.Items) != 2 {
		t.Fatalf("minAccessRole: %v %d", err, len(writable.Items))
	}
	page, err := svc.CalendarList.List().MaxResults(2).Do()
	if err != nil || len(page.Items) != 2 || page.NextPageToken == "" {
		t.Fatalf("page: %v %+v", err, page)
	}
	rest, err := svc.CalendarList.List().MaxResults(2).PageToken(page.NextPageToken).Do()
	if err != nil || len(rest.Items) != 1 || rest.Items[0].Id != FixtureHolidayCalendar {
		t.Fatalf("second page: %v %+v", err, rest)
	}
	if e, err := svc.CalendarList.Get("primary").Do(); err != nil || e.Id != alice {
		t.Fatalf("get primary: %v %+v", err, e)
	}
	_, err = svc.CalendarList.Get("nobody@example.com").Do()
	wantAPIError(t, err, 404, "notFound", "Not Found")
	// A user without fixtures has an empty primary calendar in UTC.
	cfg := *a.cfg
	cfg.Scopes = []string{calRead}
	tok := connect(t, a.s, &cfg, oauth2.SetAuthURLParam("login_hint", FixtureBob))
	bobSvc, _ := calendar.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/calendar/v3/"), option.WithHTTPClient(cfg.Client(context.Background(), tok)))
	bl, err := bobSvc.CalendarList.List().Do()
	if err != nil || len(bl.Items) != 1 || bl.Items[0].Id != FixtureBob || bl.Items[0].TimeZone != "UTC" {
		t.Fatalf("bob: %v %+v", err, bl)
	}
	// Gmail scopes do not reach Calendar.
	_, err = a.calendar(gmailRead).CalendarList.List().Do()
	wantAPIError(t, err, 403, "insufficientPermissions", "")
}

func TestEventsSingleEvents(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calendarEventsReadonly)
	day := a.fx.Day
	r, err := svc.Events.List("primary").TimeMin(rfc(day)).TimeMax(rfc(day.AddDate(0, 0, 7))).SingleEvents(true).OrderBy("startTime").Do()
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "calendar#events" || r.TimeZone != "Europe/Berlin" || r.Summary != alice || r.AccessRole != "owner" || r.NextSyncToken == "" {
		t.Fatalf("list: %+v", r)
	}
	var last time.Time
	for _, e := range r.Items {
		start := e.Start.DateTime
		if start == "" {
			start = e.Start.Date + "T00:00:00+01:00"
		}
		st, err := time.Parse(time.RFC3339, start)
		if err != nil || st.Before(last) {
			t.Fatalf("order or format at %s %q: %v", e.Id, start, err)
		}
		last = st
		if e.Status != "confirmed" || e.Recurrence != nil {
			t.Fatalf("instance %+v", e)
		}
	}
	items := byID(r.Items)
	standup := a.fx.Events["standup"]
	// Instances: "{id}_{UTC start}", on the wall clock across the DST change.
	for _, want := range []struct{ id, start string }{
		{standup + "_20260327T083000Z", "2026-03-27T09:30:00+01:00"},
		{a.fx.Events["focus"] + "_20260330T110000Z", "2026-03-30T13:00:00+02:00"},
		{a.fx.Events["yoga"] + "_20260329T163000Z", "2026-03-29T18:30:00+02:00"},
	} {
		e := items[want.id]
		if e == nil || e.Start.DateTime != want.start || e.Start.TimeZone != "Europe/Berlin" || e.RecurringEventId == "" ||
			e.OriginalStartTime.DateTime != want.start || e.ICalUID != e.RecurringEventId+"@google.com" {
			t.Fatalf("instance %s: %+v", want.id, e)
		}
	}
	// The moved instance is the exception; the cancelled one is gone.
	moved := items[standup+"_20260330T073000Z"]
	if moved == nil || moved.Summary != "Team standup (moved to 11:00)" || moved.Start.DateTime != "2026-03-30T11:00:00+02:00" ||
		moved.OriginalStartTime.DateTime != "2026-03-30T09:30:00+02:00" || moved.RecurringEventId != standup {
		t.Fatalf("moved: %+v", moved)
	}
	if items[standup+"_20260401T073000Z"] != nil || !a.fx.StandupCancelled.Equal(time.Date(2026, 4, 1, 7, 30, 0, 0, time.UTC)) {
		t.Fatal("cancelled instance listed")
	}
	// All-day events: dates, end exclusive; a monthly all-day series.
	if b := items[a.fx.Events["birthday"]]; b.Start.Date != "2026-03-30" || b.End.Date != "2026-03-31" || b.Start.DateTime != "" {
		t.Fatalf("birthday %+v %+v", b.Start, b.End)
	}
	if c := items[a.fx.Events["conference"]]; c.Start.Date != "2026-03-31" || c.End.Date != "2026-04-03" || c.Location != "Lisbon, Portugal" {
		t.Fatalf("conference %+v", c)
	}
	if rent := items[a.fx.Events["rent"]+"_20260401"]; rent == nil || rent.Start.Date != "2026-04-01" || rent.OriginalStartTime.Date != "2026-04-01" {
		t.Fatalf("rent %+v", rent)
	}
	// Zones: dateTime in the calendar's zone, timeZone as created.
	if tk := items[a.fx.Events["tokyo"]]; tk.Start.DateTime != "2026-03-29T01:00:00+01:00" || tk.Start.TimeZone != "Asia/Tokyo" {
		t.Fatalf("tokyo %+v", tk.Start)
	}
	if f := items[a.fx.Events["flight"]]; f.Start.TimeZone != "Europe/Berlin" || f.End.TimeZone != "America/New_York" || f.End.DateTime != "2026-04-01T18:55:00+02:00" {
		t.Fatalf("flight %+v %+v", f.Start, f.End)
	}
	rv := items[a.fx.Events["review"]]
	if rv.Location != "Room 4.12" || len(rv.Attendees) != 4 || !rv.Attendees[0].Self || !rv.Attendees[0].Organizer ||
		rv.Attendees[2].ResponseStatus != "tentative" || rv.Attendees[3].ResponseStatus != "needsAction" || !rv.Attendees[3].Optional ||
		rv.HangoutLink == "" || rv.Organizer.Email != alice || !rv.Organizer.Self || !strings.HasPrefix(rv.HtmlLink, "https://www.google.com/calendar/event?eid=") {
		t.Fatalf("review %+v", rv)
	}
	if items[a.fx.Events["cancelled"]] != nil || items[a.fx.Events["yesterday"]] != nil {
		t.Fatal("cancelled or past event listed")
	}

	// Another zone asked for: same instants, other offsets.
	ny, err := svc.Events.List("primary").TimeMin(rfc(day)).TimeMax(rfc(day.AddDate(0, 0, 7))).SingleEvents(true).TimeZone("America/New_York").Do()
	if err != nil {
		t.Fatal(err)
	}
	if tk := byID(ny.Items)[a.fx.Events["tokyo"]]; tk.Start.DateTime != "2026-03-28T20:00:00-04:00" || ny.TimeZone != "Europe/Berlin" {
		t.Fatalf("tokyo in New York: %+v", tk.Start)
	}
	_, err = svc.Events.List("primary").TimeZone("Mars/Olympus_Mons").Do()
	wantAPIError(t, err, 400, "invalid", "")

	// showDeleted lists the cancelled instance and the deleted event.
	del, err := svc.Events.List("primary").TimeMin(rfc(day)).TimeMax(rfc(day.AddDate(0, 0, 7))).SingleEvents(true).ShowDeleted(true).Do()
	if err != nil {
		t.Fatal(err)
	}
	di := byID(del.Items)
	if c := di[standup+"_20260401T073000Z"]; c == nil || c.Status != "cancelled" || c.Start != nil || c.OriginalStartTime.DateTime != "2026-04-01T09:30:00+02:00" {
		t.Fatalf("cancelled instance %+v", c)
	}
	if c := di[a.fx.Events["cancelled"]]; c == nil || c.Status != "cancelled" {
		t.Fatal("deleted event")
	}
	// EXDATE and COUNT: no yoga on the 5th of April, focus time ends after 15.
	two, err := svc.Events.List("primary").TimeMin(rfc(day)).TimeMax(rfc(day.AddDate(0, 0, 30))).SingleEvents(true).Q("yoga").Do()
	if err != nil || len(two.Items) == 0 || byID(two.Items)[a.fx.Events["yoga"]+"_20260405T163000Z"] != nil {
		t.Fatalf("yoga: %v %d", err, len(two.Items))
	}
	focus, err := svc.Events.List("primary").SingleEvents(true).Q("focus time").MaxResults(2500).Do()
	if err != nil || len(focus.Items) != 15 || focus.Items[14].Start.DateTime != "2026-04-09T13:00:00+02:00" {
		t.Fatalf("focus: %v %d", err, len(focus.Items))
	}
}

const calendarEventsReadonly = "https://www.googleapis.com/auth/calendar.events.readonly"

func TestEventsSeries(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calRead)
	day := a.fx.Day
	r, err := svc.Events.List("primary").TimeMin(rfc(day)).TimeMax(rfc(day.AddDate(0, 0, 7))).Do()
	if err != nil {
		t.Fatal(err)
	}
	items := byID(r.Items)
	standup := a.fx.Events["standup"]
	master := items[standup]
	if master == nil || !slices.Equal(master.Recurrence, []string{"RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR"}) || master.Start.DateTime != "2026-03-09T09:30:00+01:00" {
		t.Fatalf("master %+v", master)
	}
	// Without singleEvents, exceptions come as well, cancelled ones too.
	if items[standup+"_20260330T073000Z"] == nil || items[standup+"_20260401T073000Z"].Status != "cancelled" {
		t.Fatal("exceptions missing")
	}
	_, err = svc.Events.List("primary").OrderBy("startTime").Do()
	wantAPIError(t, err, 400, "badRequest", "The requested ordering is not available for the particular query.")
	// events.get of instances and exceptions.
	inst, err := svc.Events.Get("primary", standup+"_20260403T073000Z").Do()
	if err != nil || inst.Start.DateTime != "2026-04-03T09:30:00+02:00" || inst.RecurringEventId != standup {
		t.Fatalf("instance: %v %+v", err, inst)
	}
	if ex, err := svc.Events.Get("primary", standup+"_20260330T073000Z").Do(); err != nil || ex.Summary != "Team standup (moved to 11:00)" {
		t.Fatalf("exception: %v", err)
	}
	if c, err := svc.Events.Get("primary", standup+"_20260401T073000Z").Do(); err != nil || c.Status != "cancelled" {
		t.Fatalf("cancelled: %v", err)
	}
	_, err = svc.Events.Get("primary", standup+"_20260403T083000Z").Do() // no instance then
	wantAPIError(t, err, 404, "notFound", "Not Found")
	// The Team calendar, every other Tuesday, in New York.
	team, err := svc.Events.List(FixtureTeamCalendar).TimeMin(rfc(day)).TimeMax(rfc(day.AddDate(0, 0, 28))).SingleEvents(true).OrderBy("startTime").Q("sprint").Do()
	if err != nil || len(team.Items) != 2 || team.TimeZone != "America/New_York" || team.Items[0].Start.DateTime != "2026-03-31T10:00:00-04:00" ||
		team.Items[1].Id != a.fx.Events["sprint"]+"_20260414T140000Z" || team.Items[0].Organizer.Email != FixtureTeamCalendar {
		t.Fatalf("team: %v %+v", err, team.Items)
	}
	// The holidays calendar id has a '#'.
	hol, err := svc.Events.List(FixtureHolidayCalendar).TimeMin("2026-12-24T00:00:00+01:00").TimeMax("2026-12-27T00:00:00+01:00").OrderBy("startTime").SingleEvents(true).Do()
	if err != nil || len(hol.Items) != 3 || hol.Items[0].Summary != "Christmas Eve" || hol.AccessRole != "reader" {
		t.Fatalf("holidays: %v %+v", err, hol)
	}
	_, err = svc.Events.List("nope@group.calendar.google.com").Do()
	wantAPIError(t, err, 404, "notFound", "Not Found")
}

func TestEventsWindowAndErrors(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calRead)
	berlin := mustZone("Europe/Berlin")
	dentist := a.fx.Events["dentist"] // 08:30 to 09:15 tomorrow
	at := func(h, m, s int) string { return rfc(time.Date(2026, 3, 28, h, m, s, 0, berlin)) }
	has := func(timeMin, timeMax string) bool {
		t.Helper()
		call := svc.Events.List("primary").SingleEvents(true)
		if timeMin != "" {
			call.TimeMin(timeMin)
		}
		if timeMax != "" {
			call.TimeMax(timeMax)
		}
		r, err := call.Do()
		if err != nil {
			t.Fatal(err)
		}
		return byID(r.Items)[dentist] != nil
	}
	// timeMin bounds the end, timeMax the start, both exclusive.
	if has(at(9, 15, 0), "") || !has(at(9, 14, 59), "") || has("", at(8, 30, 0)) || !has("", at(8, 30, 1)) || !has(at(8, 45, 0), at(8, 46, 0)) {
		t.Fatal("window bounds")
	}
	// Offsets other than Z are fine; a missing offset is not.
	if !has("2026-03-28T07:00:00-00:30", "") {
		t.Fatal("offset")
	}
	for _, tc := range []struct {
		call   *calendar.EventsListCall
		code   int
		reason string
		msg    string
	}{
		{svc.Events.List("primary").TimeMin("2026-03-28T08:00:00"), 400, "badRequest", "Bad Request"},
		{svc.Events.List("primary").TimeMax("2026-03-28"), 400, "badRequest", "Bad Request"},
		{svc.Events.List("primary").TimeMin(at(10, 0, 0)).TimeMax(at(9, 0, 0)), 400, "timeRangeEmpty", "The specified time range is empty."},
		{svc.Events.List("primary").MaxResults(0), 400, "invalid", "Invalid value '0'. Values must be within the range: [1, 2500]"},
		{svc.Events.List("primary").OrderBy("summary"), 400, "invalid", "Invalid value at 'order_by' (TYPE_ENUM)"},
	} {
		_, err := tc.call.Do()
		wantAPIError(t, err, tc.code, tc.reason, tc.msg)
	}
	_, err := svc.Events.List("primary").Do(googleapi.QueryParameter("startTime", "x"))
	wantAPIError(t, err, 400, "invalid", `Unknown name "startTime"`)
	_, err = svc.Events.List("primary").Do(googleapi.QueryParameter("singleEvents", "1"))
	wantAPIError(t, err, 400, "invalid", "TYPE_BOOL")

	// Pagination: pages add up to the whole list, tokens belong to their query.
	call := func() *calendar.EventsListCall {
		return svc.Events.List("primary").TimeMin(rfc(a.fx.Day)).TimeMax(rfc(a.fx.Day.AddDate(0, 0, 60))).SingleEvents(true).OrderBy("startTime")
	}
	whole, err := call().MaxResults(2500).Do()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	pages := 0
	if err := call().MaxResults(4).Pages(context.Background(), func(r *calendar.Events) error {
		pages++
		for _, e := range r.Items {
			ids = append(ids, e.Id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range whole.Items {
		want = append(want, e.Id)
	}
	if !slices.Equal(ids, want) || pages != (len(want)+3)/4 || len(want) < 30 {
		t.Fatalf("%d pages, %d ids, want %d", pages, len(ids), len(want))
	}
	first, _ := call().MaxResults(4).Do()
	_, err = call().Q("yoga").PageToken(first.NextPageToken).Do()
	wantAPIError(t, err, 400, "invalid", "page token")

	// Partial answers.
	part, err := call().MaxResults(2).Fields("items(id,start)", "nextPageToken").Do()
	if err != nil || part.Items[0].Summary != "" || part.Items[0].Start == nil || part.TimeZone != "" || part.NextPageToken == "" {
		t.Fatalf("fields: %v %+v", err, part)
	}
	// Map values (additionalProperties) take any key; other names must exist.
	if _, err := call().MaxResults(1).Fields("items(id,extendedProperties/private/anyKey)").Do(); err != nil {
		t.Fatalf("a map key in fields: %v", err)
	}
	_, err = call().MaxResults(1).Fields("items(id,start/dateTme)").Do()
	wantAPIError(t, err, 400, "invalidParameter", "Invalid field selection items/start/dateTme")
}

func TestInsertEvent(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calEventsScope)
	ev := &calendar.Event{
		Summary: "Planning", Description: "Q2 planning", Location: "Room 1",
		Start:     &calendar.EventDateTime{DateTime: "2026-04-02T10:00:00", TimeZone: "America/New_York"},
		End:       &calendar.EventDateTime{DateTime: "2026-04-02T11:00:00", TimeZone: "America/New_York"},
		Attendees: []*calendar.EventAttendee{{Email: FixtureBob}, {Email: alice}},
	}
	got, err := svc.Events.Insert("primary", ev).SendUpdates("all").Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.Id == "" || got.Status != "confirmed" || got.HtmlLink == "" || got.Organizer.Email != alice || !got.Organizer.Self ||
		got.Creator.Email != alice || got.Start.DateTime != "2026-04-02T16:00:00+02:00" || got.Start.TimeZone != "America/New_York" ||
		got.Attendees[0].ResponseStatus != "needsAction" || !got.Attendees[1].Organizer || got.Attendees[1].ResponseStatus != "accepted" ||
		got.ICalUID != got.Id+"@google.com" || got.Kind != "calendar#event" || got.Created == "" {
		t.Fatalf("created %+v", got)
	}
	stored := a.s.Events(alice, "primary")
	last := stored[len(stored)-1]
	if last.ID != got.Id || last.SendUpdates != "all" || last.TimeZone != "America/New_York" || !last.Start.Equal(time.Date(2026, 4, 2, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("stored %+v", last)
	}
	listed, err := svc.Events.List("primary").Q("planning").SingleEvents(true).Do()
	if err != nil || len(listed.Items) != 1 || listed.Items[0].Id != got.Id {
		t.Fatalf("listed: %v", err)
	}
	// All-day, with offsets, recurring with a zone; on the Team calendar.
	if _, err := svc.Events.Insert("primary", &calendar.Event{Summary: "Off", Start: &calendar.EventDateTime{Date: "2026-04-10"},
		End: &calendar.EventDateTime{Date: "2026-04-11"}}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Events.Insert("primary", &calendar.Event{Summary: "Offset", Start: &calendar.EventDateTime{DateTime: "2026-04-10T10:00:00Z"},
		End: &calendar.EventDateTime{DateTime: "2026-04-10T10:00:00Z"}}).Do(); err != nil {
		t.Fatalf("a zero-length event: %v", err)
	}
	rec, err := svc.Events.Insert(FixtureTeamCalendar, &calendar.Event{Summary: "Retro",
		Start:      &calendar.EventDateTime{DateTime: "2026-04-06T15:00:00-04:00", TimeZone: "America/New_York"},
		End:        &calendar.EventDateTime{DateTime: "2026-04-06T16:00:00-04:00", TimeZone: "America/New_York"},
		Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=3"}}).Do()
	if err != nil || rec.Organizer.Email != FixtureTeamCalendar || rec.Organizer.DisplayName != "Team" {
		t.Fatalf("recurring: %v %+v", err, rec)
	}
	inst, err := svc.Events.List(FixtureTeamCalendar).Q("retro").SingleEvents(true).Do()
	if err != nil || len(inst.Items) != 3 || inst.Items[2].Id != rec.Id+"_20260420T190000Z" {
		t.Fatalf("retro instances: %v %+v", err, inst.Items)
	}

	bad := func(cal string, e *calendar.Event, code int, reason, msg string) {
		t.Helper()
		_, err := svc.Events.Insert(cal, e).Do()
		wantAPIError(t, err, code, reason, msg)
	}
	dt := func(v, tz string) *calendar.EventDateTime { return &calendar.EventDateTime{DateTime: v, TimeZone: tz} }
	bad("primary", &calendar.Event{Start: dt("2026-04-02T11:00:00Z", ""), End: dt("2026-04-02T10:00:00Z", "")}, 400, "timeRangeEmpty", "The specified time range is empty.")
	bad("primary", &calendar.Event{Start: dt("2026-04-02T10:00:00", ""), End: dt("2026-04-02T11:00:00", "")}, 400, "required", "Missing time zone definition for start time.")
	bad("primary", &calendar.Event{Start: dt("2026-04-02T10:00:00Z", ""), End: dt("2026-04-02T11:00:00Z", ""), Recurrence: []string{"RRULE:FREQ=DAILY"}},
		400, "required", "Missing time zone definition for start time.")
	bad("primary", &calendar.Event{Start: dt("2026-04-02T10:00:00Z", "Europe/Nowhere"), End: dt("2026-04-02T11:00:00Z", "")}, 400, "invalid", "Invalid time zone definition for start time.")
	bad("primary", &calendar.Event{Start: dt("2026-04-02T10:00:00Z", "")}, 400, "required", "Missing end time.")
	bad("primary", &calendar.Event{Start: &calendar.EventDateTime{Date: "2026-04-02"}, End: dt("2026-04-02T11:00:00Z", "")}, 400, "invalid", "both be date or both be dateTime")
	bad("primary", &calendar.Event{Start: dt("2026-04-02T10:00:00Z", ""), End: dt("2026-04-02T11:00:00Z", ""),
		Attendees: []*calendar.EventAttendee{{Email: "Bob <bob@example.com>"}}}, 400, "invalid", "Invalid attendee email.")
	bad("primary", &calendar.Event{Start: dt("2026-04-02T10:00:00Z", "UTC"), End: dt("2026-04-02T11:00:00Z", "UTC"), Recurrence: []string{"RRULE:FREQ=HOURLY"}},
		400, "invalid", "Invalid recurrence rule.")
	bad(FixtureHolidayCalendar, &calendar.Event{Start: dt("2026-04-02T10:00:00Z", ""), End: dt("2026-04-02T11:00:00Z", "")}, 403, "requiredAccessLevel",
		"You need to have writer access to this calendar.")
	bad("nope@example.com", &calendar.Event{Start: dt("2026-04-02T10:00:00Z", ""), End: dt("2026-04-02T11:00:00Z", "")}, 404, "notFound", "Not Found")
	bad("primary", &calendar.Event{Id: got.Id, Start: dt("2026-04-02T10:00:00Z", ""), End: dt("2026-04-02T11:00:00Z", "")}, 409, "duplicate", "")
	_, err = svc.Events.Insert("primary", ev).SendUpdates("everyone").Do()
	wantAPIError(t, err, 400, "invalid", "send_updates")
	// Read-only tokens cannot write.
	_, err = a.calendar(calRead).Events.Insert("primary", ev).Do()
	wantAPIError(t, err, 403, "insufficientPermissions", "")
	// Unknown body fields are refused when checking against discovery.
	client := a.client(calScope)
	resp, err := client.Post(a.s.URL()+"/calendar/v3/calendars/primary/events", "application/json",
		strings.NewReader(`{"summary":"x","start":{"dateTime":"2026-04-02T10:00:00Z"},"end":{"dateTime":"2026-04-02T11:00:00Z"},"startTime":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `Unknown name \"startTime\"`) {
		t.Fatalf("unknown field: %d %s", resp.StatusCode, b)
	}
}
