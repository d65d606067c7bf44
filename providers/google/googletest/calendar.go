package googletest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones whatever the machine has installed
)

// The fake Google Calendar API (www.googleapis.com/calendar/v3), as the
// Calendar API reference and its guides on recurring events and time zones
// describe it: calendarList.list and get (calendar_list.go), events.list
// with recurring events expanded by singleEvents=true, and events.get
// (calendar_events.go, recurrence in calendar_recurrence.go), events.insert
// (calendar_insert.go); the JSON shapes in calendar_render.go.

const (
	scopeCalendar             = "https://www.googleapis.com/auth/calendar"
	scopeCalendarRO           = "https://www.googleapis.com/auth/calendar.readonly"
	scopeCalendarEvents       = "https://www.googleapis.com/auth/calendar.events"
	scopeCalendarEventsRO     = "https://www.googleapis.com/auth/calendar.events.readonly"
	scopeCalendarEventsOwned  = "https://www.googleapis.com/auth/calendar.events.owned"
	scopeCalendarEventsOwnRO  = "https://www.googleapis.com/auth/calendar.events.owned.readonly"
	scopeCalendarEventsPublic = "https://www.googleapis.com/auth/calendar.events.public.readonly"
	scopeCalendarFreeBusy     = "https://www.googleapis.com/auth/calendar.events.freebusy"
	scopeCalendarFreeBusyAll  = "https://www.googleapis.com/auth/calendar.freebusy"
	scopeCalendarAppCreated   = "https://www.googleapis.com/auth/calendar.app.created"
	scopeCalendarList         = "https://www.googleapis.com/auth/calendar.calendarlist"
	scopeCalendarListRO       = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"

	calCalendarList    = "calendar.calendarList.list"
	calCalendarListGet = "calendar.calendarList.get"
	calEventsList      = "calendar.events.list"
	calEventsGet       = "calendar.events.get"
	calEventsInsert    = "calendar.events.insert"
	calEventsPatch     = "calendar.events.patch"
	calEventsDelete    = "calendar.events.delete"
	calEventsInstances = "calendar.events.instances"
)

var calendarReadScopes = []string{
	scopeCalendar, scopeCalendarAppCreated, scopeCalendarEvents, scopeCalendarFreeBusy, scopeCalendarEventsOwned,
	scopeCalendarEventsOwnRO, scopeCalendarEventsPublic, scopeCalendarEventsRO, scopeCalendarRO,
}

func (s *Server) calendarRoutes() {
	s.addRoute("GET", "calendar/v3/users/me/calendarList", calCalendarList, s.calListCalendars)
	s.addRoute("GET", "calendar/v3/users/me/calendarList/{calendarId}", calCalendarListGet, s.calGetCalendar)
	s.addRoute("GET", "calendar/v3/calendars/{calendarId}/events", calEventsList, s.calListEvents)
	s.addRoute("GET", "calendar/v3/calendars/{calendarId}/events/{eventId}", calEventsGet, s.calGetEvent)
	s.addRoute("POST", "calendar/v3/calendars/{calendarId}/events", calEventsInsert, s.calInsertEvent)
	s.addRoute("POST", "calendar/v3/freeBusy", calFreeBusy, s.calFreeBusy)
	s.addRoute("PATCH", "calendar/v3/calendars/{calendarId}/events/{eventId}", calEventsPatch, s.calPatchEvent)
	s.addRoute("DELETE", "calendar/v3/calendars/{calendarId}/events/{eventId}", calEventsDelete, s.calDeleteEvent)
	s.addRoute("GET", "calendar/v3/calendars/{calendarId}/events/{eventId}/instances", calEventsInstances, s.calListInstances)
}

// Calendar is a calendar in a user's calendar list.
type Calendar struct {
	ID          string // the primary calendar's id is the user's email
	Summary     string
	Description string
	TimeZone    string // IANA name; default UTC
	AccessRole  string // owner (default), writer, reader, freeBusyReader
	Primary     bool
}

// Event is an event as AddEvent takes it and Events returns it.
type Event struct {
	ID                             string // optional; Google-like ids are made up
	Summary, Description, Location string
	// Start and End of a timed event; for an all-day event only their dates
	// (year, month, day in their own location) count, End exclusive.
	Start, End time.Time
	AllDay     bool
	// TimeZone is the IANA zone the event was created in (start.timeZone);
	// empty for an event given with offsets only. EndTimeZone, if set,
	// differs for the end (a flight).
	TimeZone, EndTimeZone string
	Recurrence            []string // RRULE:…, EXDATE…
	Attendees             []Attendee
	Status                string // confirmed (default), tentative, cancelled
	Transparency          string // opaque (default: busy time) or transparent (free)
	// An exception of a recurring event: the base event's id and the
	// original start of the instance it replaces.
	RecurringEventID string
	OriginalStart    time.Time
	HangoutLink      string
	// Reminders are the overrides' minutes; nil: the calendar's default.
	Reminders []int

	// Organizer is who organizes the event: set by the fake (the
	// calendar), or given to AddEvent for an event the user is invited to.
	Organizer   string
	Created     time.Time
	SendUpdates string // the last insert's, patch's or delete's sendUpdates parameter
	Sequence    int    // bumped by the organizer's changes
}

// Attendee of an Event.
type Attendee struct {
	Email, DisplayName string
	ResponseStatus     string // needsAction (default), accepted, tentative, declined
	Optional           bool
	Organizer          bool
	Comment            string
}

type calStore struct {
	email string
	cals  []*fakeCal
}

type fakeCal struct {
	Calendar
	loc     *time.Location
	events  []*calEvent
	updated time.Time
}

type calEvent struct {
	Event
	start, end    evTime
	origStart     evTime
	rule          *rrule
	exdates       map[string]bool // instance suffixes removed by EXDATE
	organizer     personJSON
	creator       personJSON
	updated       time.Time
	sequence      int
	iCalUID       string
	calendarEmail string
	// conferenceRequest is the requestId of the Meet link's createRequest.
	conferenceRequest string
}

// evTime is an event time: a date (all-day) or an instant with the zone the
// event was given in.
type evTime struct {
	date string // "2006-01-02"
	t    time.Time
	tz   string
}

// instant is when the time starts, all-day dates at midnight in loc.
func (t evTime) instant(loc *time.Location) time.Time {
	if t.date != "" {
		d, _ := time.ParseInLocation("2006-01-02", t.date, loc)
		return d
	}
	return t.t
}

// suffix is Google's instance-id suffix for an original start.
func (t evTime) suffix() string {
	if t.date != "" {
		return strings.ReplaceAll(t.date, "-", "")
	}
	return t.t.UTC().Format("20060102T150405Z")
}

// calStoreLocked returns a user's calendars, creating the primary one. Call
// with a.mu held.
func (a *apiState) calStoreLocked(email string) *calStore {
	key := strings.ToLower(email)
	cs := a.cal[key]
	if cs == nil {
		cs = &calStore{email: email}
		cs.cals = append(cs.cals, &fakeCal{Calendar: Calendar{ID: email, Summary: email, TimeZone: "UTC", AccessRole: "owner", Primary: true}, loc: time.UTC})
		a.cal[key] = cs
	}
	return cs
}

func (cs *calStore) find(id string) *fakeCal {
	for _, c := range cs.cals {
		if c.ID == id || id == "primary" && c.Primary {
			return c
		}
	}
	return nil
}

// AddCalendar adds a calendar to a user's list, or replaces the one with the
// same id. With Primary set it configures the primary calendar (whose id is
// always the user's email).
func (s *Server) AddCalendar(email string, c Calendar) {
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	if c.AccessRole == "" {
		c.AccessRole = "owner"
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		panic("googletest: AddCalendar: " + err.Error())
	}
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	cs := a.calStoreLocked(email)
	if c.Primary {
		c.ID, c.AccessRole = cs.email, "owner"
		if c.Summary == "" {
			c.Summary = cs.email
		}
	}
	for _, old := range cs.cals {
		if old.ID == c.ID {
			old.Calendar, old.loc = c, loc
			return
		}
	}
	cs.cals = append(cs.cals, &fakeCal{Calendar: c, loc: loc})
}

// AddEvent adds an event to a user's calendar ("primary" or an id) and
// returns its id. It panics on an unknown calendar or an invalid event (a
// test's mistake).
func (s *Server) AddEvent(email, calendarID string, e Event) string {
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	cal := a.calStoreLocked(email).find(calendarID)
	if cal == nil {
		panic("googletest: AddEvent: no calendar " + calendarID)
	}
	ev := &calEvent{Event: e}
	if e.AllDay {
		ev.start = evTime{date: e.Start.Format("2006-01-02")}
		ev.end = evTime{date: e.End.Format("2006-01-02")}
	} else {
		ev.start = evTime{t: e.Start, tz: e.TimeZone}
		etz := e.EndTimeZone
		if etz == "" {
			etz = e.TimeZone
		}
		ev.end = evTime{t: e.End, tz: etz}
		for _, tz := range []string{e.TimeZone, etz} {
			if _, err := time.LoadLocation(tz); err != nil {
				panic("googletest: AddEvent: " + err.Error())
			}
		}
	}
	if e.RecurringEventID != "" {
		if e.AllDay {
			ev.origStart = evTime{date: e.OriginalStart.Format("2006-01-02")}
		} else {
			ev.origStart = evTime{t: e.OriginalStart, tz: e.TimeZone}
		}
		ev.ID = e.RecurringEventID + "_" + ev.origStart.suffix()
	}
	if err := a.storeEventLocked(cal, ev, s.Now()); err != "" {
		panic("googletest: AddEvent: " + err)
	}
	return ev.ID
}

// storeEventLocked completes and stores an event; it returns a problem or "".
// Call with a.mu held.
func (a *apiState) storeEventLocked(cal *fakeCal, ev *calEvent, now time.Time) string {
	if len(ev.Recurrence) > 0 {
		loc := cal.loc
		if ev.start.tz != "" {
			loc, _ = time.LoadLocation(ev.start.tz)
		}
		rule, ex, err := parseRecurrence(ev.Recurrence, loc, ev.start.date != "")
		if err != nil {
			return err.Error()
		}
		ev.rule, ev.exdates = rule, ex
	}
	if ev.ID == "" {
		a.seq++
		sum := sha256.Sum256(fmt.Appendf(nil, "event %d %s %d", a.seq, ev.Summary, now.UnixNano()))
		ev.ID = base32hex(sum[:])[:26]
	}
	for _, old := range cal.events {
		if old.ID == ev.ID {
			return "duplicate id " + ev.ID
		}
	}
	if ev.Status == "" {
		ev.Status = "confirmed"
	}
	if ev.Created.IsZero() {
		ev.Created = now.UTC().Truncate(time.Millisecond)
	}
	ev.updated = ev.Created
	a.calOwner(cal, ev)
	ev.iCalUID = ev.ID + "@google.com"
	if ev.RecurringEventID != "" {
		ev.iCalUID = ev.RecurringEventID + "@google.com"
	}
	cal.events = append(cal.events, ev)
	cal.updated = now
	return ""
}

// calOwner sets the organizer and creator of an event made on cal.
func (a *apiState) calOwner(cal *fakeCal, ev *calEvent) {
	for _, cs := range a.cal {
		if slices.Contains(cs.cals, cal) {
			ev.calendarEmail = cs.email
		}
	}
	ev.creator = personJSON{Email: ev.calendarEmail, Self: true}
	if ev.Organizer != "" && !strings.EqualFold(ev.Organizer, cal.ID) {
		ev.organizer = personJSON{Email: ev.Organizer}
		return
	}
	ev.Organizer = cal.ID
	if cal.Primary {
		ev.organizer = personJSON{Email: cal.ID, Self: true}
	} else {
		ev.organizer = personJSON{Email: cal.ID, DisplayName: cal.Summary, Self: true}
	}
}

const base32hexAlphabet = "0123456789abcdefghijklmnopqrstuv"

func base32hex(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(base32hexAlphabet[c&31])
		sb.WriteByte(base32hexAlphabet[c>>3&31])
	}
	return sb.String()
}

// Events returns the events stored in a user's calendar ("primary" or an
// id), exceptions of recurring events included, in creation order.
func (s *Server) Events(email, calendarID string) []Event {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	cal := s.api.calStoreLocked(email).find(calendarID)
	if cal == nil {
		return nil
	}
	var out []Event
	for _, ev := range cal.events {
		e := ev.Event
		e.Attendees = slices.Clone(e.Attendees)
		e.Recurrence = slices.Clone(e.Recurrence)
		e.Reminders = slices.Clone(e.Reminders)
		e.Sequence = ev.sequence
		out = append(out, e)
	}
	return out
}
