package microsoft

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mailcal/mailcal/providers"
)

// freeBusyInterval is getSchedule's availabilityViewInterval (5 to 1440
// minutes). mailcal reads scheduleItems, not the view: the longest interval
// keeps the view, which Graph always sends, short.
const freeBusyInterval = 1440

// scheduleInformation is an entry of getSchedule's answer.
type scheduleInformation struct {
	ScheduleID    string `json:"scheduleId"`
	ScheduleItems []struct {
		Status string       `json:"status"` // free, tentative, busy, oof, workingElsewhere, unknown
		Start  dateTimeZone `json:"start"`
		End    dateTimeZone `json:"end"`
	} `json:"scheduleItems"`
	WorkingHours *struct {
		DaysOfWeek []string `json:"daysOfWeek"`
		StartTime  string   `json:"startTime"` // "08:00:00.0000000"
		EndTime    string   `json:"endTime"`
		TimeZone   struct {
			Name string `json:"name"`
		} `json:"timeZone"`
	} `json:"workingHours"`
	Error *struct {
		Message      string `json:"message"`
		ResponseCode string `json:"responseCode"`
	} `json:"error"`
}

// FreeBusy asks getSchedule (POST /me/calendar/getSchedule) for the account
// and the attendees at once, times in UTC: one request, and one more the
// first time an hour for the mailbox's zone (mailboxSettings). Each
// schedule carries the person's working hours as their mailbox settings
// have them. findMeetingTimes is not used: it suggests a handful of
// meeting times by its own rules, where mailcal wants every busy block and
// every free slot, for Outlook and Google alike. An address Graph cannot
// answer for (responseCode ErrorMailRecipientNotFound, no permission…) is
// Unknown with Graph's reason.
func (c *calendars) FreeBusy(ctx context.Context, q providers.FreeBusyQuery) (providers.FreeBusy, error) {
	account := strings.ToLower(strings.TrimSpace(q.Account))
	if account == "" {
		return providers.FreeBusy{}, &providers.Error{Kind: providers.ErrInvalid, Message: "free/busy needs the account's address"}
	}
	out := providers.FreeBusy{}
	if loc := c.mailboxZone(ctx); loc != nil {
		out.TimeZone = loc.String()
	}
	schedules := append([]string{account}, q.Attendees...)
	body := map[string]any{
		"schedules":                schedules,
		"startTime":                dateTimeZone{DateTime: q.TimeMin.UTC().Format("2006-01-02T15:04:05"), TimeZone: "UTC"},
		"endTime":                  dateTimeZone{DateTime: q.TimeMax.UTC().Format("2006-01-02T15:04:05"), TimeZone: "UTC"},
		"availabilityViewInterval": freeBusyInterval,
	}
	var res struct {
		Value []scheduleInformation `json:"value"`
	}
	// A read: repeating it is harmless.
	r := req{method: http.MethodPost, path: "/me/calendar/getSchedule", body: body, prefer: []string{`outlook.timezone="UTC"`}, idempotent: true, need: scopeCalRead}
	if err := c.g.do(ctx, r, &res); err != nil {
		return providers.FreeBusy{}, err
	}
	byID := make(map[string]*scheduleInformation, len(res.Value))
	for i := range res.Value {
		byID[strings.ToLower(strings.TrimSpace(res.Value[i].ScheduleID))] = &res.Value[i]
	}
	for i, who := range schedules {
		s := providers.Schedule{Email: who, Self: i == 0}
		info := byID[strings.ToLower(who)]
		if info == nil && i < len(res.Value) && res.Value[i].ScheduleID == "" {
			info = &res.Value[i] // answered in order without ids
		}
		switch {
		case info == nil:
			s.Unknown = "Microsoft Graph's answer has nothing for this address"
		case info.Error != nil:
			s.Unknown = scheduleError(info.Error.ResponseCode, info.Error.Message)
		default:
			s.Busy = scheduleBusy(info)
			s.WorkingHours = workingHours(info)
		}
		out.Schedules = append(out.Schedules, s)
	}
	return out, nil
}

// scheduleError says in words why Graph has no schedule for an address.
func scheduleError(code, message string) string {
	switch code {
	case "ErrorMailRecipientNotFound", "ErrorInvalidUser":
		return "no such mailbox in the organization, or its calendar is not shared (" + code + ")"
	case "ErrorFreeBusyAccessDenied", "ErrorAccessDenied":
		return "its owner does not share free/busy with this account (" + code + ")"
	}
	msg := providers.Redact(strings.TrimSpace(message))
	if len(msg) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	if code == "" {
		return "Microsoft Graph could not read it: " + msg
	}
	return "Microsoft Graph could not read it (" + code + "): " + msg
}

// scheduleBusy maps the schedule's items to busy periods; free and unknown
// items are not busy.
func scheduleBusy(info *scheduleInformation) []providers.BusyPeriod {
	var out []providers.BusyPeriod
	for _, it := range info.ScheduleItems {
		status := ""
		switch strings.ToLower(it.Status) {
		case "busy":
			status = providers.BusyBusy
		case "tentative":
			status = providers.BusyTentative
		case "oof":
			status = providers.BusyOutOfOffice
		case "workingelsewhere":
			status = providers.BusyWorkingElsewhere
		default:
			continue
		}
		start, ok1 := it.Start.instant()
		end, ok2 := it.End.instant()
		if !ok1 || !ok2 || !end.After(start) {
			continue
		}
		out = append(out, providers.BusyPeriod{Start: start.UTC(), End: end.UTC(), Status: status})
	}
	return out
}

var weekdayNames = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// workingHours maps a schedule's working hours; nil when Graph gave none or
// gave what cannot be read. A zone mailcal cannot map (a "Customized Time
// Zone") leaves TimeZone empty: the question's zone.
func workingHours(info *scheduleInformation) *providers.WorkingHours {
	wh := info.WorkingHours
	if wh == nil {
		return nil
	}
	start, ok1 := clockTime(wh.StartTime)
	end, ok2 := clockTime(wh.EndTime)
	if !ok1 || !ok2 || end <= start {
		return nil
	}
	out := &providers.WorkingHours{Start: start, End: end}
	for _, d := range wh.DaysOfWeek {
		if wd, ok := weekdayNames[strings.ToLower(d)]; ok {
			out.Days = append(out.Days, wd)
		}
	}
	if len(out.Days) == 0 {
		return nil
	}
	if loc := ianaZone(wh.TimeZone.Name); loc != nil {
		out.TimeZone = loc.String()
	}
	return out
}

// clockTime reads Graph's timeOfDay ("08:30:00.0000000").
func clockTime(s string) (time.Duration, bool) {
	t, err := time.Parse("15:04:05.9999999", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, true
}
