package providers

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRecurrence(t *testing.T) {
	r, err := ParseRecurrence([]string{"RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;UNTIL=20271231T000000Z;WKST=MO", "EXDATE;TZID=Europe/Berlin:20261225T100000,20270101T100000", "RDATE:20261124"})
	if err != nil {
		t.Fatal(err)
	}
	if rr := r.Rule; rr.Freq != "MONTHLY" || rr.Interval != 2 || len(rr.ByDay) != 1 || rr.ByDay[0] != (WeekdayNum{N: -1, Day: "FR"}) ||
		rr.Until != "20271231T000000Z" || rr.WeekStart != "MO" || len(r.ExDate) != 1 || len(r.RDate) != 1 {
		t.Fatalf("%+v %+v", r, r.Rule)
	}
	if r, err := ParseRecurrence(nil); err != nil || r.Rule != nil {
		t.Fatalf("no lines: %+v %v", r, err)
	}
	for _, c := range []struct {
		lines       []string
		field, part string
	}{
		{[]string{"RRULE:COUNT=2"}, "recurrence[0]", "FREQ is required"},
		{[]string{"RRULE:FREQ=SECONDLY"}, "recurrence[0]", "FREQ=SECONDLY"},
		{[]string{"RRULE:FREQ=DAILY;COUNT=2;UNTIL=20261231"}, "recurrence[0]", "COUNT and UNTIL"},
		{[]string{"RRULE:FREQ=DAILY;FOO=1"}, "recurrence[0]", "unknown part FOO"},
		{[]string{"RRULE:FREQ=DAILY;COUNT=0"}, "recurrence[0]", "COUNT=0"},
		{[]string{"RRULE:FREQ=DAILY;COUNT=2;COUNT=3"}, "recurrence[0]", "COUNT given twice"},
		{[]string{"RRULE:FREQ=WEEKLY;BYDAY=XX"}, "recurrence[0]", "BYDAY value"},
		{[]string{"RRULE:FREQ=WEEKLY;BYMONTH=13"}, "recurrence[0]", "BYMONTH=13"},
		{[]string{"RRULE:FREQ=DAILY;UNTIL=tomorrow"}, "recurrence[0]", "UNTIL"},
		{[]string{"RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"}, "recurrence[1]", "second RRULE"},
		{[]string{"RRULE:FREQ=DAILY", "EXDATE:next week"}, "recurrence[1]", "EXDATE value"},
		{[]string{"DTSTART:20261124T100000Z"}, "recurrence[0]", "not a recurrence line"},
		{[]string{"FREQ=DAILY"}, "recurrence[0]", "use RRULE:"},
		{[]string{"EXDATE:20261124"}, "recurrence", "needs an RRULE"},
		{[]string{"RRULE:FREQ=DAILY;BYDAY=" + strings.Repeat("MO,", 200) + "MO"}, "recurrence[0]", "longer than"},
	} {
		_, err := ParseRecurrence(c.lines)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Msg, c.part) {
			t.Errorf("%q: %v, want %s naming %q", c.lines, err, c.field, c.part)
		}
	}
}
