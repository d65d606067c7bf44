package googletest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones whatever the machine has installed
)

// The fake Google Calendar API (www.googleapis.com/calendar/v3):
// calendarList.list and get, events.list (with recurring events expanded
// by singleEvents=true), events.get and events.insert.

const (
	scopeCalendar             = "https://www.googleapis.com/auth/calendar"
	scopeCalendarRO           = "https://www.googleapis.com/auth/calendar.readonly"
	scopeCalendarEvents       = "https://www.googleapis.com/auth/calendar.events"
	scopeCalendarEventsRO     = "https://www.googleapis.com/auth/calendar.events.readonly"
	scopeCalendarEventsOwned  = "https://www.googleapis.com/auth/calendar.events.owned"
	scopeCalendarEventsOwnRO  = "https://www.googleapis.com/auth/calendar.events.owned.readonly"
	scopeCalendarEventsPublic = "https://www.googleapis.com/auth/calendar.events.public.readonly"
	scopeCalendarFreeBusy     = "https://www.googleapis.com/auth/calendar.events.freebusy"
	scopeCalendarAppCreated   = "https://www.googleapis.com/auth/calendar.app.created"
	scopeCalendarList         = "https://www.googleapis.com/auth/calendar.calendarlist"
	scopeCalendarListRO       = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"

	calCalendarList    = "calendar.calendarList.list"
	calCalendarListGet = "calendar.calendarList.get"
	calEventsList      = "calendar.events.list"
	calEventsGet       = "calendar.events.get"
	calEventsInsert    = "calendar.events.insert"
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
	// An exception of a recurring event: the base event's id and the
	// original start of the instance it replaces.
	RecurringEventID string
	OriginalStart    time.Time
	HangoutLink      string

	// Set by the fake (read by Events).
	Organizer   string
	Created     time.Time
	SendUpdates string // insert's sendUpdates parameter
}

// Attendee of an Event.
type Attendee struct {
	Email, DisplayName string
	ResponseStatus     string // needsAction (default), accepted, tentative, declined
	Optional           bool
	Organizer          bool
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
	if err := a.storeEventLocked(cal, ev, s.now()); err != "" {
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
	ev.Organizer = cal.ID
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
		out = append(out, e)
	}
	return out
}

// ---- JSON shapes ----

type personJSON struct {
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Self        bool   `json:"self,omitempty"`
}

type timeJSON struct {
	Date     string `json:"date,omitempty"`
	DateTime string `json:"dateTime,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

type attendeeJSON struct {
	Email          string `json:"email"`
	DisplayName    string `json:"displayName,omitempty"`
	Organizer      bool   `json:"organizer,omitempty"`
	Self           bool   `json:"self,omitempty"`
	Optional       bool   `json:"optional,omitempty"`
	ResponseStatus string `json:"responseStatus"`
}

type reminderJSON struct {
	Method  string `json:"method"`
	Minutes int    `json:"minutes"`
}

type eventJSON struct {
	Kind              string         `json:"kind"`
	Etag              string         `json:"etag"`
	ID                string         `json:"id"`
	Status            string         `json:"status,omitempty"`
	HTMLLink          string         `json:"htmlLink,omitempty"`
	Created           string         `json:"created,omitempty"`
	Updated           string         `json:"updated,omitempty"`
	Summary           string         `json:"summary,omitempty"`
	Description       string         `json:"description,omitempty"`
	Location          string         `json:"location,omitempty"`
	Creator           *personJSON    `json:"creator,omitempty"`
	Organizer         *personJSON    `json:"organizer,omitempty"`
	Start             *timeJSON      `json:"start,omitempty"`
	End               *timeJSON      `json:"end,omitempty"`
	Recurrence        []string       `json:"recurrence,omitempty"`
	RecurringEventID  string         `json:"recurringEventId,omitempty"`
	OriginalStartTime *timeJSON      `json:"originalStartTime,omitempty"`
	ICalUID           string         `json:"iCalUID,omitempty"`
	Sequence          *int           `json:"sequence,omitempty"`
	Attendees         []attendeeJSON `json:"attendees,omitempty"`
	HangoutLink       string         `json:"hangoutLink,omitempty"`
	Reminders         *struct {
		UseDefault bool `json:"useDefault"`
	} `json:"reminders,omitempty"`
	EventType string `json:"eventType,omitempty"`
}

func renderTime(t evTime, loc *time.Location) *timeJSON {
	if t.date != "" {
		return &timeJSON{Date: t.date}
	}
	return &timeJSON{DateTime: t.t.In(loc).Format(time.RFC3339), TimeZone: t.tz}
}

func googleTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (ev *calEvent) render(cal *fakeCal, loc *time.Location) eventJSON {
	seq := ev.sequence
	out := eventJSON{
		Kind: "calendar#event", Etag: fmt.Sprintf(`"%d"`, ev.updated.UnixMicro()*2), ID: ev.ID, Status: ev.Status,
		HTMLLink: "https://www.google.com/calendar/event?eid=" + base64.RawURLEncoding.EncodeToString([]byte(ev.ID+" "+cal.ID)),
		Created:  googleTime(ev.Created), Updated: googleTime(ev.updated),
		Summary: ev.Summary, Description: ev.Description, Location: ev.Location,
		Creator: &ev.creator, Organizer: &ev.organizer,
		Start: renderTime(ev.start, loc), End: renderTime(ev.end, loc),
		Recurrence: ev.Recurrence, ICalUID: ev.iCalUID, Sequence: &seq, HangoutLink: ev.HangoutLink,
		Reminders: &struct {
			UseDefault bool `json:"useDefault"`
		}{true},
		EventType: "default",
	}
	if ev.RecurringEventID != "" {
		out.RecurringEventID, out.OriginalStartTime = ev.RecurringEventID, renderTime(ev.origStart, loc)
	}
	for _, at := range ev.Attendees {
		rs := at.ResponseStatus
		if rs == "" {
			rs = "needsAction"
		}
		self := strings.EqualFold(at.Email, ev.calendarEmail) || strings.EqualFold(at.Email, cal.ID)
		out.Attendees = append(out.Attendees, attendeeJSON{Email: at.Email, DisplayName: at.DisplayName, Organizer: at.Organizer,
			Self: self, Optional: at.Optional, ResponseStatus: rs})
	}
	return out
}

// renderInstance renders one instance of a recurring event.
func (ev *calEvent) renderInstance(cal *fakeCal, o occurrence, loc *time.Location) eventJSON {
	out := ev.render(cal, loc)
	out.ID = ev.ID + "_" + o.start.suffix()
	out.Start, out.End = renderTime(o.start, loc), renderTime(o.end, loc)
	out.Recurrence = nil
	out.RecurringEventID, out.OriginalStartTime = ev.ID, renderTime(o.start, loc)
	return out
}

// renderCancelled is how Google shows a cancelled instance of a recurring
// event: id, status and the instance it removes.
func (ev *calEvent) renderCancelled(loc *time.Location) eventJSON {
	return eventJSON{Kind: "calendar#event", Etag: fmt.Sprintf(`"%d"`, ev.updated.UnixMicro()*2), ID: ev.ID, Status: "cancelled",
		RecurringEventID: ev.RecurringEventID, OriginalStartTime: renderTime(ev.origStart, loc)}
}

// ---- calendarList ----

type calendarListEntryJSON struct {
	Kind                 string         `json:"kind"`
	Etag                 string         `json:"etag"`
	ID                   string         `json:"id"`
	Summary              string         `json:"summary"`
	Description          string         `json:"description,omitempty"`
	TimeZone             string         `json:"timeZone"`
	ColorID              string         `json:"colorId"`
	BackgroundColor      string         `json:"backgroundColor"`
	ForegroundColor      string         `json:"foregroundColor"`
	Selected             bool           `json:"selected,omitempty"`
	AccessRole           string         `json:"accessRole"`
	DefaultReminders     []reminderJSON `json:"defaultReminders"`
	Primary              bool           `json:"primary,omitempty"`
	ConferenceProperties map[string]any `json:"conferenceProperties,omitempty"`
}

var accessRank = map[string]int{"freeBusyReader": 0, "reader": 1, "writerWithoutPrivateAccess": 2, "writer": 2, "owner": 3}

var calColors = [][3]string{{"14", "#9fe1e7", "#000000"}, {"8", "#16a765", "#000000"}, {"21", "#cca6ac", "#000000"}, {"1", "#ac725e", "#000000"}}

func (c *fakeCal) entry(i int) calendarListEntryJSON {
	col := calColors[i%len(calColors)]
	e := calendarListEntryJSON{
		Kind: "calendar#calendarListEntry", Etag: fmt.Sprintf(`"%d"`, 1700000000000000+i), ID: c.ID, Summary: c.Summary,
		Description: c.Description, TimeZone: c.TimeZone, ColorID: col[0], BackgroundColor: col[1], ForegroundColor: col[2],
		Selected: true, AccessRole: c.AccessRole, DefaultReminders: c.reminders(), Primary: c.Primary,
		ConferenceProperties: map[string]any{"allowedConferenceSolutionTypes": []string{"hangoutsMeet"}},
	}
	return e
}

func (c *fakeCal) reminders() []reminderJSON {
	if accessRank[c.AccessRole] >= accessRank["writer"] && c.Primary {
		return []reminderJSON{{"popup", 10}}
	}
	return []reminderJSON{}
}

func (s *Server) calListCalendars(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calCalendarList]...)
	if !ok {
		return
	}
	q := r.URL.Query()
	maxResults, ok := queryInt(w, q, "maxResults", "TYPE_INT32", 100)
	if !ok {
		return
	}
	if maxResults < 1 {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value '%d'. Values must be within the range: [1, 250]", maxResults), "invalid")
		return
	}
	maxResults = min(maxResults, 250)
	minRole := q.Get("minAccessRole")
	if _, known := accessRank[minRole]; minRole != "" && !known {
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: minAccessRole", "invalidParameter")
		return
	}
	key := queryKey(q, "minAccessRole", "showHidden", "showDeleted") + email
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		pos, ok := readPageToken(key, tok)
		if offset, _ = strconv.Atoi(pos); !ok {
			WriteAPIError(w, http.StatusBadRequest, "Invalid page token value.", "invalid")
			return
		}
	}
	s.api.mu.Lock()
	var items []calendarListEntryJSON
	for i, c := range s.api.calStoreLocked(email).cals {
		if minRole == "" || accessRank[c.AccessRole] >= accessRank[minRole] {
			items = append(items, c.entry(i))
		}
	}
	s.api.mu.Unlock()
	out := map[string]any{"kind": "calendar#calendarList", "etag": `"p33c9tq2nuiq8g0o"`}
	end := min(offset+maxResults, len(items))
	page := items[min(offset, len(items)):end]
	if page == nil {
		page = []calendarListEntryJSON{}
	}
	out["items"] = page
	if end < len(items) {
		out["nextPageToken"] = pageToken(key, strconv.Itoa(end))
	} else {
		out["nextSyncToken"] = "CPjW9f7Z_YgDEhZ" + base64.RawURLEncoding.EncodeToString([]byte(email))
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

func (s *Server) calGetCalendar(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calCalendarListGet]...)
	if !ok {
		return
	}
	s.api.mu.Lock()
	cs := s.api.calStoreLocked(email)
	var entry *calendarListEntryJSON
	for i, c := range cs.cals {
		if c.ID == p["calendarId"] || p["calendarId"] == "primary" && c.Primary {
			e := c.entry(i)
			entry = &e
		}
	}
	s.api.mu.Unlock()
	if entry == nil {
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	s.writeAPI(w, r, http.StatusOK, entry)
}

// ---- events.list ----

type eventsJSON struct {
	Kind             string         `json:"kind"`
	Etag             string         `json:"etag"`
	Summary          string         `json:"summary"`
	Description      string         `json:"description,omitempty"`
	Updated          string         `json:"updated"`
	TimeZone         string         `json:"timeZone"`
	AccessRole       string         `json:"accessRole"`
	DefaultReminders []reminderJSON `json:"defaultReminders"`
	NextPageToken    string         `json:"nextPageToken,omitempty"`
	NextSyncToken    string         `json:"nextSyncToken,omitempty"`
	Items            []eventJSON    `json:"items"`
}

// listedEvent is an item of events.list with what it is sorted by.
type listedEvent struct {
	json    eventJSON
	start   time.Time
	updated time.Time
	text    string
}

func (s *Server) calListEvents(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calEventsList]...)
	if !ok {
		return
	}
	q := r.URL.Query()
	var timeMin, timeMax time.Time
	for name, dst := range map[string]*time.Time{"timeMin": &timeMin, "timeMax": &timeMax} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				WriteAPIError(w, http.StatusBadRequest, "Bad Request", "badRequest")
				return
			}
			*dst = t
		}
	}
	if !timeMin.IsZero() && !timeMax.IsZero() && !timeMax.After(timeMin) {
		WriteAPIError(w, http.StatusBadRequest, "The specified time range is empty.", "timeRangeEmpty")
		return
	}
	maxResults, ok := queryInt(w, q, "maxResults", "TYPE_INT32", 250)
	if !ok {
		return
	}
	if maxResults < 1 {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value '%d'. Values must be within the range: [1, 2500]", maxResults), "invalid")
		return
	}
	maxResults = min(maxResults, 2500)
	single, ok := queryBool(w, q, "singleEvents")
	if !ok {
		return
	}
	showDeleted, ok := queryBool(w, q, "showDeleted")
	if !ok {
		return
	}
	orderBy := q.Get("orderBy")
	switch {
	case orderBy != "" && orderBy != "startTime" && orderBy != "updated":
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: orderBy", "invalidParameter")
		return
	case orderBy == "startTime" && !single:
		WriteAPIError(w, http.StatusBadRequest, "The requested ordering is not available for the particular query.", "badRequest")
		return
	}
	if q.Get("syncToken") != "" {
		WriteAPIError(w, http.StatusGone, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
		return
	}
	var updatedMin time.Time
	if v := q.Get("updatedMin"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			WriteAPIError(w, http.StatusBadRequest, "Bad Request", "badRequest")
			return
		}
		updatedMin = t
	}
	var respLoc *time.Location
	if tz := q.Get("timeZone"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			WriteAPIError(w, http.StatusBadRequest, "Invalid time zone definition for time zone: "+tz, "invalid")
			return
		}
		respLoc = loc
	}
	key := queryKey(q, "timeMin", "timeMax", "q", "singleEvents", "orderBy", "showDeleted", "iCalUID", "updatedMin") + email + p["calendarId"]
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		pos, ok := readPageToken(key, tok)
		if offset, _ = strconv.Atoi(pos); !ok {
			WriteAPIError(w, http.StatusBadRequest, "Invalid page token value.", "invalid")
			return
		}
	}

	s.api.mu.Lock()
	cal := s.api.calStoreLocked(email).find(p["calendarId"])
	if cal == nil {
		s.api.mu.Unlock()
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	if respLoc == nil {
		respLoc = cal.loc
	}
	horizon := timeMax
	if horizon.IsZero() {
		horizon = maxTime(s.now(), timeMin).AddDate(2, 0, 0)
	}
	overlaps := func(start, end evTime) bool {
		st, en := start.instant(respLoc), end.instant(respLoc)
		return (timeMin.IsZero() || en.After(timeMin)) && (timeMax.IsZero() || st.Before(timeMax))
	}
	var items []listedEvent
	add := func(ev *calEvent, j eventJSON, start evTime) {
		items = append(items, listedEvent{json: j, start: start.instant(respLoc), updated: ev.updated,
			text: strings.ToLower(strings.Join([]string{ev.Summary, ev.Description, ev.Location, ev.organizer.Email, ev.organizer.DisplayName, attendeeText(ev)}, "\n"))})
	}
	for _, ev := range cal.events {
		if ev.RecurringEventID != "" {
			continue // exceptions are listed with their series
		}
		if (ev.Status == "cancelled" && !showDeleted) || (q.Get("iCalUID") != "" && q.Get("iCalUID") != ev.iCalUID) {
			continue
		}
		if ev.rule == nil {
			if overlaps(ev.start, ev.end) {
				add(ev, ev.render(cal, respLoc), ev.start)
			}
			continue
		}
		exceptions := map[string]*calEvent{}
		for _, ex := range cal.events {
			if ex.RecurringEventID == ev.ID {
				exceptions[ex.origStart.suffix()] = ex
			}
		}
		occs := ev.expand(cal.loc, horizon)
		if single {
			for _, o := range occs {
				if exceptions[o.start.suffix()] == nil && overlaps(o.start, o.end) {
					add(ev, ev.renderInstance(cal, o, respLoc), o.start)
				}
			}
		} else if slices.ContainsFunc(occs, func(o occurrence) bool { return overlaps(o.start, o.end) }) {
			add(ev, ev.render(cal, respLoc), ev.start)
		}
		for _, o := range occs {
			ex := exceptions[o.start.suffix()]
			switch {
			case ex == nil:
			case ex.Status == "cancelled":
				// Cancelled instances are listed when deleted events are
				// asked for, and always without singleEvents.
				if (showDeleted || !single) && overlaps(ex.origStart, o.end) {
					add(ex, ex.renderCancelled(respLoc), ex.origStart)
				}
			case overlaps(ex.start, ex.end):
				add(ex, ex.render(cal, respLoc), ex.start)
			}
		}
	}
	summary, accessRole, desc, reminders, updated := cal.Summary, cal.AccessRole, cal.Description, cal.reminders(), cal.updated
	calTZ := cal.TimeZone
	s.api.mu.Unlock()

	if term := strings.ToLower(strings.TrimSpace(q.Get("q"))); term != "" {
		items = slices.DeleteFunc(items, func(it listedEvent) bool {
			for _, w := range strings.Fields(term) {
				if !strings.Contains(it.text, w) {
					return true
				}
			}
			return false
		})
	}
	if !updatedMin.IsZero() {
		items = slices.DeleteFunc(items, func(it listedEvent) bool { return it.updated.Before(updatedMin) })
	}
	switch orderBy {
	case "startTime":
		slices.SortStableFunc(items, func(a, b listedEvent) int {
			if c := a.start.Compare(b.start); c != 0 {
				return c
			}
			return strings.Compare(a.json.ID, b.json.ID)
		})
	case "updated":
		slices.SortStableFunc(items, func(a, b listedEvent) int { return a.updated.Compare(b.updated) })
	}
	if updated.IsZero() {
		updated = s.now()
	}
	out := eventsJSON{
		Kind: "calendar#events", Etag: fmt.Sprintf(`"%d"`, updated.UnixMicro()), Summary: summary, Description: desc,
		Updated: googleTime(updated), TimeZone: calTZ, AccessRole: accessRole, DefaultReminders: reminders, Items: []eventJSON{},
	}
	end := min(offset+maxResults, len(items))
	for _, it := range items[min(offset, len(items)):end] {
		out.Items = append(out.Items, it.json)
	}
	if end < len(items) {
		out.NextPageToken = pageToken(key, strconv.Itoa(end))
	} else {
		out.NextSyncToken = "CLDw" + base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d", updated.UnixMicro()))
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func attendeeText(ev *calEvent) string {
	var parts []string
	for _, a := range ev.Attendees {
		parts = append(parts, a.Email, a.DisplayName)
	}
	return strings.Join(parts, "\n")
}

// ---- events.get ----

func (s *Server) calGetEvent(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calEventsGet]...)
	if !ok {
		return
	}
	var respLoc *time.Location
	if tz := r.URL.Query().Get("timeZone"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			WriteAPIError(w, http.StatusBadRequest, "Invalid time zone definition for time zone: "+tz, "invalid")
			return
		}
		respLoc = loc
	}
	s.api.mu.Lock()
	cal := s.api.calStoreLocked(email).find(p["calendarId"])
	var out *eventJSON
	if cal != nil {
		if respLoc == nil {
			respLoc = cal.loc
		}
		id := p["eventId"]
		for _, ev := range cal.events {
			if ev.ID == id {
				j := ev.render(cal, respLoc)
				if ev.RecurringEventID != "" && ev.Status == "cancelled" {
					j = ev.renderCancelled(respLoc)
				}
				out = &j
			}
		}
		if base, suffix, found := strings.Cut(id, "_"); out == nil && found {
			for _, ev := range cal.events {
				if ev.ID != base || ev.rule == nil {
					continue
				}
				for _, o := range ev.expand(cal.loc, instantOfSuffix(suffix).Add(time.Second)) {
					if o.start.suffix() == suffix {
						j := ev.renderInstance(cal, o, respLoc)
						out = &j
					}
				}
			}
		}
	}
	s.api.mu.Unlock()
	if out == nil {
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

func instantOfSuffix(suffix string) time.Time {
	if t, err := time.Parse("20060102T150405Z", suffix); err == nil {
		return t
	}
	if t, err := time.Parse("20060102", suffix); err == nil {
		return t.Add(36 * time.Hour) // whatever the zone, past the date's midnight
	}
	return time.Time{}
}

// ---- events.insert ----

type eventTimeInput struct {
	Date     string `json:"date"`
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type eventInput struct {
	ID          string          `json:"id"`
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Location    string          `json:"location"`
	Status      string          `json:"status"`
	Start       *eventTimeInput `json:"start"`
	End         *eventTimeInput `json:"end"`
	Recurrence  []string        `json:"recurrence"`
	Attendees   []struct {
		Email          string `json:"email"`
		DisplayName    string `json:"displayName"`
		Optional       bool   `json:"optional"`
		ResponseStatus string `json:"responseStatus"`
	} `json:"attendees"`
}

func (s *Server) calInsertEvent(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calEventsInsert]...)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the request body.", "badRequest")
		return
	}
	var in eventInput
	if err := json.Unmarshal(body, &in); err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Parse Error", "parseError")
		return
	}
	s.api.mu.Lock()
	cal := s.api.calStoreLocked(email).find(p["calendarId"])
	var calLoc *time.Location
	role := ""
	if cal != nil {
		calLoc, role = cal.loc, cal.AccessRole
	}
	s.api.mu.Unlock()
	if cal == nil {
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	if accessRank[role] < accessRank["writer"] {
		WriteAPIError(w, http.StatusForbidden, "You need to have writer access to this calendar.", "requiredAccessLevel")
		return
	}
	ev := &calEvent{Event: Event{ID: in.ID, Summary: in.Summary, Description: in.Description, Location: in.Location,
		Status: in.Status, Recurrence: in.Recurrence, SendUpdates: r.URL.Query().Get("sendUpdates")}}
	var msg, reason string
	if ev.start, msg, reason = parseEventTime(in.Start, "start"); msg == "" {
		ev.end, msg, reason = parseEventTime(in.End, "end")
	}
	switch {
	case msg != "":
	case (ev.start.date == "") != (ev.end.date == ""):
		msg, reason = "Start and end times must either both be date or both be dateTime.", "invalid"
	case ev.end.instant(calLoc).Before(ev.start.instant(calLoc)) || ev.start.date != "" && ev.start.date == ev.end.date:
		msg, reason = "The specified time range is empty.", "timeRangeEmpty"
	case len(ev.Recurrence) > 0 && ev.start.date == "" && ev.start.tz == "":
		msg, reason = "Missing time zone definition for start time.", "required"
	case ev.Status != "" && ev.Status != "confirmed" && ev.Status != "tentative" && ev.Status != "cancelled":
		msg, reason = "Invalid value for: status", "invalid"
	case ev.ID != "" && (len(ev.ID) < 5 || len(ev.ID) > 1024 || strings.Trim(ev.ID, base32hexAlphabet) != ""):
		msg, reason = "Invalid resource id value.", "invalid"
	}
	if msg == "" && len(ev.Recurrence) > 0 {
		loc := calLoc
		if ev.start.tz != "" {
			loc, _ = time.LoadLocation(ev.start.tz)
		}
		if _, _, err := parseRecurrence(ev.Recurrence, loc, ev.start.date != ""); err != nil {
			msg, reason = "Invalid recurrence rule.", "invalid"
		}
	}
	for _, at := range in.Attendees {
		addr, err := mail.ParseAddress(at.Email)
		if msg == "" && (err != nil || addr.Address != strings.TrimSpace(at.Email)) {
			msg, reason = "Invalid attendee email.", "invalid"
		}
		ev.Attendees = append(ev.Attendees, Attendee{Email: strings.TrimSpace(at.Email), DisplayName: at.DisplayName, Optional: at.Optional, ResponseStatus: at.ResponseStatus})
	}
	if msg != "" {
		WriteAPIError(w, http.StatusBadRequest, msg, reason)
		return
	}
	if ev.start.date != "" {
		ev.Start, _ = time.Parse("2006-01-02", ev.start.date)
		ev.End, _ = time.Parse("2006-01-02", ev.end.date)
		ev.AllDay = true
	} else {
		ev.Start, ev.End, ev.TimeZone = ev.start.t, ev.end.t, ev.start.tz
		if ev.end.tz != ev.start.tz {
			ev.EndTimeZone = ev.end.tz
		}
	}

	s.api.mu.Lock()
	for i, at := range ev.Attendees {
		if strings.EqualFold(at.Email, email) || strings.EqualFold(at.Email, cal.ID) {
			ev.Attendees[i].Organizer, ev.Attendees[i].ResponseStatus = true, "accepted"
		}
	}
	problem := s.api.storeEventLocked(cal, ev, s.now())
	var out eventJSON
	if problem == "" {
		out = ev.render(cal, cal.loc)
	}
	s.api.mu.Unlock()
	if problem != "" {
		WriteAPIError(w, http.StatusConflict, "The requested identifier already exists.", "duplicate")
		return
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

// parseEventTime reads start or end of an event to insert; msg and reason
// are Google's error when it is invalid.
func parseEventTime(in *eventTimeInput, which string) (t evTime, msg, reason string) {
	if in == nil || in.Date == "" && in.DateTime == "" {
		return t, "Missing " + which + " time.", "required"
	}
	if in.Date != "" && in.DateTime != "" {
		return t, "Invalid " + which + " time.", "invalid"
	}
	if in.Date != "" {
		if _, err := time.Parse("2006-01-02", in.Date); err != nil {
			return t, "Invalid " + which + " time.", "invalid"
		}
		return evTime{date: in.Date}, "", ""
	}
	var loc *time.Location
	if in.TimeZone != "" {
		l, err := time.LoadLocation(in.TimeZone)
		if err != nil || in.TimeZone == "Local" {
			return t, "Invalid time zone definition for " + which + " time.", "invalid"
		}
		loc = l
	}
	if tt, err := time.Parse(time.RFC3339Nano, in.DateTime); err == nil {
		return evTime{t: tt, tz: in.TimeZone}, "", ""
	}
	tt, err := time.Parse("2006-01-02T15:04:05", strings.TrimSuffix(in.DateTime, ".000"))
	if err != nil {
		return t, "Invalid " + which + " time.", "invalid"
	}
	if loc == nil {
		return t, "Missing time zone definition for " + which + " time.", "required"
	}
	return evTime{t: time.Date(tt.Year(), tt.Month(), tt.Day(), tt.Hour(), tt.Minute(), tt.Second(), 0, loc), tz: in.TimeZone}, "", ""
}

// ---- recurrence ----

type weekdayNum struct {
	n  int // 0: every such weekday of the period; 1, 2, -1…: the nth
	wd time.Weekday
}

type rrule struct {
	freq            string
	interval, count int
	until           time.Time
	hasUntil        bool
	byDay           []weekdayNum
	byMonthDay      []int
	byMonth         []int
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// parseRecurrence reads an event's RRULE (DAILY, WEEKLY, MONTHLY, YEARLY
// with INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH) and EXDATEs; loc
// is the zone of floating times.
func parseRecurrence(lines []string, loc *time.Location, allDay bool) (*rrule, map[string]bool, error) {
	var r *rrule
	ex := map[string]bool{}
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("bad recurrence line %q", line)
		}
		prop, params, _ := strings.Cut(name, ";")
		switch strings.ToUpper(prop) {
		case "RRULE":
			if r != nil {
				return nil, nil, fmt.Errorf("more than one RRULE")
			}
			r = &rrule{interval: 1}
			for _, kv := range strings.Split(value, ";") {
				k, v, _ := strings.Cut(kv, "=")
				var err error
				switch strings.ToUpper(k) {
				case "FREQ":
					r.freq = strings.ToUpper(v)
				case "INTERVAL":
					r.interval, err = strconv.Atoi(v)
					if r.interval < 1 {
						err = fmt.Errorf("bad INTERVAL")
					}
				case "COUNT":
					r.count, err = strconv.Atoi(v)
				case "UNTIL":
					r.until, err = parseICalTime(v, loc)
					r.hasUntil = true
					if len(v) == 8 {
						r.until = r.until.Add(24*time.Hour - time.Second) // the whole day
					}
				case "BYDAY":
					for _, d := range strings.Split(v, ",") {
						wd, ok := weekdays[strings.ToUpper(d[max(0, len(d)-2):])]
						if !ok {
							return nil, nil, fmt.Errorf("bad BYDAY %q", d)
						}
						n := 0
						if num := d[:len(d)-2]; num != "" && num != "+" {
							if n, err = strconv.Atoi(strings.TrimPrefix(num, "+")); err != nil {
								break
							}
						}
						r.byDay = append(r.byDay, weekdayNum{n, wd})
					}
				case "BYMONTHDAY", "BYMONTH":
					for _, d := range strings.Split(v, ",") {
						n, e := strconv.Atoi(d)
						if e != nil {
							err = e
							break
						}
						if strings.ToUpper(k) == "BYMONTH" {
							r.byMonth = append(r.byMonth, n)
						} else {
							r.byMonthDay = append(r.byMonthDay, n)
						}
					}
				case "WKST":
				default:
					return nil, nil, fmt.Errorf("unsupported RRULE part %q", k)
				}
				if err != nil {
					return nil, nil, fmt.Errorf("bad RRULE %q: %v", kv, err)
				}
			}
			if !slices.Contains([]string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}, r.freq) {
				return nil, nil, fmt.Errorf("unsupported FREQ %q", r.freq)
			}
		case "EXDATE":
			exLoc := loc
			for _, p := range strings.Split(params, ";") {
				if tz, ok := strings.CutPrefix(strings.ToUpper(p), "TZID="); ok {
					l, err := time.LoadLocation(p[len("TZID="):])
					if err != nil {
						return nil, nil, fmt.Errorf("bad EXDATE TZID %q", tz)
					}
					exLoc = l
				}
			}
			for _, v := range strings.Split(value, ",") {
				t, err := parseICalTime(v, exLoc)
				if err != nil {
					return nil, nil, err
				}
				if allDay || len(v) == 8 {
					ex[t.Format("20060102")] = true
				} else {
					ex[t.UTC().Format("20060102T150405Z")] = true
				}
			}
		case "RDATE", "EXRULE":
			return nil, nil, fmt.Errorf("%s is not supported by the fake", prop)
		default:
			return nil, nil, fmt.Errorf("bad recurrence line %q", line)
		}
	}
	if r == nil {
		return nil, nil, fmt.Errorf("no RRULE")
	}
	return r, ex, nil
}

func parseICalTime(v string, loc *time.Location) (time.Time, error) {
	switch {
	case strings.HasSuffix(v, "Z"):
		return time.Parse("20060102T150405Z", v)
	case len(v) == 8:
		return time.ParseInLocation("20060102", v, loc)
	default:
		return time.ParseInLocation("20060102T150405", v, loc)
	}
}

type occurrence struct{ start, end evTime }

// expand lists a recurring event's instances that start before limit, in
// order, EXDATEs removed. Times recur on the wall clock of the event's zone
// (calLoc if it has none), across daylight-saving changes.
func (ev *calEvent) expand(calLoc *time.Location, limit time.Time) []occurrence {
	r := ev.rule
	allDay := ev.start.date != ""
	loc := calLoc
	if ev.start.tz != "" {
		if l, err := time.LoadLocation(ev.start.tz); err == nil {
			loc = l
		}
	}
	var d0 time.Time // the first date, at noon UTC for date arithmetic
	var hh, mm, ss int
	var dur time.Duration
	var days int
	if allDay {
		s, _ := time.Parse("2006-01-02", ev.start.date)
		e, _ := time.Parse("2006-01-02", ev.end.date)
		d0, days = s.Add(12*time.Hour), int(e.Sub(s).Hours()/24)
	} else {
		st := ev.start.t.In(loc)
		d0 = time.Date(st.Year(), st.Month(), st.Day(), 12, 0, 0, 0, time.UTC)
		hh, mm, ss = st.Clock()
		dur = ev.end.t.Sub(ev.start.t)
	}
	var out []occurrence
	count := 0
	emit := func(d time.Time) bool {
		var o occurrence
		var start time.Time
		if allDay {
			start = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
			o.start = evTime{date: d.Format("2006-01-02")}
			o.end = evTime{date: d.AddDate(0, 0, days).Format("2006-01-02")}
		} else {
			start = time.Date(d.Year(), d.Month(), d.Day(), hh, mm, ss, 0, loc)
			o.start = evTime{t: start, tz: ev.start.tz}
			o.end = evTime{t: start.Add(dur), tz: ev.end.tz}
		}
		if r.hasUntil && start.After(r.until) || !start.Before(limit) {
			return false
		}
		count++
		if r.count > 0 && count > r.count {
			return false
		}
		if !ev.exdates[o.start.suffix()] {
			out = append(out, o)
		}
		return true
	}
	for k := 0; k < 100000; k++ {
		var cands []time.Time
		switch r.freq {
		case "DAILY":
			d := d0.AddDate(0, 0, k*r.interval)
			if (len(r.byDay) == 0 || slices.ContainsFunc(r.byDay, func(w weekdayNum) bool { return w.wd == d.Weekday() })) &&
				(len(r.byMonth) == 0 || slices.Contains(r.byMonth, int(d.Month()))) {
				cands = append(cands, d)
			}
		case "WEEKLY":
			weekStart := d0.AddDate(0, 0, -((int(d0.Weekday())+6)%7)+7*k*r.interval)
			days := []time.Weekday{d0.Weekday()}
			if len(r.byDay) > 0 {
				days = nil
				for _, w := range r.byDay {
					days = append(days, w.wd)
				}
			}
			for _, wd := range days {
				cands = append(cands, weekStart.AddDate(0, 0, (int(wd)+6)%7))
			}
		case "MONTHLY", "YEARLY":
			var months []time.Time // first day of each month of the period
			if r.freq == "MONTHLY" {
				months = append(months, time.Date(d0.Year(), d0.Month()+time.Month(k*r.interval), 1, 12, 0, 0, 0, time.UTC))
			} else {
				ms := r.byMonth
				if len(ms) == 0 {
					ms = []int{int(d0.Month())}
				}
				for _, m := range ms {
					months = append(months, time.Date(d0.Year()+k*r.interval, time.Month(m), 1, 12, 0, 0, 0, time.UTC))
				}
			}
			for _, first := range months {
				cands = append(cands, monthDays(first, r, d0.Day())...)
			}
		}
		slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
		cands = slices.Compact(cands)
		for _, d := range cands {
			if d.Before(d0) {
				continue
			}
			if !emit(d) {
				return out
			}
		}
	}
	return out
}

// monthDays are the days of the month starting at first that a MONTHLY or
// YEARLY rule picks.
func monthDays(first time.Time, r *rrule, defaultDay int) []time.Time {
	last := first.AddDate(0, 1, -1).Day()
	var out []time.Time
	at := func(day int) {
		if day >= 1 && day <= last {
			out = append(out, first.AddDate(0, 0, day-1))
		}
	}
	switch {
	case len(r.byMonthDay) > 0:
		for _, n := range r.byMonthDay {
			if n < 0 {
				n = last + 1 + n
			}
			at(n)
		}
	case len(r.byDay) > 0:
		for _, w := range r.byDay {
			var matches []int
			for d := 1; d <= last; d++ {
				if first.AddDate(0, 0, d-1).Weekday() == w.wd {
					matches = append(matches, d)
				}
			}
			switch {
			case w.n == 0:
				for _, d := range matches {
					at(d)
				}
			case w.n > 0 && w.n <= len(matches):
				at(matches[w.n-1])
			case w.n < 0 && -w.n <= len(matches):
				at(matches[len(matches)+w.n])
			}
		}
	default:
		at(defaultDay)
	}
	return out
}
