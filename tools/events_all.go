package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// EventRow is a listed event; with account "all" it names its account.
type EventRow struct {
	Account string `json:"account,omitempty" jsonschema:"with account all: the account whose calendar has the event"`
	providers.Event
}

// listEventsAll is list_events with account "all": every account's primary
// calendar asked at once (one page of max_results each), merged by start.
//
// Paging: none. A page token per account cannot be combined into one
// honest token once the merge cuts the rows (an account's next page may
// start before another's last row shown), so the merge keeps max_results
// rows that are complete up to a time T: every event starting before T, of
// every account, is listed. When rows were left out, More names T as the
// time_min of the next call (which lists again the events running across T).
func (h *handlers) listEventsAll(ctx context.Context, gs []grants.Grant, skipped []AccountStatus, a *eventsArgs) (ListEventsResult, string, error) {
	q := a.q
	if q.PageToken != "" {
		return ListEventsResult{}, "", argError("page_token", `not taken with account "all": continue with the time_min the previous answer named, or ask one account`)
	}
	if !strings.EqualFold(q.CalendarID, "primary") {
		return ListEventsResult{}, "", argError("calendar_id", `with account "all" only primary (each account's main calendar); calendar ids belong to one account`)
	}
	pages, errs := fanOut(ctx, gs, func(ctx context.Context, g grants.Grant) (providers.EventPage, error) {
		page, err := onCalendar(ctx, h, g, func(c providers.Calendar) (providers.EventPage, error) { return c.ListEvents(ctx, q) })
		if err == nil && q.TimeZone == "" {
			h.zones.learn(g, page.TimeZone)
		}
		return page, err
	})
	loc := time.UTC
	if q.TimeZone != "" {
		loc, _ = time.LoadLocation(q.TimeZone) // checked by the arguments' check
	}
	res := ListEventsResult{Account: allAccounts, CalendarID: "primary", TimeZone: q.TimeZone, Events: []EventRow{}}
	type row struct {
		EventRow
		at time.Time
	}
	var rows []row
	var cut time.Time // the start of the first event some account did not send
	answered := 0
	for i, g := range gs {
		st := AccountStatus{Account: g.Account, Provider: g.Provider}
		if errs[i] != nil {
			st.Error = h.providerError(ctx, errs[i], g, "listing events", "the primary calendar").Error()
			res.Accounts = append(res.Accounts, st)
			continue
		}
		answered++
		res.Accounts = append(res.Accounts, st)
		page := pages[i]
		var last time.Time
		for _, e := range page.Events {
			at := eventStart(e, loc)
			rows = append(rows, row{EventRow{Account: g.Account, Event: e}, at})
			last = at
		}
		if page.NextPageToken != "" && len(page.Events) > 0 && (cut.IsZero() || last.Before(cut)) {
			// The account has more, starting at or after its last row.
			cut = last
		}
	}
	res.Accounts = append(res.Accounts, skipped...)
	if answered == 0 {
		return ListEventsResult{}, "", userErrorf("list_events account \"all\": no account answered: %s", statusList(res.Accounts))
	}
	slices.SortStableFunc(rows, func(x, y row) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return strings.Compare(x.Account, y.Account)
	})
	// Keep what is complete: rows starting before cut, and at most
	// max_results; the next call starts at the first row left out.
	keep := len(rows)
	if !cut.IsZero() {
		keep = 0
		for keep < len(rows) && rows[keep].at.Before(cut) {
			keep++
		}
		if keep == 0 { // every row starts at cut: show them rather than none
			for keep < len(rows) && rows[keep].at.Equal(cut) {
				keep++
			}
		}
	}
	keep = min(keep, q.MaxResults)
	if keep < len(rows) {
		next := rows[keep].at
		if !next.After(q.TimeMin) {
			next = q.TimeMin.Add(time.Minute)
		}
		res.More = fmt.Sprintf("more events from %s: call again with time_min=%s (events running across it are listed again)",
			next.In(loc).Format(time.RFC3339), next.In(loc).Format(time.RFC3339))
	}
	for _, r := range rows[:keep] {
		res.Events = append(res.Events, r.EventRow)
	}
	text := eventsText(res, q)
	var notes []string
	for _, st := range res.Accounts {
		if st.Error != "" {
			notes = append(notes, st.Account+": "+st.Error)
		}
	}
	if len(notes) > 0 {
		text += "\nNot listed: " + strings.Join(notes, "\n")
	}
	if res.More != "" {
		text += "\nMore: " + res.More
	}
	return res, text, nil
}

// eventStart is when an event starts; an all-day event at midnight in loc.
func eventStart(e providers.Event, loc *time.Location) time.Time {
	if e.AllDay {
		t, _ := time.ParseInLocation(time.DateOnly, e.Start, loc)
		return t
	}
	t, _ := time.Parse(time.RFC3339, e.Start)
	return t
}
