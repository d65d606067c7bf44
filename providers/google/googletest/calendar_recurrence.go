package googletest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recurrence: RRULE and EXDATE lines as events carry them, and their
// expansion into instances on the wall clock of the event's zone.

type weekdayNum struct {
	n  int // 0: every such weekday of the period; 1, 2, -1…: the nth
	wd time.Weekday
}

type rrule struct {
	freq            string
	interval, count int
	until           time.Time
	hasUntil        bool
	byDay           []weekdayNum
	byMonthDay      []int
	byMonth         []int
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// parseRecurrence reads an event's RRULE (DAILY, WEEKLY, MONTHLY, YEARLY
// with INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH) and EXDATEs; loc
// is the zone of floating times.
func parseRecurrence(lines []string, loc *time.Location, allDay bool) (*rrule, map[string]bool, error) {
	var r *rrule
	ex := map[string]bool{}
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("bad recurrence line %q", line)
		}
		prop, params, _ := strings.Cut(name, ";")
		switch strings.ToUpper(prop) {
		case "RRULE":
			if r != nil {
				return nil, nil, fmt.Errorf("more than one RRULE")
			}
			r = &rrule{interval: 1}
			for _, kv := range strings.Split(value, ";") {
				k, v, _ := strings.Cut(kv, "=")
				var err error
				switch strings.ToUpper(k) {
				case "FREQ":
					r.freq = strings.ToUpper(v)
				case "INTERVAL":
					r.interval, err = strconv.Atoi(v)
					if r.interval < 1 {
						err = fmt.Errorf("bad INTERVAL")
					}
				case "COUNT":
					r.count, err = strconv.Atoi(v)
				case "UNTIL":
					r.until, err = parseICalTime(v, loc)
					r.hasUntil = true
					if len(v) == 8 {
						r.until = r.until.Add(24*time.Hour - time.Second) // the whole day
					}
				case "BYDAY":
					for _, d := range strings.Split(v, ",") {
						wd, ok := weekdays[strings.ToUpper(d[max(0, len(d)-2):])]
						if !ok {
							return nil, nil, fmt.Errorf("bad BYDAY %q", d)
						}
						n := 0
						if num := d[:len(d)-2]; num != "" && num != "+" {
							if n, err = strconv.Atoi(strings.TrimPrefix(num, "+")); err != nil {
								break
							}
						}
						r.byDay = append(r.byDay, weekdayNum{n, wd})
					}
				case "BYMONTHDAY", "BYMONTH":
					for _, d := range strings.Split(v, ",") {
						n, e := strconv.Atoi(d)
						if e != nil {
							err = e
							break
						}
						if strings.ToUpper(k) == "BYMONTH" {
							r.byMonth = append(r.byMonth, n)
						} else {
							r.byMonthDay = append(r.byMonthDay, n)
						}
					}
				case "WKST":
				default:
					return nil, nil, fmt.Errorf("unsupported RRULE part %q", k)
				}
				if err != nil {
					return nil, nil, fmt.Errorf("bad RRULE %q: %v", kv, err)
				}
			}
			if !slices.Contains([]string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}, r.freq) {
				return nil, nil, fmt.Errorf("unsupported FREQ %q", r.freq)
			}
		case "EXDATE":
			exLoc := loc
			for _, p := range strings.Split(params, ";") {
				if tz, ok := strings.CutPrefix(strings.ToUpper(p), "TZID="); ok {
					l, err := time.LoadLocation(p[len("TZID="):])
					if err != nil {
						return nil, nil, fmt.Errorf("bad EXDATE TZID %q", tz)
					}
					exLoc = l
				}
			}
			for _, v := range strings.Split(value, ",") {
				t, err := parseICalTime(v, exLoc)
				if err != nil {
					return nil, nil, err
				}
				if allDay || len(v) == 8 {
					ex[t.Format("20060102")] = true
				} else {
					ex[t.UTC().Format("20060102T150405Z")] = true
				}
			}
		case "RDATE", "EXRULE":
			return nil, nil, fmt.Errorf("%s is not supported by the fake", prop)
		default:
			return nil, nil, fmt.Errorf("bad recurrence line %q", line)
		}
	}
	if r == nil {
		return nil, nil, fmt.Errorf("no RRULE")
	}
	return r, ex, nil
}

func parseICalTime(v string, loc *time.Location) (time.Time, error) {
	switch {
	case strings.HasSuffix(v, "Z"):
		return time.Parse("20060102T150405Z", v)
	case len(v) == 8:
		return time.ParseInLocation("20060102", v, loc)
	default:
		return time.ParseInLocation("20060102T150405", v, loc)
	}
}

type occurrence struct{ start, end evTime }

// expand lists a recurring event's instances that start before limit, in
// order, EXDATEs removed. Times recur on the wall clock of the event's zone
// (calLoc if it has none), across daylight-saving changes.
func (ev *calEvent) expand(calLoc *time.Location, limit time.Time) []occurrence {
	r := ev.rule
	allDay := ev.start.date != ""
	loc := calLoc
	if ev.start.tz != "" {
		if l, err := time.LoadLocation(ev.start.tz); err == nil {
			loc = l
		}
	}
	var d0 time.Time // the first date, at noon UTC for date arithmetic
	var hh, mm, ss int
	var dur time.Duration
	var days int
	if allDay {
		s, _ := time.Parse("2006-01-02", ev.start.date)
		e, _ := time.Parse("2006-01-02", ev.end.date)
		d0, days = s.Add(12*time.Hour), int(e.Sub(s).Hours()/24)
	} else {
		st := ev.start.t.In(loc)
		d0 = time.Date(st.Year(), st.Month(), st.Day(), 12, 0, 0, 0, time.UTC)
		hh, mm, ss = st.Clock()
		dur = ev.end.t.Sub(ev.start.t)
	}
	var out []occurrence
	count := 0
	emit := func(d time.Time) bool {
		var o occurrence
		var start time.Time
		if allDay {
			start = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
			o.start = evTime{date: d.Format("2006-01-02")}
			o.end = evTime{date: d.AddDate(0, 0, days).Format("2006-01-02")}
		} else {
			start = time.Date(d.Year(), d.Month(), d.Day(), hh, mm, ss, 0, loc)
			o.start = evTime{t: start, tz: ev.start.tz}
			o.end = evTime{t: start.Add(dur), tz: ev.end.tz}
		}
		if r.hasUntil && start.After(r.until) || !start.Before(limit) {
			return false
		}
		count++
		if r.count > 0 && count > r.count {
			return false
		}
		if !ev.exdates[o.start.suffix()] {
			out = append(out, o)
		}
		return true
	}
	for k := 0; k < 100000; k++ {
		var cands []time.Time
		switch r.freq {
		case "DAILY":
			d := d0.AddDate(0, 0, k*r.interval)
			if (len(r.byDay) == 0 || slices.ContainsFunc(r.byDay, func(w weekdayNum) bool { return w.wd == d.Weekday() })) &&
				(len(r.byMonth) == 0 || slices.Contains(r.byMonth, int(d.Month()))) {
				cands = append(cands, d)
			}
		case "WEEKLY":
			weekStart := d0.AddDate(0, 0, -((int(d0.Weekday())+6)%7)+7*k*r.interval)
			days := []time.Weekday{d0.Weekday()}
			if len(r.byDay) > 0 {
				days = nil
				for _, w := range r.byDay {
					days = append(days, w.wd)
				}
			}
			for _, wd := range days {
				cands = append(cands, weekStart.AddDate(0, 0, (int(wd)+6)%7))
			}
		case "MONTHLY", "YEARLY":
			var months []time.Time // first day of each month of the period
			if r.freq == "MONTHLY" {
				months = append(months, time.Date(d0.Year(), d0.Month()+time.Month(k*r.interval), 1, 12, 0, 0, 0, time.UTC))
			} else {
				ms := r.byMonth
				if len(ms) == 0 {
					ms = []int{int(d0.Month())}
				}
				for _, m := range ms {
					months = append(months, time.Date(d0.Year()+k*r.interval, time.Month(m), 1, 12, 0, 0, 0, time.UTC))
				}
			}
			for _, first := range months {
				cands = append(cands, monthDays(first, r, d0.Day())...)
			}
		}
		slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
		cands = slices.Compact(cands)
		for _, d := range cands {
			if d.Before(d0) {
				continue
			}
			if !emit(d) {
				return out
			}
		}
	}
	return out
}

// monthDays are the days of the month starting at first that a MONTHLY or
// YEARLY rule picks.
func monthDays(first time.Time, r *rrule, defaultDay int) []time.Time {
	last := first.AddDate(0, 1, -1).Day()
	var out []time.Time
	at := func(day int) {
		if day >= 1 && day <= last {
			out = append(out, first.AddDate(0, 0, day-1))
		}
	}
	switch {
	case len(r.byMonthDay) > 0:
		for _, n := range r.byMonthDay {
			if n < 0 {
				n = last + 1 + n
			}
			at(n)
		}
	case len(r.byDay) > 0:
		for _, w := range r.byDay {
			var matches []int
			for d := 1; d <= last; d++ {
				if first.AddDate(0, 0, d-1).Weekday() == w.wd {
					matches = append(matches, d)
				}
			}
			switch {
			case w.n == 0:
				for _, d := range matches {
					at(d)
				}
			case w.n > 0 && w.n <= len(matches):
				at(matches[w.n-1])
			case w.n < 0 && -w.n <= len(matches):
				at(matches[len(matches)+w.n])
			}
		}
	default:
		at(defaultDay)
	}
	return out
}
