package microsofttest

import (
	"testing"
	"time"
)

func TestGetSchedule(t *testing.T) {
	s := setup(t, Options{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(day, h, m int) time.Time { return time.Date(2027, 3, day, h, m, 0, 0, berlin) }
	s.SetWorkingHours(alice, WorkingHours{Days: []string{"monday", "friday"}, Start: "08:00:00.0000000", End: "16:00:00.0000000", TimeZone: "W. Europe Standard Time"})
	s.AddEvent(alice, "", Event{Subject: "busy", Start: at(26, 9, 0), End: at(26, 10, 0), TimeZone: "W. Europe Standard Time"})
	s.AddEvent(alice, "", Event{Subject: "maybe", Start: at(26, 9, 30), End: at(26, 11, 0), TimeZone: "W. Europe Standard Time", ShowAs: "tentative"})
	s.AddEvent(alice, "", Event{Subject: "lunch", Start: at(26, 12, 0), End: at(26, 13, 0), TimeZone: "W. Europe Standard Time", ShowAs: "free"})
	s.AddEvent(alice, "", Event{Subject: "off", Start: at(29, 0, 0), End: at(30, 0, 0), AllDay: true, ShowAs: "oof"})
	s.AddEvent(alice, "", Event{Subject: "gone", Start: at(26, 14, 0), End: at(26, 15, 0), TimeZone: "W. Europe Standard Time", Cancelled: true})
	s.AddEvent(bob, "", Event{Subject: "bob's", Start: at(26, 8, 0), End: at(26, 8, 30), TimeZone: "W. Europe Standard Time"})
	tok := access(t, s, alice, "Calendars.Read")
	body := func(schedules ...string) map[string]any {
		return map[string]any{"schedules": schedules,
			"startTime":                map[string]string{"dateTime": "2027-03-26T08:00:00", "timeZone": "W. Europe Standard Time"},
			"endTime":                  map[string]string{"dateTime": "2027-03-26T12:00:00", "timeZone": "W. Europe Standard Time"},
			"availabilityViewInterval": 60}
	}
	a := request(t, s, "POST", "/me/calendar/getSchedule", tok, body(alice, bob, "nobody@elsewhere.example"), "Prefer", `outlook.timezone="Europe/Berlin"`)
	if a.status != 200 {
		t.Fatalf("getSchedule = %d %s", a.status, a.raw)
	}
	v := a.values()
	if len(v) != 3 || v[0]["scheduleId"] != alice || v[2]["scheduleId"] != "nobody@elsewhere.example" {
		t.Fatalf("answer %s", a.raw)
	}
	// 08-09 free, 09-10 busy, 10-11 tentative, 11-12 free.
	if v[0]["availabilityView"] != "0210" {
		t.Errorf("alice's view %q, want 0210", v[0]["availabilityView"])
	}
	items, _ := v[0]["scheduleItems"].([]any)
	if len(items) != 2 {
		t.Fatalf("alice's items (lunch is free, the cancelled one and the next week outside): %s", a.raw)
	}
	first := items[0].(map[string]any)
	start := first["start"].(map[string]any)
	if first["status"] != "busy" || start["dateTime"] != "2027-03-26T09:00:00.0000000" || start["timeZone"] != "Europe/Berlin" {
		t.Errorf("first item %v", first)
	}
	wh := v[0]["workingHours"].(map[string]any)
	if wh["startTime"] != "08:00:00.0000000" || len(wh["daysOfWeek"].([]any)) != 2 || wh["timeZone"].(map[string]any)["name"] != "W. Europe Standard Time" {
		t.Errorf("working hours %v", wh)
	}
	if v[1]["availabilityView"] != "2000" {
		t.Errorf("bob's view %q", v[1]["availabilityView"])
	}
	e, _ := v[2]["error"].(map[string]any)
	if e["responseCode"] != "ErrorMailRecipientNotFound" || v[2]["scheduleItems"] != nil {
		t.Errorf("unknown address: %v", v[2])
	}
	// Without Prefer: UTC.
	a = request(t, s, "POST", "/me/calendar/getSchedule", tok, body(alice))
	if it := a.values()[0]["scheduleItems"].([]any)[0].(map[string]any); it["start"].(map[string]any)["dateTime"] != "2027-03-26T08:00:00.0000000" {
		t.Errorf("UTC item %v", it)
	}
	// Out of office all Monday, in a window across the change to summer time.
	b := body(alice)
	b["endTime"] = map[string]string{"dateTime": "2027-03-30T00:00:00", "timeZone": "UTC"}
	b["availabilityViewInterval"] = 1440
	if a = request(t, s, "POST", "/me/calendar/getSchedule", tok, b); a.status != 200 || len(a.values()[0]["scheduleItems"].([]any)) != 3 {
		t.Errorf("to Tuesday: %d %s", a.status, a.raw)
	}

	// Refusals, and the mailbox settings' parts.
	bad := body(alice)
	bad["availabilityViewInterval"] = 2
	wantError(t, request(t, s, "POST", "/me/calendar/getSchedule", tok, bad), 400, "ErrorInvalidParameter")
	long := body(alice)
	long["endTime"] = map[string]string{"dateTime": "2027-06-01T00:00:00", "timeZone": "UTC"}
	wantError(t, request(t, s, "POST", "/me/calendar/getSchedule", tok, long), 400, "ErrorInvalidTimeInterval")
	wantError(t, request(t, s, "POST", "/me/calendar/getSchedule", tok, map[string]any{"schedules": []string{alice}}), 400, "ErrorInvalidRequest")
	var many []string
	for range 101 {
		many = append(many, bob)
	}
	wantError(t, request(t, s, "POST", "/me/calendar/getSchedule", tok, body(many...)), 400, "ErrorInvalidRequest")
	wantError(t, request(t, s, "GET", "/me/mailboxSettings/workingHours", tok, nil), 403, "ErrorAccessDenied")
	settings := access(t, s, alice, "MailboxSettings.Read")
	if a := request(t, s, "GET", "/me/mailboxSettings/workingHours", settings, nil); a.status != 200 || a.body["endTime"] != "16:00:00.0000000" {
		t.Errorf("workingHours %d %s", a.status, a.raw)
	}
	if a := request(t, s, "GET", "/me/mailboxSettings/timeZone", settings, nil); a.status != 200 || a.body["value"] != "UTC" {
		t.Errorf("timeZone %d %s", a.status, a.raw)
	}
}
