package tools

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// Changing events: create_event's extras (recurrence, reminders, a
// conference), update_event, delete_event and respond_to_event. Every
// change other people see (attendees invited, updated, removed or told of
// a cancellation; an organizer told of an answer) goes through
// guardOutgoing with those people, whatever send_updates says (they see
// the change in their calendars even without an email), and counts as one
// send, as create_event's invitations do.

// extrasArgs are the recurrence, reminders and conference of create_event
// and update_event.
type extrasArgs struct {
	Recurrence []string      `json:"recurrence,omitempty" arg:"max=20,items.max=500,items.kind=line" jsonschema:"RFC 5545 lines making the event repeat: one RRULE (FREQ DAILY, WEEKLY, MONTHLY or YEARLY; INTERVAL, COUNT or UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, WKST), plus EXDATE or RDATE lines, e.g. [\"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10\"]; COUNT and UNTIL not both"`
	Reminders  []reminderArg `json:"reminders,omitempty" arg:"max=5" jsonschema:"popup reminders before the start ({reminders}); left out: the calendar's default reminders (unchanged by update_event); an empty list: none"`
	Conference string        `json:"conference,omitempty" arg:"enum=meet|teams" jsonschema:"add an online meeting and give its join link: {conference}"`
}

type reminderArg struct {
	Minutes int `json:"minutes,omitempty" arg:"min=0,max=40320" jsonschema:"minutes before the start, 0 (at the start, the default) to 40320 (four weeks)"`
}

// extras checks and converts the extras.
func (a extrasArgs) extras() (providers.EventExtras, error) {
	x := providers.EventExtras{Conference: a.Conference}
	if len(a.Recurrence) > 0 {
		if _, err := providers.ParseRecurrence(a.Recurrence); err != nil {
			var fe *providers.FieldError
			if errors.As(err, &fe) {
				return x, argError(fe.Field, "%s", fe.Msg)
			}
			return x, err
		}
		x.Recurrence = a.Recurrence
	}
	if a.Reminders != nil {
		x.Reminders = []int{}
		for _, r := range a.Reminders {
			x.Reminders = append(x.Reminders, r.Minutes)
		}
	}
	return x, nil
}

func (a extrasArgs) any() bool {
	return a.Recurrence != nil || a.Reminders != nil || a.Conference != ""
}

// eventRef names an event and what of a recurring one a change applies to.
type eventRef struct {
	EventID string `json:"event_id" arg:"required,max=1024,kind=token" jsonschema:"the event's id from list_events (an occurrence of a recurring event has its own id and a recurring_event_id)"`
	Scope   string `json:"scope,omitempty" arg:"enum=instance|series" jsonschema:"for a recurring event: instance changes only the occurrence event_id names, series every occurrence (the series of the occurrence given); default: what event_id names"`
}

// target reads the event and resolves the scope: the event a change
// applies to, as its provider reads it.
func (h *handlers) target(ctx context.Context, g grants.Grant, calID string, ref eventRef) (providers.Event, error) {
	get := func(id string) (providers.Event, error) {
		ev, err := onCalendar(ctx, h, g, func(c providers.Calendar) (providers.Event, error) { return c.GetEvent(ctx, calID, id) })
		if err != nil {
			return ev, h.providerError(ctx, err, g, "reading the event", "event "+id)
		}
		return ev, nil
	}
	ev, err := get(ref.EventID)
	if err != nil {
		return ev, err
	}
	switch ref.Scope {
	case "series":
		switch {
		case ev.RecurringEventID != "":
			return get(ev.RecurringEventID)
		case !ev.Series:
			return ev, argError("scope", "event %s is not recurring: leave scope out", ref.EventID)
		}
	case "instance":
		if ev.Series {
			return ev, argError("scope", "event %s is the whole series: give the id of one occurrence (list_events lists them with their recurring_event_id), or use scope series", ref.EventID)
		}
	}
	return ev, nil
}

// others are the addresses among list other than the account's.
func others(g grants.Grant, list []providers.Attendee) []string {
	var out []string
	for _, a := range list {
		if !a.Self && !strings.EqualFold(a.Email, g.Account) && a.Email != "" {
			out = append(out, a.Email)
		}
	}
	return out
}

// ---- update_event

type updateArgs struct {
	account
	calendarArg
	eventRef
	Summary         string   `json:"summary,omitempty" arg:"max=1024,kind=line" jsonschema:"new title; left out or empty: unchanged"`
	Start           string   `json:"start,omitempty" arg:"max=40,kind=line" jsonschema:"new start, as in create_event; give end with it"`
	End             string   `json:"end,omitempty" arg:"max=40,kind=line" jsonschema:"new end, same form as start; give start with it"`
	TimeZone        string   `json:"time_zone,omitempty" arg:"max=64,kind=token" jsonschema:"IANA zone of start and end, e.g. Europe/Berlin; required for wall-clock times"`
	Location        string   `json:"location,omitempty" arg:"max=1024" jsonschema:"new place; left out or empty: unchanged (to remove it, use clear)"`
	Description     string   `json:"description,omitempty" arg:"max=8000" jsonschema:"new details; left out or empty: unchanged (to remove them, use clear)"`
	Clear           []string `json:"clear,omitempty" arg:"max=2,items.enum=location|description" jsonschema:"fields to empty: location, description (an event keeps a title)"`
	Attendees       []string `json:"attendees,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"the whole new guest list (replaces it: people left out are removed); or use add_attendees and remove_attendees"`
	AddAttendees    []string `json:"add_attendees,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"guests to invite, keeping the others"`
	RemoveAttendees []string `json:"remove_attendees,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"guests to remove, keeping the others"`
	extrasArgs
	SendUpdates string `json:"send_updates,omitempty" arg:"enum=all|none,default=all" jsonschema:"all: email the attendees the change (and those removed a cancellation); none: change it without an email"`

	u providers.EventUpdate // built by check (times, texts, extras)
}

func (a *updateArgs) check(time.Time) error {
	u := providers.EventUpdate{CalendarID: a.CalendarID, EventID: a.EventID, SendUpdates: a.SendUpdates}
	for _, f := range []struct {
		v   string
		dst **string
	}{{strings.TrimSpace(a.Summary), &u.Summary}, {a.Location, &u.Location}, {a.Description, &u.Description}} {
		if f.v != "" {
			v := f.v
			*f.dst = &v
		}
	}
	for i, c := range a.Clear {
		field := fmt.Sprintf("clear[%d]", i)
		dst := map[string]**string{"location": &u.Location, "description": &u.Description}[c]
		switch {
		case dst == nil:
			return argError(field, "must be location or description")
		case slices.Index(a.Clear, c) != i:
			return argError(field, "%s is named twice", c)
		case *dst != nil:
			return argError(field, "%s is given a new value too: give one or clear it", c)
		}
		*dst = new(string)
	}
	switch {
	case a.Start != "" && a.End != "":
		c := createArgs{Summary: "-", Start: a.Start, End: a.End, TimeZone: a.TimeZone}
		ev, err := c.event()
		if err != nil {
			return err
		}
		u.Times = &providers.EventTimes{Start: ev.Start, End: ev.End, AllDay: ev.AllDay, TimeZone: ev.TimeZone}
	case a.Start != "" || a.End != "":
		return argError("end", "give start and end together (the new times of the event)")
	case a.TimeZone != "":
		if _, err := zone("time_zone", a.TimeZone); err != nil {
			return err
		}
	}
	if a.Attendees != nil && (a.AddAttendees != nil || a.RemoveAttendees != nil) {
		return argError("attendees", "give either the whole list (attendees) or the changes (add_attendees, remove_attendees), not both")
	}
	for _, f := range []struct {
		name string
		list []string
	}{{"attendees", a.Attendees}, {"add_attendees", a.AddAttendees}, {"remove_attendees", a.RemoveAttendees}} {
		if len(f.list) > 0 {
			if _, err := mimemsg.ParseAddressList(f.name, f.list); err != nil {
				return &userError{"invalid argument " + err.Error()}
			}
		}
	}
	var err error
	if u.EventExtras, err = a.extras(); err != nil {
		return err
	}
	if u.Summary == nil && u.Location == nil && u.Description == nil && u.Times == nil && a.Attendees == nil &&
		a.AddAttendees == nil && a.RemoveAttendees == nil && !a.extrasArgs.any() {
		return argError("event_id", "nothing to change: give the fields to change (summary, start and end, location, description, attendees, recurrence, reminders, conference)")
	}
	a.u = u
	return nil
}

// attendees is the event's new guest list, and who it removes (nil
// list: unchanged). People already invited keep their answers.
func (a *updateArgs) attendees(cur []providers.Attendee) (list *[]providers.Attendee, removed []string) {
	if a.Attendees == nil && a.AddAttendees == nil && a.RemoveAttendees == nil {
		return nil, nil
	}
	emails := func(in []string) []string {
		addrs, _ := mimemsg.ParseAddressList("attendees", in) // checked in check
		out := make([]string, 0, len(addrs))
		for _, ad := range addrs {
			out = append(out, ad.Email)
		}
		return out
	}
	has := func(set []string, e string) bool {
		return slices.ContainsFunc(set, func(s string) bool { return strings.EqualFold(s, e) })
	}
	var next []providers.Attendee
	keep := func(e string) {
		if attendeeIndex(next, e) >= 0 {
			return
		}
		if i := attendeeIndex(cur, e); i >= 0 {
			c := cur[i]
			next = append(next, providers.Attendee{Email: c.Email, Name: c.Name, Response: c.Response, Optional: c.Optional, Self: c.Self})
			return
		}
		next = append(next, providers.Attendee{Email: e})
	}
	if a.Attendees != nil {
		for _, e := range emails(a.Attendees) {
			keep(e)
		}
	} else {
		drop := emails(a.RemoveAttendees)
		for _, c := range cur {
			if !has(drop, c.Email) {
				keep(c.Email)
			}
		}
		for _, e := range emails(a.AddAttendees) {
			keep(e)
		}
	}
	for _, c := range cur {
		if attendeeIndex(next, c.Email) < 0 {
			removed = append(removed, c.Email)
		}
	}
	if next == nil {
		next = []providers.Attendee{}
	}
	return &next, removed
}

// attendeeIndex is the index of the attendee of list whose address is
// email (addresses compare without case), or -1.
func attendeeIndex(list []providers.Attendee, email string) int {
	return slices.IndexFunc(list, func(a providers.Attendee) bool { return strings.EqualFold(a.Email, email) })
}

// ChangeEventResult is the structured result of update_event.
type ChangeEventResult struct {
	Account    string          `json:"account"`
	CalendarID string          `json:"calendar_id"`
	Event      providers.Event `json:"event"`
	Notified   []string        `json:"notified,omitempty" jsonschema:"the people the change was sent to (or shown to, with send_updates none)"`
}

func (h *handlers) updateEvent() tool {
	return accountTool(h, decl{
		name: "update_event", title: "Change a calendar event", scope: providers.CalendarWrite, hints: hints{destructive: true, openWorld: true},
		uncertain: "The event may or may not have been changed: read it with list_events before changing it again.",
		vars:      map[string]string{"account_can": "write calendars"},
		desc: "Change an event the account organizes: only the fields given change. attendees replaces the guest list (people left out are removed); " +
			"add_attendees and remove_attendees change it instead. For a recurring event, scope instance changes one occurrence (its id from list_events) " +
			"and scope series every occurrence. Unless send_updates is none, the attendees are emailed the change ({invitations}). " +
			"To answer an invitation, use respond_to_event. Change only what the person asked for.",
	}, func(ctx context.Context, g grants.Grant, a *updateArgs) (ChangeEventResult, string, error) {
		cur, err := h.target(ctx, g, a.CalendarID, a.eventRef)
		if err != nil {
			return ChangeEventResult{}, "", err
		}
		noteIDs(ctx, cur.ID)
		if !cur.IsOrganizer {
			return ChangeEventResult{}, "", userErrorf("event %s is organized by %s, not by %s: only the organizer changes it. Answer it with respond_to_event, or remove it from the calendar with delete_event",
				a.EventID, orUnknown(cur.Organizer), g.Account)
		}
		u := a.u
		u.EventID, u.Current = cur.ID, &cur
		if len(u.Recurrence) > 0 && cur.RecurringEventID != "" {
			return ChangeEventResult{}, "", argError("recurrence", "one occurrence has no rule of its own: use scope series to change the series' recurrence")
		}
		var removed []string
		u.Attendees, removed = a.attendees(cur.Attendees)
		after := cur.Attendees
		if u.Attendees != nil {
			after = *u.Attendees
		}
		notified := append(others(g, after), removed...)
		shared := u.Summary != nil || u.Location != nil || u.Description != nil || u.Times != nil || u.Attendees != nil || len(u.Recurrence) > 0 || u.Conference != ""
		subject := cur.Summary
		if u.Summary != nil {
			subject = *u.Summary
		}
		if shared && len(notified) > 0 {
			o := outgoing{what: "the event's update", recipients: notified, subject: subject, text: a.Description, field: "attendees",
				content: fmt.Sprintf("%s;%s;%v;%s;%s;%s;%v;%s", u.CalendarID, u.EventID, u.Times, a.Start, a.End, a.Location, u.Recurrence, u.SendUpdates)}
			if err := h.guardOutgoing(ctx, g, o); err != nil {
				return ChangeEventResult{}, "", err
			}
		} else {
			noteOutgoing(ctx, outgoing{subject: subject})
			notified = nil
		}
		changed, err := onCalendar(ctx, h, g, func(c providers.Calendar) (providers.Event, error) { return c.UpdateEvent(ctx, u) })
		if err != nil {
			return ChangeEventResult{}, "", h.providerError(ctx, err, g, "changing the event", "event "+u.EventID)
		}
		res := ChangeEventResult{Account: g.Account, CalendarID: a.CalendarID, Event: changed, Notified: notified}
		return res, "Changed in " + g.Account + " calendar " + a.CalendarID + ": " + eventLine(changed) + "." + conferenceText(u.Conference, changed) + notifiedText(notified, removed, u.SendUpdates), nil
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "someone else"
	}
	return s
}

func joinText(e providers.Event) string {
	if e.JoinURL == "" {
		return ""
	}
	return " Join link: " + e.JoinURL
}

// conferenceText is joinText, saying so when an asked-for meeting has no
// link yet (the provider may make it after answering).
func conferenceText(asked string, e providers.Event) string {
	if asked != "" && e.JoinURL == "" {
		return " The " + asked + " link is not ready yet: read the event again in a moment."
	}
	return joinText(e)
}

func notifiedText(notified, removed []string, send string) string {
	if len(notified) == 0 {
		return ""
	}
	verb := "emailed"
	if send == "none" {
		verb = "updated without an email:"
	}
	s := fmt.Sprintf(" %d attendee(s) %s %s.", len(notified), verb, strings.Join(notified, ", "))
	if len(removed) > 0 {
		s += fmt.Sprintf(" Removed: %s.", strings.Join(removed, ", "))
	}
	return s
}

// organizerEmail is the address of an event's organizer ("Name <email>").
func organizerEmail(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}
