package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// ---- find_free_time

type freeTimeArgs struct {
	accountOrAll
	TimeMin         string   `json:"time_min,omitempty" arg:"max=40,kind=line" jsonschema:"start of the search, RFC 3339 with offset (2026-11-24T00:00:00+01:00); default now"`
	TimeMax         string   `json:"time_max,omitempty" arg:"max=40,kind=line" jsonschema:"end of the search, RFC 3339 with offset; default time_min + 7 days; at most 62 days after time_min"`
	DurationMinutes int      `json:"duration_minutes,omitempty" arg:"min=5,max=1440" jsonschema:"required: length of the meeting to fit, in minutes (5 to 1440)"`
	Attendees       []string `json:"attendees,omitempty" arg:"max=20,items.max=320,items.kind=line" jsonschema:"other people's email addresses whose free/busy the provider may show; whoever cannot be seen is reported, never taken as free"`
	WorkingHours    string   `json:"working_hours,omitempty" arg:"max=40,kind=line" jsonschema:"hours to search within, like 09:00-17:00, optionally with days: 09:00-17:00 mon-fri, 08:30-12:00 mon,wed; default the account's working hours where the provider keeps them, else 09:00-17:00 mon-fri"`
	TimeZone        string   `json:"time_zone,omitempty" arg:"max=64,kind=token" jsonschema:"IANA zone of working_hours and of the answer's times, e.g. Europe/Berlin; default the account's calendar zone"`

	q   providers.FreeBusyQuery // built by check
	loc *time.Location
	wh  *providers.WorkingHours
}

func (a *freeTimeArgs) check(now time.Time) error {
	if a.DurationMinutes == 0 {
		return argError("duration_minutes", "required: the meeting's length in minutes, 5 to 1440")
	}
	var err error
	if a.loc, err = zone("time_zone", a.TimeZone); err != nil {
		return err
	}
	a.q.TimeMin = now.Truncate(time.Minute)
	if a.TimeMin != "" {
		if a.q.TimeMin, err = rfc3339("time_min", a.TimeMin); err != nil {
			return err
		}
	}
	a.q.TimeMax = a.q.TimeMin.Add(7 * 24 * time.Hour)
	if a.TimeMax != "" {
		if a.q.TimeMax, err = rfc3339("time_max", a.TimeMax); err != nil {
			return err
		}
	}
	switch {
	case !a.q.TimeMax.After(a.q.TimeMin):
		return argError("time_max", "must be after time_min (%s)", a.q.TimeMin.Format(time.RFC3339))
	case a.q.TimeMax.Sub(a.q.TimeMin) > providers.MaxFreeBusyRange:
		return argError("time_max", "at most 62 days after time_min (the longest span every calendar provider answers free/busy for); search window by window")
	case a.q.TimeMax.Sub(a.q.TimeMin) < time.Duration(a.DurationMinutes)*time.Minute:
		return argError("duration_minutes", "%d minutes do not fit between time_min and time_max", a.DurationMinutes)
	}
	if len(a.Attendees) > 0 {
		addrs, err := mimemsg.ParseAddressList("attendees", a.Attendees)
		if err != nil {
			return &userError{"invalid argument " + err.Error()}
		}
		for _, ad := range addrs {
			if e := strings.ToLower(ad.Email); !slices.Contains(a.q.Attendees, e) {
				a.q.Attendees = append(a.q.Attendees, e)
			}
		}
	}
	if a.WorkingHours != "" {
		if a.wh, err = parseWorkingHours(a.WorkingHours); err != nil {
			return err
		}
	}
	return nil
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// parseWorkingHours reads "09:00-17:00" with optional days ("mon-fri",
// "mon,wed,fri", "sat-sun").
func parseWorkingHours(s string) (*providers.WorkingHours, error) {
	bad := func(why string) error {
		return argError("working_hours", "%s; use 09:00-17:00, optionally with days: 09:00-17:00 mon-fri or 08:30-12:00 mon,wed; got %q", why, s)
	}
	hours, days, _ := strings.Cut(strings.TrimSpace(s), " ")
	from, to, ok := strings.Cut(hours, "-")
	if !ok {
		return nil, bad("no hours")
	}
	to = strings.TrimSpace(to)
	midnight := to == "24:00"
	if midnight {
		to = "00:00"
	}
	start, err1 := time.Parse("15:04", strings.TrimSpace(from))
	end, err2 := time.Parse("15:04", to)
	if err1 != nil || err2 != nil {
		return nil, bad("hours must be HH:MM-HH:MM")
	}
	wh := &providers.WorkingHours{Start: clock(start), End: clock(end)}
	if midnight {
		wh.End = 24 * time.Hour
	}
	if wh.End <= wh.Start {
		return nil, bad("the end must be after the start on the same day")
	}
	days = strings.ToLower(strings.TrimSpace(days))
	if days == "" {
		days = "mon-fri"
	}
	for part := range strings.SplitSeq(days, ",") {
		first, last, span := strings.Cut(strings.TrimSpace(part), "-")
		i, j := slices.Index(dayNames, first), slices.Index(dayNames, last)
		if !span {
			j = i
		}
		if i < 0 || j < 0 {
			return nil, bad("days are mon, tue, wed, thu, fri, sat, sun")
		}
		for d := i; ; d = (d + 1) % 7 {
			if !slices.Contains(wh.Days, time.Weekday(d)) {
				wh.Days = append(wh.Days, time.Weekday(d))
			}
			if d == j {
				break
			}
		}
	}
	slices.Sort(wh.Days)
	return wh, nil
}

func clock(t time.Time) time.Duration {
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
}

// FreeTimeResult is the structured result of find_free_time.
type FreeTimeResult struct {
	Account         string      `json:"account" jsonschema:"the account asked, or all"`
	TimeZone        string      `json:"time_zone" jsonschema:"the zone of every time in the answer"`
	WorkingHours    string      `json:"working_hours" jsonschema:"the hours searched and where they came from"`
	DurationMinutes int         `json:"duration_minutes"`
	Free            []FreeSlot  `json:"free" jsonschema:"free slots at least duration_minutes long, within working hours, when every known calendar is free"`
	Busy            []BusyBlock `json:"busy" jsonschema:"busy blocks, merged across people, with who is busy"`
	Unknown         []Unseen    `json:"unknown,omitempty" jsonschema:"people whose calendar could not be seen: their time is unknown, not free"`
	// With account "all": how each account fared.
	Accounts  []AccountStatus `json:"accounts,omitempty"`
	Truncated bool            `json:"truncated,omitempty" jsonschema:"more slots or blocks than shown: narrow the window"`
}

// FreeSlot is a free time.
type FreeSlot struct {
	Start   string `json:"start"`
	End     string `json:"end"`
	Minutes int    `json:"minutes"`
}

// BusyBlock is a merged busy time.
type BusyBlock struct {
	Start  string   `json:"start"`
	End    string   `json:"end"`
	Status string   `json:"status" jsonschema:"oof, busy or tentative: the strongest in the block"`
	Who    []string `json:"who"`
}

// Unseen is a person whose calendar could not be seen.
type Unseen struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// Shown at most: a 62-day window has a few slots a working day.
const (
	maxFreeSlots  = 200
	maxBusyBlocks = 300
)

func (h *handlers) findFreeTime() tool {
	return multiAccountTool(h, decl{
		name: "find_free_time", title: "Find free time", scope: providers.CalendarRead, hints: reads,
		vars: map[string]string{"account_can": "read calendars"},
		desc: "Find when a meeting of duration_minutes fits: the free slots within working hours between time_min and time_max when the account " +
			"(all its own calendars) and the attendees are free, and the busy blocks with who is busy. " +
			"Attendees' free/busy is shown where their provider shares it with the account; anyone whose calendar cannot be seen is listed as unknown, not free. " +
			"Working hours: working_hours, else the account's own where the provider keeps them, else 09:00-17:00 Monday to Friday; in time_zone, else the account's calendar zone; daylight-saving changes are followed. " +
			`With account "all", every connected calendar account (work and personal) counts: a slot is free only when all are free; an account that fails is reported. ` +
			"It reads only: book the time with create_event.",
	}, func(ctx context.Context, g grants.Grant, a *freeTimeArgs) (FreeTimeResult, string, error) {
		fb, err := h.freeBusyOf(ctx, g, a)
		if err != nil {
			return FreeTimeResult{}, "", h.providerError(ctx, err, g, "reading free/busy", "a calendar")
		}
		res := freeTime(a, []providers.FreeBusy{fb})
		res.Account = g.Account
		return res, freeTimeText(res), nil
	}, h.findFreeTimeAll)
}

func (h *handlers) freeBusyOf(ctx context.Context, g grants.Grant, a *freeTimeArgs) (providers.FreeBusy, error) {
	q := a.q
	q.Account = g.Account
	q.Attendees = slices.DeleteFunc(slices.Clone(q.Attendees), func(e string) bool { return e == strings.ToLower(g.Account) })
	fb, err := onCalendar(ctx, h, g, func(c providers.Calendar) (providers.FreeBusy, error) { return c.FreeBusy(ctx, q) })
	if err == nil {
		h.zones.learn(g, fb.TimeZone)
	}
	return fb, err
}

func (h *handlers) findFreeTimeAll(ctx context.Context, gs []grants.Grant, skipped []AccountStatus, a *freeTimeArgs) (FreeTimeResult, string, error) {
	fbs, errs := fanOut(ctx, gs, func(ctx context.Context, g grants.Grant) (providers.FreeBusy, error) { return h.freeBusyOf(ctx, g, a) })
	var ok []providers.FreeBusy
	var statuses []AccountStatus
	for i, g := range gs {
		st := AccountStatus{Account: g.Account, Provider: g.Provider}
		if errs[i] != nil {
			st.Error = h.providerError(ctx, errs[i], g, "reading free/busy", "a calendar").Error()
		} else {
			ok = append(ok, fbs[i])
		}
		statuses = append(statuses, st)
	}
	statuses = append(statuses, skipped...)
	if len(ok) == 0 {
		return FreeTimeResult{}, "", userErrorf("find_free_time account \"all\": no account answered: %s", statusList(statuses))
	}
	res := freeTime(a, ok)
	res.Account, res.Accounts = allAccounts, statuses
	for _, st := range statuses {
		if st.Error != "" {
			// An account that did not answer is a calendar not seen.
			res.Unknown = append(res.Unknown, Unseen{Email: st.Account, Reason: st.Error})
		}
	}
	return res, freeTimeText(res), nil
}

type span struct {
	s, e   time.Time
	status string
	who    []string
}

// statusRank orders busy statuses by how firmly they take the time.
var statusRank = map[string]int{providers.BusyTentative: 1, providers.BusyBusy: 2, providers.BusyOutOfOffice: 3}

// freeTime computes the answer from the accounts' free/busy (the first
// one's zone and working hours are the defaults).
func freeTime(a *freeTimeArgs, fbs []providers.FreeBusy) FreeTimeResult {
	loc, whSource := a.loc, ""
	if loc == nil {
		for _, fb := range fbs {
			if l, err := time.LoadLocation(fb.TimeZone); fb.TimeZone != "" && err == nil {
				loc = l
				break
			}
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	wh := a.wh
	if wh != nil {
		whSource = "as asked"
	} else {
		for _, fb := range fbs {
			for _, s := range fb.Schedules {
				if s.Self && s.WorkingHours != nil && wh == nil {
					wh, whSource = s.WorkingHours, "the account's working hours"
				}
			}
		}
	}
	if wh == nil {
		wh = &providers.WorkingHours{Days: []time.Weekday{1, 2, 3, 4, 5}, Start: 9 * time.Hour, End: 17 * time.Hour}
		whSource = "the default"
	}
	whLoc := loc
	if l, err := time.LoadLocation(wh.TimeZone); wh.TimeZone != "" && err == nil {
		whLoc = l
	}
	res := FreeTimeResult{TimeZone: loc.String(), DurationMinutes: a.DurationMinutes, Free: []FreeSlot{}, Busy: []BusyBlock{},
		WorkingHours: fmt.Sprintf("%s (%s, %s)", workingHoursText(wh), whLoc.String(), whSource)}
	// Every known busy period, people merged; attendees seen through
	// several accounts count once, known if any account saw them.
	var spans []span
	seen := map[string]bool{}
	unknown := map[string]string{}
	var order []string
	for _, fb := range fbs {
		for _, s := range fb.Schedules {
			who := strings.ToLower(s.Email)
			if !slices.Contains(order, who) {
				order = append(order, who)
			}
			if s.Unknown != "" {
				if _, ok := unknown[who]; !ok && !seen[who] {
					unknown[who] = s.Unknown
				}
				continue
			}
			if seen[who] && !s.Self {
				continue
			}
			seen[who] = true
			delete(unknown, who)
			for _, p := range s.Busy {
				if p.Status == providers.BusyWorkingElsewhere || statusRank[p.Status] == 0 || !p.End.After(a.q.TimeMin) || !p.Start.Before(a.q.TimeMax) {
					continue
				}
				spans = append(spans, span{s: maxT(p.Start, a.q.TimeMin), e: minT(p.End, a.q.TimeMax), status: p.Status, who: []string{who}})
			}
		}
	}
	for _, who := range order {
		if why, ok := unknown[who]; ok {
			res.Unknown = append(res.Unknown, Unseen{Email: who, Reason: why})
		}
	}
	busy := mergeSpans(spans)
	for i, b := range busy {
		if i == maxBusyBlocks {
			res.Truncated = true
			break
		}
		res.Busy = append(res.Busy, BusyBlock{Start: b.s.In(loc).Format(time.RFC3339), End: b.e.In(loc).Format(time.RFC3339), Status: b.status, Who: b.who})
	}
	need := time.Duration(a.DurationMinutes) * time.Minute
	for _, w := range workWindows(a.q.TimeMin, a.q.TimeMax, wh, whLoc) {
		for _, f := range subtract(w, busy) {
			if f.e.Sub(f.s) < need {
				continue
			}
			if len(res.Free) == maxFreeSlots {
				res.Truncated = true
				break
			}
			res.Free = append(res.Free, FreeSlot{Start: f.s.In(loc).Format(time.RFC3339), End: f.e.In(loc).Format(time.RFC3339), Minutes: int(f.e.Sub(f.s) / time.Minute)})
		}
	}
	return res
}

// mergeSpans merges overlapping or touching spans: the strongest status,
// everyone busy in the block.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(x, y span) int { return x.s.Compare(y.s) })
	var out []span
	for _, sp := range spans {
		if n := len(out); n > 0 && !sp.s.After(out[n-1].e) {
			cur := &out[n-1]
			cur.e = maxT(cur.e, sp.e)
			if statusRank[sp.status] > statusRank[cur.status] {
				cur.status = sp.status
			}
			for _, w := range sp.who {
				if !slices.Contains(cur.who, w) {
					cur.who = append(cur.who, w)
				}
			}
			continue
		}
		sp.who = slices.Clone(sp.who)
		out = append(out, sp)
	}
	return out
}

// workWindows lists the working hours between tmin and tmax: each working
// day's start and end wall-clock times in loc (so a day across a
// daylight-saving change keeps its hours), cut to the window.
func workWindows(tmin, tmax time.Time, wh *providers.WorkingHours, loc *time.Location) []span {
	var out []span
	first := tmin.In(loc)
	day := time.Date(first.Year(), first.Month(), first.Day()-1, 12, 0, 0, 0, loc)
	for ; day.Before(tmax.Add(24 * time.Hour)); day = time.Date(day.Year(), day.Month(), day.Day()+1, 12, 0, 0, 0, loc) {
		if !slices.Contains(wh.Days, day.Weekday()) {
			continue
		}
		at := func(d time.Duration) time.Time {
			return time.Date(day.Year(), day.Month(), day.Day(), int(d/time.Hour), int(d%time.Hour/time.Minute), 0, 0, loc)
		}
		s, e := maxT(at(wh.Start), tmin), minT(at(wh.End), tmax)
		if e.After(s) {
			out = append(out, span{s: s, e: e})
		}
	}
	return out
}

// subtract cuts the busy spans (sorted, merged) out of w.
func subtract(w span, busy []span) []span {
	var out []span
	cur := w.s
	for _, b := range busy {
		if !b.e.After(cur) {
			continue
		}
		if !b.s.Before(w.e) {
			break
		}
		if b.s.After(cur) {
			out = append(out, span{s: cur, e: b.s})
		}
		cur = maxT(cur, b.e)
	}
	if w.e.After(cur) {
		out = append(out, span{s: cur, e: w.e})
	}
	return out
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func workingHoursText(wh *providers.WorkingHours) string {
	var days []string
	for _, d := range wh.Days {
		days = append(days, dayNames[d])
	}
	hm := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return hm(wh.Start) + "-" + hm(wh.End) + " " + strings.Join(days, ",")
}

// freeTimeText renders the answer, slots first.
func freeTimeText(r FreeTimeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d free slots of at least %d min for %s within working hours %s; times in %s:\n",
		len(r.Free), r.DurationMinutes, r.Account, r.WorkingHours, r.TimeZone)
	for _, f := range r.Free {
		fmt.Fprintf(&b, "%s (%d min)\n", spanText(f.Start, f.End), f.Minutes)
	}
	if len(r.Unknown) > 0 {
		b.WriteString("Not seen (their time is unknown, not free):\n")
		for _, u := range r.Unknown {
			fmt.Fprintf(&b, "%s: %s\n", u.Email, u.Reason)
		}
	}
	fmt.Fprintf(&b, "%d busy blocks (when | status | who):\n", len(r.Busy))
	for _, bl := range r.Busy {
		fmt.Fprintf(&b, "%s | %s | %s\n", spanText(bl.Start, bl.End), bl.Status, strings.Join(bl.Who, ", "))
	}
	if r.Truncated {
		b.WriteString("More slots or blocks than shown: narrow time_min and time_max.\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// spanText renders a span compactly: "Tue 2026-11-24 09:00–10:30 +01:00".
func spanText(start, end string) string {
	s, err1 := time.Parse(time.RFC3339, start)
	e, err2 := time.Parse(time.RFC3339, end)
	if err1 != nil || err2 != nil {
		return start + " – " + end
	}
	if s.Format(time.DateOnly) == e.Format(time.DateOnly) {
		return s.Format("Mon 2006-01-02 15:04") + "–" + e.Format("15:04 -07:00")
	}
	return s.Format("Mon 2006-01-02 15:04 -07:00") + " – " + e.Format("Mon 2006-01-02 15:04 -07:00")
}
