package microsoft

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// The RRULE → patternedRecurrence translation, for every pattern type and
// range, and what Outlook cannot express, refused naming the part.
func TestToPatterned(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 12, 8, 10, 0, 0, 0, berlin) // a Tuesday, the 8th
	for _, c := range []struct{ rule, want string }{
		{"RRULE:FREQ=DAILY;INTERVAL=2", `{"pattern":{"type":"daily","interval":2,"firstDayOfWeek":"sunday"},"range":{"type":"noEnd","startDate":"2026-12-08","recurrenceTimeZone":"W. Europe Standard Time"}}`},
		{"RRULE:FREQ=WEEKLY;COUNT=5", `{"pattern":{"type":"weekly","interval":1,"daysOfWeek":["tuesday"],"firstDayOfWeek":"sunday"},"range":{"type":"numbered","startDate":"2026-12-08","recurrenceTimeZone":"W. Europe Standard Time","numberOfOccurrences":5}}`},
		{"RRULE:FREQ=WEEKLY;BYDAY=MO,FR;WKST=MO;UNTIL=20270131", `{"pattern":{"type":"weekly","interval":1,"daysOfWeek":["monday","friday"],"firstDayOfWeek":"monday"},"range":{"type":"endDate","startDate":"2026-12-08","endDate":"2027-01-31","recurrenceTimeZone":"W. Europe Standard Time"}}`},
		{"RRULE:FREQ=MONTHLY", `{"pattern":{"type":"absoluteMonthly","interval":1,"dayOfMonth":8,"firstDayOfWeek":"sunday"},"range":{"type":"noEnd","startDate":"2026-12-08","recurrenceTimeZone":"W. Europe Standard Time"}}`},
		{"RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", `{"pattern":{"type":"relativeMonthly","interval":1,"daysOfWeek":["tuesday"],"firstDayOfWeek":"sunday","index":"second"},"range":{"type":"noEnd","startDate":"2026-12-08","recurrenceTimeZone":"W. Europe Standard Time"}}`},
		{"RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14", `{"pattern":{"type":"absoluteYearly","interval":1,"month":3,"dayOfMonth":14,"firstDayOfWeek":"sunday"},"range":{"type":"noEnd","startDate":"2026-12-08","recurrenceTimeZone":"W. Europe Standard Time"}}`},
		{"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=-1TH", `{"pattern":{"type":"relativeYearly","interval":1,"month":11,"daysOfWeek":["thursday"],"firstDayOfWeek":"sunday","index":"last"},"range":{"type":"noEnd","startDate":"2026-12-08","recurrenceTimeZone":"W. Europe Standard Time"}}`},
	} {
		p, err := toPatterned([]string{c.rule}, start, "W. Europe Standard Time")
		if err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		if got, _ := json.Marshal(p); string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.rule, got, c.want)
		}
	}
	for _, c := range []struct{ rule, part string }{
		{"RRULE:FREQ=DAILY;BYDAY=MO", "a daily rule with BY"},
		{"RRULE:FREQ=WEEKLY;BYDAY=2MO", "BYDAY=2MO"},
		{"RRULE:FREQ=MONTHLY;BYDAY=5FR", "the ordinal 5"},
		{"RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY with several"},
		{"RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "BYMONTHDAY with several or negative"},
		{"RRULE:FREQ=YEARLY;BYMONTH=1,7", "BYMONTH with several"},
		{"RRULE:FREQ=WEEKLY;BYSETPOS=1", "BYSETPOS"},
		{"RRULE:FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO"},
		{"RRULE:FREQ=DAILY;UNTIL=20261201", "UNTIL is before"},
	} {
		_, err := toPatterned([]string{c.rule}, start, "W. Europe Standard Time")
		var fe *providers.FieldError
		if !errors.As(err, &fe) || fe.Field != "recurrence" || !strings.Contains(fe.Msg, c.part) {
			t.Errorf("%s: %v, want a recurrence error naming %q", c.rule, err, c.part)
		}
	}
}
