package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// ---- delete_event

type deleteEventArgs struct {
	account
	calendarArg
	eventRef
	SendUpdates string `json:"send_updates,omitempty" arg:"enum=all|none,default=all" jsonschema:"for an event the account organizes: all emails the attendees a cancellation; none deletes it without an email"`
}

// DeleteEventResult is the structured result of delete_event.
type DeleteEventResult struct {
	Account    string   `json:"account"`
	CalendarID string   `json:"calendar_id"`
	EventID    string   `json:"event_id" jsonschema:"the event, series or occurrence deleted"`
	Summary    string   `json:"summary"`
	Notified   []string `json:"notified,omitempty" jsonschema:"the attendees told of the cancellation"`
}

func (h *handlers) deleteEvent() tool {
	return accountTool(h, decl{
		name: "delete_event", title: "Delete a calendar event", scope: providers.CalendarWrite,
		hints:     hints{destructive: true, idempotent: true, openWorld: true},
		uncertain: "The event may or may not have been deleted: look for it with list_events.",
		vars:      map[string]string{"account_can": "write calendars"},
		desc: "Delete an event from a calendar. For a recurring event, scope instance deletes one occurrence (its id from list_events) and scope series the whole series. " +
			"For a meeting the account organizes, the attendees are emailed a cancellation unless send_updates is none ({invitations}). " +
			"An event the account was invited to is removed from its calendar only: to tell the organizer, decline it with respond_to_event instead. Delete only what the person asked to delete.",
	}, func(ctx context.Context, g grants.Grant, a *deleteEventArgs) (DeleteEventResult, string, error) {
		cur, err := h.target(ctx, g, a.CalendarID, a.eventRef)
		if err != nil {
			return DeleteEventResult{}, "", err
		}
		noteIDs(ctx, cur.ID)
		var notified []string
		if cur.IsOrganizer {
			notified = others(g, cur.Attendees)
		}
		if len(notified) > 0 {
			o := outgoing{what: "the event's cancellation", recipients: notified, subject: "Cancelled: " + cur.Summary, field: "event_id",
				content: fmt.Sprintf("delete;%s;%s;%s", a.CalendarID, cur.ID, a.SendUpdates)}
			if err := h.guardOutgoing(ctx, g, o); err != nil {
				return DeleteEventResult{}, "", err
			}
		} else {
			noteOutgoing(ctx, outgoing{subject: cur.Summary})
		}
		d := providers.EventDeletion{CalendarID: a.CalendarID, EventID: cur.ID, SendUpdates: a.SendUpdates, Current: &cur}
		if _, err := onCalendar(ctx, h, g, func(c providers.Calendar) (struct{}, error) { return struct{}{}, c.DeleteEvent(ctx, d) }); err != nil {
			return DeleteEventResult{}, "", h.providerError(ctx, err, g, "deleting the event", "event "+cur.ID)
		}
		what := "event"
		switch {
		case cur.Series:
			what = "recurring series (every occurrence)"
		case cur.RecurringEventID != "":
			what = "occurrence"
		}
		text := fmt.Sprintf("Deleted the %s %q (id %s) from %s calendar %s.", what, oneLine(cur.Summary, 80), cur.ID, g.Account, a.CalendarID)
		switch {
		case len(notified) > 0 && a.SendUpdates == "none":
			text += fmt.Sprintf(" %d attendee(s) not emailed: %s.", len(notified), strings.Join(notified, ", "))
		case len(notified) > 0:
			text += fmt.Sprintf(" Cancellation emailed to %s.", strings.Join(notified, ", "))
		case !cur.IsOrganizer:
			text += " It was removed from this calendar only; to tell the organizer, decline it with respond_to_event."
		}
		return DeleteEventResult{Account: g.Account, CalendarID: a.CalendarID, EventID: cur.ID, Summary: cur.Summary, Notified: notified}, text, nil
	})
}

// ---- respond_to_event

type respondArgs struct {
	account
	calendarArg
	EventID     string `json:"event_id" arg:"required,max=1024,kind=token" jsonschema:"the invitation's event id from list_events: an occurrence's id answers that occurrence, the series' id every occurrence"`
	Response    string `json:"response" arg:"required,enum=accepted|declined|tentative" jsonschema:"the answer"`
	Comment     string `json:"comment,omitempty" arg:"max=2000" jsonschema:"a note to the organizer with the answer"`
	SendUpdates string `json:"send_updates,omitempty" arg:"enum=all|none,default=all" jsonschema:"all: email the organizer the answer; none: record it in the calendar only"`
}

// RespondResult is the structured result of respond_to_event.
type RespondResult struct {
	Account   string `json:"account"`
	EventID   string `json:"event_id"`
	Summary   string `json:"summary"`
	Response  string `json:"response"`
	Organizer string `json:"organizer"`
	Notified  bool   `json:"notified" jsonschema:"whether the organizer was emailed the answer"`
}

func (h *handlers) respondToEvent() tool {
	return accountTool(h, decl{
		name: "respond_to_event", title: "Answer an event invitation", scope: providers.CalendarWrite, hints: changes,
		uncertain: "The answer may or may not have been recorded: read the event with list_events.",
		vars:      map[string]string{"account_can": "write calendars"},
		desc: "Answer an invitation the account received: accepted, declined or tentative, with an optional comment; unless send_updates is none the organizer is emailed the answer. " +
			"Only for events the account is invited to, not ones it organizes. Answer only as the person decided.",
	}, func(ctx context.Context, g grants.Grant, a *respondArgs) (RespondResult, string, error) {
		cur, err := h.target(ctx, g, a.CalendarID, eventRef{EventID: a.EventID})
		if err != nil {
			return RespondResult{}, "", err
		}
		noteIDs(ctx, cur.ID)
		switch {
		case cur.IsOrganizer:
			return RespondResult{}, "", userErrorf("event %s is organized by %s itself: there is no invitation to answer (change it with update_event, or delete it with delete_event)", a.EventID, g.Account)
		case !cur.Invited:
			return RespondResult{}, "", userErrorf("%s is not among the attendees of event %s, so it has no invitation to answer", g.Account, a.EventID)
		}
		organizer := organizerEmail(cur.Organizer)
		notify := a.SendUpdates != "none"
		if notify && organizer != "" {
			o := outgoing{what: "the answer to the invitation", recipients: []string{organizer}, subject: cur.Summary, text: a.Comment, field: "event_id",
				content: fmt.Sprintf("respond;%s;%s;%s", a.CalendarID, cur.ID, a.Response)}
			if err := h.guardOutgoing(ctx, g, o); err != nil {
				return RespondResult{}, "", err
			}
		} else {
			noteOutgoing(ctx, outgoing{subject: cur.Summary})
		}
		r := providers.EventResponse{CalendarID: a.CalendarID, EventID: cur.ID, Response: a.Response, Comment: a.Comment, Attendee: cur.SelfAddress, Notify: notify}
		if _, err := onCalendar(ctx, h, g, func(c providers.Calendar) (struct{}, error) { return struct{}{}, c.RespondToEvent(ctx, r) }); err != nil {
			return RespondResult{}, "", h.providerError(ctx, err, g, "answering the invitation", "event "+cur.ID)
		}
		told := "recorded without an email to the organizer"
		if notify {
			told = "sent to " + orUnknown(organizer)
		}
		res := RespondResult{Account: g.Account, EventID: cur.ID, Summary: cur.Summary, Response: a.Response, Organizer: cur.Organizer, Notified: notify}
		return res, fmt.Sprintf("Answered %s to %q (id %s) as %s: %s.", a.Response, oneLine(cur.Summary, 80), cur.ID, g.Account, told), nil
	})
}
