package microsofttest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Reading events: calendarView (occurrences, exceptions and single
// instances in a window), the events list (single instances and series
// masters), an event by id, and the event's JSON in the time zone asked
// (Prefer: outlook.timezone, Windows or IANA names; UTC without).

func (s *Server) calendarRoutes() {
	s.addRoute("GET", "calendars", permCalRead, s.listCalendars)
	s.addRoute("GET", "calendar", permCalRead, s.getCalendar)
	s.addRoute("GET", "calendars/{cal}", permCalRead, s.getCalendar)
	for _, prefix := range []string{"", "calendar/", "calendars/{cal}/"} {
		s.addRoute("GET", prefix+"calendarView", permCalRead, s.calendarView)
		s.addRoute("GET", prefix+"events", permCalRead, s.listEvents)
		s.addRoute("POST", prefix+"events", permCalWrite, s.createEvent)
	}
	s.addRoute("GET", "events/{event}", permCalRead, s.getEvent)
	s.addRoute("GET", "calendars/{cal}/events/{event}", permCalRead, s.getEvent)
	s.changeRoutes()
}

var eventSchema = &schema{
	typeName: "microsoft.graph.event",
	fields: map[string]fieldKind{
		"subject": fString, "isAllDay": fBool, "isCancelled": fBool, "isOrganizer": fBool, "showAs": fEnum, "type": fEnum,
		"importance": fEnum, "sensitivity": fEnum, "categories": fStrings, "organizer/emailAddress/address": fString,
		"organizer/emailAddress/name": fString, "start/dateTime": fString, "end/dateTime": fString, "iCalUId": fString,
		"seriesMasterId": fString, "createdDateTime": fDate, "lastModifiedDateTime": fDate, "transactionId": fString,
		"body": fUnsupported, "attendees": fUnsupported, "location/displayName": fString,
	},
	sortable: []string{"start/dateTime", "end/dateTime", "subject", "createdDateTime", "lastModifiedDateTime", "isAllDay", "importance"},
	selectable: []string{"id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "transactionId",
		"originalStartTimeZone", "originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart", "isReminderOn", "hasAttachments",
		"subject", "bodyPreview", "importance", "sensitivity", "isAllDay", "isCancelled", "isOrganizer", "responseRequested",
		"seriesMasterId", "showAs", "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting", "onlineMeetingProvider",
		"allowNewTimeProposals", "isDraft", "hideAttendees", "responseStatus", "body", "start", "end", "location", "locations",
		"recurrence", "attendees", "organizer", "onlineMeeting", "originalStart"},
}

// instance is an event as listed: a stored event, or an occurrence of a
// series (master set, the occurrence's times).
type instance struct {
	ev         *event
	occurrence bool
	start, end time.Time
	original   time.Time
}

// evEntity is an instance as $filter sees it.
type evEntity struct {
	mb   *mailbox
	in   instance
	json map[string]any
}

func (e evEntity) field(path string) any {
	ev := e.in.ev
	switch path {
	case "subject":
		return ev.subject
	case "isAllDay":
		return ev.allDay
	case "isCancelled":
		return ev.cancelled
	case "isOrganizer":
		return ev.isOrganizer
	case "showAs":
		return ev.showAs
	case "type":
		return e.json["type"]
	case "importance":
		return ev.importance
	case "sensitivity":
		return ev.sensitivity
	case "categories":
		return ev.categories
	case "organizer/emailAddress/address":
		return ev.organizer.Address
	case "organizer/emailAddress/name":
		return ev.organizer.Name
	case "start/dateTime":
		return e.in.start.UTC().Format(eventTimeLayout)
	case "end/dateTime":
		return e.in.end.UTC().Format(eventTimeLayout)
	case "iCalUId":
		return ev.iCalUID
	case "seriesMasterId":
		return e.json["seriesMasterId"]
	case "createdDateTime":
		return ev.created
	case "lastModifiedDateTime":
		return ev.modified
	case "transactionId":
		if ev.transactionID == "" {
			return nil
		}
		return ev.transactionID
	case "location/displayName":
		return ev.location
	}
	return nil
}

const eventTimeLayout = "2006-01-02T15:04:05.0000000"

// responseZone is the zone answers are in: Prefer: outlook.timezone when
// Graph knows the name (given back as written), else UTC.
func (c *call) responseZone() (*time.Location, string) {
	if name := c.prefer.timeZone; name != "" {
		if loc, ok := resolveZone(name); ok {
			c.apply(`outlook.timezone="` + name + `"`)
			return loc, name
		}
	}
	return time.UTC, "UTC"
}

// parseWindow reads calendarView's startDateTime and endDateTime: required,
// ISO 8601, UTC without an offset; Prefer: outlook.timezone does not apply
// to them (user-list-calendarview).
func (c *call) parseWindow() (start, end time.Time, ok bool) {
	q := c.r.URL.Query()
	sv, ev := get(q, "startDateTime"), get(q, "endDateTime")
	if sv == "" || ev == "" {
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter",
			"This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
		return
	}
	parse := func(name, v string) (time.Time, bool) {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The value '"+v+"' of parameter '"+name+"' is invalid.")
		return time.Time{}, false
	}
	if start, ok = parse("StartDateTime", sv); !ok {
		return
	}
	end, ok = parse("EndDateTime", ev)
	return
}

func (s *Server) calendarView(c *call) {
	ws, we, ok := c.parseWindow()
	if !ok {
		return
	}
	s.listInstances(c, true, ws, we)
}

func (s *Server) listEvents(c *call) { s.listInstances(c, false, time.Time{}, time.Time{}) }

// listInstances answers calendarView (view: occurrences in the window) or
// the events list (single instances and series masters).
func (s *Server) listInstances(c *call, view bool, ws, we time.Time) {
	lq, ok := c.parseListQuery(eventSchema, 1000, nil)
	if !ok {
		return
	}
	loc, zone := c.responseZone()
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	cal := c.calendar(mb)
	if cal == nil {
		return
	}
	var list []instance
	for _, ev := range mb.events {
		if ev.cal != cal || ev.master != nil && !view {
			continue
		}
		switch {
		case !view || ev.master == nil && ev.recurrence == nil:
			if ev.master == nil {
				list = append(list, instance{ev: ev, start: ev.start, end: ev.end})
			}
		case ev.recurrence != nil:
			list = append(list, mb.expand(ev, we)...)
		}
	}
	if view {
		list = slices.DeleteFunc(list, func(in instance) bool {
			s, e := in.bounds(loc)
			return !(s.Before(we) && e.After(ws)) || in.ev.deleted
		})
	}
	var entities []evEntity
	for _, in := range list {
		j := c.renderEvent(mb, in, loc, zone)
		if e := (evEntity{mb, in, j}); lq.filter == nil || lq.filter.eval(e) {
			entities = append(entities, e)
		}
	}
	// calendarView by start; the events list, unsorted, in creation order.
	keys := lq.orderby
	if keys == nil && view {
		keys = []orderKey{{path: "start/dateTime"}}
	}
	slices.SortStableFunc(entities, func(a, b evEntity) int {
		for _, k := range keys {
			x := compareValues(a.field(k.path), b.field(k.path))
			if k.desc {
				x = -x
			}
			if x != 0 {
				return x
			}
		}
		if keys == nil {
			return 0
		}
		return strings.Compare(a.json["id"].(string), b.json["id"].(string))
	})
	items := make([]any, len(entities))
	for i, e := range entities {
		items[i] = project(e.json, lq.selected, nil)
	}
	what := "events"
	if view {
		what = "calendarView"
	}
	c.ok(http.StatusOK, c.page(lq, c.context(what+selectSuffix(lq.selected)), items))
}

// expand lists a series' occurrences starting before limit, exceptions in
// the place of the occurrences they replace.
func (mb *mailbox) expand(master *event, limit time.Time) []instance {
	exceptions := map[int64]*event{}
	latest := limit
	for _, ev := range mb.events {
		if ev.master == master {
			exceptions[ev.originalStart.Unix()] = ev
			if ev.start.After(latest) {
				latest = ev.start
			}
		}
	}
	var out []instance
	// An exception moved into the window from an occurrence after it is
	// found by expanding as far as the latest exception.
	for _, o := range master.occurrences(latest.Add(time.Second)) {
		if ex := exceptions[o[0].Unix()]; ex != nil {
			out = append(out, instance{ev: ex, start: ex.start, end: ex.end, original: o[0]})
		} else if o[0].Before(limit) {
			out = append(out, instance{ev: master, occurrence: true, start: o[0], end: o[1], original: o[0]})
		}
	}
	return out
}

// bounds are an instance's start and end as instants; an all-day event's
// dates are midnights in loc (all-day events float).
func (in instance) bounds(loc *time.Location) (time.Time, time.Time) {
	if in.ev.allDay {
		return floating(in.start, loc), floating(in.end, loc)
	}
	return in.start, in.end
}

func floating(d time.Time, loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
}

func (s *Server) getEvent(c *call) {
	sel, err := parseSelect(get(c.r.URL.Query(), "$select"), eventSchema)
	if err != nil {
		c.queryFail(err)
		return
	}
	loc, zone := c.responseZone()
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	found := c.findInstance(mb)
	if found == nil {
		return
	}
	out := project(c.renderEvent(mb, *found, loc, zone), sel, nil)
	out["@odata.context"] = c.context("events" + selectSuffix(sel) + "/$entity")
	c.ok(http.StatusOK, out)
}

// findInstance finds the instance the {event} id names: a stored event,
// or an occurrence of a series (its exception when it has one), of the
// {cal} calendar when the path names one. When there is none it has
// answered 400 or 404 and returns nil. Call with the lock held.
func (c *call) findInstance(mb *mailbox) *instance {
	id, ok := parseID(c.params["event"])
	if !ok {
		c.badID()
		return nil
	}
	var found *instance
	for _, ev := range mb.events {
		switch {
		case id.mailbox != mb.key:
		case id.kind == kindEvent && ev.seq == id.b && !ev.deleted:
			found = &instance{ev: ev, start: ev.start, end: ev.end, original: ev.originalStart}
		case id.kind == kindOccurrence && ev.seq == id.a && ev.recurrence != nil:
			for _, in := range mb.expand(ev, time.Unix(int64(id.b), 0).Add(time.Second)) {
				if in.original.Unix() == int64(id.b) && !in.ev.deleted {
					found = &in
				}
			}
		}
	}
	if _, has := c.params["cal"]; has && found != nil {
		if cal := c.calendar(mb); cal == nil {
			return nil
		} else if found.ev.cal != cal {
			found = nil
		}
	}
	if found == nil {
		c.notFound()
	}
	return found
}

// renderEvent is an instance as Graph's JSON, times in loc named zone.
func (c *call) renderEvent(mb *mailbox, in instance, loc *time.Location, zone string) map[string]any {
	ev := in.ev
	immutable := c.prefer.immutable
	if immutable {
		c.apply(`IdType="ImmutableId"`)
	}
	typ, id := "singleInstance", mb.eventID(ev, immutable)
	var master, recur any
	switch {
	case in.occurrence:
		typ, id, master = "occurrence", mb.occurrenceID(ev, in.original, immutable), mb.eventID(ev, immutable)
	case ev.master != nil:
		typ, master = "exception", mb.eventID(ev.master, immutable)
	case ev.recurrence != nil:
		typ, recur = "seriesMaster", ev.recurrence.render()
	}
	when := func(t time.Time) map[string]string {
		if ev.allDay {
			return map[string]string{"dateTime": t.Format("2006-01-02") + "T00:00:00.0000000", "timeZone": zone}
		}
		return map[string]string{"dateTime": t.In(loc).Format(eventTimeLayout), "timeZone": zone}
	}
	body := bodyAs(ev.body, c.prefer.bodyType)
	if c.prefer.bodyType == "text" || c.prefer.bodyType == "html" {
		c.apply(`outlook.body-content-type="` + c.prefer.bodyType + `"`)
	}
	var attendees []any
	for _, a := range ev.attendees {
		attendees = append(attendees, map[string]any{"type": a.typ, "status": map[string]string{"response": a.response,
			"time": "0001-01-01T00:00:00Z"}, "emailAddress": map[string]string{"name": nameOr(a.Recipient), "address": a.Address}})
	}
	var online any
	provider := "unknown"
	if ev.onlineMeeting != "" {
		online, provider = map[string]string{"joinUrl": ev.onlineMeeting}, "teamsForBusiness"
		if mb.owner.Personal {
			provider = "teamsForConsumer"
		}
	}
	location := map[string]any{"displayName": ev.location, "locationType": "default", "uniqueIdType": "unknown"}
	locations := []any{}
	if ev.location != "" {
		location["uniqueId"], location["uniqueIdType"] = ev.location, "private"
		locations = append(locations, location)
	}
	var txn any
	if ev.transactionID != "" {
		txn = ev.transactionID
	}
	out := map[string]any{
		"@odata.etag": etag(ev.seq, 0), "id": id, "createdDateTime": preciseTime(ev.created),
		"lastModifiedDateTime": preciseTime(ev.modified), "changeKey": changeKey(ev.seq, 0), "categories": nonNilStrings(ev.categories),
		"transactionId": txn, "originalStartTimeZone": windowsOrGiven(ev.startZone), "originalEndTimeZone": windowsOrGiven(ev.endZone),
		"iCalUId": ev.iCalUID, "reminderMinutesBeforeStart": ev.reminder, "isReminderOn": !ev.allDay, "hasAttachments": false,
		"subject": ev.subject, "bodyPreview": bodyPreview(ev.body), "importance": ev.importance, "sensitivity": ev.sensitivity,
		"isAllDay": ev.allDay, "isCancelled": ev.cancelled, "isOrganizer": ev.isOrganizer, "responseRequested": true,
		"seriesMasterId": master, "showAs": ev.showAs, "type": typ, "webLink": calendarLink(mb, id),
		"onlineMeetingUrl": nil, "isOnlineMeeting": ev.onlineMeeting != "", "onlineMeetingProvider": provider,
		"allowNewTimeProposals": true, "isDraft": false, "hideAttendees": false,
		"responseStatus": map[string]string{"response": ev.response, "time": "0001-01-01T00:00:00Z"},
		"body":           map[string]string{"contentType": body.typ, "content": body.content},
		"start":          when(in.start), "end": when(in.end), "location": location, "locations": locations,
		"recurrence": recur, "attendees": nonNil(attendees), "onlineMeeting": online,
		"organizer": map[string]any{"emailAddress": map[string]string{"name": nameOr(ev.organizer), "address": ev.organizer.Address}},
	}
	if typ == "occurrence" || typ == "exception" {
		out["originalStart"] = graphTime(in.original)
	}
	return out
}

func nameOr(r Recipient) string {
	if r.Name == "" {
		return r.Address
	}
	return r.Name
}

func calendarLink(mb *mailbox, id string) string {
	host := "https://outlook.office365.com/owa/"
	if mb.owner.Personal {
		host = "https://outlook.live.com/owa/"
	}
	return host + "?itemid=" + url.QueryEscape(id) + "&exvsurl=1&path=/calendar/item"
}
