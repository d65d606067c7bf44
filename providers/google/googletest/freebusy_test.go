package googletest

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"
)

// freeBusyService is a Calendar client of a fresh fake (discovery checked)
// for carol, who has calendars but no fixture events.
func freeBusyService(t *testing.T) (*Server, *calendar.Service) {
	t.Helper()
	s, _ := setup(t, Options{})
	s.VerifyDiscovery(t)
	s.AddUser("carol@example.com")
	tok, err := s.Token(context.Background(), "carol@example.com", "openid", "email", calRead)
	if err != nil {
		t.Fatal(err)
	}
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))
	svc, err := calendar.NewService(context.Background(), option.WithEndpoint(s.URL()+"/calendar/v3/"), option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return s, svc
}

func TestFreeBusyQuery(t *testing.T) {
	s, svc := freeBusyService(t)
	const carol, dave = "carol@example.com", "dave@example.com"
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(day, h, m int) time.Time { return time.Date(2027, 3, day, h, m, 0, 0, berlin) }
	s.AddCalendar(carol, Calendar{Primary: true, TimeZone: "Europe/Berlin"})
	s.AddCalendar(carol, Calendar{ID: "side@group.calendar.google.com", Summary: "Side", TimeZone: "UTC"})
	s.AddEvent(carol, "primary", Event{Summary: "a", Start: at(26, 9, 0), End: at(26, 10, 0)})
	s.AddEvent(carol, "primary", Event{Summary: "overlaps a", Start: at(26, 9, 30), End: at(26, 11, 0)})
	s.AddEvent(carol, "primary", Event{Summary: "free", Start: at(26, 13, 0), End: at(26, 14, 0), Transparency: "transparent"})
	s.AddEvent(carol, "primary", Event{Summary: "gone", Start: at(26, 15, 0), End: at(26, 16, 0), Status: "cancelled"})
	s.AddEvent(carol, "primary", Event{Summary: "declined", Start: at(26, 16, 0), End: at(26, 17, 0),
		Attendees: []Attendee{{Email: carol, ResponseStatus: "declined"}}})
	s.AddEvent(carol, "primary", Event{Summary: "daily", Start: at(25, 8, 0), End: at(25, 8, 30), TimeZone: "Europe/Berlin", Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"}})
	s.AddEvent(carol, "side@group.calendar.google.com", Event{Summary: "side", Start: at(29, 12, 0), End: at(29, 13, 0)})
	s.AddEvent(dave, "primary", Event{Summary: "dave's", Start: at(26, 12, 0), End: at(26, 12, 30)})

	res, err := svc.Freebusy.Query(&calendar.FreeBusyRequest{
		TimeMin: "2027-03-26T00:00:00+01:00", TimeMax: "2027-03-30T00:00:00+02:00", TimeZone: "Europe/Berlin",
		Items: []*calendar.FreeBusyRequestItem{{Id: "primary"}, {Id: "side@group.calendar.google.com"}, {Id: dave}, {Id: "nobody@elsewhere.example"}},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range res.Calendars["primary"].Busy {
		got = append(got, b.Start+" "+b.End)
	}
	// Merged 09:00-11:00; the daily 08:00 follows the wall clock across
	// the change to summer time (Sunday the 28th).
	want := []string{
		"2027-03-26T08:00:00+01:00 2027-03-26T08:30:00+01:00",
		"2027-03-26T09:00:00+01:00 2027-03-26T11:00:00+01:00",
		"2027-03-27T08:00:00+01:00 2027-03-27T08:30:00+01:00",
		"2027-03-28T08:00:00+02:00 2027-03-28T08:30:00+02:00",
		"2027-03-29T08:00:00+02:00 2027-03-29T08:30:00+02:00",
	}
	if len(got) != len(want) {
		t.Fatalf("busy:\n%v\nwant\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("busy[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if b := res.Calendars["side@group.calendar.google.com"].Busy; len(b) != 1 || b[0].Start != "2027-03-29T12:00:00+02:00" {
		t.Errorf("side calendar: %+v", b)
	}
	if b := res.Calendars[dave].Busy; len(b) != 1 || len(res.Calendars[dave].Errors) != 0 {
		t.Errorf("dave (in the fake: free/busy shared): %+v", res.Calendars[dave])
	}
	if e := res.Calendars["nobody@elsewhere.example"].Errors; len(e) != 1 || e[0].Reason != "notFound" || e[0].Domain != "global" {
		t.Errorf("unknown calendar: %+v", res.Calendars["nobody@elsewhere.example"])
	}
	// The window cuts a period.
	res, err = svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMin: "2027-03-26T09:30:00+01:00", TimeMax: "2027-03-26T10:30:00+01:00",
		Items: []*calendar.FreeBusyRequestItem{{Id: carol}}}).Do()
	if err != nil || len(res.Calendars[carol].Busy) != 1 || res.Calendars[carol].Busy[0].Start != "2027-03-26T08:30:00Z" || res.Calendars[carol].Busy[0].End != "2027-03-26T09:30:00Z" {
		t.Errorf("cut to the window, in UTC by default: %v %+v", err, res)
	}
}

func TestFreeBusyQueryRefusals(t *testing.T) {
	_, svc := freeBusyService(t)
	items := []*calendar.FreeBusyRequestItem{{Id: "primary"}}
	_, err := svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMax: "2027-03-26T00:00:00Z", Items: items}).Do()
	wantAPIError(t, err, 400, "required", "Missing")
	_, err = svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMin: "2027-03-26T00:00:00Z", TimeMax: "2027-03-26T00:00:00Z", Items: items}).Do()
	wantAPIError(t, err, 400, "timeRangeEmpty", "The specified time range is empty.")
	_, err = svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMin: "2027-01-01T00:00:00Z", TimeMax: "2027-04-02T00:00:00Z", Items: items}).Do()
	wantAPIError(t, err, 400, "timeRangeTooLong", "The requested time range is too long.")
	var many []*calendar.FreeBusyRequestItem
	for range 51 {
		many = append(many, &calendar.FreeBusyRequestItem{Id: "primary"})
	}
	_, err = svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMin: "2027-03-01T00:00:00Z", TimeMax: "2027-03-02T00:00:00Z", Items: many}).Do()
	wantAPIError(t, err, 400, "tooManyCalendarsRequested", "Too many calendars")
	_, err = svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMin: "2027-03-01T00:00:00Z", TimeMax: "2027-03-02T00:00:00Z", Items: items, CalendarExpansionMax: 51}).Do()
	wantAPIError(t, err, 400, "invalid", "expansion")
}
