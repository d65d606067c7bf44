package microsoft

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
)

func graphEvent(id, subject string, start, end dateTimeZone) map[string]any {
	return map[string]any{
		"id": id, "subject": subject, "bodyPreview": "Agenda: numbers", "start": start, "end": end,
		"isAllDay": false, "location": map[string]string{"displayName": "Room 1"}, "isCancelled": false, "showAs": "busy",
		"type": "singleInstance", "seriesMasterId": nil, "webLink": "https://outlook.office365.com/owa/?itemid=" + id,
		"organizer": map[string]any{"emailAddress": map[string]string{"name": "Bob Smith", "address": "bob@fabrikam.com"}},
		"attendees": []any{
			map[string]any{"type": "required", "emailAddress": map[string]string{"name": "Alice", "address": alice}, "status": map[string]string{"response": "tentativelyAccepted"}},
			map[string]any{"type": "required", "emailAddress": map[string]string{"address": "carol@fabrikam.com"}, "status": map[string]string{"response": "none"}},
		},
	}
}

func TestListEvents(t *testing.T) {
	f := newFake(t)
	f.on("GET /me/mailboxSettings/timeZone", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"@odata.context": "x", "value": "W. Europe Standard Time"})
	})
	f.on("GET /me/calendar/calendarView", func(w http.ResponseWriter, r *http.Request) {
		timed := graphEvent("ev1", "Review", dateTimeZone{"2026-10-01T07:00:00.0000000", "UTC"}, dateTimeZone{"2026-10-01T08:30:00.0000000", "UTC"})
		allDay := graphEvent("ev2", "Offsite", dateTimeZone{"2026-10-02T00:00:00.0000000", "UTC"}, dateTimeZone{"2026-10-04T00:00:00.0000000", "UTC"})
		allDay["isAllDay"] = true
		occ := graphEvent("ev3", "Standup", dateTimeZone{"2026-10-01T09:00:00.0000000", "Pacific Standard Time"}, dateTimeZone{"2026-10-01T09:15:00.0000000", "Pacific Standard Time"})
		occ["type"], occ["seriesMasterId"] = "occurrence", "master1"
		cancelled := graphEvent("ev4", "Canceled: Lunch", dateTimeZone{"2026-10-01T11:00:00.0000000", "UTC"}, dateTimeZone{"2026-10-01T12:00:00.0000000", "UTC"})
		cancelled["isCancelled"] = true
		writeJSON(w, 200, map[string]any{"value": []any{timed, allDay, occ, cancelled},
			"@odata.nextLink": f.base() + "/me/calendar/calendarView?startDateTime=x&%24skip=4"})
	})
	c := mustCalendar(t, newAPI(t, f))
	ctx := context.Background()
	min := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	page, err := c.ListEvents(ctx, providers.EventQuery{CalendarID: "primary", TimeMin: min, TimeMax: min.Add(7 * 24 * time.Hour), MaxResults: 4})
	if err != nil {
		t.Fatal(err)
	}
	if page.TimeZone != "Europe/Berlin" {
		t.Fatalf("zone %q, want the mailbox's (W. Europe Standard Time) as IANA", page.TimeZone)
	}
	rs := f.requests()
	view := rs[len(rs)-1]
	q := view.Query
	if q.Get("startDateTime") != "2026-10-01T00:00:00Z" || q.Get("endDateTime") != "2026-10-08T00:00:00Z" || q.Get("$top") != "4" ||
		q.Get("$orderby") != "start/dateTime" || q.Get("$select") != eventFields || !strings.Contains(view.Header.Get("Prefer"), `outlook.timezone="UTC"`) {
		t.Fatalf("calendarView %v %v", q, view.Header)
	}
	ev := page.Events
	if ev[0].Start != "2026-10-01T09:00:00+02:00" || ev[0].End != "2026-10-01T10:30:00+02:00" || ev[0].AllDay || ev[0].Status != "confirmed" ||
		ev[0].Organizer != "Bob Smith <bob@fabrikam.com>" || ev[0].Location != "Room 1" || ev[0].Attendees[0].Response != "tentative" || ev[0].Attendees[1].Response != "needsAction" {
		t.Fatalf("timed %+v", ev[0])
	}
	if !ev[1].AllDay || ev[1].Start != "2026-10-02" || ev[1].End != "2026-10-04" {
		t.Fatalf("all-day %+v", ev[1])
	}
	// A time Graph gave in a Windows zone: 09:00 Pacific (PDT, -7) is 18:00 in Berlin.
	if ev[2].Start != "2026-10-01T18:00:00+02:00" || ev[2].RecurringEventID != "master1" {
		t.Fatalf("occurrence %+v", ev[2])
	}
	if ev[3].Status != "cancelled" {
		t.Fatalf("cancelled %+v", ev[3])
	}

	// The next page keeps the first one's window, whatever the caller's.
	f.reset()
	_, err = c.ListEvents(ctx, providers.EventQuery{TimeMin: min.Add(time.Hour), TimeMax: min.Add(9 * 24 * time.Hour), MaxResults: 4, PageToken: page.NextPageToken})
	if err != nil {
		t.Fatal(err)
	}
	if rs := f.requests(); len(rs) != 1 || rs[0].Query.Get("$skip") != "4" || rs[0].Query.Get("startDateTime") != "2026-10-01T00:00:00Z" {
		t.Fatalf("next page %+v (the mailbox zone is kept too)", rs)
	}

	// A zone asked for; a query matched here; another calendar.
	f.on("GET /me/calendars/AAMkCal2=/calendarView", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{
			graphEvent("ev5", "Budget review", dateTimeZone{"2026-10-01T07:00:00.0000000", "UTC"}, dateTimeZone{"2026-10-01T08:00:00.0000000", "UTC"}),
			graphEvent("ev6", "Lunch", dateTimeZone{"2026-10-01T11:00:00.0000000", "UTC"}, dateTimeZone{"2026-10-01T12:00:00.0000000", "UTC"}),
		}})
	})
	page, err = c.ListEvents(ctx, providers.EventQuery{CalendarID: "AAMkCal2=", TimeMin: min, TimeMax: min.Add(time.Hour * 24), TimeZone: "Asia/Kolkata", Query: "BUDGET"})
	if err != nil || len(page.Events) != 1 || page.Events[0].Start != "2026-10-01T12:30:00+05:30" || page.TimeZone != "Asia/Kolkata" {
		t.Fatalf("%v %+v", err, page)
	}
	_, err = c.ListEvents(ctx, providers.EventQuery{CalendarID: "AAMkNope=", TimeMin: min, TimeMax: min.Add(time.Hour)})
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, "list_calendars") {
		t.Fatal(pe)
	}
	_, err = c.ListEvents(ctx, providers.EventQuery{TimeMin: min, TimeMax: min.Add(time.Hour), TimeZone: "Mars/Olympus"})
	wantKind(t, err, providers.ErrInvalid)
	if n := f.count("GET /me/mailboxSettings/timeZone"); n != 0 {
		t.Fatalf("mailbox zone read %d times more, want none (kept)", n)
	}
}

// TestMailboxZoneNotGranted: without MailboxSettings.Read, times are UTC.
func TestMailboxZoneNotGranted(t *testing.T) {
	f := newFake(t)
	f.on("GET /me/mailboxSettings/timeZone", func(w http.ResponseWriter, r *http.Request) {
		graphErr(w, 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	})
	f.on("GET /me/calendar/calendarView", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"value": []any{}}) })
	c := mustCalendar(t, newAPI(t, f))
	min := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	page, err := c.ListEvents(context.Background(), providers.EventQuery{TimeMin: min, TimeMax: min.Add(time.Hour)})
	if err != nil || page.TimeZone != "UTC" {
		t.Fatalf("%v %+v", err, page)
	}
}

func TestListCalendars(t *testing.T) {
	f := newFake(t)
	f.on("GET /me/mailboxSettings/timeZone", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": "Tokyo Standard Time"})
	})
	f.on("GET /me/calendars", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$skip") == "" {
			writeJSON(w, 200, map[string]any{"value": []any{
				map[string]any{"id": "AAMkCal1=", "name": "Calendar", "isDefaultCalendar": true, "canEdit": true, "owner": map[string]string{"address": alice}},
				map[string]any{"id": "AAMkCal2=", "name": "Team", "isDefaultCalendar": false, "canEdit": true, "owner": map[string]string{"address": "bob@fabrikam.com"}},
			}, "@odata.nextLink": f.base() + "/me/calendars?%24skip=2"})
			return
		}
		writeJSON(w, 200, map[string]any{"value": []any{
			map[string]any{"id": "AAMkCal3=", "name": "Holidays", "isDefaultCalendar": false, "canEdit": false, "owner": map[string]string{"address": "x@fabrikam.com"}},
		}})
	})
	cals, err := mustCalendar(t, newAPI(t, f)).ListCalendars(context.Background())
	if err != nil || len(cals) != 3 {
		t.Fatalf("%v %+v", err, cals)
	}
	if c := cals[0]; !c.Primary || c.AccessRole != "owner" || c.TimeZone != "Asia/Tokyo" || c.Summary != "Calendar" {
		t.Fatalf("%+v", c)
	}
	if cals[1].AccessRole != "writer" || cals[2].AccessRole != "reader" {
		t.Fatalf("%+v", cals)
	}
}

func TestCreateEvent(t *testing.T) {
	f := newFake(t)
	n := 0
	var txIDs []string
	f.on("POST /me/calendar/events", func(w http.ResponseWriter, r *http.Request) {
		n++
		var b map[string]any
		_ = decodeBody(r, &b)
		txIDs = append(txIDs, b["transactionId"].(string))
		if n == 1 {
			graphErr(w, 503, "ServiceUnavailable", "try later") // retried: the transactionId makes it safe
			return
		}
		start, end := b["start"].(map[string]any), b["end"].(map[string]any)
		if start["timeZone"] != "W. Europe Standard Time" || start["dateTime"] != "2026-10-01T09:00:00" || end["dateTime"] != "2026-10-01T10:00:00" {
			t.Errorf("times %v %v", start, end)
		}
		if att := b["attendees"].([]any); len(att) != 1 || att[0].(map[string]any)["emailAddress"].(map[string]any)["address"] != "bob@fabrikam.com" {
			t.Errorf("attendees %v", att)
		}
		writeJSON(w, 201, graphEvent("evNew", "Review", dateTimeZone{"2026-10-01T07:00:00.0000000", "UTC"}, dateTimeZone{"2026-10-01T08:00:00.0000000", "UTC"}))
	})
	c := mustCalendar(t, newAPI(t, f))
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ev, err := c.CreateEvent(context.Background(), providers.NewEvent{
		Summary: "Review", Start: time.Date(2026, 10, 1, 9, 0, 0, 0, berlin), End: time.Date(2026, 10, 1, 10, 0, 0, 0, berlin),
		TimeZone: "Europe/Berlin", Attendees: []string{"bob@fabrikam.com"},
	})
	if err != nil || ev.ID != "evNew" || ev.Start != "2026-10-01T09:00:00+02:00" {
		t.Fatalf("%v %+v", err, ev)
	}
	if n != 2 || txIDs[0] != txIDs[1] || len(txIDs[0]) != 32 {
		t.Fatalf("%d tries with transaction ids %v: want 2 with the same id", n, txIDs)
	}
	// Outlook cannot create an event with attendees without inviting them.
	_, err = c.CreateEvent(context.Background(), providers.NewEvent{Summary: "x", Start: time.Now(), End: time.Now().Add(time.Hour), Attendees: []string{"a@b.c"}, SendUpdates: "none"})
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "send_updates" {
		t.Fatalf("%v", err)
	}
	// An outcome still unknown after the retries is uncertain.
	f.on("POST /me/calendar/events", func(w http.ResponseWriter, r *http.Request) { graphErr(w, 504, "GatewayTimeout", "timeout") })
	c.g.api.opts.MaxRetryWait = 50 * time.Millisecond
	c = mustCalendar(t, c.g.api)
	_, err = c.CreateEvent(context.Background(), providers.NewEvent{Summary: "x", Start: time.Now(), End: time.Now().Add(time.Hour)})
	wantKind(t, err, providers.ErrUncertain)
	// All-day events: dates, midnight to midnight.
	var body map[string]any
	f.on("POST /me/calendar/events", func(w http.ResponseWriter, r *http.Request) {
		_ = decodeBody(r, &body)
		writeJSON(w, 201, map[string]any{"id": "evDay", "isAllDay": true, "start": dateTimeZone{"2026-10-05T00:00:00.0000000", "UTC"}, "end": dateTimeZone{"2026-10-06T00:00:00.0000000", "UTC"}})
	})
	ev, err = c.CreateEvent(context.Background(), providers.NewEvent{Summary: "Holiday", AllDay: true,
		Start: time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC)})
	if err != nil || !ev.AllDay || ev.Start != "2026-10-05" || body["isAllDay"] != true || body["start"].(map[string]any)["dateTime"] != "2026-10-05T00:00:00" {
		t.Fatalf("%v %+v %v", err, ev, body)
	}
}

func TestZones(t *testing.T) {
	for w, iana := range windowsZones {
		if _, err := time.LoadLocation(iana); err != nil {
			t.Errorf("%s → %s: %v", w, iana, err)
		}
		if loc := ianaZone(w); loc == nil {
			t.Errorf("ianaZone(%q) = nil", w)
		}
	}
	if len(windowsZones) < 130 {
		t.Fatalf("%d Windows zones: the table is cut short", len(windowsZones))
	}
	for name, want := range map[string]string{
		"W. Europe Standard Time": "Europe/Berlin", "Eastern Standard Time": "America/New_York", "India Standard Time": "Asia/Calcutta",
		"tzone://Microsoft/Utc": "UTC", "UTC": "UTC", "Europe/Paris": "Europe/Paris",
	} {
		if loc := ianaZone(name); loc == nil || loc.String() != want {
			t.Errorf("ianaZone(%q) = %v, want %s", name, loc, want)
		}
	}
	for _, bad := range []string{"", "Customized Time Zone", "Mars/Olympus", "../../etc/passwd"} {
		if loc := ianaZone(bad); loc != nil {
			t.Errorf("ianaZone(%q) = %v", bad, loc)
		}
	}
	at := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	for iana, want := range map[string]string{"Europe/Berlin": "W. Europe Standard Time", "America/Los_Angeles": "Pacific Standard Time", "UTC": "UTC"} {
		loc, _ := time.LoadLocation(iana)
		if got := windowsZone(loc, at); got != want {
			t.Errorf("windowsZone(%s) = %q, want %q", iana, got, want)
		}
	}
	// A zone CLDR maps to no Windows name of its own gets one with the same offsets all year.
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	w := windowsZone(ams, at)
	cand := ianaZone(w)
	for m := 0; m < 12; m++ {
		tm := at.AddDate(0, m, 0)
		_, a := tm.In(ams).Zone()
		_, b := tm.In(cand).Zone()
		if w == "" || a != b {
			t.Fatalf("windowsZone(Europe/Amsterdam) = %q, offsets differ in month %d", w, m)
		}
	}
}
