package microsofttest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const berlinPrefer = `outlook.timezone="W. Europe Standard Time"`

// view returns calendarView's instances between two days after fixedNow's
// day (Berlin), following every page.
func (m *mailTest) view(cal string, from, to int, headers ...string) []map[string]any {
	m.t.Helper()
	d := m.fx.Day
	path := "/me/calendarView"
	if cal != "" {
		path = "/me/calendars/" + url.PathEscape(cal) + "/calendarView"
	}
	items, _ := m.all(path+q("startDateTime", d.AddDate(0, 0, from).Format(time.RFC3339), "endDateTime", d.AddDate(0, 0, to).Format(time.RFC3339),
		"$top", "50"), headers...)
	return items
}

func bySubject(items []map[string]any, subject string) []map[string]any {
	var out []map[string]any
	for _, it := range items {
		if it["subject"] == subject {
			out = append(out, it)
		}
	}
	return out
}

func TestCalendars(t *testing.T) {
	m := newMailTest(t)
	a := m.get("/me/calendars")
	names := map[string]map[string]any{}
	for _, c := range a.values() {
		names[str(c["name"])] = c
	}
	if len(names) != 3 || names["Calendar"]["isDefaultCalendar"] != true || names[FixtureTeamCalendar]["canEdit"] != true ||
		names[FixtureHolidaysCalendar]["canEdit"] != false || field(names[FixtureTeamCalendar], "owner", "address") != FixtureTeamAddress ||
		names["Calendar"]["id"] != m.fx.Calendar {
		t.Fatalf("calendars %s", a.raw)
	}
	if a := m.get("/me/calendar"); a.body["id"] != m.fx.Calendar {
		t.Fatalf("default calendar %s", a.raw)
	}
	wantError(t, m.get("/me/calendars/bogus"), 400, "ErrorInvalidIdMalformed")
	wantError(t, m.get("/me/calendars/"+url.PathEscape(m.fx.Events["today"])), 404, "ErrorItemNotFound")
}

func TestCalendarViewZones(t *testing.T) {
	m := newMailTest(t)
	wantError(t, m.get("/me/calendarView"+q("startDateTime", "2026-03-27T00:00:00Z")), 400, "ErrorInvalidParameter")
	wantError(t, m.get("/me/calendarView"+q("startDateTime", "yesterday", "endDateTime", "today")), 400, "ErrorInvalidParameter")
	tokyoAt := func(headers ...string) map[string]any {
		t.Helper()
		items := bySubject(m.view("", 0, 3, headers...), "Call with Tokyo office")
		if len(items) != 1 {
			t.Fatalf("tokyo: %v", items)
		}
		return items[0]
	}
	// UTC without a preference, the zone asked (Windows or IANA) with one.
	for _, c := range []struct {
		prefer, zone, start string
	}{
		{"", "UTC", "2026-03-29T00:00:00.0000000"},
		{`outlook.timezone="Tokyo Standard Time"`, "Tokyo Standard Time", "2026-03-29T09:00:00.0000000"},
		{`outlook.timezone="America/New_York"`, "America/New_York", "2026-03-28T20:00:00.0000000"},
		{berlinPrefer, "W. Europe Standard Time", "2026-03-29T01:00:00.0000000"},
	} {
		var ev map[string]any
		if c.prefer == "" {
			ev = tokyoAt()
		} else {
			ev = tokyoAt("Prefer", c.prefer)
		}
		if field(ev, "start", "timeZone") != c.zone || field(ev, "start", "dateTime") != c.start ||
			ev["originalStartTimeZone"] != "Tokyo Standard Time" || ev["type"] != "singleInstance" {
			t.Errorf("Prefer %q: %v %v, %v", c.prefer, ev["start"], ev["end"], ev["originalStartTimeZone"])
		}
	}
	a := m.get("/me/events/"+url.PathEscape(m.fx.Events["flight"]), "Prefer", berlinPrefer)
	if a.header.Get("Preference-Applied") != berlinPrefer || a.body["originalStartTimeZone"] != "W. Europe Standard Time" ||
		a.body["originalEndTimeZone"] != "Eastern Standard Time" || field(a.body, "end", "dateTime") != "2026-04-01T18:55:00.0000000" {
		t.Fatalf("flight %v %s", a.header, a.raw)
	}
	// An unknown zone: UTC, and no Preference-Applied.
	a = m.get("/me/events/"+url.PathEscape(m.fx.Events["flight"]), "Prefer", `outlook.timezone="Mars/Olympus"`)
	if a.header.Get("Preference-Applied") != "" || field(a.body, "start", "timeZone") != "UTC" {
		t.Fatalf("unknown zone %v %v", a.header, a.body["start"])
	}
}

func TestRecurrence(t *testing.T) {
	m := newMailTest(t)
	items := m.view("", -1, 14, "Prefer", berlinPrefer)
	standups := bySubject(items, "Team standup")
	master := m.fx.Events["standup"]
	// Mon, Wed, Fri at 09:30 Berlin, across the switch to summer time on
	// the 29th; the next one moved to 11:00, the one after deleted.
	var days []string
	for _, s := range standups {
		start := str(field(s, "start", "dateTime"))
		if s["type"] != "occurrence" || s["seriesMasterId"] != master || !strings.HasSuffix(start, "T09:30:00.0000000") || s["originalStart"] == nil {
			t.Fatalf("standup %v", s)
		}
		days = append(days, start[:10])
	}
	moved, cancelled := m.fx.StandupMoved.Format("2006-01-02"), m.fx.StandupCancelled.Format("2006-01-02")
	if slices.Contains(days, moved) || slices.Contains(days, cancelled) || len(days) != 4 {
		t.Fatalf("standup days %v (moved %s, deleted %s)", days, moved, cancelled)
	}
	ex := bySubject(items, "Team standup (moved to 11:00)")
	if len(ex) != 1 || ex[0]["type"] != "exception" || ex[0]["seriesMasterId"] != master ||
		field(ex[0], "start", "dateTime") != moved+"T11:00:00.0000000" || ex[0]["id"] != m.fx.Events["standup-moved"] {
		t.Fatalf("moved standup %v", ex)
	}
	// Yoga weekly from Sunday, but not the second time (an EXDATE).
	yoga := bySubject(items, "Yoga")
	if len(yoga) != 1 || field(yoga[0], "start", "dateTime") != "2026-03-29T18:30:00.0000000" {
		t.Fatalf("yoga %v", yoga)
	}
	// All-day events float: the same dates whatever the zone.
	for _, prefer := range []string{berlinPrefer, `outlook.timezone="Pacific Standard Time"`} {
		conf := bySubject(m.view("", 0, 14, "Prefer", prefer), "GopherCon EU (Lisbon)")
		if len(conf) != 1 || conf[0]["isAllDay"] != true || field(conf[0], "start", "dateTime") != "2026-03-31T00:00:00.0000000" ||
			field(conf[0], "end", "dateTime") != "2026-04-03T00:00:00.0000000" {
			t.Fatalf("conference (%s) %v", prefer, conf)
		}
	}
	// The events list has the series master with its pattern.
	a := m.get("/me/events/"+url.PathEscape(master), "Prefer", berlinPrefer)
	r := a.body["recurrence"]
	if a.body["type"] != "seriesMaster" || field(r, "pattern", "type") != "weekly" || len(field(r, "pattern", "daysOfWeek").([]any)) != 3 ||
		field(r, "range", "type") != "noEnd" || field(r, "range", "recurrenceTimeZone") != "W. Europe Standard Time" {
		t.Fatalf("master %s", a.raw)
	}
	focus := m.get("/me/events/" + url.PathEscape(m.fx.Events["focus"]))
	if fr := focus.body["recurrence"]; field(fr, "pattern", "type") != "weekly" || field(fr, "range", "type") != "numbered" ||
		field(fr, "range", "numberOfOccurrences") != 15.0 {
		t.Fatalf("focus %v", fr)
	}
	if n := len(bySubject(m.view("", -30, 60), "Focus time")); n != 15 {
		t.Fatalf("%d focus occurrences, want 15", n)
	}
	// An occurrence by its id.
	occ := standups[0]
	a = m.get("/me/events/" + url.PathEscape(str(occ["id"])))
	if a.status != 200 || a.body["type"] != "occurrence" || a.body["id"] != occ["id"] {
		t.Fatalf("occurrence by id %d %s", a.status, a.raw)
	}
	list, _ := m.all("/me/events" + q("$top", "5", "$select", "subject,type"))
	if len(list) != 14 || list[0]["subject"] != "Coffee with Dave" || !slices.ContainsFunc(list, func(e map[string]any) bool { return e["type"] == "seriesMaster" }) ||
		slices.ContainsFunc(list, func(e map[string]any) bool { return e["type"] == "occurrence" || e["type"] == "exception" }) {
		t.Fatalf("events list %v", list)
	}
}

func TestEventDetails(t *testing.T) {
	m := newMailTest(t)
	review := m.get("/me/events/"+url.PathEscape(m.fx.Events["review"]), "Prefer", berlinPrefer).body
	atts, _ := review["attendees"].([]any)
	statuses := map[string]string{}
	for _, a := range atts {
		statuses[str(field(a, "emailAddress", "address"))] = str(field(a, "status", "response")) + "/" + str(field(a, "type"))
	}
	if review["isOnlineMeeting"] != true || !strings.HasPrefix(str(field(review, "onlineMeeting", "joinUrl")), "https://teams.microsoft.com/") ||
		review["isOrganizer"] != true || field(review, "responseStatus", "response") != "organizer" ||
		statuses["bob@example.com"] != "accepted/required" || statuses["carol@example.com"] != "tentativelyAccepted/required" ||
		statuses["jane@example.com"] != "none/optional" || len(atts) != 3 || field(review, "location", "displayName") != "Room 4.12" {
		t.Fatalf("review %v", review)
	}
	// A meeting its organizer cancelled: shown, marked.
	c := m.get("/me/events/" + url.PathEscape(m.fx.Events["cancelled"])).body
	if c["isCancelled"] != true || c["isOrganizer"] != false || c["subject"] != "Canceled: Offsite planning" ||
		field(c, "organizer", "emailAddress", "address") != "bob@example.com" {
		t.Fatalf("cancelled %v", c)
	}
	// The Team calendar's events are organized by the team.
	team := m.view(m.fx.Team, 0, 14)
	if len(team) == 0 || slices.ContainsFunc(team, func(e map[string]any) bool {
		return field(e, "organizer", "emailAddress", "address") != FixtureTeamAddress || e["isOrganizer"] != false
	}) {
		t.Fatalf("team %v", team)
	}
	// $filter and paging on calendarView.
	d := m.fx.Day
	window := q("startDateTime", d.Format(time.RFC3339), "endDateTime", d.AddDate(0, 0, 7).Format(time.RFC3339))
	a := m.get("/me/calendarView" + window + "&%24filter=isAllDay%20eq%20true")
	if subj := subjects(a); !slices.Equal(subj, []string{"Anna's birthday", "GopherCon EU (Lisbon)", "Pay rent"}) {
		t.Fatalf("all-day filter %v %s", subj, a.raw)
	}
	first := m.get("/me/calendarView" + window + "&%24top=3")
	if len(first.values()) != 3 || !strings.Contains(str(first.body["@odata.nextLink"]), "%24skip=3") ||
		!strings.Contains(str(first.body["@odata.nextLink"]), "startDateTime=") {
		t.Fatalf("calendarView paging %s", first.raw)
	}
}

func TestCreateEvent(t *testing.T) {
	m := newMailTest(t)
	body := map[string]any{
		"subject": "Design review", "body": map[string]string{"contentType": "text", "content": "Agenda"},
		"start":    map[string]string{"dateTime": "2026-04-02T15:00:00", "timeZone": "Europe/Berlin"},
		"end":      map[string]string{"dateTime": "2026-04-02T16:00:00", "timeZone": "Europe/Berlin"},
		"location": map[string]string{"displayName": "Room 1"}, "isOnlineMeeting": true, "onlineMeetingProvider": "teamsForBusiness",
		"attendees": []map[string]any{{"emailAddress": map[string]string{"address": "bob@example.com", "name": "Bob"}, "type": "required"},
			{"emailAddress": map[string]string{"address": "carol@example.com"}, "type": "optional"}},
		"transactionId": "txn-1",
	}
	a := m.post("/me/events", body, "Prefer", berlinPrefer)
	if a.status != 201 || a.body["isOrganizer"] != true || field(a.body, "start", "dateTime") != "2026-04-02T15:00:00.0000000" ||
		a.body["originalStartTimeZone"] != "W. Europe Standard Time" || a.body["transactionId"] != "txn-1" ||
		!strings.HasPrefix(str(field(a.body, "onlineMeeting", "joinUrl")), "https://teams.microsoft.com/") {
		t.Fatalf("create %d %s", a.status, a.raw)
	}
	inv := m.s.Invitations(alice)
	if len(inv) != 2 || inv[0].To.Address != "bob@example.com" || inv[1].Type != "optional" || inv[0].EventID != a.body["id"] ||
		!inv[0].Start.Equal(time.Date(2026, 4, 2, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("invitations %+v", inv)
	}
	// The same transactionId again: the same event, no second invitation.
	again := m.post("/me/events", body)
	if again.status != 201 || again.body["id"] != a.body["id"] || len(m.s.Invitations(alice)) != 2 || len(m.s.CreatedEvents(alice)) != 1 {
		t.Fatalf("retried POST %d %s", again.status, again.raw)
	}
	// On another calendar, all day, recurring; shown by calendarView.
	rec := map[string]any{"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []string{"tuesday"}},
		"range": map[string]any{"type": "numbered", "startDate": "2026-03-31", "numberOfOccurrences": 3}}
	a = m.post("/me/calendars/"+url.PathEscape(m.fx.Team)+"/events", map[string]any{"subject": "Planning day", "isAllDay": true,
		"start": map[string]string{"dateTime": "2026-03-31T00:00:00", "timeZone": "Eastern Standard Time"},
		"end":   map[string]string{"dateTime": "2026-04-01T00:00:00", "timeZone": "Eastern Standard Time"}, "recurrence": rec})
	if a.status != 201 || a.body["type"] != "seriesMaster" {
		t.Fatalf("recurring all-day %d %s", a.status, a.raw)
	}
	if n := len(bySubject(m.view(m.fx.Team, 0, 60), "Planning day")); n != 3 {
		t.Fatalf("%d planning days", n)
	}
	ce := m.s.CreatedEvents(alice)
	if len(ce) != 2 || !ce[1].AllDay || ce[1].CalendarID != m.fx.Team || !json.Valid(ce[1].Recurrence) {
		t.Fatalf("created events %+v", ce)
	}
	for _, c := range []struct {
		change map[string]any
		code   string
	}{
		{map[string]any{"start": map[string]string{"dateTime": "2026-04-02T15:00:00", "timeZone": "Mars Standard Time"}}, "TimeZoneNotSupportedException"},
		{map[string]any{"end": map[string]string{"dateTime": "2026-04-02T14:00:00", "timeZone": "Europe/Berlin"}}, "ErrorInvalidRequest"},
		{map[string]any{"start": nil}, "ErrorInvalidRequest"},
		{map[string]any{"isAllDay": true}, "ErrorInvalidRequest"},
		{map[string]any{"shoeSize": 42}, "RequestBodyRead"},
		{map[string]any{"recurrence": map[string]any{"pattern": map[string]any{"type": "weekly", "interval": 1},
			"range": map[string]any{"type": "noEnd", "startDate": "2026-04-02"}}}, "ErrorPropertyValidationFailure"},
		{map[string]any{"attendees": []map[string]any{{"emailAddress": map[string]string{"address": "nobody"}}}}, "ErrorInvalidRecipients"},
	} {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		b["transactionId"] = nil
		for k, v := range c.change {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		wantError(t, m.post("/me/events", b), 400, c.code)
	}
	wantError(t, m.post("/me/calendars/"+url.PathEscape(m.fx.Holidays)+"/events", body), 403, "ErrorAccessDenied")
}
