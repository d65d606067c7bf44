package google

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
)

// maxFreeBusyItems is freeBusy.query's limit on the calendars of one query
// (calendarExpansionMax: at most 50).
const maxFreeBusyItems = 50

// freeBusyListFields is what FreeBusy reads of the calendar list.
const freeBusyListFields = googleapi.Field("nextPageToken,items(id,primary,timeZone,accessRole,selected,hidden,deleted)")

// FreeBusy asks freeBusy.query about the account's own calendars (the
// primary one, and every other calendar it owns or writes and shows, as
// the calendar list says: not the holidays or colleagues it subscribes
// to) and the attendees, in one query: one request, and one more (the
// calendar list, kept ownCalendarsTTL) the first time. Google keeps no working hours in the API: Schedules
// carry none. A calendar Google answers with errors (notFound: not shared
// or no such calendar; internalError…) is Unknown with the reason; a
// failed own calendar other than the primary is left out.
func (c *calendars) FreeBusy(ctx context.Context, q providers.FreeBusyQuery) (providers.FreeBusy, error) {
	svc, err := c.service()
	if err != nil {
		return providers.FreeBusy{}, err
	}
	own, zone, err := c.own.get(q.Account, time.Now())
	if err != nil {
		if own, zone, err = c.ownCalendars(ctx, svc); err != nil {
			return providers.FreeBusy{}, err
		}
		c.own.put(q.Account, own, zone, time.Now())
	}
	room := maxFreeBusyItems - len(q.Attendees)
	if len(own) > room {
		own = own[:max(room, 1)] // the primary first
	}
	req := &calendar.FreeBusyRequest{
		TimeMin: q.TimeMin.UTC().Format(time.RFC3339), TimeMax: q.TimeMax.UTC().Format(time.RFC3339),
		TimeZone: "UTC", CalendarExpansionMax: maxFreeBusyItems,
	}
	for _, id := range own {
		req.Items = append(req.Items, &calendar.FreeBusyRequestItem{Id: id})
	}
	for _, a := range q.Attendees {
		req.Items = append(req.Items, &calendar.FreeBusyRequestItem{Id: a})
	}
	res, err := svc.Freebusy.Query(req).Context(ctx).Do()
	if err != nil {
		return providers.FreeBusy{}, mapError(err)
	}
	out := providers.FreeBusy{TimeZone: zone}
	self := providers.Schedule{Email: q.Account, Self: true}
	for i, id := range own {
		busy, why := freeBusyOf(res.Calendars, id)
		switch {
		case why != "" && i == 0:
			self.Unknown = "Google did not answer for the primary calendar: " + why
		case why == "":
			self.Busy = append(self.Busy, busy...)
		}
	}
	sortBusy(self.Busy)
	out.Schedules = append(out.Schedules, self)
	for _, a := range q.Attendees {
		busy, why := freeBusyOf(res.Calendars, a)
		out.Schedules = append(out.Schedules, providers.Schedule{Email: a, Busy: busy, Unknown: why})
	}
	return out, nil
}

// ownCalendarsTTL is how long an account's own calendars are kept: a
// calendar made or hidden since shows in free/busy that much later.
const ownCalendarsTTL = 5 * time.Minute

// maxOwnCalendarEntries bounds the cache: past it, it starts over.
const maxOwnCalendarEntries = 4096

// ownCalendarCache keeps each account's own calendars and zone. The zero
// value works; it is safe for concurrent use.
type ownCalendarCache struct {
	mu sync.Mutex
	m  map[string]ownCalendarEntry
}

type ownCalendarEntry struct {
	ids  []string
	zone string
	at   time.Time
}

var errNotCached = errors.New("not cached")

func (c *ownCalendarCache) get(account string, now time.Time) ([]string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[strings.ToLower(account)]
	if !ok || account == "" || now.Sub(e.at) > ownCalendarsTTL || now.Before(e.at) {
		return nil, "", errNotCached
	}
	return slices.Clone(e.ids), e.zone, nil
}

func (c *ownCalendarCache) put(account string, ids []string, zone string, now time.Time) {
	if account == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxOwnCalendarEntries {
		c.m = map[string]ownCalendarEntry{}
	}
	c.m[strings.ToLower(account)] = ownCalendarEntry{ids: slices.Clone(ids), zone: zone, at: now}
}

// ownCalendars lists the ids of the calendars that are the account's own
// time (primary first) and the primary calendar's zone.
func (c *calendars) ownCalendars(ctx context.Context, svc *calendar.Service) ([]string, string, error) {
	var ids []string
	primary, zone, token := "", "", ""
	for range maxCalendarPages {
		call := svc.CalendarList.List().MaxResults(250).Fields(freeBusyListFields).Context(ctx)
		if token != "" {
			call = call.PageToken(token)
		}
		res, err := call.Do()
		if err != nil {
			return nil, "", mapError(err)
		}
		for _, it := range res.Items {
			switch {
			case it == nil || it.Deleted:
			case it.Primary:
				primary, zone = it.Id, it.TimeZone
			case it.Selected && !it.Hidden && (it.AccessRole == "owner" || it.AccessRole == "writer"):
				ids = append(ids, it.Id)
			}
		}
		if token = res.NextPageToken; token == "" {
			break
		}
	}
	if primary == "" {
		primary = "primary"
	}
	return append([]string{primary}, ids...), zone, nil
}

// freeBusyOf reads one calendar's answer: its busy periods, or why it has
// none to give.
func freeBusyOf(cals map[string]calendar.FreeBusyCalendar, id string) ([]providers.BusyPeriod, string) {
	fb, ok := cals[id]
	if !ok {
		for k, v := range cals { // Google answers addresses as it knows them
			if strings.EqualFold(k, id) {
				fb, ok = v, true
				break
			}
		}
	}
	if !ok {
		return nil, "Google's answer has nothing for this calendar"
	}
	if len(fb.Errors) > 0 {
		var reasons []string
		for _, e := range fb.Errors {
			if e != nil {
				reasons = append(reasons, e.Reason)
			}
		}
		return nil, freeBusyReason(reasons)
	}
	var out []providers.BusyPeriod
	for _, p := range fb.Busy {
		if p == nil {
			continue
		}
		start, err1 := time.Parse(time.RFC3339, p.Start)
		end, err2 := time.Parse(time.RFC3339, p.End)
		if err1 != nil || err2 != nil || !end.After(start) {
			continue
		}
		out = append(out, providers.BusyPeriod{Start: start, End: end, Status: providers.BusyBusy})
	}
	sortBusy(out)
	return out, ""
}

// freeBusyReason says in words what freeBusy's per-calendar error reasons
// mean.
func freeBusyReason(reasons []string) string {
	switch {
	case slices.Contains(reasons, "notFound"):
		return "the calendar is not shared with this account, or there is no such calendar"
	case slices.Contains(reasons, "internalError"), slices.Contains(reasons, "backendError"):
		return "Google failed to read this calendar (internalError)"
	case slices.Contains(reasons, "groupTooBig"), slices.Contains(reasons, "tooManyCalendarsRequested"):
		return "a group too large to expand"
	}
	return fmt.Sprintf("Google answered %s for this calendar", strings.Join(reasons, ", "))
}

func sortBusy(b []providers.BusyPeriod) {
	slices.SortFunc(b, func(x, y providers.BusyPeriod) int { return x.Start.Compare(y.Start) })
}
