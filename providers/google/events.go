package google

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
)

// Changing events (providers.EventChanger) over events.get, events.patch
// and events.delete, and the extras of a new or changed event: recurrence,
// reminders and a Meet conference.

// eventFullFields is what GetEvent and the changes read: eventFields and
// what changing an event needs (who the account is in it, its series, its
// meeting link).
const eventFullFields = googleapi.Field("id,summary,description,location,status,recurringEventId,htmlLink,start,end,recurrence,hangoutLink," +
	"conferenceData(entryPoints(entryPointType,uri)),organizer(email,displayName,self),attendees(email,displayName,responseStatus,self,optional)")

// Google's limits on reminders (Event.reminders.overrides).
const (
	maxReminders       = 5
	maxReminderMinutes = 40320 // four weeks
)

var _ providers.EventChanger = (*calendars)(nil)

func calendarID(id string) string {
	if id == "" {
		return "primary"
	}
	return id
}

// applyExtras sets an event's recurrence, reminders and conference request;
// conference reports whether the call needs conferenceDataVersion=1.
func applyExtras(ev *calendar.Event, x providers.EventExtras) (conference bool, err error) {
	if len(x.Recurrence) > 0 {
		if _, err := providers.ParseRecurrence(x.Recurrence); err != nil {
			return false, err
		}
		ev.Recurrence = x.Recurrence
	}
	if x.Reminders != nil {
		if len(x.Reminders) > maxReminders {
			return false, &providers.FieldError{Field: "reminders", Msg: fmt.Sprintf("Google Calendar keeps at most %d reminders an event", maxReminders)}
		}
		r := &calendar.EventReminders{UseDefault: false, ForceSendFields: []string{"UseDefault", "Overrides"}, Overrides: []*calendar.EventReminder{}}
		for i, m := range x.Reminders {
			if m < 0 || m > maxReminderMinutes {
				return false, &providers.FieldError{Field: fmt.Sprintf("reminders[%d]", i), Msg: fmt.Sprintf("%d: minutes before the start, 0 to %d", m, maxReminderMinutes)}
			}
			r.Overrides = append(r.Overrides, &calendar.EventReminder{Method: "popup", Minutes: int64(m), ForceSendFields: []string{"Minutes"}})
		}
		ev.Reminders = r
	}
	switch x.Conference {
	case "":
		return false, nil
	case providers.ConferenceMeet:
		ev.ConferenceData = &calendar.ConferenceData{CreateRequest: &calendar.CreateConferenceRequest{
			RequestId: newRequestID(), ConferenceSolutionKey: &calendar.ConferenceSolutionKey{Type: "hangoutsMeet"}}}
		return true, nil
	default:
		return false, &providers.FieldError{Field: "conference", Msg: fmt.Sprintf("%q: Google Calendar adds Google Meet links: use meet", x.Conference)}
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sendUpdates(v string) (string, error) {
	switch v {
	case "all", "none":
		return v, nil
	case "":
		return "all", nil
	}
	return "", &providers.FieldError{Field: "send_updates", Msg: fmt.Sprintf("%q: use all or none", v)}
}

// GetEvent reads one event, a series (its master) or one instance of it.
func (c *calendars) GetEvent(ctx context.Context, calID, eventID string) (providers.Event, error) {
	svc, err := c.service()
	if err != nil {
		return providers.Event{}, err
	}
	ev, err := svc.Events.Get(calendarID(calID), eventID).Fields(eventFullFields).Context(ctx).Do()
	if err != nil {
		return providers.Event{}, mapError(err)
	}
	return c.mapped(ev, ""), nil
}

// mapped maps an answer, times in zone (else the event's own).
func (c *calendars) mapped(ev *calendar.Event, zone string) providers.Event {
	var loc *time.Location
	if zone != "" {
		loc, _ = loadZone(zone)
	}
	if loc == nil && ev.Start != nil && ev.Start.TimeZone != "" {
		loc, _ = loadZone(ev.Start.TimeZone)
	}
	a := eventOf(ev)
	return mapEvent(&a, loc)
}

// UpdateEvent patches the fields u sets (events.patch: what is not sent
// stays). An instance's patch makes it an exception of its series; the
// series' id changes every instance. Attendees replace the list.
func (c *calendars) UpdateEvent(ctx context.Context, u providers.EventUpdate) (providers.Event, error) {
	send, err := sendUpdates(u.SendUpdates)
	if err != nil {
		return providers.Event{}, err
	}
	ev := &calendar.Event{}
	set := func(field string, v *string, dst *string) {
		if v != nil {
			*dst = *v
			if *v == "" {
				ev.NullFields = append(ev.NullFields, field)
			}
		}
	}
	set("Summary", u.Summary, &ev.Summary)
	set("Description", u.Description, &ev.Description)
	set("Location", u.Location, &ev.Location)
	zone := ""
	if t := u.Times; t != nil {
		zone = t.TimeZone
		if ev.Start, ev.End, err = eventTimes(*t); err != nil {
			return providers.Event{}, err
		}
	}
	if u.Attendees != nil {
		ev.Attendees = []*calendar.EventAttendee{}
		ev.ForceSendFields = append(ev.ForceSendFields, "Attendees")
		for _, a := range *u.Attendees {
			at := &calendar.EventAttendee{Email: a.Email, DisplayName: a.Name, Optional: a.Optional}
			if a.Response != "" {
				at.ResponseStatus = a.Response
			}
			ev.Attendees = append(ev.Attendees, at)
		}
	}
	conference, err := applyExtras(ev, u.EventExtras)
	if err != nil {
		return providers.Event{}, err
	}
	svc, err := c.service()
	if err != nil {
		return providers.Event{}, err
	}
	call := svc.Events.Patch(calendarID(u.CalendarID), u.EventID, ev).SendUpdates(send).Fields(eventFullFields)
	if conference {
		call = call.ConferenceDataVersion(1)
	}
	out, err := call.Context(ctx).Do()
	if err != nil {
		return providers.Event{}, mapUncertain(err, "the event may have been changed: read it with list_events before changing it again")
	}
	return c.mapped(out, zone), nil
}

// eventTimes are a patch's start and end: the field of the other form
// (date or dateTime) is sent as null, so an event can change between timed
// and all-day.
func eventTimes(t providers.EventTimes) (start, end *calendar.EventDateTime, err error) {
	if t.AllDay {
		return &calendar.EventDateTime{Date: t.Start.Format(time.DateOnly), NullFields: []string{"DateTime", "TimeZone"}},
			&calendar.EventDateTime{Date: t.End.Format(time.DateOnly), NullFields: []string{"DateTime", "TimeZone"}}, nil
	}
	s, e := t.Start, t.End
	if t.TimeZone != "" {
		loc, err := loadZone(t.TimeZone)
		if err != nil {
			return nil, nil, err
		}
		s, e = s.In(loc), e.In(loc)
	}
	mk := func(at time.Time) *calendar.EventDateTime {
		d := &calendar.EventDateTime{DateTime: at.Format(time.RFC3339), TimeZone: t.TimeZone, NullFields: []string{"Date"}}
		if t.TimeZone == "" {
			d.NullFields = append(d.NullFields, "TimeZone")
		}
		return d
	}
	return mk(s), mk(e), nil
}

// DeleteEvent deletes an event, a series (every instance) or one instance
// (events.delete); sendUpdates says whether the attendees are emailed a
// cancellation. An event already deleted is ErrNotFound (Google: 410).
func (c *calendars) DeleteEvent(ctx context.Context, d providers.EventDeletion) error {
	send, err := sendUpdates(d.SendUpdates)
	if err != nil {
		return err
	}
	svc, err := c.service()
	if err != nil {
		return err
	}
	if err := svc.Events.Delete(calendarID(d.CalendarID), d.EventID).SendUpdates(send).Context(ctx).Do(); err != nil {
		return mapUncertain(err, "the event may have been deleted: look for it with list_events")
	}
	return nil
}

// RespondToEvent sets the account's own responseStatus (and comment) with
// events.patch, attendeesOmitted so that only its own entry is sent, as
// the Calendar API documents for an attendee's answer; sendUpdates "all"
// tells the organizer.
func (c *calendars) RespondToEvent(ctx context.Context, r providers.EventResponse) error {
	if strings.TrimSpace(r.Attendee) == "" {
		return &providers.FieldError{Field: "event_id", Msg: "the account is not among the event's attendees"}
	}
	status := r.Response
	if status != providers.ResponseAccepted && status != providers.ResponseDeclined && status != providers.ResponseTentative {
		return &providers.FieldError{Field: "response", Msg: fmt.Sprintf("%q: use accepted, declined or tentative", status)}
	}
	at := &calendar.EventAttendee{Email: r.Attendee, ResponseStatus: status, Comment: r.Comment}
	if r.Comment == "" {
		at.NullFields = []string{"Comment"}
	}
	ev := &calendar.Event{AttendeesOmitted: true, Attendees: []*calendar.EventAttendee{at}}
	send := "none"
	if r.Notify {
		send = "all"
	}
	svc, err := c.service()
	if err != nil {
		return err
	}
	if _, err := svc.Events.Patch(calendarID(r.CalendarID), r.EventID, ev).SendUpdates(send).Fields("id").Context(ctx).Do(); err != nil {
		return mapUncertain(err, "the answer may have been recorded: read the event with list_events")
	}
	return nil
}
