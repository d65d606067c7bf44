//go:build unix

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// bothFakes is a fake Google and a fake Microsoft behind one harness: one
// tenant with an account at each.
type bothFakes struct {
	fg *googletest.Server
	fm *microsofttest.Server
}

func (b bothFakes) Env() []string     { return append(b.fg.Env(), b.fm.Env()...) }
func (b bothFakes) Secrets() []string { return append(b.fg.Secrets(), b.fm.Secrets()...) }

const (
	ftDana = "dana@contoso.com" // the Microsoft account
	ftErin = "erin@contoso.com" // a colleague in dana's organization
	ftZoe  = "zoe@elsewhere.example"
)

type ftResult struct {
	Account  string `json:"account"`
	TimeZone string `json:"time_zone"`
	Free     []struct {
		Start, End string
	} `json:"free"`
	Busy []struct {
		Start, End, Status string
		Who                []string
	} `json:"busy"`
	Unknown []struct {
		Email, Reason string
	} `json:"unknown"`
	Accounts []struct {
		Account, Provider, Error string
	} `json:"accounts"`
}

func (r ftResult) slots() []string {
	var out []string
	for _, f := range r.Free {
		out = append(out, f.Start+"/"+f.End)
	}
	return out
}

type ftEvents struct {
	Events []struct {
		Account, Summary, Start string
	} `json:"events"`
	Accounts []struct {
		Account, Error string
	} `json:"accounts"`
}

// find_free_time for a Google and a Microsoft account, with attendees one
// can see and one nobody can, and across both with account "all";
// list_events merged over both, and with one failing. The window runs
// from Friday 2027-03-26 to Tuesday 2027-03-30, across Europe/Berlin's
// change to summer time (Sunday 2027-03-28): slots are checked against
// times worked out by hand, +01:00 before the change and +02:00 after.
func TestE2EFreeTimeAndAllAccounts(t *testing.T) {
	mailcalBinary(t)
	fg := googletest.New(googletest.Options{})
	t.Cleanup(fg.Close)
	fm := microsofttest.New(microsofttest.Options{})
	t.Cleanup(fm.Close)
	h := newHarness(t, "googletest+microsofttest", bothFakes{fg, fm})
	gfx, mfx := &googleFixture{harness: h, fg: fg}, &microsoftFixture{harness: h, fm: fm}

	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(day, hour, minute int) time.Time { return time.Date(2027, 3, day, hour, minute, 0, 0, berlin) }
	fg.AddUser(alice)
	fg.AddUser(bob)
	fg.AddCalendar(alice, googletest.Calendar{Primary: true, TimeZone: "Europe/Berlin"})
	fg.AddEvent(alice, "primary", googletest.Event{Summary: "G standup", Start: at(26, 10, 0), End: at(26, 11, 0), TimeZone: "Europe/Berlin"})
	fg.AddEvent(alice, "primary", googletest.Event{Summary: "G focus", Start: at(26, 13, 0), End: at(26, 14, 0), TimeZone: "Europe/Berlin", Transparency: "transparent"})
	fg.AddEvent(alice, "primary", googletest.Event{Summary: "G planning", Start: at(29, 9, 0), End: at(29, 10, 30), TimeZone: "Europe/Berlin"})
	fg.AddEvent(bob, "primary", googletest.Event{Summary: "bob's", Start: at(26, 15, 0), End: at(26, 16, 0), TimeZone: "Europe/Berlin"})

	fm.AddAccount(microsofttest.Account{Email: ftDana, TimeZone: "W. Europe Standard Time"})
	fm.AddAccount(microsofttest.Account{Email: ftErin, TimeZone: "W. Europe Standard Time"})
	fm.SetWorkingHours(ftDana, microsofttest.WorkingHours{Days: []string{"monday", "tuesday", "wednesday", "thursday", "friday"},
		Start: "08:00:00.0000000", End: "16:00:00.0000000"})
	fm.AddEvent(ftDana, "", microsofttest.Event{Subject: "M review", Start: at(29, 14, 0), End: at(29, 15, 0), TimeZone: "W. Europe Standard Time"})
	fm.AddEvent(ftDana, "", microsofttest.Event{Subject: "M lunch", Start: at(26, 12, 0), End: at(26, 13, 0), TimeZone: "W. Europe Standard Time", ShowAs: "free"})
	fm.AddEvent(ftErin, "", microsofttest.Event{Subject: "erin's", Start: at(29, 9, 0), End: at(29, 10, 0), TimeZone: "W. Europe Standard Time"})

	key := h.addTenant(t, "a")
	s := h.startHTTP(t)
	gfx.connectHTTP(t, s, key, alice, "calendar.read")
	mfx.connectHTTP(t, s, key, ftDana, "calendar.read")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	window := map[string]any{"time_min": "2027-03-26T00:00:00+01:00", "time_max": "2027-03-30T00:00:00+02:00", "duration_minutes": 60}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range window {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	check := func(who string, r ftResult, slots []string, unknown ...string) {
		t.Helper()
		if got := r.slots(); !slices.Equal(got, slots) {
			t.Errorf("%s: free slots\n%s\nwant\n%s", who, strings.Join(got, "\n"), strings.Join(slots, "\n"))
		}
		var got []string
		for _, u := range r.Unknown {
			got = append(got, u.Email)
		}
		if !slices.Equal(got, unknown) {
			t.Errorf("%s: unknown %v, want %v", who, r.Unknown, unknown)
		}
	}

	// Google: 09:00-17:00 Monday to Friday in the calendar's zone (Google
	// keeps no working hours); bob's hour counts, the transparent event
	// does not, zoe cannot be seen.
	var g ftResult
	h.callOK(t, c, "find_free_time", with(map[string]any{"account": alice, "attendees": []any{bob, ftZoe}}), &g)
	check("google", g, []string{
		"2027-03-26T09:00:00+01:00/2027-03-26T10:00:00+01:00",
		"2027-03-26T11:00:00+01:00/2027-03-26T15:00:00+01:00",
		"2027-03-26T16:00:00+01:00/2027-03-26T17:00:00+01:00",
		"2027-03-29T10:30:00+02:00/2027-03-29T17:00:00+02:00",
	}, ftZoe)
	if g.TimeZone != "Europe/Berlin" || len(g.Busy) != 3 || !slices.Contains(g.Busy[2].Who, bob) && !slices.Contains(g.Busy[1].Who, bob) {
		t.Errorf("google: zone %q, busy %+v", g.TimeZone, g.Busy)
	}

	// Microsoft: dana's own working hours (08:00-16:00), erin's meeting,
	// the free lunch not busy, zoe unknown to the organization.
	var m ftResult
	h.callOK(t, c, "find_free_time", with(map[string]any{"account": ftDana, "attendees": []any{ftErin, ftZoe}}), &m)
	check("microsoft", m, []string{
		"2027-03-26T08:00:00+01:00/2027-03-26T16:00:00+01:00",
		"2027-03-29T08:00:00+02:00/2027-03-29T09:00:00+02:00",
		"2027-03-29T10:00:00+02:00/2027-03-29T14:00:00+02:00",
		"2027-03-29T15:00:00+02:00/2027-03-29T16:00:00+02:00",
	}, ftZoe)

	// Both accounts: free only when both are.
	var all ftResult
	h.callOK(t, c, "find_free_time", with(map[string]any{"account": "all", "working_hours": "09:00-17:00 mon-fri", "time_zone": "Europe/Berlin"}), &all)
	check("all", all, []string{
		"2027-03-26T09:00:00+01:00/2027-03-26T10:00:00+01:00",
		"2027-03-26T11:00:00+01:00/2027-03-26T17:00:00+01:00",
		"2027-03-29T10:30:00+02:00/2027-03-29T14:00:00+02:00",
		"2027-03-29T15:00:00+02:00/2027-03-29T17:00:00+02:00",
	})
	if len(all.Accounts) != 2 {
		t.Errorf("all: accounts %+v", all.Accounts)
	}

	// list_events over both, merged by start, each row naming its account.
	evWin := map[string]any{"account": "all", "time_min": "2027-03-26T00:00:00+01:00", "time_max": "2027-03-30T00:00:00+02:00", "time_zone": "Europe/Berlin"}
	var l ftEvents
	r := h.callOK(t, c, "list_events", evWin, &l)
	var rows []string
	for _, e := range l.Events {
		rows = append(rows, e.Account+" "+e.Summary+" "+e.Start)
	}
	want := []string{
		alice + " G standup 2027-03-26T10:00:00+01:00",
		ftDana + " M lunch 2027-03-26T12:00:00+01:00",
		alice + " G focus 2027-03-26T13:00:00+01:00",
		alice + " G planning 2027-03-29T09:00:00+02:00",
		ftDana + " M review 2027-03-29T14:00:00+02:00",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("list_events all:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(r.text(), alice+" | 2027-03-26 10:00–11:00+01:00 | G standup") {
		t.Errorf("list_events all text: %s", r.text())
	}

	// Graph fails (500): Google's rows still come, Microsoft's error is
	// said per account.
	fm.FailAPI("/v1.0/me/calendar", 1, 500, "UnknownError", 0)
	l = ftEvents{}
	r = h.callOK(t, c, "list_events", evWin, &l)
	if len(l.Events) != 3 || l.Events[0].Account != alice {
		t.Errorf("with Graph failing: %+v", l.Events)
	}
	failed := ""
	for _, a := range l.Accounts {
		if a.Error != "" {
			failed = a.Account
		}
	}
	if failed != ftDana || !strings.Contains(r.text(), "Not listed: "+ftDana) {
		t.Errorf("the failing account is not reported: %+v\n%s", l.Accounts, r.text())
	}

	// dana revokes mailcal's access: the first call says she needs to be
	// reconnected (with the URL), and later ones skip her without asking
	// Microsoft; Google's answer comes each time.
	fm.RevokeUser(ftDana)
	fm.ExpireAccessTokens()
	for _, want := range []string{"needs to be reconnected", "skipped: the account must be reconnected"} {
		l = ftEvents{}
		r = h.callOK(t, c, "list_events", evWin, &l)
		var dana string
		for _, a := range l.Accounts {
			if a.Account == ftDana {
				dana = a.Error
			}
		}
		if len(l.Events) != 3 || !strings.Contains(dana, want) {
			t.Errorf("dana revoked: want %q; events %+v, accounts %+v", want, l.Events, l.Accounts)
		}
	}
	if !microsoftReconnectURLRE.MatchString(r.text()) && !strings.Contains(r.text(), "connect_account") {
		t.Errorf("no way to reconnect dana is said: %s", r.text())
	}
	var after ftResult
	h.callOK(t, c, "find_free_time", with(map[string]any{"account": "all", "working_hours": "09:00-17:00", "time_zone": "Europe/Berlin"}), &after)
	check("all, dana revoked", after, []string{
		"2027-03-26T09:00:00+01:00/2027-03-26T10:00:00+01:00",
		"2027-03-26T11:00:00+01:00/2027-03-26T17:00:00+01:00",
		"2027-03-29T10:30:00+02:00/2027-03-29T17:00:00+02:00",
	}, ftDana)
}
