package google

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones on systems without a zoneinfo database

	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
)

// maxCalendarPages bounds ListCalendars (250 calendars a page).
const maxCalendarPages = 10

// Partial responses (the fields parameter): Google sends only what mapEvent
// and ListCalendars read, a third of an event's JSON.
const (
	eventFields    = "id,summary,description,location,status,recurringEventId,htmlLink,start,end,organizer(email,displayName),attendees(email,displayName,responseStatus),hangoutLink,conferenceData(entryPoints(entryPointType,uri))"
	eventsFields   = googleapi.Field("nextPageToken,timeZone,items(" + eventFields + ")")
	calendarFields = googleapi.Field("nextPageToken,items(id,summary,summaryOverride,primary,timeZone,accessRole)")
)

// calendars implements providers.Calendar over the Calendar API.
type calendars struct {
	hc   *http.Client // the account's client, for the reads decoded here (answers.go)
	base string       // the Calendar API's base URL, ending in "/"
	own  *ownCalendarCache

	newService func() (*calendar.Service, error)
	svcOnce    sync.Once
	svc        *calendar.Service
	svcErr     error
}

// service is the client library's Calendar service, made on first use.
func (c *calendars) service() (*calendar.Service, error) {
	c.svcOnce.Do(func() {
		if c.svc, c.svcErr = c.newService(); c.svcErr != nil {
			c.svcErr = fmt.Errorf("google: building the Calendar client: %w", c.svcErr)
		}
	})
	return c.svc, c.svcErr
}

var _ providers.Calendar = (*calendars)(nil)

// ListCalendars reads the account's calendar list, every page (at most
// 2,500 calendars).
func (c *calendars) ListCalendars(ctx context.Context) ([]providers.CalendarInfo, error) {
	svc, err := c.service()
	if err != nil {
		return nil, err
	}
	out := []providers.CalendarInfo{}
	token := ""
	for range maxCalendarPages {
		call := svc.CalendarList.List().MaxResults(250).Fields(calendarFields).Context(ctx)
		if token != "" {
			call = call.PageToken(token)
		}
		res, err := call.Do()
		if err != nil {
			return nil, mapError(err)
		}
		for _, it := range res.Items {
			if it == nil {
				continue
			}
			summary := it.Summary
			if it.SummaryOverride != "" {
				summary = it.SummaryOverride
			}
			out = append(out, providers.CalendarInfo{
				ID: it.Id, Summary: summary, Primary: it.Primary, TimeZone: it.TimeZone, AccessRole: it.AccessRole,
			})
		}
		token = res.NextPageToken
		if token == "" {
			break
		}
	}
	return out, nil
}

// ListEvents lists event instances (recurring events expanded) by start
// time, with the events.list request made and its answer decoded here
// (answers.go). Timed events are given in q.TimeZone, else in the zone of Google's
// answer (the calendar's); all-day events as dates.
func (c *calendars) ListEvents(ctx context.Context, q providers.EventQuery) (providers.EventPage, error) {
	var loc *time.Location
	if q.TimeZone != "" {
		var err error
		if loc, err = loadZone(q.TimeZone); err != nil {
			return providers.EventPage{}, err
		}
	}
	calID := q.CalendarID
	if calID == "" {
		calID = "primary"
	}
	params := url.Values{"singleEvents": {"true"}, "orderBy": {"startTime"}, "fields": {string(eventsFields)}, "alt": {"json"}, "prettyPrint": {"false"}}
	if !q.TimeMin.IsZero() {
		params.Set("timeMin", q.TimeMin.Format(time.RFC3339))
	}
	if !q.TimeMax.IsZero() {
		params.Set("timeMax", q.TimeMax.Format(time.RFC3339))
	}
	if s := strings.TrimSpace(q.Query); s != "" {
		params.Set("q", s)
	}
	if q.MaxResults > 0 {
		params.Set("maxResults", strconv.Itoa(min(q.MaxResults, 2500)))
	}
	if q.PageToken != "" {
		params.Set("pageToken", q.PageToken)
	}
	if q.TimeZone != "" {
		params.Set("timeZone", q.TimeZone)
	}
	var res eventsAnswer
	if err := getJSON(ctx, c.hc, c.base+"calendars/"+url.PathEscape(calID)+"/events?"+params.Encode(), &res); err != nil {
		return providers.EventPage{}, mapError(err)
	}
	zone := q.TimeZone
	if zone == "" {
		zone = res.TimeZone
		if zone != "" {
			loc, _ = loadZone(zone) // an unknown zone leaves Google's offsets as they are
		}
	}
	page := providers.EventPage{Events: make([]providers.Event, 0, len(res.Items)), NextPageToken: res.NextPageToken, TimeZone: zone}
	for i := range res.Items {
		page.Events = append(page.Events, mapEvent(&res.Items[i], loc))
	}
	return page, nil
}

// CreateEvent inserts an event. Timed events are sent as wall-clock times
// in e.TimeZone with that zone named: e.Start and e.End are instants, shown
// in e.TimeZone (so a caller holding an offset-less wall time parses it with
// time.ParseInLocation in that zone). Without e.TimeZone they are sent with
// their own offsets. All-day events are sent as dates (End exclusive).
//
// Like Send, an insert is not retried after it may have reached Google: a
// 5xx or a lost connection is ErrUncertain.
func (c *calendars) CreateEvent(ctx context.Context, e providers.NewEvent) (providers.Event, error) {
	var loc *time.Location
	if e.TimeZone != "" {
		var err error
		if loc, err = loadZone(e.TimeZone); err != nil {
			return providers.Event{}, err
		}
	}
	ev := &calendar.Event{Summary: e.Summary, Description: e.Description, Location: e.Location}
	if e.AllDay {
		ev.Start = &calendar.EventDateTime{Date: e.Start.Format(time.DateOnly)}
		ev.End = &calendar.EventDateTime{Date: e.End.Format(time.DateOnly)}
	} else {
		start, end := e.Start, e.End
		if loc != nil {
			start, end = start.In(loc), end.In(loc)
		}
		ev.Start = &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: e.TimeZone}
		ev.End = &calendar.EventDateTime{DateTime: end.Format(time.RFC3339), TimeZone: e.TimeZone}
	}
	for _, a := range e.Attendees {
		if a = strings.TrimSpace(a); a != "" {
			ev.Attendees = append(ev.Attendees, &calendar.EventAttendee{Email: a})
		}
	}
	conference, err := applyExtras(ev, e.EventExtras)
	if err != nil {
		return providers.Event{}, err
	}
	calID := e.CalendarID
	if calID == "" {
		calID = "primary"
	}
	svc, err := c.service()
	if err != nil {
		return providers.Event{}, err
	}
	call := svc.Events.Insert(calID, ev).Fields(eventFullFields)
	if conference {
		call = call.ConferenceDataVersion(1)
	}
	switch e.SendUpdates {
	case "all", "none", "externalOnly":
		call = call.SendUpdates(e.SendUpdates)
	case "":
	default:
		return providers.Event{}, &providers.FieldError{Field: "send_updates", Msg: fmt.Sprintf("%q: use all or none", e.SendUpdates)}
	}
	created, err := call.Context(ctx).Do()
	if err != nil {
		return providers.Event{}, mapUncertain(err, "the event may have been created: list the calendar's events before creating it again")
	}
	if loc == nil && created.Start != nil && created.Start.TimeZone != "" {
		loc, _ = loadZone(created.Start.TimeZone)
	}
	answer := eventOf(created)
	return mapEvent(&answer, loc), nil
}

// loadZone loads an IANA zone; a bad name is ErrInvalid naming time_zone.
// Zones loaded once are kept (time.LoadLocation reads the zone database on
// every call); only names that load are, so the cache holds at most the
// database's few hundred zones.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "Local" {
		return nil, invalidZone(name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalidZone(name)
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

var zoneCache sync.Map // IANA name → *time.Location

func invalidZone(name string) error {
	return &providers.Error{Kind: providers.ErrInvalid, Status: 400,
		Message: fmt.Sprintf("time_zone %q is not an IANA time zone name (like Europe/Paris, America/New_York or UTC)", name)}
}

// eventsAnswer is what ListEvents reads of an events.list answer (the
// fields of eventsFields), without pointers: decoding makes one value a
// page rather than one a field.
type eventsAnswer struct {
	NextPageToken string        `json:"nextPageToken"`
	TimeZone      string        `json:"timeZone"`
	Items         []eventAnswer `json:"items"`
}

// eventAnswer is an event as mapEvent reads it (eventFields).
type eventAnswer struct {
	ID               string          `json:"id"`
	Summary          string          `json:"summary"`
	Description      string          `json:"description"`
	Location         string          `json:"location"`
	Status           string          `json:"status"`
	RecurringEventID string          `json:"recurringEventId"`
	HTMLLink         string          `json:"htmlLink"`
	Start            eventTimeAnswer `json:"start"`
	End              eventTimeAnswer `json:"end"`
	Organizer        struct {
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
		Self        bool   `json:"self"`
	} `json:"organizer"`
	Attendees []attendeeAnswer `json:"attendees"`
	// The join link, listed too; the rest read by GetEvent and the
	// changes (eventFullFields), not listings.
	HangoutLink    string   `json:"hangoutLink"`
	Recurrence     []string `json:"recurrence"`
	ConferenceData struct {
		EntryPoints []struct {
			EntryPointType string `json:"entryPointType"`
			URI            string `json:"uri"`
		} `json:"entryPoints"`
	} `json:"conferenceData"`
}

type attendeeAnswer struct {
	Email          string `json:"email"`
	DisplayName    string `json:"displayName"`
	ResponseStatus string `json:"responseStatus"`
	Self           bool   `json:"self"`
	Optional       bool   `json:"optional"`
}

type eventTimeAnswer struct {
	Date     string `json:"date"`
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// eventOf is the part of the client library's event that mapEvent reads
// (CreateEvent's answer).
func eventOf(ev *calendar.Event) eventAnswer {
	out := eventAnswer{ID: ev.Id, Summary: ev.Summary, Description: ev.Description, Location: ev.Location,
		Status: ev.Status, RecurringEventID: ev.RecurringEventId, HTMLLink: ev.HtmlLink}
	for _, t := range []struct {
		from *calendar.EventDateTime
		to   *eventTimeAnswer
	}{{ev.Start, &out.Start}, {ev.End, &out.End}} {
		if t.from != nil {
			*t.to = eventTimeAnswer{Date: t.from.Date, DateTime: t.from.DateTime, TimeZone: t.from.TimeZone}
		}
	}
	if o := ev.Organizer; o != nil {
		out.Organizer.Email, out.Organizer.DisplayName, out.Organizer.Self = o.Email, o.DisplayName, o.Self
	}
	for _, a := range ev.Attendees {
		if a != nil {
			out.Attendees = append(out.Attendees, attendeeAnswer{a.Email, a.DisplayName, a.ResponseStatus, a.Self, a.Optional})
		}
	}
	out.HangoutLink, out.Recurrence = ev.HangoutLink, ev.Recurrence
	if cd := ev.ConferenceData; cd != nil {
		for _, ep := range cd.EntryPoints {
			if ep != nil {
				out.ConferenceData.EntryPoints = append(out.ConferenceData.EntryPoints, struct {
					EntryPointType string `json:"entryPointType"`
					URI            string `json:"uri"`
				}{ep.EntryPointType, ep.Uri})
			}
		}
	}
	return out
}

// mapEvent maps a Calendar event; timed starts and ends are converted into
// loc (nil: left as Google gave them).
func mapEvent(ev *eventAnswer, loc *time.Location) providers.Event {
	out := providers.Event{
		ID:               ev.ID,
		Summary:          ev.Summary,
		Description:      ev.Description,
		Location:         ev.Location,
		Status:           ev.Status,
		RecurringEventID: ev.RecurringEventID,
		HTMLLink:         ev.HTMLLink,
	}
	if out.Status == "" {
		out.Status = "confirmed"
	}
	if ev.Start.Date != "" {
		out.AllDay = true
		out.Start, out.End = ev.Start.Date, ev.End.Date
	} else {
		out.Start, out.End = eventTime(ev.Start, loc), eventTime(ev.End, loc)
	}
	if o := ev.Organizer; o.Email != "" || o.DisplayName != "" {
		out.Organizer = providers.Address{Name: o.DisplayName, Email: o.Email}.String()
	}
	for _, a := range ev.Attendees {
		out.Attendees = append(out.Attendees, providers.Attendee{Email: a.Email, Name: a.DisplayName, Response: a.ResponseStatus, Self: a.Self, Optional: a.Optional})
	}
	out.IsOrganizer = ev.Organizer.Self
	for _, a := range ev.Attendees {
		if a.Self && !out.IsOrganizer {
			out.Invited, out.SelfAddress = true, a.Email
		}
	}
	out.Recurrence, out.Series = ev.Recurrence, len(ev.Recurrence) > 0
	out.JoinURL = ev.HangoutLink
	for _, ep := range ev.ConferenceData.EntryPoints {
		if ep.EntryPointType == "video" && ep.URI != "" {
			out.JoinURL = ep.URI
			break
		}
	}
	return out
}

func eventTime(t eventTimeAnswer, loc *time.Location) string {
	if t.DateTime == "" {
		return t.Date
	}
	at, err := time.Parse(time.RFC3339, t.DateTime)
	if err != nil {
		return t.DateTime
	}
	if loc == nil && t.TimeZone != "" {
		loc, _ = loadZone(t.TimeZone)
	}
	if loc != nil {
		at = at.In(loc)
	}
	return at.Format(time.RFC3339)
}
