package microsofttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Creating events (POST /events, event resource): validation, the
// transactionId that makes a retried POST return the event it created,
// Teams meetings, and the invitations sent to the attendees.

// Invitation is a meeting message an event sent: a request when it was
// created, an update or a cancellation when its organizer changed or
// deleted it, or an attendee's response to its organizer.
type Invitation struct {
	Kind       string // "" (a request), update, cancellation, response
	Response   string // a response's: accepted, tentativelyAccepted, declined
	Comment    string // a response's or cancellation's comment
	EventID    string // the organizer's event
	ICalUID    string
	To         Recipient
	Type       string // required, optional, resource
	Subject    string
	Start, End time.Time
	AllDay     bool
	Organizer  Recipient
	JoinURL    string // the Teams meeting, if any
	Sent       time.Time
}

// Invitations returns the meeting messages a user's events sent (requests,
// updates, cancellations, responses), oldest first.
func (s *Server) Invitations(email string) []Invitation {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	return slices.Clone(s.mailboxLocked(email).invites)
}

// CreatedEvent is an event a request created, as Graph took it.
type CreatedEvent struct {
	ID, CalendarID, ICalUID string
	Subject, Body           string
	BodyType                string
	Location                string
	Start, End              time.Time
	AllDay                  bool
	TimeZone, EndTimeZone   string // as given
	Attendees               []Attendee
	Recurrence              json.RawMessage // the patternedRecurrence sent
	TransactionID           string
	JoinURL                 string
}

// CreatedEvents returns the events created through Graph for a user,
// oldest first.
func (s *Server) CreatedEvents(email string) []CreatedEvent {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(email)
	var out []CreatedEvent
	for _, ev := range mb.events {
		if ev.createdBy == nil {
			continue
		}
		ce := *ev.createdBy
		ce.Attendees = slices.Clone(ce.Attendees)
		out = append(out, ce)
	}
	return out
}

type eventInput struct {
	Subject  *string `json:"subject"`
	Body     *struct{ ContentType, Content string }
	Start    *dateTimeTimeZone `json:"start"`
	End      *dateTimeTimeZone `json:"end"`
	IsAllDay bool              `json:"isAllDay"`
	Location *struct {
		DisplayName string `json:"displayName"`
	} `json:"location"`
	Attendees []struct {
		EmailAddress *Recipient `json:"emailAddress"`
		Type         string     `json:"type"`
	} `json:"attendees"`
	Recurrence            json.RawMessage `json:"recurrence"`
	IsOnlineMeeting       bool            `json:"isOnlineMeeting"`
	OnlineMeetingProvider string          `json:"onlineMeetingProvider"`
	TransactionID         string          `json:"transactionId"`
	ShowAs                string          `json:"showAs"`
	Importance            string          `json:"importance"`
	Sensitivity           string          `json:"sensitivity"`
	Categories            []string        `json:"categories"`
	ReminderMinutes       *int            `json:"reminderMinutesBeforeStart"`
}

type dateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// eventProps are the properties a POST /events may carry.
var eventProps = []string{"subject", "body", "start", "end", "isAllDay", "location", "locations", "attendees", "recurrence",
	"isOnlineMeeting", "onlineMeetingProvider", "transactionId", "showAs", "importance", "sensitivity", "categories",
	"reminderMinutesBeforeStart", "isReminderOn", "responseRequested", "allowNewTimeProposals", "hideAttendees", "@odata.type"}

func (s *Server) createEvent(c *call) {
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
		if !slices.Contains(eventProps, k) {
			c.queryFail(bodyReadError("The property '%s' does not exist on type 'microsoft.graph.event'. "+
				"Make sure to only use property names that are defined by the type or mark the type as open type.", k))
			return
		}
	}
	ev, qerr := s.eventFromInput(c, &in)
	if qerr != nil {
		c.queryFail(qerr)
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
	if !cal.canEdit {
		c.fail(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return
	}
	// A client's retry of the same POST: the event it created, once
	// (event resource, transactionId).
	if in.TransactionID != "" {
		for _, old := range mb.events {
			if old.transactionID == in.TransactionID {
				out := c.renderEvent(mb, instance{ev: old, start: old.start, end: old.end}, loc, zone)
				out["@odata.context"] = c.context("events/$entity")
				c.ok(http.StatusCreated, out)
				return
			}
		}
	}
	now := s.Now()
	owner := Recipient{Name: mb.owner.DisplayName, Address: mb.owner.Email}
	ev.cal, ev.organizer, ev.isOrganizer, ev.response, ev.created, ev.modified = cal, owner, true, "organizer", now, now
	mb.storeEvent(ev)
	id := mb.eventID(ev, false)
	ce := &CreatedEvent{ID: id, CalendarID: mb.calendarID(cal), ICalUID: ev.iCalUID, Subject: ev.subject, Body: ev.body.content,
		BodyType: ev.body.typ, Location: ev.location, Start: ev.start, End: ev.end, AllDay: ev.allDay, TimeZone: ev.startZone,
		EndTimeZone: ev.endZone, Recurrence: in.Recurrence, TransactionID: ev.transactionID, JoinURL: ev.onlineMeeting}
	for _, a := range ev.attendees {
		ce.Attendees = append(ce.Attendees, Attendee{Email: a.Address, Name: a.Name, Type: a.typ, Response: a.response})
	}
	mb.sendMeeting(ev, "", "", ev.attendees, now)
	ev.createdBy = ce
	out := c.renderEvent(mb, instance{ev: ev, start: ev.start, end: ev.end}, loc, zone)
	out["@odata.context"] = c.context("events/$entity")
	c.ok(http.StatusCreated, out)
}

// eventFromInput validates a new event.
func (s *Server) eventFromInput(c *call, in *eventInput) (*event, *queryError) {
	invalid := func(format string, args ...any) *queryError {
		return &queryError{"ErrorInvalidRequest", fmt.Sprintf(format, args...)}
	}
	if in.Start == nil || in.End == nil {
		return nil, invalid("Your request can't be completed. The event needs a start and an end.")
	}
	start, startZone, err := parseEventTime(in.Start)
	if err != nil {
		return nil, err
	}
	end, endZone, err := parseEventTime(in.End)
	if err != nil {
		return nil, err
	}
	ev := &event{start: start, end: end, startZone: startZone, endZone: endZone, allDay: in.IsAllDay, showAs: "busy",
		importance: "normal", sensitivity: "normal", categories: in.Categories, reminder: 15, transactionID: in.TransactionID,
		body: bodyContent{typ: "html"}}
	if in.IsAllDay {
		sl, el := start.In(mustResolve(startZone)), end.In(mustResolve(endZone))
		if sl.Hour()|sl.Minute()|sl.Second() != 0 || el.Hour()|el.Minute()|el.Second() != 0 || startZone != endZone {
			return nil, invalid("Your request can't be completed. If the event is an all-day event, the start and end times must be at midnight and in the same time zone.")
		}
		ev.start = time.Date(sl.Year(), sl.Month(), sl.Day(), 0, 0, 0, 0, time.UTC)
		ev.end = time.Date(el.Year(), el.Month(), el.Day(), 0, 0, 0, 0, time.UTC)
		ev.showAs = "free"
	}
	if !ev.end.After(ev.start) {
		return nil, invalid("Your request can't be completed. The end of the event must be after its start.")
	}
	if in.Subject != nil {
		ev.subject = *in.Subject
	}
	if in.Body != nil {
		typ := strings.ToLower(in.Body.ContentType)
		if typ != "text" && typ != "html" {
			return nil, bodyReadError("Requested value '%s' was not found.", in.Body.ContentType)
		}
		ev.body = bodyContent{typ: typ, content: in.Body.Content}
	}
	if in.Location != nil {
		ev.location = in.Location.DisplayName
	}
	for i, a := range in.Attendees {
		if a.EmailAddress == nil {
			return nil, bodyReadError("Cannot read the property 'attendees': attendee %d has no emailAddress.", i)
		}
		if p, err := mail.ParseAddress(a.EmailAddress.Address); err != nil || p.Address != a.EmailAddress.Address {
			return nil, &queryError{"ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient '" + a.EmailAddress.Address + "' is not resolved."}
		}
		typ := a.Type
		if typ == "" {
			typ = "required"
		}
		if !slices.Contains([]string{"required", "optional", "resource"}, typ) {
			return nil, bodyReadError("Requested value '%s' was not found.", a.Type)
		}
		ev.attendees = append(ev.attendees, attendee{Recipient: *a.EmailAddress, typ: typ, response: "none"})
	}
	for _, v := range []struct{ val, allowed string }{{in.ShowAs, "free tentative busy oof workingElsewhere unknown"},
		{in.Importance, "low normal high"}, {in.Sensitivity, "normal personal private confidential"}} {
		if v.val != "" && !slices.Contains(strings.Fields(v.allowed), v.val) {
			return nil, bodyReadError("Requested value '%s' was not found.", v.val)
		}
	}
	if in.ShowAs != "" {
		ev.showAs = in.ShowAs
	}
	if in.Importance != "" {
		ev.importance = in.Importance
	}
	if in.Sensitivity != "" {
		ev.sensitivity = in.Sensitivity
	}
	if in.ReminderMinutes != nil {
		ev.reminder = *in.ReminderMinutes
	}
	if in.IsOnlineMeeting {
		ev.onlineMeeting = teamsJoinURL()
	}
	if len(in.Recurrence) > 0 && string(in.Recurrence) != "null" {
		r, err := parseRecurrence(in.Recurrence, windowsOrGiven(startZone))
		if err != nil {
			return nil, &queryError{"ErrorPropertyValidationFailure", err.Error()}
		}
		ev.recurrence = r
	}
	return ev, nil
}

// parseEventTime reads a dateTimeTimeZone: a local time (an offset, if
// written, is honoured) in a Windows or IANA zone.
func parseEventTime(v *dateTimeTimeZone) (time.Time, string, *queryError) {
	loc, ok := resolveZone(v.TimeZone)
	if !ok {
		return time.Time{}, "", &queryError{"TimeZoneNotSupportedException",
			"A valid TimeZone value must be specified. The following TimeZone value is not supported: '" + v.TimeZone + "'."}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, v.DateTime, loc); err == nil {
			return t, v.TimeZone, nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v.DateTime); err == nil {
		return t, v.TimeZone, nil
	}
	return time.Time{}, "", bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.DateTime'.", v.DateTime)
}

func mustResolve(zone string) *time.Location {
	loc, _ := resolveZone(zone)
	if loc == nil {
		return time.UTC
	}
	return loc
}
