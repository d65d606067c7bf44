package microsoft

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// Outlook's recurrence: an RFC 5545 rule translated into Graph's
// patternedRecurrence (a recurrencePattern and a recurrenceRange). What
// the pattern types cannot say is refused, naming the part.

type recurrencePattern struct {
	Type           string   `json:"type"`
	Interval       int      `json:"interval"`
	Month          int      `json:"month,omitempty"`
	DayOfMonth     int      `json:"dayOfMonth,omitempty"`
	DaysOfWeek     []string `json:"daysOfWeek,omitempty"`
	FirstDayOfWeek string   `json:"firstDayOfWeek,omitempty"`
	Index          string   `json:"index,omitempty"`
}

type recurrenceRange struct {
	Type                string `json:"type"`
	StartDate           string `json:"startDate"`
	EndDate             string `json:"endDate,omitempty"`
	RecurrenceTimeZone  string `json:"recurrenceTimeZone,omitempty"`
	NumberOfOccurrences int    `json:"numberOfOccurrences,omitempty"`
}

type patternedRecurrence struct {
	Pattern recurrencePattern `json:"pattern"`
	Range   recurrenceRange   `json:"range"`
}

var graphDays = map[string]string{"MO": "monday", "TU": "tuesday", "WE": "wednesday", "TH": "thursday", "FR": "friday", "SA": "saturday", "SU": "sunday"}

var graphIndex = map[int]string{1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}

// toPatterned translates recurrence lines for a series starting at start
// (its wall clock in the event's zone, named zone in Windows terms).
func toPatterned(lines []string, start time.Time, zone string) (*patternedRecurrence, error) {
	rec, err := providers.ParseRecurrence(lines)
	if err != nil || rec.Rule == nil {
		return nil, err
	}
	refuse := func(part, why string) error {
		return &providers.FieldError{Field: "recurrence", Msg: fmt.Sprintf("Outlook cannot express %s: %s", part, why)}
	}
	switch {
	case len(rec.ExDate) > 0:
		return nil, refuse("EXDATE", "its series have no excluded dates; create the series, then delete those occurrences with delete_event")
	case len(rec.RDate) > 0:
		return nil, refuse("RDATE", "its series have no added dates; create the extra dates as events of their own")
	}
	r := rec.Rule
	if len(r.Other) > 0 {
		parts := slices.Sorted(maps.Keys(r.Other))
		return nil, refuse(parts[0], "its patterns repeat by day, week, month or year only")
	}
	p := recurrencePattern{Interval: r.Interval, FirstDayOfWeek: "sunday"}
	if r.WeekStart != "" {
		p.FirstDayOfWeek = graphDays[r.WeekStart]
	}
	ordinal := func() (day string, idx string, err error) {
		var n int
		switch {
		case len(r.ByDay) == 1 && r.ByDay[0].N != 0 && len(r.BySetPos) == 0:
			n = r.ByDay[0].N
		case len(r.ByDay) == 1 && r.ByDay[0].N == 0 && len(r.BySetPos) == 1:
			n = r.BySetPos[0]
		default:
			return "", "", refuse("BYDAY="+byDayText(r.ByDay), "a monthly or yearly series falls on one weekday of an ordinal week (BYDAY=2TU, BYDAY=-1FR)")
		}
		if graphIndex[n] == "" {
			return "", "", refuse(fmt.Sprintf("the ordinal %d", n), "use 1 to 4, or -1 for the last")
		}
		return graphDays[r.ByDay[0].Day], graphIndex[n], nil
	}
	oneMonthDay := func() (int, error) {
		switch {
		case len(r.ByMonthDay) == 0:
			return start.Day(), nil
		case len(r.ByMonthDay) == 1 && r.ByMonthDay[0] > 0:
			return r.ByMonthDay[0], nil
		}
		return 0, refuse("BYMONTHDAY with several or negative days", "give one day of the month, 1 to 31")
	}
	if len(r.BySetPos) > 0 && (r.Freq == "DAILY" || r.Freq == "WEEKLY") {
		return nil, refuse("BYSETPOS", "only monthly and yearly series fall on an ordinal weekday")
	}
	switch r.Freq {
	case "DAILY":
		if len(r.ByDay) > 0 || len(r.ByMonthDay) > 0 || len(r.ByMonth) > 0 {
			return nil, refuse("a daily rule with BY… parts", "use FREQ=WEEKLY;BYDAY=MO,TU,… for chosen weekdays")
		}
		p.Type = "daily"
	case "WEEKLY":
		if len(r.ByMonthDay) > 0 || len(r.ByMonth) > 0 {
			return nil, refuse("BYMONTHDAY or BYMONTH in a weekly rule", "a weekly series falls on weekdays")
		}
		p.Type = "weekly"
		for _, d := range r.ByDay {
			if d.N != 0 {
				return nil, refuse("BYDAY="+byDayText(r.ByDay), "a weekly series falls on plain weekdays (MO, TU)")
			}
			p.DaysOfWeek = append(p.DaysOfWeek, graphDays[d.Day])
		}
		if len(p.DaysOfWeek) == 0 {
			p.DaysOfWeek = []string{strings.ToLower(start.Weekday().String())}
		}
	case "MONTHLY", "YEARLY":
		if len(r.ByMonth) > 1 {
			return nil, refuse("BYMONTH with several months", "a yearly series falls in one month")
		}
		if r.Freq == "MONTHLY" && len(r.ByMonth) > 0 {
			return nil, refuse("BYMONTH in a monthly rule", "use FREQ=YEARLY for one month of the year")
		}
		p.Type = "absoluteMonthly"
		if r.Freq == "YEARLY" {
			p.Type, p.Month = "absoluteYearly", int(start.Month())
			if len(r.ByMonth) == 1 {
				p.Month = r.ByMonth[0]
			}
		}
		if len(r.ByDay) > 0 {
			if len(r.ByMonthDay) > 0 {
				return nil, refuse("BYDAY with BYMONTHDAY", "give one of them")
			}
			day, idx, err := ordinal()
			if err != nil {
				return nil, err
			}
			p.Type = strings.Replace(p.Type, "absolute", "relative", 1)
			p.DaysOfWeek, p.Index = []string{day}, idx
		} else if p.DayOfMonth, err = oneMonthDay(); err != nil {
			return nil, err
		}
	}
	rg := recurrenceRange{Type: "noEnd", StartDate: start.Format(time.DateOnly), RecurrenceTimeZone: zone}
	switch {
	case r.Count > 0:
		rg.Type, rg.NumberOfOccurrences = "numbered", r.Count
	case r.Until != "":
		until, err := untilDate(r.Until, start.Location())
		if err != nil {
			return nil, err
		}
		if until.Before(start) && until.Format(time.DateOnly) < rg.StartDate {
			return nil, &providers.FieldError{Field: "recurrence", Msg: "UNTIL is before the event's start"}
		}
		rg.Type, rg.EndDate = "endDate", until.Format(time.DateOnly)
	}
	return &patternedRecurrence{Pattern: p, Range: rg}, nil
}

// untilDate is UNTIL's date on the event's wall clock.
func untilDate(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse("20060102T150405Z", v); err == nil {
		return t.In(loc), nil
	}
	if t, err := time.ParseInLocation("20060102T150405", v, loc); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("20060102", v, loc); err == nil {
		return t, nil
	}
	return time.Time{}, &providers.FieldError{Field: "recurrence", Msg: fmt.Sprintf("UNTIL=%s is not a date or a time", v)}
}

func byDayText(days []providers.WeekdayNum) string {
	var parts []string
	for _, d := range days {
		if d.N != 0 {
			parts = append(parts, fmt.Sprintf("%d%s", d.N, d.Day))
		} else {
			parts = append(parts, d.Day)
		}
	}
	return strings.Join(slices.Compact(parts), ",")
}
