package providers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RRule is an RFC 5545 recurrence rule, as ParseRecurrence reads it.
type RRule struct {
	Freq       string // DAILY, WEEKLY, MONTHLY, YEARLY
	Interval   int    // ≥ 1
	Count      int    // 0: not given
	Until      string // as written (a date or a UTC date-time); "": not given
	ByDay      []WeekdayNum
	ByMonthDay []int
	ByMonth    []int
	BySetPos   []int
	WeekStart  string // MO…SU; "": not given
	// Other holds the parts given that are valid but rarely expressible
	// (BYYEARDAY, BYWEEKNO, BYHOUR, BYMINUTE, BYSECOND), by name.
	Other map[string]string
}

// WeekdayNum is a BYDAY value: a day (MO…SU) and an optional ordinal
// (2TU: the second Tuesday; -1FR: the last Friday; 0: every).
type WeekdayNum struct {
	N   int
	Day string
}

// Recurrence is an event's checked recurrence lines.
type Recurrence struct {
	Rule   *RRule   // the RRULE line's rule (exactly one)
	ExDate []string // EXDATE lines, as written
	RDate  []string // RDATE lines, as written
}

// The lines' limits.
const (
	MaxRecurrenceLines = 20
	maxRecurrenceLine  = 500
)

var weekdays = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// Weekday is the time.Weekday of MO…SU.
func Weekday(code string) time.Weekday { return time.Weekday(slices.Index(weekdays, code)) }

// ParseRecurrence checks an event's recurrence lines: one RRULE (FREQ
// DAILY, WEEKLY, MONTHLY or YEARLY required, known parts only, COUNT and
// UNTIL not both) and any EXDATE and RDATE lines. Errors name the field as
// "recurrence[i]".
func ParseRecurrence(lines []string) (Recurrence, error) {
	var r Recurrence
	if len(lines) > MaxRecurrenceLines {
		return r, &FieldError{Field: "recurrence", Msg: fmt.Sprintf("at most %d lines", MaxRecurrenceLines)}
	}
	for i, line := range lines {
		field := fmt.Sprintf("recurrence[%d]", i)
		fail := func(format string, a ...any) error { return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)} }
		if len(line) > maxRecurrenceLine {
			return r, fail("longer than %d characters", maxRecurrenceLine)
		}
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		prop, _, _ := strings.Cut(name, ";")
		switch prop = strings.ToUpper(prop); {
		case !ok || value == "":
			return r, fail("%q: use RRULE:FREQ=WEEKLY;BYDAY=MO, EXDATE:20261201T090000Z or RDATE:…", clipRule(line))
		case prop == "RRULE":
			if r.Rule != nil {
				return r, fail("a second RRULE: give one rule (add dates with RDATE, remove them with EXDATE)")
			}
			rule, err := parseRRule(value)
			if err != nil {
				return r, fail("%s", err)
			}
			r.Rule = rule
		case prop == "EXDATE" || prop == "RDATE":
			for v := range strings.SplitSeq(value, ",") {
				if !icalTime(v) {
					return r, fail("%s value %q: use dates (20261201) or times (20261201T090000Z, or local 20261201T090000 with ;TZID=…)", prop, clipRule(v))
				}
			}
			if prop == "EXDATE" {
				r.ExDate = append(r.ExDate, line)
			} else {
				r.RDate = append(r.RDate, line)
			}
		default:
			return r, fail("%q is not a recurrence line: use RRULE, EXDATE or RDATE", clipRule(prop))
		}
	}
	if r.Rule == nil && len(lines) > 0 {
		return r, &FieldError{Field: "recurrence", Msg: "needs an RRULE line (RRULE:FREQ=WEEKLY;COUNT=10)"}
	}
	return r, nil
}

func parseRRule(value string) (*RRule, error) {
	r := &RRule{Interval: 1, Other: map[string]string{}}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(value, ";") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToUpper(k)
		if !ok || v == "" {
			return nil, fmt.Errorf("part %q is not NAME=VALUE", clipRule(part))
		}
		if seen[k] {
			return nil, fmt.Errorf("%s given twice", k)
		}
		seen[k] = true
		v = strings.ToUpper(v)
		var err error
		switch k {
		case "FREQ":
			if !slices.Contains([]string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}, v) {
				return nil, fmt.Errorf("FREQ=%s: use DAILY, WEEKLY, MONTHLY or YEARLY", clipRule(v))
			}
			r.Freq = v
		case "INTERVAL":
			r.Interval, err = ruleInt(k, v, 1, 1000)
		case "COUNT":
			r.Count, err = ruleInt(k, v, 1, 10000)
		case "UNTIL":
			if !icalTime(v) {
				return nil, fmt.Errorf("UNTIL=%s: use a date (20261231) or a UTC time (20261231T235959Z)", clipRule(v))
			}
			r.Until = v
		case "BYDAY":
			for d := range strings.SplitSeq(v, ",") {
				wn, ok := weekdayNum(d)
				if !ok {
					return nil, fmt.Errorf("BYDAY value %q: use MO…SU, with an optional ordinal (2TU, -1FR)", clipRule(d))
				}
				r.ByDay = append(r.ByDay, wn)
			}
		case "BYMONTHDAY":
			r.ByMonthDay, err = ruleInts(k, v, -31, 31)
		case "BYMONTH":
			r.ByMonth, err = ruleInts(k, v, 1, 12)
		case "BYSETPOS":
			r.BySetPos, err = ruleInts(k, v, -366, 366)
		case "WKST":
			if !slices.Contains(weekdays, v) {
				return nil, fmt.Errorf("WKST=%s: use MO…SU", clipRule(v))
			}
			r.WeekStart = v
		case "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND":
			if _, err = ruleInts(k, v, -366, 366); err == nil {
				r.Other[k] = v
			}
		default:
			return nil, fmt.Errorf("unknown part %s (known: FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, WKST, BYYEARDAY, BYWEEKNO, BYHOUR, BYMINUTE, BYSECOND)", clipRule(k))
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case r.Freq == "":
		return nil, fmt.Errorf("FREQ is required (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)")
	case r.Count > 0 && r.Until != "":
		return nil, fmt.Errorf("COUNT and UNTIL cannot both be given: end the series by a number of occurrences or by a date")
	}
	return r, nil
}

func ruleInt(k, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi || n == 0 {
		return 0, fmt.Errorf("%s=%s: a whole number from %d to %d", k, clipRule(v), lo, hi)
	}
	return n, nil
}

func ruleInts(k, v string, lo, hi int) ([]int, error) {
	var out []int
	for s := range strings.SplitSeq(v, ",") {
		n, err := ruleInt(k, s, lo, hi)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func weekdayNum(s string) (WeekdayNum, bool) {
	if len(s) < 2 || !slices.Contains(weekdays, s[len(s)-2:]) {
		return WeekdayNum{}, false
	}
	wn := WeekdayNum{Day: s[len(s)-2:]}
	if n := s[:len(s)-2]; n != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(n, "+"))
		if err != nil || v == 0 || v < -53 || v > 53 {
			return WeekdayNum{}, false
		}
		wn.N = v
	}
	return wn, true
}

// icalTime reports whether v is an RFC 5545 DATE or DATE-TIME value.
func icalTime(v string) bool {
	for _, layout := range []string{"20060102", "20060102T150405", "20060102T150405Z"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}

func clipRule(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
