package googletest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

// Calendar's calendarList.list and calendarList.get.

type calendarListEntryJSON struct {
	Kind                 string         `json:"kind"`
	Etag                 string         `json:"etag"`
	ID                   string         `json:"id"`
	Summary              string         `json:"summary"`
	Description          string         `json:"description,omitempty"`
	TimeZone             string         `json:"timeZone"`
	ColorID              string         `json:"colorId"`
	BackgroundColor      string         `json:"backgroundColor"`
	ForegroundColor      string         `json:"foregroundColor"`
	Selected             bool           `json:"selected,omitempty"`
	AccessRole           string         `json:"accessRole"`
	DefaultReminders     []reminderJSON `json:"defaultReminders"`
	Primary              bool           `json:"primary,omitempty"`
	ConferenceProperties map[string]any `json:"conferenceProperties,omitempty"`
}

var accessRank = map[string]int{"freeBusyReader": 0, "reader": 1, "writerWithoutPrivateAccess": 2, "writer": 2, "owner": 3}

var calColors = [][3]string{{"14", "#9fe1e7", "#000000"}, {"8", "#16a765", "#000000"}, {"21", "#cca6ac", "#000000"}, {"1", "#ac725e", "#000000"}}

func (c *fakeCal) entry(i int) calendarListEntryJSON {
	col := calColors[i%len(calColors)]
	e := calendarListEntryJSON{
		Kind: "calendar#calendarListEntry", Etag: fmt.Sprintf(`"%d"`, 1700000000000000+i), ID: c.ID, Summary: c.Summary,
		Description: c.Description, TimeZone: c.TimeZone, ColorID: col[0], BackgroundColor: col[1], ForegroundColor: col[2],
		Selected: true, AccessRole: c.AccessRole, DefaultReminders: c.reminders(), Primary: c.Primary,
		ConferenceProperties: map[string]any{"allowedConferenceSolutionTypes": []string{"hangoutsMeet"}},
	}
	return e
}

func (c *fakeCal) reminders() []reminderJSON {
	if accessRank[c.AccessRole] >= accessRank["writer"] && c.Primary {
		return []reminderJSON{{"popup", 10}}
	}
	return []reminderJSON{}
}

func (s *Server) calListCalendars(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	q := r.URL.Query()
	maxResults, ok := queryMaxResults(w, q, 100, 250)
	if !ok {
		return
	}
	minRole := q.Get("minAccessRole")
	if _, known := accessRank[minRole]; minRole != "" && !known {
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: minAccessRole", "invalidParameter")
		return
	}
	key := queryKey(q, "minAccessRole", "showHidden", "showDeleted") + email
	offset, ok := readOffset(w, q, key)
	if !ok {
		return
	}
	s.api.mu.Lock()
	var items []calendarListEntryJSON
	for i, c := range s.api.calStoreLocked(email).cals {
		if minRole == "" || accessRank[c.AccessRole] >= accessRank[minRole] {
			items = append(items, c.entry(i))
		}
	}
	s.api.mu.Unlock()
	out := map[string]any{"kind": "calendar#calendarList", "etag": `"p33c9tq2nuiq8g0o"`}
	page, end := pageOf(items, offset, maxResults)
	if page == nil {
		page = []calendarListEntryJSON{}
	}
	out["items"] = page
	if end < len(items) {
		out["nextPageToken"] = pageToken(key, strconv.Itoa(end))
	} else {
		out["nextSyncToken"] = "CPjW9f7Z_YgDEhZ" + base64.RawURLEncoding.EncodeToString([]byte(email))
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

func (s *Server) calGetCalendar(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	s.api.mu.Lock()
	cs := s.api.calStoreLocked(email)
	var entry *calendarListEntryJSON
	for i, cal := range cs.cals {
		if cal.ID == c.params["calendarId"] || c.params["calendarId"] == "primary" && cal.Primary {
			e := cal.entry(i)
			entry = &e
		}
	}
	s.api.mu.Unlock()
	writeFound(s, w, r, entry, "Not Found")
}
