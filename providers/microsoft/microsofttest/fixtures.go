package microsofttest

import (
	"time"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// Fixtures says what LoadFixtures created, for tests to refer to. The keys
// are googletest's (providers/fixturetest's content).
type Fixtures struct {
	Now time.Time // the server's clock when the fixtures were loaded
	// Day is midnight (Europe/Berlin, the mailbox's zone) of Now's day;
	// events are placed relative to it, messages relative to Now.
	Day time.Time
	// Messages maps fixture keys to ordinary message ids (welcome,
	// phoenix-1..3, report, photo, newsletter, umlaut, japanese, emoji,
	// latin1, invite, inline, injection, long, spam, trash, receipt,
	// social, forum, lunch-1..2, multi-rcpt, pdf-nonascii, github, bank,
	// sent-solo, forwarded, old, calendar-reminder).
	Messages map[string]string
	// Conversations are the conversation ids of phoenix, lunch and offsite.
	Conversations map[string]string
	// Receipts is the Inbox subfolder the receipt is filed in.
	Receipts string
	// Calendar ids: the default calendar, Team (a shared calendar of the
	// New York team, writable) and a read-only holidays calendar.
	Calendar, Team, Holidays string
	// Events maps fixture keys to event ids: today, yesterday, dentist,
	// review (attendees, Teams meeting), tokyo, flight, birthday (all
	// day), conference (3 days), standup (weekly series), standup-moved
	// (its exception), focus, yoga, rent, vendor, cancelled (a meeting its
	// organizer cancelled), and on the Team calendar sprint, release,
	// offsite, customer. The cancelled standup is deleted: no id.
	Events map[string]string
	// StandupMoved and StandupCancelled are the original starts of the two
	// standup occurrences that were moved and deleted.
	StandupMoved, StandupCancelled time.Time
}

// The fixture calendars' names and owners.
const (
	FixtureTeamCalendar     = "Team"
	FixtureHolidaysCalendar = "Holidays in Germany"
	FixtureTeamAddress      = "team@example.com"
)

// LoadFixtures gives a user the fixtures of providers/fixturetest as
// Outlook files them: the mailbox (Gmail's INBOX, SENT, SPAM and TRASH as
// Inbox, Sent Items, Junk Email and Deleted Items; UNREAD as isRead false,
// STARRED as a flag, IMPORTANT as high importance, the primary category as
// Focused and the others as Other; the Work label as a category and
// Receipts as a subfolder of Inbox) and the calendars (times in the zones
// the events were made in, named the Windows way; the mailbox in W. Europe
// Standard Time). Everything is placed relative to the server's clock
// (Options.Now for a fixed one). Call it once per user.
func (s *Server) LoadFixtures(email string) *Fixtures {
	now := s.Now()
	berlin := fixturetest.MustZone("Europe/Berlin")
	nb := now.In(berlin)
	f := &Fixtures{
		Now: now, Day: time.Date(nb.Year(), nb.Month(), nb.Day(), 0, 0, 0, 0, berlin),
		Messages: map[string]string{}, Conversations: map[string]string{}, Events: map[string]string{},
	}
	s.graph.mu.Lock()
	mb := s.mailboxLocked(email)
	mb.timeZone = "W. Europe Standard Time"
	s.graph.mu.Unlock()
	s.loadMessages(email, f)
	s.loadCalendars(email, f)
	return f
}

func (s *Server) loadMessages(email string, f *Fixtures) {
	folders := map[fixturetest.Folder]string{fixturetest.Inbox: "inbox", fixturetest.Sent: "sentitems",
		fixturetest.Spam: "junkemail", fixturetest.Trash: "deleteditems"}
	for _, m := range fixturetest.Messages(email) {
		filing := Filing{Folder: folders[m.Folder], Read: !m.Unread, Flagged: m.Starred,
			Other: m.Category != "" && m.Category != fixturetest.Personal}
		if m.Important {
			filing.Importance = "high"
		}
		for _, l := range m.Labels {
			if l == "Receipts" {
				filing.Folder = "Inbox/Receipts"
			} else {
				filing.Categories = append(filing.Categories, l)
			}
		}
		f.Messages[m.Key] = s.AddMessage(email, m.Raw(f.Now, email), filing)
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(email)
	for key, first := range map[string]string{"phoenix": "phoenix-1", "lunch": "lunch-1", "offsite": "offsite-1"} {
		m, _ := mb.findMessage(f.Messages[first])
		f.Conversations[key] = mb.conversationID(m)
	}
	f.Receipts = mb.folderID(mb.folderByPath("Inbox/Receipts", false))
}

func (s *Server) loadCalendars(email string, f *Fixtures) {
	s.graph.mu.Lock()
	mb := s.mailboxLocked(email)
	team := mb.addCalendar(calendar{name: FixtureTeamCalendar, color: "lightGreen", canEdit: true,
		owner: Recipient{Name: "Team", Address: FixtureTeamAddress}})
	holidays := mb.addCalendar(calendar{name: FixtureHolidaysCalendar, color: "lightBlue",
		owner: Recipient{Name: "Holidays in Germany", Address: "holidays@calendar.example"}})
	f.Calendar, f.Team, f.Holidays = mb.calendarID(mb.defaultCalendar()), mb.calendarID(team), mb.calendarID(holidays)
	s.graph.mu.Unlock()

	cals := map[fixturetest.CalendarKind]string{fixturetest.Team: FixtureTeamCalendar, fixturetest.Holidays: FixtureHolidaysCalendar}
	responses := map[fixturetest.Response]string{fixturetest.Pending: "notResponded", fixturetest.Accepted: "accepted",
		fixturetest.Tentative: "tentativelyAccepted", fixturetest.Declined: "declined"}
	fc := fixturetest.Calendars(f.Day, email)
	f.StandupMoved, f.StandupCancelled = fc.StandupMoved, fc.StandupCancelled
	for _, fe := range fc.Events {
		e := Event{Subject: fe.Summary, Body: fe.Description, Location: fe.Location, Start: fe.Start, End: fe.End, AllDay: fe.AllDay,
			TimeZone: windowsOrGiven(fe.TimeZone), EndTimeZone: windowsOrGiven(fe.EndTimeZone), Recurrence: fe.Recurrence,
			OnlineMeeting: fe.VideoCall, OriginalStart: fe.OriginalStart}
		if fe.TimeZone == "" {
			e.TimeZone, e.EndTimeZone = "W. Europe Standard Time", "W. Europe Standard Time"
		}
		for _, a := range fe.Attendees {
			if a.Organizer {
				continue // Outlook lists the organizer apart
			}
			typ := "required"
			if a.Optional {
				typ = "optional"
			}
			e.Attendees = append(e.Attendees, Attendee{Email: a.Email, Name: a.Name, Type: typ, Response: responses[a.Response]})
		}
		switch {
		case fe.Calendar == fixturetest.Team:
			e.Organizer = &Recipient{Name: "Team", Address: FixtureTeamAddress}
		case fe.Calendar == fixturetest.Holidays:
			e.Organizer, e.Categories = &Recipient{Name: "Holidays in Germany", Address: "holidays@calendar.example"}, []string{"Holiday"}
		case fe.Cancelled && fe.Series == "":
			// A meeting its organizer cancelled stays in an attendee's
			// calendar, marked, until they remove it.
			e.Organizer = &Recipient{Name: "Bob Builder", Address: fixturetest.Bob}
			e.Subject, e.Cancelled = "Canceled: "+fe.Summary, true
			e.Attendees = append(e.Attendees, Attendee{Email: email, Name: s.accounts.get(email).DisplayName, Response: "notResponded"})
		}
		if fe.Series != "" {
			// The organizer's own cancelled occurrence is deleted from the
			// series.
			e.SeriesID, e.Deleted = f.Events[fe.Series], fe.Cancelled
		}
		id := s.AddEvent(email, cals[fe.Calendar], e)
		if fe.Key != "" && !e.Deleted {
			f.Events[fe.Key] = id
		}
	}
}
