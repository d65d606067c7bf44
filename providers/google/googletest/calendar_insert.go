package googletest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// Calendar's events.insert: the event's checks as Google answers them,
// and the stored event.

type eventTimeInput struct {
	Date     string `json:"date"`
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type eventInput struct {
	ID          string          `json:"id"`
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Location    string          `json:"location"`
	Status      string          `json:"status"`
	Start       *eventTimeInput `json:"start"`
	End         *eventTimeInput `json:"end"`
	Recurrence  []string        `json:"recurrence"`
	Attendees   []struct {
		Email          string `json:"email"`
		DisplayName    string `json:"displayName"`
		Optional       bool   `json:"optional"`
		ResponseStatus string `json:"responseStatus"`
		Comment        string `json:"comment"`
	} `json:"attendees"`
	AttendeesOmitted bool `json:"attendeesOmitted"`
	Reminders        *struct {
		UseDefault bool           `json:"useDefault"`
		Overrides  []reminderJSON `json:"overrides"`
	} `json:"reminders"`
	ConferenceData *struct {
		CreateRequest *struct {
			RequestID             string `json:"requestId"`
			ConferenceSolutionKey *struct {
				Type string `json:"type"`
			} `json:"conferenceSolutionKey"`
		} `json:"createRequest"`
	} `json:"conferenceData"`
}

func (s *Server) calInsertEvent(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the request body.", "badRequest")
		return
	}
	var in eventInput
	if err := json.Unmarshal(body, &in); err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Parse Error", "parseError")
		return
	}
	s.api.mu.Lock()
	cal := s.api.calStoreLocked(email).find(c.params["calendarId"])
	var calLoc *time.Location
	role := ""
	if cal != nil {
		calLoc, role = cal.loc, cal.AccessRole
	}
	s.api.mu.Unlock()
	if cal == nil {
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	if accessRank[role] < accessRank["writer"] {
		WriteAPIError(w, http.StatusForbidden, "You need to have writer access to this calendar.", "requiredAccessLevel")
		return
	}
	ev := &calEvent{Event: Event{ID: in.ID, Summary: in.Summary, Description: in.Description, Location: in.Location,
		Status: in.Status, Recurrence: in.Recurrence, SendUpdates: r.URL.Query().Get("sendUpdates")}}
	var msg, reason string
	if ev.start, msg, reason = parseEventTime(in.Start, "start"); msg == "" {
		ev.end, msg, reason = parseEventTime(in.End, "end")
	}
	switch {
	case msg != "":
	case (ev.start.date == "") != (ev.end.date == ""):
		msg, reason = "Start and end times must either both be date or both be dateTime.", "invalid"
	case ev.end.instant(calLoc).Before(ev.start.instant(calLoc)) || ev.start.date != "" && ev.start.date == ev.end.date:
		msg, reason = "The specified time range is empty.", "timeRangeEmpty"
	case len(ev.Recurrence) > 0 && ev.start.date == "" && ev.start.tz == "":
		msg, reason = "Missing time zone definition for start time.", "required"
	case ev.Status != "" && ev.Status != "confirmed" && ev.Status != "tentative" && ev.Status != "cancelled":
		msg, reason = "Invalid value for: status", "invalid"
	case ev.ID != "" && (len(ev.ID) < 5 || len(ev.ID) > 1024 || strings.Trim(ev.ID, base32hexAlphabet) != ""):
		msg, reason = "Invalid resource id value.", "invalid"
	}
	if msg == "" && len(ev.Recurrence) > 0 {
		loc := calLoc
		if ev.start.tz != "" {
			loc, _ = time.LoadLocation(ev.start.tz)
		}
		if _, _, err := parseRecurrence(ev.Recurrence, loc, ev.start.date != ""); err != nil {
			msg, reason = "Invalid recurrence rule.", "invalid"
		}
	}
	for _, at := range in.Attendees {
		addr, err := mail.ParseAddress(at.Email)
		if msg == "" && (err != nil || addr.Address != strings.TrimSpace(at.Email)) {
			msg, reason = "Invalid attendee email.", "invalid"
		}
		ev.Attendees = append(ev.Attendees, Attendee{Email: strings.TrimSpace(at.Email), DisplayName: at.DisplayName, Optional: at.Optional, ResponseStatus: at.ResponseStatus})
	}
	if msg == "" {
		msg, reason = s.applyExtras(r, &in, ev)
	}
	if msg != "" {
		WriteAPIError(w, http.StatusBadRequest, msg, reason)
		return
	}
	if ev.start.date != "" {
		ev.Start, _ = time.Parse("2006-01-02", ev.start.date)
		ev.End, _ = time.Parse("2006-01-02", ev.end.date)
		ev.AllDay = true
	} else {
		ev.Start, ev.End, ev.TimeZone = ev.start.t, ev.end.t, ev.start.tz
		if ev.end.tz != ev.start.tz {
			ev.EndTimeZone = ev.end.tz
		}
	}

	s.api.mu.Lock()
	for i, at := range ev.Attendees {
		if strings.EqualFold(at.Email, email) || strings.EqualFold(at.Email, cal.ID) {
			ev.Attendees[i].Organizer, ev.Attendees[i].ResponseStatus = true, "accepted"
		}
	}
	problem := s.api.storeEventLocked(cal, ev, s.Now())
	var out eventJSON
	if problem == "" {
		out = ev.render(cal, cal.loc)
	}
	s.api.mu.Unlock()
	if problem != "" {
		WriteAPIError(w, http.StatusConflict, "The requested identifier already exists.", "duplicate")
		return
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

// parseEventTime reads start or end of an event to insert; msg and reason
// are Google's error when it is invalid.
func parseEventTime(in *eventTimeInput, which string) (t evTime, msg, reason string) {
	if in == nil || in.Date == "" && in.DateTime == "" {
		return t, "Missing " + which + " time.", "required"
	}
	if in.Date != "" && in.DateTime != "" {
		return t, "Invalid " + which + " time.", "invalid"
	}
	if in.Date != "" {
		if _, err := time.Parse("2006-01-02", in.Date); err != nil {
			return t, "Invalid " + which + " time.", "invalid"
		}
		return evTime{date: in.Date}, "", ""
	}
	var loc *time.Location
	if in.TimeZone != "" {
		l, err := time.LoadLocation(in.TimeZone)
		if err != nil || in.TimeZone == "Local" {
			return t, "Invalid time zone definition for " + which + " time.", "invalid"
		}
		loc = l
	}
	if tt, err := time.Parse(time.RFC3339Nano, in.DateTime); err == nil {
		return evTime{t: tt, tz: in.TimeZone}, "", ""
	}
	tt, err := time.Parse("2006-01-02T15:04:05", strings.TrimSuffix(in.DateTime, ".000"))
	if err != nil {
		return t, "Invalid " + which + " time.", "invalid"
	}
	if loc == nil {
		return t, "Missing time zone definition for " + which + " time.", "required"
	}
	return evTime{t: time.Date(tt.Year(), tt.Month(), tt.Day(), tt.Hour(), tt.Minute(), tt.Second(), 0, loc), tz: in.TimeZone}, "", ""
}
