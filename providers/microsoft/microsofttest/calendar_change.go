package microsofttest

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Changing events as Graph documents it: PATCH (the properties sent
// change; an occurrence's patch makes an exception), DELETE (on the
// organizer's calendar a meeting's deletion sends the attendees a
// cancellation; a series master's takes its occurrences), the cancel
// action (the organizer only, 202), and accept, decline and
// tentativelyAccept (202; the organizer's answer is refused with 400).

func (s *Server) changeRoutes() {
	for _, prefix := range []string{"events/{event}", "calendars/{cal}/events/{event}"} {
		s.addRoute("PATCH", prefix, permCalWrite, s.patchEvent)
		s.addRoute("DELETE", prefix, permCalWrite, s.deleteEvent)
		s.addRoute("POST", prefix+"/cancel", permCalWrite, s.cancelEvent)
		s.addRoute("GET", prefix+"/instances", permCalRead, s.seriesInstances)
		for _, action := range []string{"accept", "decline", "tentativelyAccept"} {
			s.addRoute("POST", prefix+"/"+action, permCalWrite, func(c *call) { s.respondEvent(c, action) })
		}
	}
}

// lockEvent takes the fake's lock and finds the stored event the {event}
// id names, making the exception of an occurrence when it names one. When
// there is none it has answered 400 or 404, released the lock and returns a
// nil event; otherwise the caller calls unlock.
func (s *Server) lockEvent(c *call) (mb *mailbox, ev *event, unlock func()) {
	s.graph.mu.Lock()
	mb = s.mailboxLocked(c.user.UPN)
	in := c.findInstance(mb)
	if in == nil {
		s.graph.mu.Unlock()
		return nil, nil, nil
	}
	if !in.occurrence {
		return mb, in.ev, s.graph.mu.Unlock
	}
	ex := *in.ev
	ex.master, ex.originalStart, ex.start, ex.end, ex.recurrence = in.ev, in.original, in.start, in.end, nil
	ex.attendees, ex.createdBy, ex.iCalUID = slices.Clone(in.ev.attendees), nil, ""
	mb.storeEvent(&ex)
	return mb, &ex, s.graph.mu.Unlock
}

// patchEvent changes the properties sent (the others of eventProps are
// accepted and kept); the organizer's change of a meeting sends the
// attendees an update, and those it removes a cancellation.
func (s *Server) patchEvent(c *call) {
	var raw json.RawMessage
	if !c.readBody(&raw) {
		return
	}
	var props map[string]json.RawMessage
	var in eventInput
	if json.Unmarshal(raw, &props) != nil || json.Unmarshal(raw, &in) != nil {
		c.queryFail(bodyReadError("Cannot read the event: a JSON object of the event resource is expected."))
		return
	}
	for k := range props {
		if !slices.Contains(eventProps, k) || k == "transactionId" {
			c.queryFail(bodyReadError("The property '%s' does not exist on type 'microsoft.graph.event'. "+
				"Make sure to only use property names that are defined by the type or mark the type as open type.", k))
			return
		}
	}
	loc, zone := c.responseZone()
	mb, ev, unlock := s.lockEvent(c)
	if ev == nil {
		return
	}
	defer unlock()
	next := *ev
	next.attendees = slices.Clone(ev.attendees)
	if qerr := s.patchProps(c, &next, props, &in); qerr != nil {
		c.queryFail(qerr)
		return
	}
	if props["recurrence"] != nil && ev.master != nil {
		c.queryFail(&queryError{"ErrorInvalidRequest", "Your request can't be completed. An occurrence or exception cannot have a recurrence."})
		return
	}
	now := s.Now()
	removed := slices.DeleteFunc(slices.Clone(ev.attendees), func(a attendee) bool {
		return slices.ContainsFunc(next.attendees, func(b attendee) bool { return strings.EqualFold(a.Address, b.Address) })
	})
	*ev = next
	ev.modified = now
	// Reminders and categories are the owner's own: only a change of what
	// attendees see is sent to them.
	shared := false
	for _, k := range []string{"subject", "body", "start", "end", "isAllDay", "location", "locations", "attendees", "recurrence", "isOnlineMeeting", "onlineMeetingProvider"} {
		shared = shared || props[k] != nil
	}
	if ev.isOrganizer && shared {
		mb.sendMeeting(ev, "update", "", ev.attendees, now)
		mb.sendMeeting(ev, "cancellation", "", removed, now)
	}
	out := c.renderEvent(mb, instance{ev: ev, start: ev.start, end: ev.end, original: ev.originalStart}, loc, zone)
	out["@odata.context"] = c.context("events/$entity")
	c.ok(http.StatusOK, out)
}

// patchProps applies the properties a PATCH sent.
func (s *Server) patchProps(c *call, ev *event, props map[string]json.RawMessage, in *eventInput) *queryError {
	invalid := func(msg string) *queryError { return &queryError{"ErrorInvalidRequest", msg} }
	if in.Subject != nil {
		ev.subject = *in.Subject
	}
	if in.Body != nil {
		typ := strings.ToLower(in.Body.ContentType)
		if typ != "text" && typ != "html" {
			return bodyReadError("Requested value '%s' was not found.", in.Body.ContentType)
		}
		ev.body = bodyContent{typ: typ, content: in.Body.Content}
	}
	if in.Location != nil {
		ev.location = in.Location.DisplayName
	}
	if props["start"] != nil || props["end"] != nil || props["isAllDay"] != nil {
		if in.Start != nil {
			t, z, err := parseEventTime(in.Start)
			if err != nil {
				return err
			}
			ev.start, ev.startZone = t, z
		}
		if in.End != nil {
			t, z, err := parseEventTime(in.End)
			if err != nil {
				return err
			}
			ev.end, ev.endZone = t, z
		}
		if props["isAllDay"] != nil {
			ev.allDay = in.IsAllDay
		}
		if ev.allDay {
			sl, el := ev.start.In(mustResolve(ev.startZone)), ev.end.In(mustResolve(ev.endZone))
			if sl.Hour()|sl.Minute()|sl.Second() != 0 || el.Hour()|el.Minute()|el.Second() != 0 {
				return invalid("Your request can't be completed. If the event is an all-day event, the start and end times must be at midnight and in the same time zone.")
			}
			ev.start = time.Date(sl.Year(), sl.Month(), sl.Day(), 0, 0, 0, 0, time.UTC)
			ev.end = time.Date(el.Year(), el.Month(), el.Day(), 0, 0, 0, 0, time.UTC)
		}
		if !ev.end.After(ev.start) {
			return invalid("Your request can't be completed. The end of the event must be after its start.")
		}
	}
	if props["attendees"] != nil {
		var list []attendee
		for i, a := range in.Attendees {
			if a.EmailAddress == nil {
				return bodyReadError("Cannot read the property 'attendees': attendee %d has no emailAddress.", i)
			}
			if p, err := mail.ParseAddress(a.EmailAddress.Address); err != nil || p.Address != a.EmailAddress.Address {
				return &queryError{"ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient '" + a.EmailAddress.Address + "' is not resolved."}
			}
			typ := a.Type
			if typ == "" {
				typ = "required"
			}
			at := attendee{Recipient: *a.EmailAddress, typ: typ, response: "none"}
			for _, old := range ev.attendees {
				if strings.EqualFold(old.Address, at.Address) {
					at.response = old.response
				}
			}
			list = append(list, at)
		}
		ev.attendees = list
	}
	if in.ReminderMinutes != nil {
		ev.reminder = *in.ReminderMinutes
	}
	if in.IsOnlineMeeting && ev.onlineMeeting == "" {
		ev.onlineMeeting = teamsJoinURL()
	}
	if len(in.Recurrence) > 0 && string(in.Recurrence) != "null" {
		r, err := parseRecurrence(in.Recurrence, windowsOrGiven(ev.startZone))
		if err != nil {
			return &queryError{"ErrorPropertyValidationFailure", err.Error()}
		}
		ev.recurrence = r
	}
	return nil
}

// sendMeeting records the organizer's meeting message kind about ev ("" a
// request, "update" or "cancellation") to each of to. A cancellation's
// subject is prefixed as Exchange does and carries no join link.
func (mb *mailbox) sendMeeting(ev *event, kind, comment string, to []attendee, now time.Time) {
	id := mb.eventID(ev, false)
	subject, join := ev.subject, ev.onlineMeeting
	if kind == "cancellation" {
		subject, join = "Canceled: "+subject, ""
	}
	for _, a := range to {
		mb.invites = append(mb.invites, Invitation{Kind: kind, Comment: comment, EventID: id, ICalUID: ev.iCalUID, To: a.Recipient, Type: a.typ,
			Subject: subject, Start: ev.start, End: ev.end, AllDay: ev.allDay, Organizer: ev.organizer, JoinURL: join, Sent: now})
	}
}

// deleteEvent removes an event: a series with its exceptions, an
// occurrence as a deleted exception. The organizer's deletion of a meeting
// sends its attendees a cancellation.
func (s *Server) deleteEvent(c *call) {
	mb, ev, unlock := s.lockEvent(c)
	if ev == nil {
		return
	}
	defer unlock()
	s.removeLocked(mb, ev, "")
	c.noContent(http.StatusNoContent)
}

func (s *Server) removeLocked(mb *mailbox, ev *event, comment string) {
	now := s.Now()
	if ev.isOrganizer {
		mb.sendMeeting(ev, "cancellation", comment, ev.attendees, now)
	}
	if ev.master != nil {
		ev.deleted, ev.modified = true, now // the occurrence stays removed from its series
		return
	}
	mb.events = slices.DeleteFunc(mb.events, func(e *event) bool { return e == ev || e.master == ev })
}

// cancelEvent is the organizer's cancel action: a cancellation (with an
// optional comment) to the attendees, and the event removed.
func (s *Server) cancelEvent(c *call) {
	var in struct {
		Comment string `json:"comment"`
	}
	if !c.readBody(&in) {
		return
	}
	mb, ev, unlock := s.lockEvent(c)
	if ev == nil {
		return
	}
	defer unlock()
	if !ev.isOrganizer {
		c.fail(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You need to be an organizer to cancel a meeting.")
		return
	}
	s.removeLocked(mb, ev, in.Comment)
	c.noContent(http.StatusAccepted)
}

// respondEvent answers an invitation; sendResponse (default true) sends
// the organizer the response.
func (s *Server) respondEvent(c *call, action string) {
	var in struct {
		Comment      string `json:"comment"`
		SendResponse *bool  `json:"sendResponse"`
	}
	if !c.readBody(&in) {
		return
	}
	mb, ev, unlock := s.lockEvent(c)
	if ev == nil {
		return
	}
	defer unlock()
	if ev.isOrganizer {
		c.fail(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to this meeting because you're the meeting organizer.")
		return
	}
	resp := map[string]string{"accept": "accepted", "decline": "declined", "tentativelyAccept": "tentativelyAccepted"}[action]
	ev.response, ev.modified = resp, s.Now()
	for i, a := range ev.attendees {
		if strings.EqualFold(a.Address, mb.owner.Email) {
			ev.attendees[i].response = resp
		}
	}
	if in.SendResponse == nil || *in.SendResponse {
		mb.invites = append(mb.invites, Invitation{Kind: "response", Response: resp, Comment: in.Comment, EventID: mb.eventID(ev, false), ICalUID: ev.iCalUID,
			To: ev.organizer, Subject: ev.subject, Start: ev.start, End: ev.end, AllDay: ev.allDay,
			Organizer: ev.organizer, Sent: ev.modified})
	}
	c.noContent(http.StatusAccepted)
}

// seriesInstances lists a series master's occurrences and exceptions in a
// window (startDateTime and endDateTime required, as for calendarView), by
// start; a single event has none.
func (s *Server) seriesInstances(c *call) {
	ws, we, ok := c.parseWindow()
	if !ok {
		return
	}
	lq, ok := c.parseListQuery(eventSchema, 1000, nil)
	if !ok {
		return
	}
	loc, zone := c.responseZone()
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	id, ok := parseID(c.params["event"])
	if !ok {
		c.badID()
		return
	}
	master := mb.findEventLocked(c.params["event"])
	if id.kind != kindEvent || master == nil || master.deleted || master.master != nil {
		c.notFound()
		return
	}
	var items []any
	if master.recurrence != nil {
		for _, in := range mb.expand(master, we) {
			st, en := in.bounds(loc)
			if st.Before(we) && en.After(ws) && !in.ev.deleted {
				items = append(items, project(c.renderEvent(mb, in, loc, zone), lq.selected, nil))
			}
		}
	}
	c.ok(http.StatusOK, c.page(lq, c.context("events('"+c.params["event"]+"')/instances"+selectSuffix(lq.selected)), nonNil(items)))
}
