package googletest

import (
	"time"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// Fixtures says what LoadFixtures created, for tests to refer to.
type Fixtures struct {
	Now time.Time // the server's clock when the fixtures were loaded
	// Day is midnight (Europe/Berlin, the primary calendar's zone) of Now's
	// day; events are placed relative to it, messages relative to Now.
	Day time.Time
	// Messages maps fixture keys to message ids: welcome, phoenix-1..3
	// (a thread), report (PDF attachment, multipart/mixed with
	// alternative), photo (PNG), newsletter (HTML only), umlaut, japanese,
	// emoji, latin1 (ISO-8859-1), invite (text/calendar), inline (cid
	// image), injection (prompt-injection text), long (40 kB), spam, trash,
	// receipt, social, forum, lunch-1..2 (a thread), multi-rcpt,
	// pdf-nonascii (RFC 2231 file name), github, bank, sent-solo,
	// forwarded, old (45 days), calendar-reminder, offsite-1..4 (a thread
	// quoting its history as Gmail, Outlook and Apple Mail do; the first
	// with a CSV, a PDF and a PNG).
	Messages map[string]string
	Threads  map[string]string // phoenix, lunch, offsite
	// Calendar ids: the primary (Europe/Berlin), "Team"
	// (America/New_York, writer) and a read-only holidays calendar.
	Primary, Team, Holidays string
	// Events maps fixture keys to event ids: today, yesterday, dentist,
	// review (attendees, location, Meet link), tokyo (Asia/Tokyo), flight
	// (Europe/Berlin to America/New_York), birthday (all-day), conference
	// (all-day, 3 days), standup (weekly MO,WE,FR), standup-moved and
	// standup-cancelled (its exceptions), focus (DAILY;BYDAY;COUNT), yoga
	// (weekly with UNTIL and an EXDATE), rent (monthly all-day), vendor
	// (injection text in the description), cancelled (deleted), and on the
	// Team calendar sprint (every other Tuesday), release, offsite,
	// customer.
	Events map[string]string
	// StandupMoved and StandupCancelled are the original starts of the two
	// standup instances that were moved and cancelled.
	StandupMoved, StandupCancelled time.Time
}

// Fixture people.
const (
	FixtureBob   = fixturetest.Bob
	FixtureCarol = fixturetest.Carol
	FixtureDave  = fixturetest.Dave
	// FixtureTeamCalendar and FixtureHolidayCalendar are the ids of the
	// secondary calendars LoadFixtures adds.
	FixtureTeamCalendar    = "c_1f0e2d3c4b5a69788796a5b4c3d2e1f0@group.calendar.google.com"
	FixtureHolidayCalendar = "en.german#holiday@group.v.calendar.google.com"
)

// LoadFixtures gives a user the fixtures of providers/fixturetest, filed as
// Gmail files them: a realistic mailbox (34 messages: threads,
// multipart/alternative, HTML-only, attachments, non-ASCII headers and
// bodies, labels, spam and trash) and calendars (primary in Europe/Berlin,
// Team in America/New_York, read-only German holidays) with timed events
// in several zones, all-day and multi-day events, recurring events with a
// moved and a cancelled instance. Everything is placed relative to the
// server's clock (Options.Now for a fixed one). Call it once per user.
func (s *Server) LoadFixtures(email string) *Fixtures {
	now := s.Now()
	berlin := mustZone("Europe/Berlin")
	nb := now.In(berlin)
	f := &Fixtures{
		Now: now, Day: time.Date(nb.Year(), nb.Month(), nb.Day(), 0, 0, 0, 0, berlin),
		Messages: map[string]string{}, Threads: map[string]string{}, Events: map[string]string{},
		Primary: email, Team: FixtureTeamCalendar, Holidays: FixtureHolidayCalendar,
	}
	s.loadMessages(email, f)
	s.loadCalendars(email, f)
	return f
}

func mustZone(name string) *time.Location { return fixturetest.MustZone(name) }
