package googletest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Calendar's freebusy.query (POST calendar/v3/freeBusy), as its reference
// documents it: timeMin and timeMax required (RFC 3339), an empty range
// refused (timeRangeEmpty) and so is one longer than Google serves (90
// days: "The requested time range is too long."); at most 50 calendars
// (calendarExpansionMax at most 50, groupExpansionMax at most 100); times
// answered in timeZone (default UTC). Each calendar answers its busy
// periods, merged and cut to the window: events that are opaque (the
// default; Transparency "transparent" is free time), not cancelled, not
// declined by the calendar's owner, recurring ones expanded. A calendar
// that is not the caller's, nor a user's primary calendar the fake knows
// (free/busy shared within the organization), answers errors [{domain
// global, reason notFound}] rather than failing the query.

const (
	calFreeBusy      = "calendar.freebusy.query"
	maxFreeBusyItems = 50
	maxFreeBusySpan  = 90 * 24 * time.Hour
)

type freeBusyInput struct {
	TimeMin              string `json:"timeMin"`
	TimeMax              string `json:"timeMax"`
	TimeZone             string `json:"timeZone"`
	GroupExpansionMax    *int   `json:"groupExpansionMax"`
	CalendarExpansionMax *int   `json:"calendarExpansionMax"`
	Items                []struct {
		ID string `json:"id"`
	} `json:"items"`
}

type busyJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type freeBusyErrorJSON struct {
	Domain string `json:"domain"`
	Reason string `json:"reason"`
}

type freeBusyCalJSON struct {
	Errors []freeBusyErrorJSON `json:"errors,omitempty"`
	Busy   []busyJSON          `json:"busy"`
}

func (s *Server) calFreeBusy(w http.ResponseWriter, r *http.Request, c call) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the request body.", "badRequest")
		return
	}
	var in freeBusyInput
	if err := json.Unmarshal(body, &in); err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Parse Error", "parseError")
		return
	}
	if in.TimeMin == "" || in.TimeMax == "" {
		WriteAPIError(w, http.StatusBadRequest, "Missing time range.", "required")
		return
	}
	tmin, err1 := time.Parse(time.RFC3339, in.TimeMin)
	tmax, err2 := time.Parse(time.RFC3339, in.TimeMax)
	if err1 != nil || err2 != nil {
		WriteAPIError(w, http.StatusBadRequest, "Bad Request", "badRequest")
		return
	}
	loc := time.UTC
	if in.TimeZone != "" {
		if loc, err = time.LoadLocation(in.TimeZone); err != nil || in.TimeZone == "Local" {
			WriteAPIError(w, http.StatusBadRequest, "Invalid time zone definition for the request.", "invalid")
			return
		}
	}
	switch {
	case !tmax.After(tmin):
		WriteAPIError(w, http.StatusBadRequest, "The specified time range is empty.", "timeRangeEmpty")
		return
	case tmax.Sub(tmin) > maxFreeBusySpan:
		WriteAPIError(w, http.StatusBadRequest, "The requested time range is too long.", "timeRangeTooLong")
		return
	case in.CalendarExpansionMax != nil && (*in.CalendarExpansionMax < 0 || *in.CalendarExpansionMax > maxFreeBusyItems),
		in.GroupExpansionMax != nil && (*in.GroupExpansionMax < 0 || *in.GroupExpansionMax > 100):
		WriteAPIError(w, http.StatusBadRequest, "Invalid expansion maximum.", "invalid")
		return
	case len(in.Items) > maxFreeBusyItems || in.CalendarExpansionMax != nil && len(in.Items) > *in.CalendarExpansionMax:
		WriteAPIError(w, http.StatusBadRequest, "Too many calendars requested.", "tooManyCalendarsRequested")
		return
	}
	cals := map[string]freeBusyCalJSON{}
	s.api.mu.Lock()
	own := s.api.calStoreLocked(c.email)
	for _, it := range in.Items {
		cal, owner := own.find(it.ID), own.email
		if cal == nil {
			if other := s.api.cal[strings.ToLower(it.ID)]; other != nil {
				cal, owner = other.find("primary"), other.email
			}
		}
		if cal == nil {
			cals[it.ID] = freeBusyCalJSON{Errors: []freeBusyErrorJSON{{"global", "notFound"}}, Busy: []busyJSON{}}
			continue
		}
		cals[it.ID] = freeBusyCalJSON{Busy: cal.busyLocked(owner, tmin, tmax, loc)}
	}
	s.api.mu.Unlock()
	s.writeAPI(w, r, http.StatusOK, map[string]any{
		"kind": "calendar#freeBusy", "timeMin": googleTime(tmin), "timeMax": googleTime(tmax), "calendars": cals,
	})
}

// busyLocked lists the calendar's busy periods in [tmin, tmax), merged,
// as times in loc. owner is the address whose declines free the time.
// Call with a.mu held.
func (cal *fakeCal) busyLocked(owner string, tmin, tmax time.Time, loc *time.Location) []busyJSON {
	type span struct{ s, e time.Time }
	var spans []span
	takes := func(ev *calEvent) bool {
		if ev.Status == "cancelled" || ev.Transparency == "transparent" {
			return false
		}
		return !slices.ContainsFunc(ev.Attendees, func(a Attendee) bool {
			return strings.EqualFold(a.Email, owner) && a.ResponseStatus == "declined"
		})
	}
	add := func(start, end evTime) {
		st, en := start.instant(cal.loc), end.instant(cal.loc)
		if en.After(tmin) && st.Before(tmax) {
			spans = append(spans, span{maxTime(st, tmin), minTime(en, tmax)})
		}
	}
	for _, ev := range cal.events {
		switch {
		case ev.RecurringEventID != "":
			if takes(ev) {
				add(ev.start, ev.end) // an exception: where it is now
			}
		case ev.rule == nil:
			if takes(ev) {
				add(ev.start, ev.end)
			}
		case takes(ev):
			moved := map[string]bool{}
			for _, ex := range cal.events {
				if ex.RecurringEventID == ev.ID {
					moved[ex.origStart.suffix()] = true
				}
			}
			for _, o := range ev.expand(cal.loc, tmax) {
				if !moved[o.start.suffix()] {
					add(o.start, o.end)
				}
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.s.Compare(b.s) })
	out := []busyJSON{}
	var cur *span
	for i := range spans {
		sp := spans[i]
		if cur != nil && !sp.s.After(cur.e) {
			cur.e = maxTime(cur.e, sp.e)
			continue
		}
		if cur != nil {
			out = append(out, busyJSON{cur.s.In(loc).Format(time.RFC3339), cur.e.In(loc).Format(time.RFC3339)})
		}
		cur = &sp
	}
	if cur != nil {
		out = append(out, busyJSON{cur.s.In(loc).Format(time.RFC3339), cur.e.In(loc).Format(time.RFC3339)})
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
