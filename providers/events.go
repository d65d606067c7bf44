package providers

import (
	"context"
	"time"
)

// EventChanger changes existing events: what update_event, delete_event and
// respond_to_event need. Both providers implement it; Calendar embeds it.
type EventChanger interface {
	// GetEvent reads one event (a single event, a series or one instance
	// of it) with what changing it needs: its attendees, organizer, the
	// account's own part and its series.
	GetEvent(ctx context.Context, calendarID, eventID string) (Event, error)
	// UpdateEvent changes the fields u sets and leaves the others as they
	// are (PATCH semantics).
	UpdateEvent(ctx context.Context, u EventUpdate) (Event, error)
	// DeleteEvent deletes an event, a series or one instance.
	DeleteEvent(ctx context.Context, d EventDeletion) error
	// RespondToEvent answers an invitation as the account (an attendee).
	RespondToEvent(ctx context.Context, r EventResponse) error
}

// Conference kinds a new or updated event may ask for.
const (
	ConferenceMeet  = "meet"  // Google Meet (Google)
	ConferenceTeams = "teams" // Microsoft Teams (Microsoft)
)

// EventExtras are the parts of an event besides its times and people that
// create_event and update_event set.
type EventExtras struct {
	// Recurrence is RFC 5545 lines (RRULE:…, EXDATE…, RDATE…), checked
	// by ParseRecurrence; empty: not recurring (or, in an update, unchanged).
	Recurrence []string
	// Reminders are minutes before the start; nil: the calendar's default
	// reminders (unchanged in an update).
	Reminders []int
	// Conference asks for an online meeting: ConferenceMeet or
	// ConferenceTeams; empty: none (unchanged in an update).
	Conference string
}

// EventUpdate is a change to an event: nil fields stay as they are.
type EventUpdate struct {
	CalendarID string
	// EventID is the event the change applies to: a single event, a series
	// (all its instances) or one instance; the caller resolves the scope.
	EventID     string
	Summary     *string
	Description *string
	Location    *string
	// Times, when not nil, are the new start and end.
	Times *EventTimes
	// Attendees, when not nil, is the whole new list (responses of people
	// already invited kept as given).
	Attendees *[]Attendee
	EventExtras
	// SendUpdates: "all" emails the attendees the change, "none" does not.
	SendUpdates string
	// Current is the event as GetEvent read it before the change (nil:
	// not read), for what a provider must know first (whether the change
	// mails attendees it cannot keep from being mailed).
	Current *Event
}

// EventTimes are an event's start and end as NewEvent has them: both
// timed (TimeZone naming the zone of the wall-clock times, or empty for
// their own offsets) or both all-day dates (End exclusive).
type EventTimes struct {
	Start, End time.Time
	AllDay     bool
	TimeZone   string // IANA name
}

// EventDeletion deletes an event (or a series, or one instance).
type EventDeletion struct {
	CalendarID, EventID string
	// SendUpdates: "all" emails the attendees a cancellation, "none" does
	// not (a provider that always sends refuses "none" for a meeting).
	SendUpdates string
	Current     *Event // as in EventUpdate
}

// Responses to an invitation.
const (
	ResponseAccepted  = "accepted"
	ResponseDeclined  = "declined"
	ResponseTentative = "tentative"
)

// EventResponse answers an invitation.
type EventResponse struct {
	CalendarID, EventID string
	Response            string // ResponseAccepted, ResponseDeclined, ResponseTentative
	Comment             string
	// Attendee is the account's address as the event lists it (GetEvent's
	// Self attendee).
	Attendee string
	// Notify tells the organizer (an email); false records the answer only.
	Notify bool
}
