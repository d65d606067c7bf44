package microsofttest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Calendars and events: the store, AddEvent for tests, and the JSON of
// calendars and events (the calendar and event resources).

type calendar struct {
	seq       uint64
	name      string
	color     string
	isDefault bool
	canEdit   bool
	owner     Recipient
}

type event struct {
	seq        uint64
	cal        *calendar
	subject    string
	body       bodyContent
	location   string
	start, end time.Time // instants; all day: the dates' midnights in UTC
	allDay     bool
	// startZone and endZone are the zones the event was made in, as given
	// (Windows or IANA names).
	startZone, endZone string
	recurrence         *recurrence // a series master's
	// master is an exception's or deleted occurrence's series master;
	// originalStart the start of the occurrence it replaces.
	master        *event
	originalStart time.Time
	deleted       bool // an occurrence the organizer deleted: not shown
	cancelled     bool
	attendees     []attendee
	organizer     Recipient
	isOrganizer   bool
	response      string // the owner's: organizer, accepted, tentativelyAccepted, declined, notResponded, none
	showAs        string
	importance    string
	sensitivity   string
	categories    []string
	onlineMeeting string // a Teams join URL
	created       time.Time
	modified      time.Time
	transactionID string
	iCalUID       string
	reminder      int
	createdBy     *CreatedEvent // what the request that created it asked for
}

type attendee struct {
	Recipient
	typ      string // required, optional, resource
	response string // none, accepted, tentativelyAccepted, declined, notResponded, organizer
}

func (mb *mailbox) addCalendar(c calendar) *calendar {
	c.seq = mb.next()
	cal := &c
	mb.cals = append(mb.cals, cal)
	return cal
}

func (mb *mailbox) calendarID(c *calendar) string {
	return itemID{mailbox: mb.key, kind: kindCalendar, b: c.seq}.String()
}

func (mb *mailbox) defaultCalendar() *calendar {
	for _, c := range mb.cals {
		if c.isDefault {
			return c
		}
	}
	return nil
}

// findCalendar resolves a calendar id; ok is false for a malformed one.
func (mb *mailbox) findCalendar(s string) (*calendar, bool) {
	id, ok := parseID(s)
	if !ok {
		return nil, false
	}
	for _, c := range mb.cals {
		if id.mailbox == mb.key && id.kind == kindCalendar && id.b == c.seq {
			return c, true
		}
	}
	return nil, true
}

func (mb *mailbox) eventID(ev *event, immutable bool) string {
	return itemID{mailbox: mb.key, kind: kindEvent, a: ev.cal.seq, b: ev.seq, immutable: immutable}.String()
}

func (mb *mailbox) occurrenceID(master *event, originalStart time.Time, immutable bool) string {
	return itemID{mailbox: mb.key, kind: kindOccurrence, a: master.seq, b: uint64(originalStart.Unix()), immutable: immutable}.String()
}

// Event is an event as AddEvent takes it.
type Event struct {
	Subject, Body, Location string
	// Start and End; for an all-day event only their dates count, End
	// exclusive.
	Start, End time.Time
	AllDay     bool
	// TimeZone is the zone the event is made in (Windows or IANA name);
	// default the mailbox's.
	TimeZone, EndTimeZone string
	// Recurrence makes a series from RFC 5545 lines (RRULE, EXDATE: the
	// excluded instances are deleted occurrences).
	Recurrence []string
	Attendees  []Attendee
	// Organizer is another person who organizes it (the owner is an
	// attendee); default the owner.
	Organizer *Recipient
	Cancelled bool   // cancelled by its organizer (isCancelled)
	ShowAs    string // free, tentative, busy (default), oof, workingElsewhere
	// OnlineMeeting attaches a Teams meeting.
	OnlineMeeting bool
	Categories    []string
	// SeriesID and OriginalStart make an exception of a series: the
	// occurrence of SeriesID that starts at OriginalStart moves to Start
	// and End, or with Deleted is removed.
	SeriesID      string
	OriginalStart time.Time
	Deleted       bool
}

// Attendee of an Event.
type Attendee struct {
	Email, Name string
	Type        string // required (default), optional, resource
	// Response is none (default), accepted, tentativelyAccepted, declined
	// or notResponded.
	Response string
}

// AddEvent adds an event to a user's calendar ("" for the default one, or
// a calendar's name) and returns its id. It panics on what a test must not
// get wrong (an unknown calendar, zone or series, a bad rule).
func (s *Server) AddEvent(email, calendarName string, e Event) string {
	g := s.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	mb := s.mailboxLocked(email)
	cal := mb.defaultCalendar()
	if calendarName != "" {
		i := slices.IndexFunc(mb.cals, func(c *calendar) bool { return strings.EqualFold(c.name, calendarName) })
		if i < 0 {
			panic("microsofttest: AddEvent: no calendar " + calendarName)
		}
		cal = mb.cals[i]
	}
	if e.TimeZone == "" {
		e.TimeZone = mb.timeZone
	}
	if e.EndTimeZone == "" {
		e.EndTimeZone = e.TimeZone
	}
	if _, ok := resolveZone(e.TimeZone); !ok {
		panic("microsofttest: AddEvent: unknown time zone " + e.TimeZone)
	}
	now := s.Now()
	ev := &event{cal: cal, subject: e.Subject, body: bodyContent{typ: "text", content: e.Body}, location: e.Location,
		start: e.Start, end: e.End, allDay: e.AllDay, startZone: e.TimeZone, endZone: e.EndTimeZone, cancelled: e.Cancelled,
		showAs: e.ShowAs, importance: "normal", sensitivity: "normal", categories: slices.Clone(e.Categories),
		created: now, modified: now, reminder: 15, organizer: cal.owner, isOrganizer: true, response: "organizer"}
	if e.AllDay {
		ev.start = time.Date(e.Start.Year(), e.Start.Month(), e.Start.Day(), 0, 0, 0, 0, time.UTC)
		ev.end = time.Date(e.End.Year(), e.End.Month(), e.End.Day(), 0, 0, 0, 0, time.UTC)
		if ev.showAs == "" {
			ev.showAs = "free"
		}
	}
	if ev.showAs == "" {
		ev.showAs = "busy"
	}
	if e.Organizer != nil {
		ev.organizer, ev.isOrganizer, ev.response = *e.Organizer, false, "notResponded"
	}
	for _, a := range e.Attendees {
		at := attendee{Recipient: Recipient{Name: a.Name, Address: a.Email}, typ: a.Type, response: a.Response}
		if at.typ == "" {
			at.typ = "required"
		}
		if at.response == "" {
			at.response = "none"
		}
		if strings.EqualFold(a.Email, mb.owner.Email) && !ev.isOrganizer {
			ev.response = at.response
		}
		ev.attendees = append(ev.attendees, at)
	}
	if e.OnlineMeeting {
		ev.onlineMeeting = teamsJoinURL()
	}
	if e.SeriesID != "" {
		master := mb.findEventLocked(e.SeriesID)
		if master == nil || master.recurrence == nil {
			panic("microsofttest: AddEvent: no series " + e.SeriesID)
		}
		ev.master, ev.originalStart, ev.deleted = master, e.OriginalStart, e.Deleted
		ev.organizer, ev.isOrganizer, ev.response = master.organizer, master.isOrganizer, master.response
		if ev.attendees == nil {
			ev.attendees = slices.Clone(master.attendees)
		}
	}
	if len(e.Recurrence) > 0 {
		loc, _ := resolveZone(e.TimeZone)
		r, exdates, err := recurrenceFromRRULE(e.Recurrence, ev.start.In(loc), windowsOrGiven(e.TimeZone))
		if err != nil {
			panic("microsofttest: AddEvent: " + err.Error())
		}
		ev.recurrence = r
		defer func() {
			for _, d := range exdates {
				mb.storeEvent(&event{cal: cal, master: ev, originalStart: d, deleted: true, created: now, modified: now})
			}
		}()
	}
	mb.storeEvent(ev)
	return mb.eventID(ev, false)
}

func (mb *mailbox) storeEvent(ev *event) {
	ev.seq = mb.next()
	if ev.iCalUID == "" {
		ev.iCalUID = fmt.Sprintf("040000008200E00074C5B7101A82E008000000%032X", ev.seq)
		if ev.master != nil {
			ev.iCalUID = ev.master.iCalUID
		}
	}
	mb.events = append(mb.events, ev)
}

// findEventLocked finds a stored event (single, master, exception) by id.
func (mb *mailbox) findEventLocked(s string) *event {
	id, ok := parseID(s)
	if !ok || id.mailbox != mb.key || id.kind != kindEvent {
		return nil
	}
	for _, ev := range mb.events {
		if ev.seq == id.b {
			return ev
		}
	}
	return nil
}

func teamsJoinURL() string {
	return "https://teams.microsoft.com/l/meetup-join/19%3ameeting_" + randomToken(30) + "%40thread.v2/0"
}

// windowsOrGiven is a zone's Windows name, or the name as given when the
// table lacks it.
func windowsOrGiven(name string) string {
	if w := windowsName(name); w != "" {
		return w
	}
	return name
}

func (s *Server) listCalendars(c *call) {
	lq, ok := c.parseListQuery(calendarSchema, 1000, nil)
	if !ok {
		return
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	var items []any
	for _, cal := range mb.cals {
		items = append(items, project(mb.renderCalendar(cal), lq.selected, nil))
	}
	c.ok(http.StatusOK, c.page(lq, c.context("calendars"+selectSuffix(lq.selected)), items))
}

func (s *Server) getCalendar(c *call) {
	sel, err := parseSelect(get(c.r.URL.Query(), "$select"), calendarSchema)
	if err != nil {
		c.queryFail(err)
		return
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	cal := c.calendar(mb)
	if cal == nil {
		return
	}
	out := project(mb.renderCalendar(cal), sel, nil)
	out["@odata.context"] = c.context("calendars" + selectSuffix(sel) + "/$entity")
	c.ok(http.StatusOK, out)
}

// calendar is the {cal} calendar, or the default one (/calendar); it
// answers 400 and 404 itself.
func (c *call) calendar(mb *mailbox) *calendar {
	id, has := c.params["cal"]
	if !has {
		return mb.defaultCalendar()
	}
	cal, ok := mb.findCalendar(id)
	switch {
	case !ok:
		c.badID()
	case cal == nil:
		c.notFound()
	}
	return cal
}

var calendarSchema = &schema{
	typeName: "microsoft.graph.calendar",
	fields:   map[string]fieldKind{"name": fString},
	selectable: []string{"id", "name", "color", "hexColor", "isDefaultCalendar", "changeKey", "canShare", "canViewPrivateItems",
		"canEdit", "isRemovable", "isTallyingResponses", "allowedOnlineMeetingProviders", "defaultOnlineMeetingProvider", "owner"},
}

func (mb *mailbox) renderCalendar(cal *calendar) map[string]any {
	own := strings.EqualFold(cal.owner.Address, mb.owner.Email)
	providers, def := []string{"teamsForBusiness"}, "teamsForBusiness"
	if mb.owner.Personal {
		providers, def = []string{"teamsForConsumer"}, "teamsForConsumer"
	}
	return map[string]any{
		"id": mb.calendarID(cal), "name": cal.name, "color": cal.color, "hexColor": "", "isDefaultCalendar": cal.isDefault,
		"changeKey": changeKey(cal.seq, 0), "canShare": own, "canViewPrivateItems": own, "canEdit": cal.canEdit,
		"isRemovable": !cal.isDefault, "isTallyingResponses": own, "allowedOnlineMeetingProviders": providers,
		"defaultOnlineMeetingProvider": def, "owner": map[string]string{"name": cal.owner.Name, "address": cal.owner.Address},
	}
}
