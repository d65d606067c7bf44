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

func (s *Server) calListCalendars(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calCalendarList]...)
	if !ok {
		return
	}
	q := r.URL.Query()
	maxResults, ok := queryInt(w, q, "maxResults", "TYPE_INT32", 100)
	if !ok {
		return
	}
	if maxResults < 1 {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value '%d'. Values must be within the range: [1, 250]", maxResults), "invalid")
		return
	}
	maxResults = min(maxResults, 250)
	minRole := q.Get("minAccessRole")
	if _, known := accessRank[minRole]; minRole != "" && !known {
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: minAccessRole", "invalidParameter")
		return
	}
	key := queryKey(q, "minAccessRole", "showHidden", "showDeleted") + email
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		pos, ok := readPageToken(key, tok)
		if offset, _ = strconv.Atoi(pos); !ok {
			WriteAPIError(w, http.StatusBadRequest, "Invalid page token value.", "invalid")
			return
		}
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
	end := min(offset+maxResults, len(items))
	page := items[min(offset, len(items)):end]
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

func (s *Server) calGetCalendar(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, ok := s.Authorize(w, r, routeScopes[calCalendarListGet]...)
	if !ok {
		return
	}
	s.api.mu.Lock()
	cs := s.api.calStoreLocked(email)
	var entry *calendarListEntryJSON
	for i, c := range cs.cals {
		if c.ID == p["calendarId"] || p["calendarId"] == "primary" && c.Primary {
			e := c.entry(i)
			entry = &e
		}
	}
	s.api.mu.Unlock()
	if entry == nil {
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	s.writeAPI(w, r, http.StatusOK, entry)
}
