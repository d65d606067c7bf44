package tools

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Europe/Berlin leaves summer time on Sunday 2026-10-25: Friday's working
// hours are at +02:00, Monday's at +01:00, 09:00 to 17:00 on the wall clock
// both days.
func TestFreeTimeAcrossDaylightSavingChange(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	a := &freeTimeArgs{DurationMinutes: 60, loc: berlin}
	a.q.TimeMin, a.q.TimeMax = at(t, "2026-10-23T00:00:00+02:00"), at(t, "2026-10-27T12:00:00+01:00")
	fb := providers.FreeBusy{TimeZone: "America/New_York", Schedules: []providers.Schedule{
		{Email: "me@example.com", Self: true, Busy: []providers.BusyPeriod{
			{Start: at(t, "2026-10-23T08:00:00Z"), End: at(t, "2026-10-23T09:00:00Z"), Status: providers.BusyBusy},             // Fri 10:00–11:00
			{Start: at(t, "2026-10-23T13:00:00Z"), End: at(t, "2026-10-23T14:30:00Z"), Status: providers.BusyWorkingElsewhere}, // not busy
		}},
		{Email: "bob@example.com", Busy: []providers.BusyPeriod{
			{Start: at(t, "2026-10-26T08:00:00Z"), End: at(t, "2026-10-26T08:30:00Z"), Status: providers.BusyTentative}, // Mon 09:00–09:30
			{Start: at(t, "2026-10-23T08:30:00Z"), End: at(t, "2026-10-23T09:30:00Z"), Status: providers.BusyOutOfOffice},
		}},
		{Email: "carol@example.com", Unknown: "not shared"},
	}}
	res := freeTime(a, []providers.FreeBusy{fb})
	var got []string
	for _, f := range res.Free {
		got = append(got, f.Start+" "+f.End)
	}
	want := []string{
		"2026-10-23T09:00:00+02:00 2026-10-23T10:00:00+02:00",
		"2026-10-23T11:30:00+02:00 2026-10-23T17:00:00+02:00",
		"2026-10-26T09:30:00+01:00 2026-10-26T17:00:00+01:00",
		"2026-10-27T09:00:00+01:00 2026-10-27T12:00:00+01:00",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("free:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Busy) != 2 || res.Busy[0].Status != providers.BusyOutOfOffice || strings.Join(res.Busy[0].Who, ",") != "me@example.com,bob@example.com" ||
		res.Busy[0].Start != "2026-10-23T10:00:00+02:00" || res.Busy[0].End != "2026-10-23T11:30:00+02:00" || res.Busy[1].Status != providers.BusyTentative {
		t.Errorf("busy: %+v", res.Busy)
	}
	if len(res.Unknown) != 1 || res.Unknown[0].Email != "carol@example.com" {
		t.Errorf("unknown: %+v", res.Unknown)
	}
	if res.TimeZone != "Europe/Berlin" || !strings.Contains(res.WorkingHours, "09:00-17:00 mon,tue,wed,thu,fri") {
		t.Errorf("zone %q, hours %q", res.TimeZone, res.WorkingHours)
	}
	text := freeTimeText(res)
	if !strings.HasPrefix(text, "4 free slots") || strings.Index(text, "Fri 2026-10-23 09:00–10:00 +02:00") > strings.Index(text, "busy blocks") {
		t.Errorf("text (slots first):\n%s", text)
	}
}

// The account's own working hours (in their zone) apply when the call
// names none; a short gap is no slot.
func TestFreeTimeAccountWorkingHours(t *testing.T) {
	a := &freeTimeArgs{DurationMinutes: 45}
	a.q.TimeMin, a.q.TimeMax = at(t, "2026-11-23T00:00:00Z"), at(t, "2026-11-24T00:00:00Z") // a Monday
	fb := providers.FreeBusy{TimeZone: "Asia/Tokyo", Schedules: []providers.Schedule{{Email: "me@example.com", Self: true,
		WorkingHours: &providers.WorkingHours{Days: []time.Weekday{time.Monday}, Start: 8 * time.Hour, End: 10 * time.Hour, TimeZone: "UTC"},
		Busy:         []providers.BusyPeriod{{Start: at(t, "2026-11-23T08:30:00Z"), End: at(t, "2026-11-23T09:30:00Z"), Status: providers.BusyBusy}}}}}
	res := freeTime(a, []providers.FreeBusy{fb})
	if len(res.Free) != 0 || res.TimeZone != "Asia/Tokyo" {
		t.Errorf("30-minute gaps are no 45-minute slots: %+v", res)
	}
	a.DurationMinutes = 30
	if res = freeTime(a, []providers.FreeBusy{fb}); len(res.Free) != 2 || res.Free[0].Start != "2026-11-23T17:00:00+09:00" {
		t.Errorf("slots: %+v", res.Free)
	}
}

func TestParseWorkingHours(t *testing.T) {
	for in, want := range map[string]string{
		"09:00-17:00":         "09:00-17:00 mon,tue,wed,thu,fri",
		"08:30-12:00 mon,wed": "08:30-12:00 mon,wed",
		"10:00-14:00 fri-mon": "10:00-14:00 sun,mon,fri,sat",
		"00:00-24:00 sat-sun": "00:00-24:00 sun,sat",
	} {
		wh, err := parseWorkingHours(in)
		if err != nil || workingHoursText(wh) != want {
			t.Errorf("%q: %v, %v", in, wh, err)
		}
	}
	for _, bad := range []string{"9-5", "17:00-09:00", "09:00-17:00 someday", "09:00"} {
		if _, err := parseWorkingHours(bad); err == nil || !strings.Contains(err.Error(), "working_hours") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

var work = grants.Grant{Account: "work@example.com", Scopes: []string{"calendar.read"}}

func TestFindFreeTimeTool(t *testing.T) {
	e := newEnv(t, false, alice, work)
	e.prov.freeBusy = providers.FreeBusy{TimeZone: "UTC", Schedules: []providers.Schedule{{Email: "x", Self: true}, {Email: "bob@example.com"}}}
	args := map[string]any{"account": "alice@example.com", "time_min": "2026-11-23T00:00:00Z", "time_max": "2026-11-24T00:00:00Z",
		"duration_minutes": 30, "attendees": []any{"Bob <BOB@example.com>", "alice@example.com"}}
	wantOK(t, e.call(t, "find_free_time", args))
	if q := e.prov.lastFB; q.Account != "alice@example.com" || len(q.Attendees) != 1 || q.Attendees[0] != "bob@example.com" {
		t.Errorf("query: %+v (the account is not its own attendee)", q)
	}
	args["account"] = "all"
	res := e.call(t, "find_free_time", args)
	wantOK(t, res)
	var out FreeTimeResult
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil || out.Account != "all" || len(out.Accounts) != 2 || len(out.Free) != 1 || out.Free[0].Minutes != 8*60 {
		t.Errorf("all: %s", raw)
	}
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{}, "duration_minutes"},
		{map[string]any{"duration_minutes": 3}, "duration_minutes"},
		{map[string]any{"duration_minutes": 30, "time_min": "2026-01-01T00:00:00Z", "time_max": "2026-03-05T00:00:00Z"}, "62 days"},
		{map[string]any{"duration_minutes": 30, "working_hours": "9-5"}, "working_hours"},
		{map[string]any{"duration_minutes": 30, "attendees": []any{"nobody"}}, "attendees"},
		{map[string]any{"duration_minutes": 30, "account": "alice@example.com", "time_zone": "Mars/Olympus"}, "time_zone"},
	} {
		wantError(t, e.call(t, "find_free_time", c.args), c.want)
	}
}

func TestAccountAllOnlyWhereTaken(t *testing.T) {
	e := newEnv(t, false, alice, work)
	wantError(t, e.call(t, "list_messages", map[string]any{"account": "ALL"}), "list_events and find_free_time")
	wantError(t, e.call(t, "create_event", map[string]any{"account": "all", "summary": "x", "start": "2026-11-24", "end": "2026-11-25"}), "list_events and find_free_time")
	wantError(t, e.call(t, "list_events", map[string]any{"account": "all", "page_token": "abc"}), "page_token")
	wantError(t, e.call(t, "list_events", map[string]any{"account": "all", "calendar_id": "team"}), "calendar_id")
}

func TestListEventsAllMerged(t *testing.T) {
	e := newEnv(t, false, alice, work, grants.Grant{Account: "old@example.com", Scopes: []string{"calendar.read"}, Status: grants.StatusNeedsReauth})
	e.prov.events = []providers.Event{
		{ID: "a", Summary: "A", Start: "2026-11-23T09:00:00+01:00", End: "2026-11-23T10:00:00+01:00"},
		{ID: "b", Summary: "B", Start: "2026-11-23T11:00:00+01:00", End: "2026-11-23T12:00:00+01:00"},
	}
	res := e.call(t, "list_events", map[string]any{"account": "all", "max_results": 3})
	text := wantOK(t, res)
	var out ListEventsResult
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 3 || out.Events[0].ID != "a" || out.Events[1].ID != "a" || out.Events[0].Account == out.Events[1].Account || out.Events[2].ID != "b" {
		t.Errorf("merged: %s", raw)
	}
	if !strings.Contains(out.More, "time_min=2026-11-23T10:00:00Z") {
		t.Errorf("more: %q", out.More)
	}
	if len(out.Accounts) != 3 || !strings.Contains(out.Accounts[2].Error, "reconnected") || !strings.Contains(text, "alice@example.com | 2026-11-23 09:00") {
		t.Errorf("accounts: %+v\n%s", out.Accounts, text)
	}
}
