package googletest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Calendar's events.patch, events.delete and events.instances, and the
// extras of an inserted or patched event (reminders, a Meet conference), as
// the Calendar API reference documents them: a patch changes only the
// fields sent (arrays replace), an instance's patch or delete makes an
// exception of its series, a deleted event is kept as cancelled and a
// second delete is 410, and only the organizer changes shared properties
// (an attendee sets its own response with attendeesOmitted).

// Google's limits on reminders.
const (
	maxReminderOverrides = 5
	maxReminderMinutes   = 40320
)

// applyExtras reads an insert's or patch's reminders and conference
// request into ev; msg and reason are Google's error.
func (s *Server) applyExtras(r *http.Request, in *eventInput, ev *calEvent) (msg, reason string) {
	if rm := in.Reminders; rm != nil {
		switch {
		case rm.UseDefault && len(rm.Overrides) > 0:
			return "Cannot specify both default reminders and overrides at the same time.", "cannotUseDefaultRemindersAndSpecifyOverride"
		case len(rm.Overrides) > maxReminderOverrides:
			return "Too many reminders. The maximum number of override reminders is 5.", "invalid"
		}
		ev.Reminders = nil
		if !rm.UseDefault {
			ev.Reminders = []int{}
		}
		for _, o := range rm.Overrides {
			if o.Method != "popup" && o.Method != "email" {
				return "Invalid reminder method.", "invalid"
			}
			if o.Minutes < 0 || o.Minutes > maxReminderMinutes {
				return "Invalid reminder minutes.", "invalid"
			}
			ev.Reminders = append(ev.Reminders, o.Minutes)
		}
	}
	// conferenceData is read only with conferenceDataVersion=1; version 0
	// (the default) ignores it, as the reference says.
	if cd := in.ConferenceData; cd != nil && cd.CreateRequest != nil && r.URL.Query().Get("conferenceDataVersion") == "1" {
		cr := cd.CreateRequest
		switch {
		case cr.RequestID == "":
			return "Invalid conference create request: missing request id.", "invalid"
		case cr.ConferenceSolutionKey == nil || cr.ConferenceSolutionKey.Type != "hangoutsMeet":
			return "Invalid conference type value.", "invalid"
		}
		if ev.HangoutLink == "" {
			ev.HangoutLink = "https://meet.google.com/" + meetCode(cr.RequestID+ev.ID)
		}
		ev.conferenceRequest = cr.RequestID
	}
	return "", ""
}

// meetCode is a Meet code (abc-defg-hij) made from seed.
func meetCode(seed string) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	var b []byte
	h := uint32(2166136261)
	for i := range 10 {
		for _, c := range []byte(seed) {
			h = (h ^ uint32(c)) * 16777619
		}
		h = (h ^ uint32(i)) * 16777619
		b = append(b, letters[h%26])
	}
	return string(b[:3]) + "-" + string(b[3:7]) + "-" + string(b[7:])
}

func meetConference(link, requestID string) *conferenceJSON {
	c := &conferenceJSON{ConferenceID: strings.TrimPrefix(link, "https://meet.google.com/")}
	c.ConferenceSolution.Key.Type, c.ConferenceSolution.Name = "hangoutsMeet", "Google Meet"
	c.EntryPoints = []entryPointJSON{{"video", link, strings.TrimPrefix(link, "https://")}}
	if requestID != "" {
		c.CreateRequest = &createRequestJSON{RequestID: requestID}
		c.CreateRequest.Status.StatusCode = "success"
	}
	return c
}

// findForChange finds the stored event of id, or makes the exception of an
// instance id (base_suffix) of a recurring event. A new exception is not
// stored yet (isNew): the caller stores it once the change succeeds, so a
// refused change leaves the series as it was. gone: the event was deleted
// (cancelled). Call with a.mu held.
func (a *apiState) findForChange(cal *fakeCal, id string, now time.Time) (ev *calEvent, isNew, gone bool) {
	for _, e := range cal.events {
		if e.ID == id {
			return e, false, e.Status == "cancelled"
		}
	}
	base, suffix, found := strings.Cut(id, "_")
	if !found {
		return nil, false, false
	}
	for _, master := range cal.events {
		if master.ID != base || master.rule == nil {
			continue
		}
		if master.Status == "cancelled" {
			return nil, false, true
		}
		for _, o := range master.expand(cal.loc, instantOfSuffix(suffix).Add(time.Second)) {
			if o.start.suffix() != suffix {
				continue
			}
			ex := &calEvent{Event: master.Event, start: o.start, end: o.end, origStart: o.start,
				organizer: master.organizer, creator: master.creator, calendarEmail: master.calendarEmail,
				sequence: master.sequence, iCalUID: master.iCalUID, conferenceRequest: master.conferenceRequest}
			ex.ID, ex.RecurringEventID, ex.Recurrence = id, master.ID, nil
			ex.Attendees, ex.Reminders = slices.Clone(master.Attendees), slices.Clone(master.Reminders)
			ex.Created, ex.updated = now, now
			return ex, true, false
		}
	}
	return nil, false, false
}

func (s *Server) calPatchEvent(w http.ResponseWriter, r *http.Request, c call) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in eventInput
	var fields map[string]json.RawMessage
	if err != nil || json.Unmarshal(body, &in) != nil || json.Unmarshal(body, &fields) != nil {
		WriteAPIError(w, http.StatusBadRequest, "Parse Error", "parseError")
		return
	}
	if send := r.URL.Query().Get("sendUpdates"); send != "" && send != "all" && send != "none" && send != "externalOnly" {
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: sendUpdates", "invalidParameter")
		return
	}
	a := s.api
	a.mu.Lock()
	out, status, msg, reason := s.patchLocked(r, c, in, fields)
	a.mu.Unlock()
	if msg != "" {
		WriteAPIError(w, status, msg, reason)
		return
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

// patchLocked applies a patch; a failure is Google's status, message and
// reason. Call with s.api.mu held.
func (s *Server) patchLocked(r *http.Request, c call, in eventInput, fields map[string]json.RawMessage) (out eventJSON, status int, msg, reason string) {
	a := s.api
	cal := a.calStoreLocked(c.email).find(c.params["calendarId"])
	if cal == nil {
		return out, http.StatusNotFound, "Not Found", "notFound"
	}
	if accessRank[cal.AccessRole] < accessRank["writer"] {
		return out, http.StatusForbidden, "You need to have writer access to this calendar.", "requiredAccessLevel"
	}
	now := s.Now()
	ev, isNew, gone := a.findForChange(cal, c.params["eventId"], now)
	switch {
	case gone:
		return out, http.StatusGone, "Resource has been deleted", "deleted"
	case ev == nil:
		return out, http.StatusNotFound, "Not Found", "notFound"
	}
	organizer := ev.organizer.Self
	if !organizer {
		for k := range fields {
			if k != "reminders" && k != "attendees" && k != "attendeesOmitted" || k == "attendees" && !in.AttendeesOmitted {
				return out, http.StatusForbidden, "Shared properties can only be changed by the organizer of the event.", "forbiddenForNonOrganizer"
			}
		}
	}
	next := *ev
	next.Attendees, next.Reminders = slices.Clone(ev.Attendees), slices.Clone(ev.Reminders)
	if in.AttendeesOmitted {
		// An attendee's own answer: only its entry is sent.
		if msg := s.patchOwnResponse(&next, cal, in); msg != "" {
			return out, http.StatusBadRequest, msg, "invalid"
		}
		delete(fields, "attendees")
		delete(fields, "attendeesOmitted")
	}
	if msg, reason := s.patchFields(r, &next, cal, fields, in); msg != "" {
		return out, http.StatusBadRequest, msg, reason
	}
	*ev = next
	if isNew {
		cal.events = append(cal.events, ev)
	}
	if organizer && len(fields) > 0 {
		ev.sequence++
	}
	ev.SendUpdates, ev.updated, cal.updated = r.URL.Query().Get("sendUpdates"), now, now
	return ev.render(cal, cal.loc), 0, "", ""
}

// patchOwnResponse sets the user's own responseStatus and comment.
func (s *Server) patchOwnResponse(ev *calEvent, cal *fakeCal, in eventInput) string {
	for _, at := range in.Attendees {
		i := slices.IndexFunc(ev.Attendees, func(a Attendee) bool { return strings.EqualFold(a.Email, at.Email) })
		if i < 0 || !strings.EqualFold(at.Email, ev.calendarEmail) && !strings.EqualFold(at.Email, cal.ID) {
			return "Invalid attendee email."
		}
		switch at.ResponseStatus {
		case "accepted", "declined", "tentative", "needsAction":
		default:
			return "Invalid attendee response status."
		}
		ev.Attendees[i].ResponseStatus, ev.Attendees[i].Comment = at.ResponseStatus, at.Comment
	}
	return ""
}

// patchFields applies the fields a patch sent to ev.
func (s *Server) patchFields(r *http.Request, ev *calEvent, cal *fakeCal, fields map[string]json.RawMessage, in eventInput) (msg, reason string) {
	for k := range fields {
		switch k {
		case "summary":
			ev.Summary = in.Summary
		case "description":
			ev.Description = in.Description
		case "location":
			ev.Location = in.Location
		case "start", "end": // below, together: one alone keeps the other
		case "attendees":
			ev.Attendees = nil
			for _, at := range in.Attendees {
				addr, err := mail.ParseAddress(at.Email)
				if err != nil || addr.Address != strings.TrimSpace(at.Email) {
					return "Invalid attendee email.", "invalid"
				}
				ev.Attendees = append(ev.Attendees, Attendee{Email: at.Email, DisplayName: at.DisplayName, Optional: at.Optional,
					ResponseStatus: at.ResponseStatus, Comment: at.Comment,
					Organizer: strings.EqualFold(at.Email, ev.organizer.Email)})
			}
		case "recurrence":
			if ev.RecurringEventID != "" && len(in.Recurrence) > 0 {
				return "Invalid recurrence rule.", "invalid" // an instance has none
			}
			ev.Recurrence = in.Recurrence
		case "reminders", "conferenceData":
		default:
			return "Invalid field selection " + k, "invalidParameter"
		}
	}
	if fields["start"] != nil || fields["end"] != nil {
		var m string
		start, end := ev.start, ev.end
		if fields["start"] != nil {
			if start, m, reason = parseEventTime(in.Start, "start"); m != "" {
				return m, reason
			}
		}
		if fields["end"] != nil {
			if end, m, reason = parseEventTime(in.End, "end"); m != "" {
				return m, reason
			}
		}
		switch {
		case (start.date == "") != (end.date == ""):
			return "Start and end times must either both be date or both be dateTime.", "invalid"
		case end.instant(cal.loc).Before(start.instant(cal.loc)) || start.date != "" && start.date == end.date:
			return "The specified time range is empty.", "timeRangeEmpty"
		}
		ev.start, ev.end = start, end
		if start.date != "" {
			ev.Start, _ = time.Parse("2006-01-02", start.date)
			ev.End, _ = time.Parse("2006-01-02", end.date)
			ev.AllDay, ev.TimeZone = true, ""
		} else {
			ev.Start, ev.End, ev.TimeZone, ev.AllDay = start.t, end.t, start.tz, false
		}
	}
	if len(ev.Recurrence) > 0 {
		loc := cal.loc
		if ev.start.tz != "" {
			loc, _ = time.LoadLocation(ev.start.tz)
		}
		rule, ex, err := parseRecurrence(ev.Recurrence, loc, ev.start.date != "")
		if err != nil {
			return "Invalid recurrence rule.", "invalid"
		}
		ev.rule, ev.exdates = rule, ex
	} else {
		ev.rule, ev.exdates = nil, nil
	}
	return s.applyExtras(r, &in, ev)
}

func (s *Server) calDeleteEvent(w http.ResponseWriter, r *http.Request, c call) {
	send := r.URL.Query().Get("sendUpdates")
	if send != "" && send != "all" && send != "none" && send != "externalOnly" {
		WriteAPIError(w, http.StatusBadRequest, "Invalid value for: sendUpdates", "invalidParameter")
		return
	}
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	cal := a.calStoreLocked(c.email).find(c.params["calendarId"])
	if cal == nil {
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	if accessRank[cal.AccessRole] < accessRank["writer"] {
		WriteAPIError(w, http.StatusForbidden, "You need to have writer access to this calendar.", "requiredAccessLevel")
		return
	}
	now := s.Now()
	ev, isNew, gone := a.findForChange(cal, c.params["eventId"], now)
	switch {
	case gone:
		WriteAPIError(w, http.StatusGone, "Resource has been deleted", "deleted")
		return
	case ev == nil:
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	if isNew {
		cal.events = append(cal.events, ev)
	}
	ev.Status, ev.SendUpdates, ev.updated, cal.updated = "cancelled", send, now, now
	if ev.organizer.Self {
		ev.sequence++
	}
	w.WriteHeader(http.StatusNoContent)
}

// calListInstances lists the instances of a recurring event (its
// exceptions in place of the instances they replace), in start order;
// a single event is its own only instance.
func (s *Server) calListInstances(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	timeMin, timeMax, ok := queryWindow(w, q)
	if !ok {
		return
	}
	maxResults, ok := queryMaxResults(w, q, 250, 2500)
	if !ok {
		return
	}
	showDeleted, ok := queryBool(w, q, "showDeleted")
	if !ok {
		return
	}
	key := queryKey(q, "timeMin", "timeMax", "showDeleted") + c.email + c.params["calendarId"] + c.params["eventId"]
	offset, ok := readOffset(w, q, key)
	if !ok {
		return
	}
	a := s.api
	a.mu.Lock()
	cal := a.calStoreLocked(c.email).find(c.params["calendarId"])
	var master *calEvent
	if cal != nil {
		for _, ev := range cal.events {
			if ev.ID == c.params["eventId"] && ev.RecurringEventID == "" {
				master = ev
			}
		}
	}
	if master == nil || master.Status == "cancelled" {
		a.mu.Unlock()
		WriteAPIError(w, http.StatusNotFound, "Not Found", "notFound")
		return
	}
	horizon := timeMax
	if horizon.IsZero() {
		horizon = maxTime(s.Now(), timeMin).AddDate(2, 0, 0)
	}
	var items []eventJSON
	in := func(st, en evTime) bool {
		return (timeMin.IsZero() || en.instant(cal.loc).After(timeMin)) && (timeMax.IsZero() || st.instant(cal.loc).Before(timeMax))
	}
	if master.rule == nil {
		items = append(items, master.render(cal, cal.loc))
	} else {
		exceptions := map[string]*calEvent{}
		for _, ex := range cal.events {
			if ex.RecurringEventID == master.ID {
				exceptions[ex.origStart.suffix()] = ex
			}
		}
		for _, o := range master.expand(cal.loc, horizon) {
			ex := exceptions[o.start.suffix()]
			switch {
			case ex == nil:
				if in(o.start, o.end) {
					items = append(items, master.renderInstance(cal, o, cal.loc))
				}
			case ex.Status == "cancelled":
				if showDeleted && in(ex.origStart, o.end) {
					items = append(items, ex.renderCancelled(cal.loc))
				}
			case in(ex.start, ex.end):
				items = append(items, ex.render(cal, cal.loc))
			}
		}
	}
	calTZ, accessRole, summary, reminders, updated := cal.TimeZone, cal.AccessRole, cal.Summary, cal.reminders(), cal.updated
	a.mu.Unlock()
	out := eventsJSON{Kind: "calendar#events", Etag: fmt.Sprintf(`"%d"`, updated.UnixMicro()), Summary: summary, Updated: googleTime(updated),
		TimeZone: calTZ, AccessRole: accessRole, DefaultReminders: reminders, Items: []eventJSON{}}
	page, end := pageOf(items, offset, maxResults)
	out.Items = append(out.Items, page...)
	if end < len(items) {
		out.NextPageToken = pageToken(key, strconv.Itoa(end))
	}
	s.writeAPI(w, r, http.StatusOK, out)
}
