package microsoft

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// Calendar limits.
const (
	defaultEventPage = 50
	maxEventPage     = 250
	maxCalendarPages = 10
)

// eventFields are what ListEvents asks for ($select).
const eventFields = "id,subject,bodyPreview,start,end,isAllDay,location,organizer,attendees,isCancelled,showAs,type,seriesMasterId,webLink,onlineMeeting"

// calendars implements providers.Calendar over Graph.
type calendars struct {
	g *graph
}

var _ providers.Calendar = (*calendars)(nil)

// mailboxZone is the mailbox's time zone (mailboxSettings, a Windows or an
// IANA name) as an IANA zone, kept an hour per account; nil when it cannot
// be read (MailboxSettings.Read not granted) or names no known zone.
func (c *calendars) mailboxZone(ctx context.Context) *time.Location {
	api := c.g.api
	key := c.g.account
	if key == "" {
		key = tokenKey(ctx, c.g.src)
	}
	if name, ok := api.zones.get(key, api.now()); ok {
		return ianaZone(name)
	}
	var res struct {
		Value string `json:"value"`
	}
	err := c.g.do(ctx, req{method: http.MethodGet, path: "/me/mailboxSettings/timeZone", need: "MailboxSettings.Read"}, &res)
	var pe *providers.Error
	switch {
	case err == nil:
		if loc := ianaZone(res.Value); loc != nil {
			api.zones.put(key, loc.String(), api.now())
			return loc
		}
		api.zones.put(key, "", api.now())
	case errors.As(err, &pe) && (errors.Is(pe.Kind, providers.ErrForbidden) || errors.Is(pe.Kind, providers.ErrNotFound)):
		api.zones.put(key, "", api.now()) // not granted: UTC, without asking again for a while
	}
	return nil
}

// calendar is Graph's calendar resource.
type calendar struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefaultCalendar"`
	CanEdit   bool   `json:"canEdit"`
	Owner     *struct {
		Address string `json:"address"`
	} `json:"owner"`
}

// ListCalendars reads the account's calendars (at most 10 pages of 250).
// Outlook calendars have no zone of their own: each gets the mailbox's.
// Access: owner (the account's own), writer (can edit), reader.
func (c *calendars) ListCalendars(ctx context.Context) ([]providers.CalendarInfo, error) {
	zone := ""
	if loc := c.mailboxZone(ctx); loc != nil {
		zone = loc.String()
	}
	out := []providers.CalendarInfo{}
	var tok pageToken
	hash := listingHash("calendars")
	for range maxCalendarPages {
		params := url.Values{"$top": {"250"}, "$select": {"id,name,isDefaultCalendar,canEdit,owner"}}
		tok.apply(params)
		var res struct {
			Value    []calendar `json:"value"`
			NextLink string     `json:"@odata.nextLink"`
		}
		if err := c.g.do(ctx, req{method: http.MethodGet, path: "/me/calendars", query: params, need: scopeCalRead}, &res); err != nil {
			return nil, err
		}
		for _, cal := range res.Value {
			role := "reader"
			switch {
			case cal.IsDefault || cal.Owner != nil && c.g.account != "" && strings.EqualFold(cal.Owner.Address, c.g.account):
				role = "owner"
			case cal.CanEdit:
				role = "writer"
			}
			out = append(out, providers.CalendarInfo{ID: cal.ID, Summary: cal.Name, Primary: cal.IsDefault, TimeZone: zone, AccessRole: role})
		}
		next, err := nextToken(res.NextLink, hash, 0, 0)
		if err != nil || next == "" {
			return out, err
		}
		if tok, err = decodePageToken(next, hash); err != nil {
			return out, err
		}
	}
	return out, nil
}

// calendarPath is a calendar's path: "primary" (or empty) is the default
// calendar.
func calendarPath(id string) (string, error) {
	if id == "" || strings.EqualFold(id, "primary") {
		return "/me/calendar", nil
	}
	if err := checkID("calendar_id", id); err != nil {
		return "", err
	}
	return "/me/calendars/" + url.PathEscape(id), nil
}

// event is Graph's event resource, the fields mailcal reads.
type event struct {
	ID          string       `json:"id"`
	Subject     string       `json:"subject"`
	BodyPreview string       `json:"bodyPreview"`
	Start       dateTimeZone `json:"start"`
	End         dateTimeZone `json:"end"`
	IsAllDay    bool         `json:"isAllDay"`
	Location    struct {
		DisplayName string `json:"displayName"`
	} `json:"location"`
	Organizer *recipient `json:"organizer"`
	Attendees []struct {
		recipient
		Type   string `json:"type"`
		Status struct {
			Response string `json:"response"`
		} `json:"status"`
	} `json:"attendees"`
	IsCancelled    bool   `json:"isCancelled"`
	ShowAs         string `json:"showAs"`
	Type           string `json:"type"`
	SeriesMasterID string `json:"seriesMasterId"`
	WebLink        string `json:"webLink"`
	// Read by GetEvent and the changes (eventFullFields), not listings.
	IsOrganizer   bool `json:"isOrganizer"`
	OnlineMeeting *struct {
		JoinURL string `json:"joinUrl"`
	} `json:"onlineMeeting"`
	ResponseStatus *struct {
		Response string `json:"response"`
	} `json:"responseStatus"`
}

// dateTimeZone is Graph's dateTimeTimeZone: a wall-clock time and the zone
// it is in (a Windows or an IANA name).
type dateTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// instant reads a dateTimeZone ("2026-10-01T09:00:00.0000000" in its zone).
func (d dateTimeZone) instant() (time.Time, bool) {
	loc := ianaZone(d.TimeZone)
	if loc == nil {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", d.DateTime, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// ListEvents lists the occurrences, exceptions and single events of a
// calendar in a window (calendarView: recurring events expanded), by start
// time. Graph is asked for UTC times (Prefer: outlook.timezone="UTC"),
// which are converted here into q.TimeZone, else the mailbox's zone, else
// UTC: exact for every IANA zone, whatever Windows zone Graph would pick.
// All-day events are dates (Graph gives them midnight to midnight whatever
// the zone). Cancelled meetings still in the calendar are marked
// "cancelled". A query is matched here, on each page, against subject,
// preview, location, organizer and attendees (calendarView has no search):
// a page may hold fewer than max_results events and still have a next page.
// A next page continues the first page's window.
func (c *calendars) ListEvents(ctx context.Context, q providers.EventQuery) (providers.EventPage, error) {
	loc := time.UTC
	if q.TimeZone != "" {
		var err error
		if loc, err = loadZone(q.TimeZone); err != nil {
			return providers.EventPage{}, err
		}
	} else if l := c.mailboxZone(ctx); l != nil {
		loc = l
	}
	base, err := calendarPath(q.CalendarID)
	if err != nil {
		return providers.EventPage{}, err
	}
	query := strings.TrimSpace(q.Query)
	hash := listingHash("events", base, query)
	start, end := q.TimeMin, q.TimeMax
	var tok pageToken
	if q.PageToken != "" {
		if tok, err = decodePageToken(q.PageToken, hash); err != nil {
			return providers.EventPage{}, err
		}
		start, end = time.Unix(tok.Start, 0), time.Unix(tok.End, 0)
	}
	if start.IsZero() || end.IsZero() || !end.After(start) {
		return providers.EventPage{}, &providers.FieldError{Field: "time_max", Msg: "an Outlook calendar view needs a window: time_min before time_max"}
	}
	n := q.MaxResults
	if n <= 0 {
		n = defaultEventPage
	}
	params := url.Values{
		"startDateTime": {start.UTC().Format(time.RFC3339)},
		"endDateTime":   {end.UTC().Format(time.RFC3339)},
		"$select":       {eventFields},
		"$orderby":      {"start/dateTime"},
		"$top":          {strconv.Itoa(min(n, maxEventPage))},
	}
	tok.apply(params)
	var res struct {
		Value    []event `json:"value"`
		NextLink string  `json:"@odata.nextLink"`
	}
	err = c.g.do(ctx, req{method: http.MethodGet, path: base + "/calendarView", query: params, prefer: []string{`outlook.timezone="UTC"`}, need: scopeCalRead}, &res)
	if err != nil {
		return providers.EventPage{}, notFoundCalendar(err, q.CalendarID)
	}
	page := providers.EventPage{Events: make([]providers.Event, 0, len(res.Value)), TimeZone: loc.String()}
	for _, ev := range res.Value {
		if ev.ID == "" || query != "" && !eventMatches(ev, query) {
			continue
		}
		page.Events = append(page.Events, mapEvent(ev, loc))
	}
	page.NextPageToken, err = nextToken(res.NextLink, hash, start.Unix(), end.Unix())
	return page, err
}

func notFoundCalendar(err error, id string) error {
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) && id != "" && !strings.EqualFold(id, "primary") {
		return &providers.Error{Kind: providers.ErrNotFound, Status: pe.Status, Message: fmt.Sprintf("calendar %q does not exist (list_calendars gives the ids): %s", clip(id), pe.Message)}
	}
	return err
}

func eventMatches(ev event, query string) bool {
	hay := []string{ev.Subject, ev.BodyPreview, ev.Location.DisplayName}
	if ev.Organizer != nil {
		hay = append(hay, ev.Organizer.String())
	}
	for _, a := range ev.Attendees {
		hay = append(hay, a.String())
	}
	text := strings.ToLower(strings.Join(hay, "\n"))
	for _, w := range strings.Fields(strings.ToLower(query)) {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// mapEvent maps a Graph event; timed starts and ends are given in loc.
func mapEvent(ev event, loc *time.Location) providers.Event {
	out := providers.Event{
		ID:          ev.ID,
		Summary:     ev.Subject,
		Description: strings.TrimSpace(ev.BodyPreview),
		Location:    ev.Location.DisplayName,
		AllDay:      ev.IsAllDay,
		HTMLLink:    ev.WebLink,
		Status:      "confirmed",
	}
	switch {
	case ev.IsCancelled:
		out.Status = "cancelled"
	case strings.EqualFold(ev.ShowAs, "tentative"):
		out.Status = "tentative"
	}
	if ev.Type == "occurrence" || ev.Type == "exception" {
		out.RecurringEventID = ev.SeriesMasterID
	}
	if ev.IsAllDay {
		out.Start, out.End = datePart(ev.Start.DateTime), datePart(ev.End.DateTime)
	} else {
		out.Start, out.End = timeIn(ev.Start, loc), timeIn(ev.End, loc)
	}
	if ev.Organizer != nil {
		out.Organizer = ev.Organizer.String()
	}
	for _, a := range ev.Attendees {
		out.Attendees = append(out.Attendees, providers.Attendee{Email: a.EmailAddress.Address, Name: a.EmailAddress.Name, Response: response(a.Status.Response),
			Optional: a.Type == "optional"})
	}
	if ev.OnlineMeeting != nil {
		out.JoinURL = ev.OnlineMeeting.JoinURL
	}
	out.IsOrganizer, out.Series = ev.IsOrganizer, ev.Type == "seriesMaster"
	// An event in the account's calendar it does not organize is one it
	// was invited to (Graph's responseStatus is its own answer).
	out.Invited = !ev.IsOrganizer && ev.ResponseStatus != nil
	return out
}

// response maps Graph's responseType to Google's words.
func response(r string) string {
	switch r {
	case "accepted", "organizer":
		return "accepted"
	case "tentativelyAccepted":
		return "tentative"
	case "declined":
		return "declined"
	}
	return "needsAction"
}

func datePart(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

func timeIn(d dateTimeZone, loc *time.Location) string {
	t, ok := d.instant()
	if !ok {
		return d.DateTime
	}
	return t.In(loc).Format(time.RFC3339)
}

// loadZone loads an IANA zone; a bad name is ErrInvalid naming time_zone.
func loadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if name == "Local" || err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalid, Status: 400,
			Message: fmt.Sprintf("time_zone %q is not an IANA time zone name (like Europe/Paris, America/New_York or UTC)", clip(name))}
	}
	return loc, nil
}

// CreateEvent creates an event; Outlook sends the invitations to its
// attendees (Graph has no way to create an event with attendees without
// inviting them: SendUpdates "none" is refused). Timed events are sent as
// wall-clock times in e.TimeZone under its Windows name (or a Windows zone
// with the same rules; else as UTC times). The request carries a
// transactionId, so Graph creates one event however often it is repeated:
// it is retried like an idempotent request, and an outcome still unknown
// after that is ErrUncertain.
func (c *calendars) CreateEvent(ctx context.Context, e providers.NewEvent) (providers.Event, error) {
	base, err := calendarPath(e.CalendarID)
	if err != nil {
		return providers.Event{}, err
	}
	switch e.SendUpdates {
	case "", "all":
	case "none":
		if len(e.Attendees) > 0 {
			return providers.Event{}, &providers.FieldError{Field: "send_updates", Msg: "Outlook always invites the attendees of a new event: use all, or leave attendees out"}
		}
	default:
		return providers.Event{}, &providers.FieldError{Field: "send_updates", Msg: fmt.Sprintf("%q: use all or none", e.SendUpdates)}
	}
	loc := time.UTC
	if e.TimeZone != "" {
		if loc, err = loadZone(e.TimeZone); err != nil {
			return providers.Event{}, err
		}
	}
	body := map[string]any{"subject": e.Summary, "transactionId": newTransactionID()}
	if e.Description != "" {
		body["body"] = map[string]string{"contentType": "text", "content": e.Description}
	}
	if e.Location != "" {
		body["location"] = map[string]string{"displayName": e.Location}
	}
	if e.AllDay {
		body["isAllDay"] = true
		body["start"] = dateTimeZone{DateTime: e.Start.Format(time.DateOnly) + "T00:00:00", TimeZone: "UTC"}
		body["end"] = dateTimeZone{DateTime: e.End.Format(time.DateOnly) + "T00:00:00", TimeZone: "UTC"}
	} else {
		zone := windowsZone(loc, e.Start, e.End)
		at := loc
		if zone == "" {
			zone, at = "UTC", time.UTC
		}
		body["start"] = dateTimeZone{DateTime: e.Start.In(at).Format("2006-01-02T15:04:05"), TimeZone: zone}
		body["end"] = dateTimeZone{DateTime: e.End.In(at).Format("2006-01-02T15:04:05"), TimeZone: zone}
	}
	var attendees []map[string]any
	for _, a := range e.Attendees {
		if a = strings.TrimSpace(a); a != "" {
			attendees = append(attendees, map[string]any{"emailAddress": map[string]string{"address": a}, "type": "required"})
		}
	}
	if len(attendees) > 0 {
		body["attendees"] = attendees
	}
	if err := c.extras(ctx, body, e.EventExtras, e.AllDay, e.Start, loc); err != nil {
		return providers.Event{}, err
	}
	var created event
	err = c.g.do(ctx, req{method: http.MethodPost, path: base + "/events", body: body, idempotent: true,
		prefer: []string{`outlook.timezone="UTC"`}, need: scopeCalReadWrite}, &created)
	if err != nil {
		return providers.Event{}, mapUncertain(notFoundCalendar(err, e.CalendarID), "the event may have been created: list the calendar's events before creating it again")
	}
	return mapEvent(created, loc), nil
}

func newTransactionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
