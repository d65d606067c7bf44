package microsofttest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Free/busy: calendar: getSchedule (POST /me/calendar/getSchedule) and the
// mailbox settings' parts a client reads alone (GET
// /me/mailboxSettings/timeZone and /workingHours), as Graph documents
// them: schedules (addresses, at most 100), startTime and endTime as
// dateTimeTimeZone (at most 62 days apart), availabilityViewInterval 5 to
// 1440 minutes (default 30); per schedule the scheduleItems (status busy,
// tentative, oof or workingElsewhere; free time is not listed), the
// availabilityView (one digit an interval: 0 free or working elsewhere, 1
// tentative, 2 busy, 3 out of office), the working hours of the mailbox
// settings, or an error (an address that is no mailbox of the
// organization). Item times are in Prefer: outlook.timezone, else UTC.

const (
	maxSchedules    = 100
	maxScheduleSpan = 62 * 24 * time.Hour
)

// WorkingHours are a mailbox's working hours (mailboxSettings).
type WorkingHours struct {
	Days       []string // monday…sunday
	Start, End string   // "08:00:00.0000000"
	// TimeZone is a Windows or IANA name; default the mailbox's zone.
	TimeZone string
}

var defaultWorkingHours = WorkingHours{
	Days:  []string{"monday", "tuesday", "wednesday", "thursday", "friday"},
	Start: "08:00:00.0000000", End: "17:00:00.0000000",
}

// SetWorkingHours sets a user's working hours.
func (s *Server) SetWorkingHours(email string, wh WorkingHours) {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	wh.Days = slices.Clone(wh.Days)
	s.mailboxLocked(email).workingHours = &wh
}

// workingHoursJSON is a mailbox's workingHours resource. Call with the
// graph lock held.
func (mb *mailbox) workingHoursJSON() map[string]any {
	wh := defaultWorkingHours
	if mb.workingHours != nil {
		wh = *mb.workingHours
	}
	zone := wh.TimeZone
	if zone == "" {
		zone = mb.timeZone
	}
	return map[string]any{"daysOfWeek": wh.Days, "startTime": wh.Start, "endTime": wh.End, "timeZone": map[string]string{"name": zone}}
}

func (s *Server) scheduleRoutes() {
	s.addRoute("POST", "calendar/getSchedule", permCalRead, s.getSchedule)
	s.addRoute("GET", "mailboxSettings/timeZone", permSettings, func(c *call) {
		s.graph.mu.Lock()
		tz := s.mailboxLocked(c.user.UPN).timeZone
		s.graph.mu.Unlock()
		c.ok(http.StatusOK, map[string]any{"@odata.context": c.context("mailboxSettings/timeZone"), "value": tz})
	})
	s.addRoute("GET", "mailboxSettings/workingHours", permSettings, func(c *call) {
		s.graph.mu.Lock()
		wh := s.mailboxLocked(c.user.UPN).workingHoursJSON()
		s.graph.mu.Unlock()
		wh["@odata.context"] = c.context("mailboxSettings/workingHours")
		c.ok(http.StatusOK, wh)
	})
}

type scheduleRequest struct {
	Schedules                []string          `json:"schedules"`
	StartTime                *dateTimeTimeZone `json:"startTime"`
	EndTime                  *dateTimeTimeZone `json:"endTime"`
	AvailabilityViewInterval *int              `json:"availabilityViewInterval"`
}

func (s *Server) getSchedule(c *call) {
	var in scheduleRequest
	if !c.readBody(&in) {
		return
	}
	if len(in.Schedules) == 0 || in.StartTime == nil || in.EndTime == nil {
		c.fail(http.StatusBadRequest, "ErrorInvalidRequest", "The request is invalid: schedules, startTime and endTime are required.")
		return
	}
	if len(in.Schedules) > maxSchedules {
		c.fail(http.StatusBadRequest, "ErrorInvalidRequest", "The request is invalid: at most 100 schedules can be requested at once.")
		return
	}
	interval := 30
	if in.AvailabilityViewInterval != nil {
		interval = *in.AvailabilityViewInterval
	}
	if interval < 5 || interval > 1440 {
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The availabilityViewInterval must be between 5 and 1440 minutes.")
		return
	}
	start, ok1 := parseDateTimeZone(*in.StartTime)
	end, ok2 := parseDateTimeZone(*in.EndTime)
	switch {
	case !ok1 || !ok2:
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The startTime or endTime is not a valid dateTimeTimeZone.")
		return
	case !end.After(start):
		c.fail(http.StatusBadRequest, "ErrorInvalidTimeInterval", "The end time of the time window must be later than its start time.")
		return
	case end.Sub(start) > maxScheduleSpan:
		c.fail(http.StatusBadRequest, "ErrorInvalidTimeInterval", "The time window of the request is too long: at most 62 days.")
		return
	}
	loc, zone := c.responseZone()
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	var out []any
	for _, who := range in.Schedules {
		info := map[string]any{"scheduleId": who}
		mb := s.graph.mailboxes[lowerKey(s.accounts.get(who).UPN)]
		if mb == nil && s.accounts.known(who) {
			mb = s.mailboxLocked(who)
		}
		if mb == nil {
			info["availabilityView"] = ""
			info["error"] = map[string]string{"message": "The user '" + who + "' could not be found.", "responseCode": "ErrorMailRecipientNotFound"}
			out = append(out, info)
			continue
		}
		items, view := mb.scheduleItems(start, end, interval, loc, zone)
		info["availabilityView"], info["scheduleItems"], info["workingHours"] = view, items, mb.workingHoursJSON()
		out = append(out, info)
	}
	c.ok(http.StatusOK, map[string]any{
		"@odata.context": c.s.GraphURL() + "/$metadata#Collection(microsoft.graph.scheduleInformation)", "value": out})
}

// scheduleItems lists the default calendar's items that take time in the
// window (not free, not cancelled, occurrences expanded) and the
// availability view. Call with the graph lock held.
func (mb *mailbox) scheduleItems(ws, we time.Time, interval int, loc *time.Location, zone string) ([]any, string) {
	cal := mb.defaultCalendar()
	mbLoc, ok := resolveZone(mb.timeZone)
	if !ok {
		mbLoc = time.UTC
	}
	var list []instance
	for _, ev := range mb.events {
		switch {
		case ev.cal != cal || ev.master != nil:
		case ev.recurrence != nil:
			list = append(list, mb.expand(ev, we)...)
		default:
			list = append(list, instance{ev: ev, start: ev.start, end: ev.end})
		}
	}
	step := time.Duration(interval) * time.Minute
	view := make([]byte, int((we.Sub(ws)+step-1)/step))
	for i := range view {
		view[i] = '0'
	}
	type item struct {
		start time.Time
		j     map[string]any
	}
	var items []item
	for _, in := range list {
		ev := in.ev
		st, en := in.bounds(mbLoc)
		if ev.deleted || ev.cancelled || ev.showAs == "free" || ev.showAs == "unknown" || !(st.Before(we) && en.After(ws)) {
			continue
		}
		j := map[string]any{
			"isPrivate": ev.sensitivity == "private", "status": ev.showAs, "subject": ev.subject, "location": ev.location,
			"isMeeting": len(ev.attendees) > 0, "isRecurring": in.occurrence || ev.master != nil, "isException": ev.master != nil,
			"isReminderSet": ev.reminder > 0,
			"start":         map[string]string{"dateTime": st.In(loc).Format(eventTimeLayout), "timeZone": zone},
			"end":           map[string]string{"dateTime": en.In(loc).Format(eventTimeLayout), "timeZone": zone},
		}
		items = append(items, item{st, j})
		digit := map[string]byte{"tentative": '1', "busy": '2', "oof": '3'}[ev.showAs]
		for i := range view {
			from := ws.Add(time.Duration(i) * step)
			if digit > view[i] && st.Before(from.Add(step)) && en.After(from) {
				view[i] = digit
			}
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.start.Compare(b.start) })
	out := make([]any, 0, len(items))
	for _, it := range items {
		out = append(out, it.j)
	}
	return out, string(view)
}

// parseDateTimeZone reads a dateTimeTimeZone of a request.
func parseDateTimeZone(d dateTimeTimeZone) (time.Time, bool) {
	loc, ok := resolveZone(d.TimeZone)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSuffix(d.DateTime, "Z"), loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
