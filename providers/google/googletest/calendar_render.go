package googletest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// The Calendar API's JSON shapes and how stored events are rendered:
// events, instances of recurring events and cancelled instances.

type personJSON struct {
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Self        bool   `json:"self,omitempty"`
}

type timeJSON struct {
	Date     string `json:"date,omitempty"`
	DateTime string `json:"dateTime,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

type attendeeJSON struct {
	Email          string `json:"email"`
	DisplayName    string `json:"displayName,omitempty"`
	Organizer      bool   `json:"organizer,omitempty"`
	Self           bool   `json:"self,omitempty"`
	Optional       bool   `json:"optional,omitempty"`
	ResponseStatus string `json:"responseStatus"`
	Comment        string `json:"comment,omitempty"`
}

type reminderJSON struct {
	Method  string `json:"method"`
	Minutes int    `json:"minutes"`
}

type eventJSON struct {
	Kind              string          `json:"kind"`
	Etag              string          `json:"etag"`
	ID                string          `json:"id"`
	Status            string          `json:"status,omitempty"`
	HTMLLink          string          `json:"htmlLink,omitempty"`
	Created           string          `json:"created,omitempty"`
	Updated           string          `json:"updated,omitempty"`
	Summary           string          `json:"summary,omitempty"`
	Description       string          `json:"description,omitempty"`
	Location          string          `json:"location,omitempty"`
	Creator           *personJSON     `json:"creator,omitempty"`
	Organizer         *personJSON     `json:"organizer,omitempty"`
	Start             *timeJSON       `json:"start,omitempty"`
	End               *timeJSON       `json:"end,omitempty"`
	Recurrence        []string        `json:"recurrence,omitempty"`
	RecurringEventID  string          `json:"recurringEventId,omitempty"`
	OriginalStartTime *timeJSON       `json:"originalStartTime,omitempty"`
	ICalUID           string          `json:"iCalUID,omitempty"`
	Sequence          *int            `json:"sequence,omitempty"`
	Attendees         []attendeeJSON  `json:"attendees,omitempty"`
	HangoutLink       string          `json:"hangoutLink,omitempty"`
	Reminders         *remindersJSON  `json:"reminders,omitempty"`
	ConferenceData    *conferenceJSON `json:"conferenceData,omitempty"`
	EventType         string          `json:"eventType,omitempty"`
}

type remindersJSON struct {
	UseDefault bool           `json:"useDefault"`
	Overrides  []reminderJSON `json:"overrides,omitempty"`
}

type conferenceJSON struct {
	ConferenceID       string `json:"conferenceId"`
	ConferenceSolution struct {
		Key struct {
			Type string `json:"type"`
		} `json:"key"`
		Name string `json:"name"`
	} `json:"conferenceSolution"`
	EntryPoints   []entryPointJSON   `json:"entryPoints"`
	CreateRequest *createRequestJSON `json:"createRequest,omitempty"`
}

type entryPointJSON struct {
	EntryPointType string `json:"entryPointType"`
	URI            string `json:"uri"`
	Label          string `json:"label,omitempty"`
}

type createRequestJSON struct {
	RequestID string `json:"requestId"`
	Status    struct {
		StatusCode string `json:"statusCode"`
	} `json:"status"`
}

func renderTime(t evTime, loc *time.Location) *timeJSON {
	if t.date != "" {
		return &timeJSON{Date: t.date}
	}
	return &timeJSON{DateTime: t.t.In(loc).Format(time.RFC3339), TimeZone: t.tz}
}

func googleTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (ev *calEvent) render(cal *fakeCal, loc *time.Location) eventJSON {
	seq := ev.sequence
	out := eventJSON{
		Kind: "calendar#event", Etag: fmt.Sprintf(`"%d"`, ev.updated.UnixMicro()*2), ID: ev.ID, Status: ev.Status,
		HTMLLink: "https://www.google.com/calendar/event?eid=" + base64.RawURLEncoding.EncodeToString([]byte(ev.ID+" "+cal.ID)),
		Created:  googleTime(ev.Created), Updated: googleTime(ev.updated),
		Summary: ev.Summary, Description: ev.Description, Location: ev.Location,
		Creator: &ev.creator, Organizer: &ev.organizer,
		Start: renderTime(ev.start, loc), End: renderTime(ev.end, loc),
		Recurrence: ev.Recurrence, ICalUID: ev.iCalUID, Sequence: &seq, HangoutLink: ev.HangoutLink,
		Reminders: &remindersJSON{UseDefault: ev.Reminders == nil},
		EventType: "default",
	}
	for _, m := range ev.Reminders {
		out.Reminders.Overrides = append(out.Reminders.Overrides, reminderJSON{"popup", m})
	}
	if ev.HangoutLink != "" {
		out.ConferenceData = meetConference(ev.HangoutLink, ev.conferenceRequest)
	}
	if ev.RecurringEventID != "" {
		out.RecurringEventID, out.OriginalStartTime = ev.RecurringEventID, renderTime(ev.origStart, loc)
	}
	for _, at := range ev.Attendees {
		rs := at.ResponseStatus
		if rs == "" {
			rs = "needsAction"
		}
		self := strings.EqualFold(at.Email, ev.calendarEmail) || strings.EqualFold(at.Email, cal.ID)
		out.Attendees = append(out.Attendees, attendeeJSON{Email: at.Email, DisplayName: at.DisplayName, Organizer: at.Organizer,
			Self: self, Optional: at.Optional, ResponseStatus: rs, Comment: at.Comment})
	}
	return out
}

// renderInstance renders one instance of a recurring event.
func (ev *calEvent) renderInstance(cal *fakeCal, o occurrence, loc *time.Location) eventJSON {
	out := ev.render(cal, loc)
	out.ID = ev.ID + "_" + o.start.suffix()
	out.Start, out.End = renderTime(o.start, loc), renderTime(o.end, loc)
	out.Recurrence = nil
	out.RecurringEventID, out.OriginalStartTime = ev.ID, renderTime(o.start, loc)
	return out
}

// renderCancelled is how Google shows a cancelled instance of a recurring
// event: id, status and the instance it removes.
func (ev *calEvent) renderCancelled(loc *time.Location) eventJSON {
	return eventJSON{Kind: "calendar#event", Etag: fmt.Sprintf(`"%d"`, ev.updated.UnixMicro()*2), ID: ev.ID, Status: "cancelled",
		RecurringEventID: ev.RecurringEventID, OriginalStartTime: renderTime(ev.origStart, loc)}
}
