package googletest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Calendar's events.list (time window, singleEvents expansion,
// exceptions, showDeleted, q, ordering, paging) and events.get (events,
// instances of recurring events, exceptions).

type eventsJSON struct {
	Kind             string         `json:"kind"`
	Etag             string         `json:"etag"`
	Summary          string         `json:"summary"`
	Description      string         `json:"description,omitempty"`
	Updated          string         `json:"updated"`
	TimeZone         string         `json:"timeZone"`
	AccessRole       string         `json:"accessRole"`
	DefaultReminders []reminderJSON `json:"defaultReminders"`
	NextPageToken    string         `json:"nextPageToken,omitempty"`
	NextSyncToken    string         `json:"nextSyncToken,omitempty"`
	Items            []eventJSON    `json:"items"`
}

// listedEvent is an item of events.list with what it is sorted by.
type listedEvent struct {
	json    eventJSON
	start   time.Time
	updated time.Time
	text    string
}

func (s *Server) calListEvents(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	q := r.URL.Query()
	timeMin, timeMax, ok := queryWindow(w, q)
	if !ok {
		return
	}
	maxResults, ok := queryMaxResults(w, q, 250, 2500)
	if !ok {
		return
	}
	single, ok := queryBool(w, q, "singleEvents")
	if !ok {
		return
	}
	showDeleted, ok := queryBool(w, q, "showDeleted")
	if !ok {
		return
	}
	orderBy := q.Get("orderBy")
	switch {
	case orderBy != "" && orderBy != "startTime" && orderBy != "updated":
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: orderBy", "invalidParameter")
		return
	case orderBy == "startTime" && !single:
		WriteAPIError(w, http.StatusBadRequest, "The requested ordering is not available for the particular query.", "badRequest")
		return
	}
	if q.Get("syncToken") != "" {
		WriteAPIError(w, http.StatusGone, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
		return
	}
	updatedMin, ok := queryTime(w, q, "updatedMin")
	if !ok {
		return
	}
	respLoc, ok := queryTimeZone(w, q)
	if !ok {
		return
	}
	key := queryKey(q, "timeMin", "timeMax", "q", "singleEvents", "orderBy", "showDeleted", "iCalUID", "updatedMin") + email + c.params["calendarId"]
	offset, ok := readOffset(w, q, key)
	if !ok {
		return
	}

	s.api.mu.Lock()
	cal := s.api.calStoreLocked(email).find(c.params["calendarId"])
	if cal == nil {
		s.api.mu.Unlock()
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	if respLoc == nil {
		respLoc = cal.loc
	}
	horizon := timeMax
	if horizon.IsZero() {
		horizon = maxTime(s.Now(), timeMin).AddDate(2, 0, 0)
	}
	overlaps := func(start, end evTime) bool {
		st, en := start.instant(respLoc), end.instant(respLoc)
		return (timeMin.IsZero() || en.After(timeMin)) && (timeMax.IsZero() || st.Before(timeMax))
	}
	var items []listedEvent
	add := func(ev *calEvent, j eventJSON, start evTime) {
		items = append(items, listedEvent{json: j, start: start.instant(respLoc), updated: ev.updated,
			text: strings.ToLower(strings.Join([]string{ev.Summary, ev.Description, ev.Location, ev.organizer.Email, ev.organizer.DisplayName, attendeeText(ev)}, "\n"))})
	}
	for _, ev := range cal.events {
		if ev.RecurringEventID != "" {
			continue // exceptions are listed with their series
		}
		if (ev.Status == "cancelled" && !showDeleted) || (q.Get("iCalUID") != "" && q.Get("iCalUID") != ev.iCalUID) {
			continue
		}
		if ev.rule == nil {
			if overlaps(ev.start, ev.end) {
				add(ev, ev.render(cal, respLoc), ev.start)
			}
			continue
		}
		exceptions := map[string]*calEvent{}
		for _, ex := range cal.events {
			if ex.RecurringEventID == ev.ID {
				exceptions[ex.origStart.suffix()] = ex
			}
		}
		occs := ev.expand(cal.loc, horizon)
		if single {
			for _, o := range occs {
				if exceptions[o.start.suffix()] == nil && overlaps(o.start, o.end) {
					add(ev, ev.renderInstance(cal, o, respLoc), o.start)
				}
			}
		} else if slices.ContainsFunc(occs, func(o occurrence) bool { return overlaps(o.start, o.end) }) {
			add(ev, ev.render(cal, respLoc), ev.start)
		}
		for _, o := range occs {
			ex := exceptions[o.start.suffix()]
			switch {
			case ex == nil:
			case ex.Status == "cancelled":
				// Cancelled instances are listed when deleted events are
				// asked for, and always without singleEvents.
				if (showDeleted || !single) && overlaps(ex.origStart, o.end) {
					add(ex, ex.renderCancelled(respLoc), ex.origStart)
				}
			case overlaps(ex.start, ex.end):
				add(ex, ex.render(cal, respLoc), ex.start)
			}
		}
	}
	summary, accessRole, desc, reminders, updated := cal.Summary, cal.AccessRole, cal.Description, cal.reminders(), cal.updated
	calTZ := cal.TimeZone
	s.api.mu.Unlock()

	if term := strings.ToLower(strings.TrimSpace(q.Get("q"))); term != "" {
		items = slices.DeleteFunc(items, func(it listedEvent) bool {
			for _, w := range strings.Fields(term) {
				if !strings.Contains(it.text, w) {
					return true
				}
			}
			return false
		})
	}
	if !updatedMin.IsZero() {
		items = slices.DeleteFunc(items, func(it listedEvent) bool { return it.updated.Before(updatedMin) })
	}
	switch orderBy {
	case "startTime":
		slices.SortStableFunc(items, func(a, b listedEvent) int {
			if c := a.start.Compare(b.start); c != 0 {
				return c
			}
			return strings.Compare(a.json.ID, b.json.ID)
		})
	case "updated":
		slices.SortStableFunc(items, func(a, b listedEvent) int { return a.updated.Compare(b.updated) })
	}
	if updated.IsZero() {
		updated = s.Now()
	}
	out := eventsJSON{
		Kind: "calendar#events", Etag: fmt.Sprintf(`"%d"`, updated.UnixMicro()), Summary: summary, Description: desc,
		Updated: googleTime(updated), TimeZone: calTZ, AccessRole: accessRole, DefaultReminders: reminders, Items: []eventJSON{},
	}
	page, end := pageOf(items, offset, maxResults)
	for _, it := range page {
		out.Items = append(out.Items, it.json)
	}
	if end < len(items) {
		out.NextPageToken = pageToken(key, strconv.Itoa(end))
	} else {
		out.NextSyncToken = "CLDw" + base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d", updated.UnixMicro()))
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func attendeeText(ev *calEvent) string {
	var parts []string
	for _, a := range ev.Attendees {
		parts = append(parts, a.Email, a.DisplayName)
	}
	return strings.Join(parts, "\n")
}

func (s *Server) calGetEvent(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	respLoc, ok := queryTimeZone(w, r.URL.Query())
	if !ok {
		return
	}
	s.api.mu.Lock()
	cal := s.api.calStoreLocked(email).find(c.params["calendarId"])
	var out *eventJSON
	if cal != nil {
		if respLoc == nil {
			respLoc = cal.loc
		}
		id := c.params["eventId"]
		for _, ev := range cal.events {
			if ev.ID == id {
				j := ev.render(cal, respLoc)
				if ev.RecurringEventID != "" && ev.Status == "cancelled" {
					j = ev.renderCancelled(respLoc)
				}
				out = &j
			}
		}
		if base, suffix, found := strings.Cut(id, "_"); out == nil && found {
			for _, ev := range cal.events {
				if ev.ID != base || ev.rule == nil {
					continue
				}
				for _, o := range ev.expand(cal.loc, instantOfSuffix(suffix).Add(time.Second)) {
					if o.start.suffix() == suffix {
						j := ev.renderInstance(cal, o, respLoc)
						out = &j
					}
				}
			}
		}
	}
	s.api.mu.Unlock()
	writeFound(s, w, r, out, "Not Found")
}

func instantOfSuffix(suffix string) time.Time {
	if t, err := time.Parse("20060102T150405Z", suffix); err == nil {
		return t
	}
	if t, err := time.Parse("20060102", suffix); err == nil {
		return t.Add(36 * time.Hour) // whatever the zone, past the date's midnight
	}
	return time.Time{}
}
