package providers

import (
	"context"
	"time"
)

// FreeBusyReader tells when an account, and the people it may ask about,
// are busy. It is part of Calendar.
type FreeBusyReader interface {
	// FreeBusy reads the busy periods of the account's own calendars and
	// of q.Attendees between q.TimeMin and q.TimeMax, in one answer per
	// person: the account's first (Self), then each attendee in the order
	// asked. A person whose calendar cannot be seen is in the answer with
	// Unknown set, never as free.
	FreeBusy(ctx context.Context, q FreeBusyQuery) (FreeBusy, error)
}

// Free/busy limits every provider can serve: Graph's getSchedule covers at
// most 62 days (Google's freeBusy 90); Google's freeBusy takes at most 50
// calendars in one query, the account's own included.
const (
	MaxFreeBusyRange     = 62 * 24 * time.Hour
	MaxFreeBusyAttendees = 20
)

// FreeBusyQuery asks for busy periods.
type FreeBusyQuery struct {
	// Account is the account's own address (its schedule is asked for by
	// address where the provider needs one).
	Account          string
	TimeMin, TimeMax time.Time
	// Attendees are other people's addresses, validated by the caller.
	Attendees []string
}

// FreeBusy is the answer of FreeBusyReader.
type FreeBusy struct {
	// TimeZone is the IANA zone of the account's calendar, "" when the
	// provider did not say.
	TimeZone  string
	Schedules []Schedule
}

// Schedule is one person's busy periods.
type Schedule struct {
	Email string
	Self  bool // the account itself (all its own calendars together)
	// Busy is sorted by start; periods may overlap.
	Busy []BusyPeriod
	// Unknown, when not empty, says why the person's calendar could not be
	// seen (not shared, no such address, the provider failed for it).
	Unknown string
	// WorkingHours are the person's, where the provider keeps them (nil
	// otherwise).
	WorkingHours *WorkingHours
}

// Busy statuses.
const (
	BusyBusy             = "busy"
	BusyTentative        = "tentative"
	BusyOutOfOffice      = "oof"
	BusyWorkingElsewhere = "workingElsewhere" // working, elsewhere: not in a meeting
)

// BusyPeriod is a time a person is taken.
type BusyPeriod struct {
	Start, End time.Time
	Status     string // one of the Busy statuses
}

// WorkingHours are the days and the wall-clock hours a person works, in
// their zone.
type WorkingHours struct {
	Days []time.Weekday
	// Start and End are wall-clock times since midnight (End after Start).
	Start, End time.Duration
	TimeZone   string // IANA; "" means the zone of the question
}
