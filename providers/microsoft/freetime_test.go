package microsoft

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
)

func TestFreeBusy(t *testing.T) {
	f := newFake(t)
	f.on("GET /me/mailboxSettings/timeZone", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": "Pacific Standard Time"})
	})
	var body struct {
		Schedules []string     `json:"schedules"`
		StartTime dateTimeZone `json:"startTime"`
		EndTime   dateTimeZone `json:"endTime"`
		Interval  int          `json:"availabilityViewInterval"`
	}
	f.on("POST /me/calendar/getSchedule", func(w http.ResponseWriter, r *http.Request) {
		if err := decodeBody(r, &body); err != nil {
			graphErr(w, 400, "BadRequest", err.Error())
			return
		}
		item := func(status, start, end string) map[string]any {
			return map[string]any{"status": status, "start": dateTimeZone{start, "UTC"}, "end": dateTimeZone{end, "UTC"}}
		}
		writeJSON(w, 200, map[string]any{"value": []any{
			map[string]any{"scheduleId": strings.ToUpper(alice), "availabilityView": "2", "scheduleItems": []any{
				item("busy", "2026-10-01T16:00:00.0000000", "2026-10-01T17:00:00.0000000"),
				item("free", "2026-10-01T18:00:00.0000000", "2026-10-01T19:00:00.0000000"),
				item("workingElsewhere", "2026-10-01T19:00:00.0000000", "2026-10-01T20:00:00.0000000"),
				item("oof", "bad", "2026-10-01T20:00:00.0000000"),
			}, "workingHours": map[string]any{"daysOfWeek": []string{"monday", "friday", "someday"}, "startTime": "08:30:00.0000000",
				"endTime": "17:00:00.0000000", "timeZone": map[string]string{"name": "Pacific Standard Time"}}},
			map[string]any{"scheduleId": "carol@fabrikam.com", "availabilityView": "", "error": map[string]string{
				"message": "The user is invalid. access_token=eyJ0eXAiOiJKV1QiLCJhbGciOi secret", "responseCode": "SomethingElse"}},
			map[string]any{"scheduleId": "dan@fabrikam.com", "error": map[string]string{"responseCode": "ErrorMailRecipientNotFound"}},
			map[string]any{"scheduleId": "erin@fabrikam.com", "scheduleItems": []any{}, "workingHours": map[string]any{"daysOfWeek": []string{"monday"},
				"startTime": "09:00:00.0000000", "endTime": "17:00:00.0000000", "timeZone": map[string]string{"name": "Customized Time Zone"}}},
		}})
	})
	c := mustCalendar(t, newAPI(t, f))
	q := providers.FreeBusyQuery{Account: alice, TimeMin: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), TimeMax: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC),
		Attendees: []string{"carol@fabrikam.com", "dan@fabrikam.com", "erin@fabrikam.com", "frank@fabrikam.com"}}
	fb, err := c.FreeBusy(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(body.Schedules, ",") != alice+",carol@fabrikam.com,dan@fabrikam.com,erin@fabrikam.com,frank@fabrikam.com" ||
		body.StartTime != (dateTimeZone{"2026-10-01T00:00:00", "UTC"}) || body.EndTime.DateTime != "2026-10-02T00:00:00" || body.Interval < 5 || body.Interval > 1440 {
		t.Errorf("request %+v", body)
	}
	if fb.TimeZone != "America/Los_Angeles" || len(fb.Schedules) != 5 {
		t.Fatalf("%+v", fb)
	}
	self := fb.Schedules[0]
	if !self.Self || len(self.Busy) != 2 || self.Busy[0].Status != providers.BusyBusy || self.Busy[1].Status != providers.BusyWorkingElsewhere ||
		!self.Busy[0].Start.Equal(time.Date(2026, 10, 1, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("self (free and unreadable items dropped): %+v", self)
	}
	if wh := self.WorkingHours; wh == nil || wh.Start != 8*time.Hour+30*time.Minute || wh.End != 17*time.Hour || len(wh.Days) != 2 || wh.TimeZone != "America/Los_Angeles" {
		t.Errorf("working hours %+v", self.WorkingHours)
	}
	carol, dan, erin, frank := fb.Schedules[1], fb.Schedules[2], fb.Schedules[3], fb.Schedules[4]
	if carol.Unknown == "" || strings.Contains(carol.Unknown, "eyJ0eXAiOiJKV1Qi") || !strings.Contains(carol.Unknown, "SomethingElse") {
		t.Errorf("carol: %q (Graph's message, sanitised)", carol.Unknown)
	}
	if !strings.Contains(dan.Unknown, "ErrorMailRecipientNotFound") || erin.Unknown != "" || erin.WorkingHours == nil || erin.WorkingHours.TimeZone != "" {
		t.Errorf("dan %+v, erin %+v", dan, erin)
	}
	if !strings.Contains(frank.Unknown, "nothing for this address") {
		t.Errorf("frank (missing from the answer): %+v", frank)
	}
	if rs := f.requests(); !strings.Contains(rs[len(rs)-1].Header.Get("Prefer"), `outlook.timezone="UTC"`) {
		t.Errorf("getSchedule's Prefer: %v", rs[len(rs)-1].Header)
	}
	if _, err := c.FreeBusy(context.Background(), providers.FreeBusyQuery{TimeMin: q.TimeMin, TimeMax: q.TimeMax}); err == nil {
		t.Error("no account address: no error")
	}
}
