package microsofttest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recurring events: Outlook's patternedRecurrence (the
// patternedRecurrence, recurrencePattern and recurrenceRange resources),
// read from a request, from RFC 5545 rules (the fixtures, AddEvent), written
// back, and expanded into occurrences on the wall clock of the event's zone.

type recurrence struct {
	typ            string // daily, weekly, absoluteMonthly, relativeMonthly, absoluteYearly, relativeYearly
	interval       int
	daysOfWeek     []time.Weekday
	firstDayOfWeek time.Weekday
	dayOfMonth     int
	month          int
	index          string    // first, second, third, fourth, last
	rangeType      string    // endDate, noEnd, numbered
	startDate      time.Time // dates at midnight UTC
	endDate        time.Time
	count          int
	timeZone       string
}

var weekdayNames = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

var patternTypes = []string{"daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"}

var indexes = []string{"first", "second", "third", "fourth", "last"}

func weekday(name string) (time.Weekday, bool) {
	i := slices.Index(weekdayNames, strings.ToLower(name))
	return time.Weekday(i), i >= 0
}

// patternedRecurrence is its JSON.
type patternedRecurrence struct {
	Pattern struct {
		Type           string   `json:"type"`
		Interval       int      `json:"interval"`
		Month          int      `json:"month"`
		DayOfMonth     int      `json:"dayOfMonth"`
		DaysOfWeek     []string `json:"daysOfWeek"`
		FirstDayOfWeek string   `json:"firstDayOfWeek"`
		Index          string   `json:"index"`
	} `json:"pattern"`
	Range struct {
		Type                string `json:"type"`
		StartDate           string `json:"startDate"`
		EndDate             string `json:"endDate"`
		RecurrenceTimeZone  string `json:"recurrenceTimeZone"`
		NumberOfOccurrences int    `json:"numberOfOccurrences"`
	} `json:"range"`
}

// parseRecurrence reads a request's patternedRecurrence; the error names
// the property.
func parseRecurrence(raw json.RawMessage, zone string) (*recurrence, error) {
	var in patternedRecurrence
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("recurrence is not a patternedRecurrence object")
	}
	p, rg := in.Pattern, in.Range
	r := &recurrence{typ: p.Type, interval: p.Interval, dayOfMonth: p.DayOfMonth, month: p.Month, index: strings.ToLower(p.Index),
		rangeType: rg.Type, count: rg.NumberOfOccurrences, timeZone: rg.RecurrenceTimeZone}
	if r.timeZone == "" {
		r.timeZone = zone
	}
	if r.index == "" {
		r.index = "first"
	}
	if !slices.Contains(patternTypes, r.typ) {
		return nil, fmt.Errorf("recurrence.pattern.type %q is not one of %s", p.Type, strings.Join(patternTypes, ", "))
	}
	if r.interval < 1 {
		return nil, fmt.Errorf("recurrence.pattern.interval must be at least 1")
	}
	for _, d := range p.DaysOfWeek {
		wd, ok := weekday(d)
		if !ok {
			return nil, fmt.Errorf("recurrence.pattern.daysOfWeek: %q is not a day of the week", d)
		}
		r.daysOfWeek = append(r.daysOfWeek, wd)
	}
	if p.FirstDayOfWeek != "" {
		wd, ok := weekday(p.FirstDayOfWeek)
		if !ok {
			return nil, fmt.Errorf("recurrence.pattern.firstDayOfWeek: %q is not a day of the week", p.FirstDayOfWeek)
		}
		r.firstDayOfWeek = wd
	}
	switch {
	case (r.typ == "weekly" || strings.HasPrefix(r.typ, "relative")) && len(r.daysOfWeek) == 0:
		return nil, fmt.Errorf("recurrence.pattern.daysOfWeek is required for a %s pattern", r.typ)
	case strings.HasPrefix(r.typ, "absolute") && (r.dayOfMonth < 1 || r.dayOfMonth > 31):
		return nil, fmt.Errorf("recurrence.pattern.dayOfMonth must be 1 to 31 for a %s pattern", r.typ)
	case strings.HasSuffix(r.typ, "Yearly") && (r.month < 1 || r.month > 12):
		return nil, fmt.Errorf("recurrence.pattern.month must be 1 to 12 for a %s pattern", r.typ)
	case !slices.Contains(indexes, r.index):
		return nil, fmt.Errorf("recurrence.pattern.index %q is not one of %s", p.Index, strings.Join(indexes, ", "))
	}
	var err error
	if r.startDate, err = time.Parse("2006-01-02", rg.StartDate); err != nil {
		return nil, fmt.Errorf("recurrence.range.startDate %q is not a date (yyyy-MM-dd)", rg.StartDate)
	}
	switch r.rangeType {
	case "endDate":
		if r.endDate, err = time.Parse("2006-01-02", rg.EndDate); err != nil || r.endDate.Before(r.startDate) {
			return nil, fmt.Errorf("recurrence.range.endDate %q is not a date on or after startDate", rg.EndDate)
		}
	case "numbered":
		if r.count < 1 {
			return nil, fmt.Errorf("recurrence.range.numberOfOccurrences must be at least 1")
		}
	case "noEnd":
	default:
		return nil, fmt.Errorf("recurrence.range.type %q is not one of endDate, noEnd, numbered", rg.Type)
	}
	return r, nil
}

// render is the recurrence's JSON.
func (r *recurrence) render() map[string]any {
	days := []string{}
	for _, d := range r.daysOfWeek {
		days = append(days, weekdayNames[d])
	}
	end := "0001-01-01"
	if r.rangeType == "endDate" {
		end = r.endDate.Format("2006-01-02")
	}
	return map[string]any{
		"pattern": map[string]any{"type": r.typ, "interval": r.interval, "month": r.month, "dayOfMonth": r.dayOfMonth,
			"daysOfWeek": days, "firstDayOfWeek": weekdayNames[r.firstDayOfWeek], "index": r.index},
		"range": map[string]any{"type": r.rangeType, "startDate": r.startDate.Format("2006-01-02"), "endDate": end,
			"recurrenceTimeZone": r.timeZone, "numberOfOccurrences": r.count},
	}
}

var rruleDays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// recurrenceFromRRULE turns RFC 5545 lines into Outlook's pattern, as
// Outlook imports a calendar: DAILY with BYDAY is a weekly pattern on those
// days, BYDAY with an ordinal a relative one; EXDATEs come back as the
// original starts of deleted occurrences. start is the first occurrence,
// in the event's zone.
func recurrenceFromRRULE(lines []string, start time.Time, zone string) (*recurrence, []time.Time, error) {
	r := &recurrence{interval: 1, rangeType: "noEnd", index: "first", timeZone: zone,
		startDate: time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)}
	var exdates []time.Time
	var freq string
	for _, line := range lines {
		name, value, _ := strings.Cut(line, ":")
		prop, params, _ := strings.Cut(name, ";")
		switch strings.ToUpper(prop) {
		case "RRULE":
			for _, kv := range strings.Split(value, ";") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "FREQ":
					freq = v
				case "INTERVAL":
					r.interval, _ = strconv.Atoi(v)
				case "COUNT":
					r.rangeType = "numbered"
					r.count, _ = strconv.Atoi(v)
				case "UNTIL":
					until, err := time.Parse("20060102T150405Z", v)
					if err != nil {
						if until, err = time.Parse("20060102", v); err != nil {
							return nil, nil, fmt.Errorf("bad UNTIL %q", v)
						}
					}
					u := until.In(start.Location())
					r.rangeType, r.endDate = "endDate", time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
				case "BYDAY":
					for _, d := range strings.Split(v, ",") {
						wd, ok := rruleDays[d[max(0, len(d)-2):]]
						if !ok {
							return nil, nil, fmt.Errorf("bad BYDAY %q", d)
						}
						if n := d[:len(d)-2]; n != "" {
							i, err := strconv.Atoi(n)
							if err != nil || i == 0 || i < -1 || i > 4 {
								return nil, nil, fmt.Errorf("BYDAY %q: Outlook takes the 1st to 4th and the last", d)
							}
							r.index = indexes[(i+5)%5]
						}
						r.daysOfWeek = append(r.daysOfWeek, wd)
					}
				case "BYMONTHDAY":
					r.dayOfMonth, _ = strconv.Atoi(v)
				case "BYMONTH":
					r.month, _ = strconv.Atoi(v)
				case "WKST":
					r.firstDayOfWeek = rruleDays[v]
				default:
					return nil, nil, fmt.Errorf("RRULE part %s has no Outlook pattern", k)
				}
			}
		case "EXDATE":
			loc := start.Location()
			if tz, ok := strings.CutPrefix(params, "TZID="); ok {
				l, err := time.LoadLocation(tz)
				if err != nil {
					return nil, nil, fmt.Errorf("EXDATE TZID %q", tz)
				}
				loc = l
			}
			for _, v := range strings.Split(value, ",") {
				t, err := time.ParseInLocation("20060102T150405", v, loc)
				if err != nil {
					if t, err = time.Parse("20060102T150405Z", v); err != nil {
						return nil, nil, fmt.Errorf("bad EXDATE %q", v)
					}
				}
				exdates = append(exdates, t)
			}
		default:
			return nil, nil, fmt.Errorf("recurrence line %q has no Outlook equivalent", line)
		}
	}
	switch {
	case freq == "DAILY" && len(r.daysOfWeek) > 0:
		r.typ = "weekly"
	case freq == "DAILY":
		r.typ = "daily"
	case freq == "WEEKLY":
		r.typ = "weekly"
		if len(r.daysOfWeek) == 0 {
			r.daysOfWeek = []time.Weekday{start.Weekday()}
		}
	case freq == "MONTHLY" && len(r.daysOfWeek) > 0:
		r.typ = "relativeMonthly"
	case freq == "MONTHLY":
		r.typ = "absoluteMonthly"
		if r.dayOfMonth == 0 {
			r.dayOfMonth = start.Day()
		}
	case freq == "YEARLY" && len(r.daysOfWeek) > 0:
		r.typ = "relativeYearly"
	case freq == "YEARLY":
		r.typ = "absoluteYearly"
		if r.dayOfMonth == 0 {
			r.dayOfMonth = start.Day()
		}
	default:
		return nil, nil, fmt.Errorf("unsupported FREQ %q", freq)
	}
	if strings.HasSuffix(r.typ, "Yearly") && r.month == 0 {
		r.month = int(start.Month())
	}
	return r, exdates, nil
}

// dates lists the dates of the occurrences (midnight UTC), in order, up to
// and including last.
func (r *recurrence) dates(last time.Time) []time.Time {
	var out []time.Time
	emit := func(d time.Time) bool { // false: the series is over
		switch {
		case d.Before(r.startDate):
			return true
		case d.After(last), r.rangeType == "endDate" && d.After(r.endDate), r.rangeType == "numbered" && len(out) >= r.count:
			return false
		}
		out = append(out, d)
		return true
	}
	days := slices.Clone(r.daysOfWeek)
	slices.SortFunc(days, func(a, b time.Weekday) int {
		return (int(a)-int(r.firstDayOfWeek)+7)%7 - (int(b)-int(r.firstDayOfWeek)+7)%7
	})
	for k := 0; k < 100000; k++ {
		var cands []time.Time
		switch r.typ {
		case "daily":
			cands = []time.Time{r.startDate.AddDate(0, 0, k*r.interval)}
		case "weekly":
			weekStart := r.startDate.AddDate(0, 0, -((int(r.startDate.Weekday())-int(r.firstDayOfWeek)+7)%7)+7*k*r.interval)
			for _, wd := range days {
				cands = append(cands, weekStart.AddDate(0, 0, (int(wd)-int(r.firstDayOfWeek)+7)%7))
			}
		case "absoluteMonthly", "relativeMonthly":
			first := time.Date(r.startDate.Year(), r.startDate.Month()+time.Month(k*r.interval), 1, 0, 0, 0, 0, time.UTC)
			cands = r.inMonth(first)
		default:
			first := time.Date(r.startDate.Year()+k*r.interval, time.Month(r.month), 1, 0, 0, 0, 0, time.UTC)
			cands = r.inMonth(first)
		}
		for _, d := range cands {
			if !emit(d) {
				return out
			}
		}
	}
	return out
}

// inMonth are the pattern's days in the month starting at first.
func (r *recurrence) inMonth(first time.Time) []time.Time {
	last := first.AddDate(0, 1, -1).Day()
	if strings.HasPrefix(r.typ, "absolute") {
		if r.dayOfMonth > last {
			return nil
		}
		return []time.Time{first.AddDate(0, 0, r.dayOfMonth-1)}
	}
	var matches []time.Time
	for d := 1; d <= last; d++ {
		if day := first.AddDate(0, 0, d-1); slices.Contains(r.daysOfWeek, day.Weekday()) {
			matches = append(matches, day)
		}
	}
	i := slices.Index(indexes, r.index)
	switch {
	case len(matches) == 0:
		return nil
	case r.index == "last":
		return matches[len(matches)-1:]
	case i < len(matches):
		return matches[i : i+1]
	}
	return nil
}

// occurrences are a series' occurrences (original start, end) that start
// before limit: each date at the master's time of day in its zone, across
// daylight-saving changes.
func (ev *event) occurrences(limit time.Time) [][2]time.Time {
	r := ev.recurrence
	loc, ok := resolveZone(ev.startZone)
	if !ok || ev.allDay {
		loc = time.UTC
	}
	st := ev.start.In(loc)
	dur := ev.end.Sub(ev.start)
	var out [][2]time.Time
	for _, d := range r.dates(limit.AddDate(0, 0, 2)) {
		s := time.Date(d.Year(), d.Month(), d.Day(), st.Hour(), st.Minute(), st.Second(), 0, loc)
		if !s.Before(limit) {
			break
		}
		out = append(out, [2]time.Time{s, s.Add(dur)})
	}
	return out
}
