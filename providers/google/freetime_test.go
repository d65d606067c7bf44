package google

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// FreeBusy counts the account's own calendars (the primary, and one it
// owns), not one it only reads; sees bob; says nobody cannot be seen; and
// reads the calendar list once for several calls.
func TestFreeBusy(t *testing.T) {
	s := fake(t)
	calendarFixture(s)
	s.AddCalendar(alice, googletest.Calendar{ID: "side@group.calendar.google.com", Summary: "Side", TimeZone: "UTC"})
	s.AddEvent(alice, "side@group.calendar.google.com", googletest.Event{Summary: "side", Start: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)})
	s.AddEvent(bob, "primary", googletest.Event{Summary: "bob's", Start: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)})
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	q := providers.FreeBusyQuery{Account: alice, TimeMin: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), TimeMax: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
		Attendees: []string{bob, "nobody@elsewhere.example"}}
	s.ResetAPIStats()
	fb, err := cal.FreeBusy(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if fb.TimeZone != "Europe/Paris" || len(fb.Schedules) != 3 {
		t.Fatalf("%+v", fb)
	}
	self, b, nobody := fb.Schedules[0], fb.Schedules[1], fb.Schedules[2]
	var got []string
	for _, p := range self.Busy {
		got = append(got, p.Start.UTC().Format("15:04")+"-"+p.End.UTC().Format("15:04"))
	}
	// The standup 09:30 Paris (08:30Z), the NY call 09:00 New York (14:00Z),
	// the side calendar's 20:00Z, the all-day holiday from midnight in Paris
	// (opaque, as events are unless marked free); not the team calendar's
	// 14:00 New York (19:00Z), which alice only reads.
	if !self.Self || self.Email != alice || strings.Join(got, " ") != "08:30-08:45 14:00-15:00 20:00-21:00 23:00-00:00" {
		t.Errorf("self: %v %+v", got, self)
	}
	if b.Email != bob || b.Unknown != "" || len(b.Busy) != 1 || !b.Busy[0].Start.Equal(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("bob: %+v", b)
	}
	if nobody.Unknown == "" || !strings.Contains(nobody.Unknown, "not shared") || len(nobody.Busy) != 0 {
		t.Errorf("nobody: %+v", nobody)
	}
	if _, err := cal.FreeBusy(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if n, all := s.APIRequests("/calendar/v3/users/me/calendarList"), s.APIRequests("/calendar/v3/"); n != 1 || all != 3 {
		t.Errorf("two calls: %d calendar list requests (want 1), %d in all (want 3)", n, all)
	}
}

// Google answers 400 for a range longer than it serves: ErrInvalid.
func TestFreeBusyRefused(t *testing.T) {
	s := fake(t)
	cal := mustCalendar(t, provider(t, s), connect(t, s, alice, allScopes...))
	_, err := cal.FreeBusy(context.Background(), providers.FreeBusyQuery{Account: alice,
		TimeMin: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), TimeMax: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)})
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.ErrInvalid || !strings.Contains(pe.Message, "too long") {
		t.Fatalf("got %v", err)
	}
}
