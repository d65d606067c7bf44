// Package providers defines what every provider offers mailcal: a Spec (its
// names, OAuth endpoints, scopes, identity, revocation, limits and words),
// the provider-neutral Mail and Calendar interfaces its API clients
// implement, the types they exchange and the error kinds they map their
// answers to. Tools speak only these; each provider lives in its own
// package, and package registry lists them.
package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers/htmltext"
)

// Mail is an account's mailbox.
type Mail interface {
	// Send sends a message. With ReplyTo set, the provider threads it as a
	// reply to that message (In-Reply-To, References, thread, "Re:").
	Send(ctx context.Context, m OutgoingMessage) (SentMessage, error)
	// List lists messages, newest first, with summary fields only.
	List(ctx context.Context, q MessageQuery) (MessagePage, error)
	// Get returns one message with its text body and attachment metadata.
	Get(ctx context.Context, id string) (Message, error)
	Reading
	Triage
	Composer
}

// Calendar is an account's calendars.
type Calendar interface {
	ListCalendars(ctx context.Context) ([]CalendarInfo, error)
	// ListEvents lists events between q.TimeMin and q.TimeMax with
	// recurring events expanded into instances, ordered by start time.
	ListEvents(ctx context.Context, q EventQuery) (EventPage, error)
	CreateEvent(ctx context.Context, e NewEvent) (Event, error)
	FreeBusyReader
	EventChanger
}

// Address is a mailbox: an optional display name and an email address.
type Address struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

// String renders the address for a header or a model: "Name <email>" or
// "email" (also when the name is the address itself). A name holding a
// character that separates addresses (a comma, say) is quoted, so that a
// list of them reads back unambiguously.
func (a Address) String() string {
	if a.Name == "" || strings.EqualFold(a.Name, a.Email) {
		return a.Email
	}
	name := a.Name
	if strings.ContainsAny(name, `,;:<>@"\()[]`) {
		name = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	}
	return name + " <" + a.Email + ">"
}

// OutgoingMessage is a message to send. Addresses and attachments are
// validated by the caller; the provider builds the wire format.
type OutgoingMessage struct {
	To, Cc, Bcc []Address
	Subject     string
	Text        string // plain-text body
	HTML        string // optional HTML alternative
	Attachments []Attachment
	// ReplyTo is the provider id of the message this one answers; empty for
	// a new conversation.
	ReplyTo string
}

// Attachment is a file to send.
type Attachment struct {
	Filename string
	MIMEType string
	Data     []byte
}

// SentMessage identifies a sent message.
type SentMessage struct {
	ID       string `json:"id"`
	ThreadID string `json:"thread_id"`
}

// MessageQuery selects messages.
type MessageQuery struct {
	Query      string // provider search syntax (e.g. "from:x is:unread")
	Label      string // label or folder id/name; empty: all mail but spam and trash
	UnreadOnly bool
	MaxResults int // 1..100
	PageToken  string
}

// MessageSummary is a listed message.
type MessageSummary struct {
	ID             string    `json:"id"`
	ThreadID       string    `json:"thread_id"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Subject        string    `json:"subject"`
	Date           time.Time `json:"date"`
	Snippet        string    `json:"snippet"`
	Labels         []string  `json:"labels"`
	Unread         bool      `json:"unread"`
	HasAttachments bool      `json:"has_attachments"`
}

// MessagePage is one page of a listing.
type MessagePage struct {
	Messages      []MessageSummary
	NextPageToken string
}

// Message is one message in full.
type Message struct {
	MessageSummary
	Cc        string `json:"cc,omitempty"`
	ReplyTo   string `json:"reply_to,omitempty"`
	MessageID string `json:"message_id,omitempty"` // the Message-ID header
	// BodyText is the body as text: the text/plain part, or the HTML part
	// turned into readable text. Not yet cut to any length.
	BodyText string `json:"body_text"`
	// BodyFromHTML is true when BodyText was converted from HTML.
	BodyFromHTML bool             `json:"body_from_html,omitempty"`
	Attachments  []AttachmentInfo `json:"attachments"`
	// Links are the body's links, numbered as the "[n]" markers BodyText
	// leaves in place of long and tracking URLs (htmltext.ConvertLinks,
	// htmltext.ShortenURLs).
	Links []htmltext.Link `json:"links,omitempty"`
}

// AttachmentInfo describes an attachment without its content.
type AttachmentInfo struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	MIMEType string `json:"mime_type"`
	Size     int64  `json:"size"`
}

// CalendarInfo is one calendar of the account.
type CalendarInfo struct {
	ID         string `json:"id"`
	Summary    string `json:"summary"`
	Primary    bool   `json:"primary"`
	TimeZone   string `json:"time_zone"`
	AccessRole string `json:"access_role"` // owner, writer, reader, freeBusyReader
}

// EventQuery selects events.
type EventQuery struct {
	CalendarID string    // "primary" or a calendar id
	TimeMin    time.Time // events ending after this
	TimeMax    time.Time // events starting before this
	Query      string    // free text
	MaxResults int       // 1..250
	PageToken  string
	TimeZone   string // IANA name the answer's times are given in; empty: the calendar's
}

// EventPage is one page of events.
type EventPage struct {
	Events        []Event
	NextPageToken string
	TimeZone      string // the zone the times are given in
}

// Event is a calendar event (or one instance of a recurring one).
type Event struct {
	ID               string     `json:"id"`
	Summary          string     `json:"summary"`
	Description      string     `json:"description,omitempty"`
	Start            string     `json:"start"` // RFC 3339 in the answer's zone, or YYYY-MM-DD when AllDay
	End              string     `json:"end"`   // likewise; for all-day events the exclusive end date
	AllDay           bool       `json:"all_day"`
	Location         string     `json:"location,omitempty"`
	Organizer        string     `json:"organizer,omitempty"`
	Attendees        []Attendee `json:"attendees,omitempty"`
	Status           string     `json:"status"` // confirmed, tentative, cancelled
	RecurringEventID string     `json:"recurring_event_id,omitempty"`
	HTMLLink         string     `json:"html_link,omitempty"`
	// JoinURL is the online meeting's link (Meet, Teams), when it has one.
	JoinURL string `json:"join_url,omitempty"`
	// Recurrence is a series' RFC 5545 rules, where the provider gives them.
	Recurrence []string `json:"recurrence,omitempty"`
	// IsOrganizer: the account organizes the event (known when read with
	// GetEvent or after a change; false in listings).
	IsOrganizer bool `json:"is_organizer,omitempty"`
	// Series: the event is a recurring series (its master); Invited: the
	// account is an attendee, not the organizer; SelfAddress: the
	// account's address as the attendees list it. Known with GetEvent.
	Series      bool   `json:"-"`
	Invited     bool   `json:"-"`
	SelfAddress string `json:"-"`
}

// Attendee is an event's guest.
type Attendee struct {
	Email    string `json:"email"`
	Name     string `json:"name,omitempty"`
	Response string `json:"response,omitempty"` // needsAction, accepted, declined, tentative
	// Self: the attendee is the account itself.
	Self bool `json:"self,omitempty"`
	// Optional: an optional guest (kept when the list is changed).
	Optional bool `json:"optional,omitempty"`
}

// NewEvent is an event to create. Start and End are either both timed
// (with TimeZone naming the zone of the wall-clock times, or carrying their
// own offset) or both all-day dates.
type NewEvent struct {
	CalendarID  string
	Summary     string
	Description string
	Location    string
	Start, End  time.Time
	AllDay      bool   // Start and End are dates; End is exclusive
	TimeZone    string // IANA name
	Attendees   []string
	// SendUpdates says whether attendees are emailed the invitation:
	// "all" or "none".
	SendUpdates string
	EventExtras
}

// Error kinds a provider maps its answers to. Tools turn them into advice.
var (
	ErrUnauthorized = errors.New("the provider refused the access token")    // 401: refresh once and retry
	ErrForbidden    = errors.New("the provider refused access")              // 403 other than rate limits (scope, policy)
	ErrNotFound     = errors.New("not found")                                // 404, 410
	ErrRateLimited  = errors.New("rate limited by the provider")             // 429, 403 rateLimitExceeded, after retries
	ErrInvalid      = errors.New("the provider refused the request")         // 400
	ErrUnavailable  = errors.New("the provider is unavailable")              // 5xx, timeouts, after retries
	ErrTooLarge     = errors.New("message too large")                        // over the provider's size limit
	ErrUncertain    = errors.New("the provider may or may not have done it") // a non-idempotent call failed after it may have been applied
	// ErrInvalidAnswer: the provider answered something mailcal cannot read
	// (not the documented JSON): retrying will not help.
	ErrInvalidAnswer = errors.New("the provider's answer could not be read")
)

// Error is a provider failure: one of the kinds above, the HTTP status and
// the provider's message (never a token or a raw body).
type Error struct {
	Kind       error
	Status     int
	Message    string
	RetryAfter time.Duration // for ErrRateLimited, when the provider said
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Kind.Error()
	}
	return fmt.Sprintf("%v: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Kind }

// FieldError is a tool argument the provider cannot accept, named as the
// tool names it ("subject", "to[2]", "attachments[0].filename").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
