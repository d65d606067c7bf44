package microsoft

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// Changing events (providers.EventChanger) over Graph: GET, PATCH and
// DELETE of /me/events/{id} and the accept, decline and tentativelyAccept
// actions; and the extras of a new or changed event (a patternedRecurrence,
// the reminder, a Teams meeting).
//
// What Outlook sends: changing or deleting a meeting the account organizes
// mails its attendees an update or a cancellation, always (Graph has no
// way to keep it quiet, so send_updates none is refused for a meeting);
// deleting an event the account was invited to removes it from its
// calendar without telling the organizer.

// eventFullFields is what GetEvent asks for: eventFields and what a
// change needs.
const eventFullFields = eventFields + ",isOrganizer,responseStatus"

var _ providers.EventChanger = (*calendars)(nil)

// Outlook keeps one reminder an event, at most four weeks before it.
const maxReminderMinutes = 40320

// extras adds the recurrence, reminder and Teams meeting to a POST or
// PATCH body; start is the series' first start, loc the zone of the event.
func (c *calendars) extras(ctx context.Context, body map[string]any, x providers.EventExtras, allDay bool, start time.Time, loc *time.Location) error {
	if len(x.Recurrence) > 0 {
		zone, at := "UTC", time.UTC
		if !allDay {
			if z := windowsZone(loc, start, start); z != "" {
				zone, at = z, loc
			}
		}
		first := start.In(at)
		if allDay {
			first = start
		}
		p, err := toPatterned(x.Recurrence, first, zone)
		if err != nil {
			return err
		}
		body["recurrence"] = p
	}
	switch n := len(x.Reminders); {
	case x.Reminders == nil:
	case n == 0:
		body["isReminderOn"] = false
	case n > 1:
		return &providers.FieldError{Field: "reminders", Msg: fmt.Sprintf("Outlook keeps one reminder an event, and %d were given: give one", n)}
	case x.Reminders[0] < 0 || x.Reminders[0] > maxReminderMinutes:
		return &providers.FieldError{Field: "reminders[0]", Msg: fmt.Sprintf("%d: minutes before the start, 0 to %d", x.Reminders[0], maxReminderMinutes)}
	default:
		body["isReminderOn"], body["reminderMinutesBeforeStart"] = true, x.Reminders[0]
	}
	switch x.Conference {
	case "":
	case providers.ConferenceTeams:
		if err := c.teamsAllowed(ctx); err != nil {
			return err
		}
		body["isOnlineMeeting"], body["onlineMeetingProvider"] = true, "teamsForBusiness"
	default:
		return &providers.FieldError{Field: "conference", Msg: fmt.Sprintf("%q: Outlook adds Microsoft Teams meetings: use teams", x.Conference)}
	}
	return nil
}

// teamsAllowed asks the default calendar whether it can hold Teams
// meetings (allowedOnlineMeetingProviders): personal Microsoft accounts
// and mailboxes without a Teams licence cannot.
func (c *calendars) teamsAllowed(ctx context.Context) error {
	var cal struct {
		Allowed []string `json:"allowedOnlineMeetingProviders"`
	}
	q := url.Values{"$select": {"allowedOnlineMeetingProviders"}}
	if err := c.g.do(ctx, req{method: http.MethodGet, path: "/me/calendar", query: q, need: scopeCalRead}, &cal); err != nil {
		return err
	}
	if !slices.Contains(cal.Allowed, "teamsForBusiness") {
		allowed := "none"
		if len(cal.Allowed) > 0 {
			allowed = strings.Join(cal.Allowed, ", ")
		}
		return &providers.FieldError{Field: "conference", Msg: fmt.Sprintf("this Outlook account cannot add Microsoft Teams meetings to events (a personal Microsoft account, or no Teams for work; its calendar allows: %s): leave conference out and put a link in the description", clip(allowed))}
	}
	return nil
}

// eventPath is an event's path; the calendar (when not the default) is
// part of it, so an id of another calendar is not found.
func eventPath(calID, eventID string) (string, error) {
	if err := checkID("event_id", eventID); err != nil {
		return "", err
	}
	if calID == "" || strings.EqualFold(calID, "primary") {
		return "/me/events/" + url.PathEscape(eventID), nil
	}
	base, err := calendarPath(calID)
	if err != nil {
		return "", err
	}
	return base + "/events/" + url.PathEscape(eventID), nil
}

// GetEvent reads a single event, a series master or an occurrence, times in
// the mailbox's zone.
func (c *calendars) GetEvent(ctx context.Context, calID, eventID string) (providers.Event, error) {
	path, err := eventPath(calID, eventID)
	if err != nil {
		return providers.Event{}, err
	}
	var ev event
	err = c.g.do(ctx, req{method: http.MethodGet, path: path, query: url.Values{"$select": {eventFullFields}},
		prefer: []string{`outlook.timezone="UTC"`}, need: scopeCalRead}, &ev)
	if err != nil {
		return providers.Event{}, notFoundCalendar(err, calID)
	}
	return mapEvent(ev, c.zoneOr(ctx, "")), nil
}

// zoneOr is the zone named, else the mailbox's, else UTC.
func (c *calendars) zoneOr(ctx context.Context, name string) *time.Location {
	if name != "" {
		if loc, err := loadZone(name); err == nil {
			return loc
		}
	}
	if loc := c.mailboxZone(ctx); loc != nil {
		return loc
	}
	return time.UTC
}

// quietRefused refuses send_updates none for what Outlook always mails:
// a change to, or the deletion of, a meeting the account organizes.
func quietRefused(sendUpdates string, cur *providers.Event, what string) error {
	switch sendUpdates {
	case "", "all":
		return nil
	case "none":
		if cur == nil || cur.IsOrganizer && len(cur.Attendees) > 0 {
			return &providers.FieldError{Field: "send_updates", Msg: "Outlook always emails the attendees of a meeting " + what + ": use all"}
		}
		return nil
	}
	return &providers.FieldError{Field: "send_updates", Msg: fmt.Sprintf("%q: use all or none", sendUpdates)}
}

// UpdateEvent patches the fields u sets (PATCH /me/events/{id}); an
// occurrence's patch makes it an exception, the series master's changes
// every occurrence. Attendees replace the list.
func (c *calendars) UpdateEvent(ctx context.Context, u providers.EventUpdate) (providers.Event, error) {
	if u.SendUpdates == "none" && u.Attendees != nil && len(*u.Attendees) > 0 {
		return providers.Event{}, quietRefused("none", nil, "it changes")
	}
	if err := quietRefused(u.SendUpdates, u.Current, "it changes"); err != nil {
		return providers.Event{}, err
	}
	path, err := eventPath(u.CalendarID, u.EventID)
	if err != nil {
		return providers.Event{}, err
	}
	body := map[string]any{}
	if u.Summary != nil {
		body["subject"] = *u.Summary
	}
	if u.Description != nil {
		body["body"] = map[string]string{"contentType": "text", "content": *u.Description}
	}
	if u.Location != nil {
		body["location"] = map[string]string{"displayName": *u.Location}
	}
	loc := time.UTC
	zoneName := ""
	var first time.Time
	allDay := false
	if t := u.Times; t != nil {
		if t.TimeZone != "" {
			if loc, err = loadZone(t.TimeZone); err != nil {
				return providers.Event{}, err
			}
			zoneName = t.TimeZone
		}
		first, allDay = t.Start, t.AllDay
		setTimes(body, t.AllDay, t.Start, t.End, loc)
	} else if len(u.Recurrence) > 0 {
		// A new rule needs the series' start: the event's own.
		if first, allDay, err = currentStart(u.Current, c.zoneOr(ctx, "")); err != nil {
			return providers.Event{}, err
		}
		loc = first.Location()
	}
	if u.Attendees != nil {
		list := []map[string]any{}
		for _, a := range *u.Attendees {
			typ := "required"
			if a.Optional {
				typ = "optional"
			}
			list = append(list, map[string]any{"emailAddress": map[string]string{"address": a.Email, "name": a.Name}, "type": typ})
		}
		body["attendees"] = list
	}
	if err := c.extras(ctx, body, u.EventExtras, allDay, first, loc); err != nil {
		return providers.Event{}, err
	}
	var out event
	err = c.g.do(ctx, req{method: http.MethodPatch, path: path, body: body, idempotent: true,
		prefer: []string{`outlook.timezone="UTC"`}, need: scopeCalReadWrite}, &out)
	if err != nil {
		return providers.Event{}, mapUncertain(notFoundCalendar(err, u.CalendarID), "the event may have been changed: read it with list_events before changing it again")
	}
	return mapEvent(out, c.zoneOr(ctx, zoneName)), nil
}

// currentStart is the start of the event as GetEvent read it, in loc.
func currentStart(cur *providers.Event, loc *time.Location) (time.Time, bool, error) {
	if cur != nil {
		if cur.AllDay {
			if t, err := time.Parse(time.DateOnly, cur.Start); err == nil {
				return t, true, nil
			}
		} else if t, err := time.Parse(time.RFC3339, cur.Start); err == nil {
			return t.In(loc), false, nil
		}
	}
	return time.Time{}, false, &providers.FieldError{Field: "recurrence", Msg: "Outlook needs the series' start with a new rule: give start and end too"}
}

// setTimes puts start and end into a body, as CreateEvent does.
func setTimes(body map[string]any, allDay bool, start, end time.Time, loc *time.Location) {
	if allDay {
		body["isAllDay"] = true
		body["start"] = dateTimeZone{DateTime: start.Format(time.DateOnly) + "T00:00:00", TimeZone: "UTC"}
		body["end"] = dateTimeZone{DateTime: end.Format(time.DateOnly) + "T00:00:00", TimeZone: "UTC"}
		return
	}
	zone := windowsZone(loc, start, end)
	at := loc
	if zone == "" {
		zone, at = "UTC", time.UTC
	}
	body["isAllDay"] = false
	body["start"] = dateTimeZone{DateTime: start.In(at).Format("2006-01-02T15:04:05"), TimeZone: zone}
	body["end"] = dateTimeZone{DateTime: end.In(at).Format("2006-01-02T15:04:05"), TimeZone: zone}
}

// DeleteEvent deletes an event, a series or an occurrence (DELETE
// /me/events/{id}). Graph documents that deleting a meeting on the
// organizer's calendar sends the attendees a cancellation: send_updates
// none is refused for one.
func (c *calendars) DeleteEvent(ctx context.Context, d providers.EventDeletion) error {
	if err := quietRefused(d.SendUpdates, d.Current, "that is deleted"); err != nil {
		return err
	}
	path, err := eventPath(d.CalendarID, d.EventID)
	if err != nil {
		return err
	}
	err = c.g.do(ctx, req{method: http.MethodDelete, path: path, idempotent: true, need: scopeCalReadWrite}, nil)
	if err != nil {
		return mapUncertain(notFoundCalendar(err, d.CalendarID), "the event may have been deleted: look for it with list_events")
	}
	return nil
}

// Graph's actions answering an invitation.
var responseActions = map[string]string{
	providers.ResponseAccepted:  "accept",
	providers.ResponseDeclined:  "decline",
	providers.ResponseTentative: "tentativelyAccept",
}

// RespondToEvent answers an invitation (accept, decline,
// tentativelyAccept) with an optional comment; sendResponse says whether
// the organizer is told. Graph refuses (400) the organizer's answer.
func (c *calendars) RespondToEvent(ctx context.Context, r providers.EventResponse) error {
	action, ok := responseActions[r.Response]
	if !ok {
		return &providers.FieldError{Field: "response", Msg: fmt.Sprintf("%q: use accepted, declined or tentative", r.Response)}
	}
	path, err := eventPath(r.CalendarID, r.EventID)
	if err != nil {
		return err
	}
	body := map[string]any{"sendResponse": r.Notify}
	if r.Comment != "" {
		body["comment"] = r.Comment
	}
	err = c.g.do(ctx, req{method: http.MethodPost, path: path + "/" + action, body: body, idempotent: true, need: scopeCalReadWrite}, nil)
	if err != nil {
		return mapUncertain(notFoundCalendar(err, r.CalendarID), "the answer may have been recorded: read the event with list_events")
	}
	return nil
}
