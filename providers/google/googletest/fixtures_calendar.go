package googletest

import (
	"fmt"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// The fixture calendars: fixturetest's events on Google's calendars.

func (s *Server) loadCalendars(email string, f *Fixtures) {
	s.AddCalendar(email, Calendar{Primary: true, Summary: email, TimeZone: "Europe/Berlin"})
	s.AddCalendar(email, Calendar{ID: FixtureTeamCalendar, Summary: "Team", Description: "Team events (New York office)",
		TimeZone: "America/New_York", AccessRole: "writer"})
	s.AddCalendar(email, Calendar{ID: FixtureHolidayCalendar, Summary: "Holidays in Germany",
		Description: "Holidays and Observances in Germany", TimeZone: "Europe/Berlin", AccessRole: "reader"})
	cals := map[fixturetest.CalendarKind]string{fixturetest.Primary: "primary", fixturetest.Team: FixtureTeamCalendar,
		fixturetest.Holidays: FixtureHolidayCalendar}
	responses := map[fixturetest.Response]string{fixturetest.Pending: "needsAction", fixturetest.Accepted: "accepted", fixturetest.Tentative: "tentative",
		fixturetest.Declined: "declined"}
	fc := fixturetest.Calendars(f.Day, email)
	f.StandupMoved, f.StandupCancelled = fc.StandupMoved, fc.StandupCancelled
	for _, fe := range fc.Events {
		e := Event{Summary: fe.Summary, Description: fe.Description, Location: fe.Location, Start: fe.Start, End: fe.End,
			AllDay: fe.AllDay, TimeZone: fe.TimeZone, EndTimeZone: fe.EndTimeZone, Recurrence: fe.Recurrence,
			OriginalStart: fe.OriginalStart}
		for _, a := range fe.Attendees {
			e.Attendees = append(e.Attendees, Attendee{Email: a.Email, DisplayName: a.Name, ResponseStatus: responses[a.Response],
				Optional: a.Optional, Organizer: a.Organizer})
		}
		if fe.Cancelled {
			e.Status = "cancelled"
		}
		if fe.Series != "" {
			e.RecurringEventID = f.Events[fe.Series]
		}
		if fe.VideoCall {
			e.HangoutLink = "https://meet.google.com/abc-defg-hij"
		}
		if fe.Calendar == fixturetest.Holidays {
			e.ID = fmt.Sprintf("%s_%s", fe.Start.Format("20060102"), "60o30c1g60o30e1i60o4ac1g60rj8gpl88rj2c1h84s34h9g60s30c1g60o30c1g")
		}
		id := s.AddEvent(email, cals[fe.Calendar], e)
		if fe.Key != "" {
			f.Events[fe.Key] = id
		}
	}
}
