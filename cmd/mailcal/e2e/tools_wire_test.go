//go:build unix

package e2e

import (
	"maps"
	"slices"
	"testing"
)

// --- the wire shapes of the tools' structured content (interface.md)

type ttRow struct {
	ID             string   `json:"id"`
	ThreadID       string   `json:"thread_id"`
	From           string   `json:"from"`
	To             string   `json:"to"`
	Subject        string   `json:"subject"`
	Date           string   `json:"date"`
	Snippet        string   `json:"snippet"`
	Labels         []string `json:"labels"`
	Unread         bool     `json:"unread"`
	HasAttachments bool     `json:"has_attachments"`
}

type ttList struct {
	Account       string  `json:"account"`
	Messages      []ttRow `json:"messages"`
	NextPageToken string  `json:"next_page_token"`
}

func (l ttList) ids() []string {
	out := make([]string, 0, len(l.Messages))
	for _, m := range l.Messages {
		out = append(out, m.ID)
	}
	return out
}

type ttAttachment struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	MIMEType string `json:"mime_type"`
	Size     int64  `json:"size"`
}

type ttMessage struct {
	Account        string         `json:"account"`
	ID             string         `json:"id"`
	ThreadID       string         `json:"thread_id"`
	From           string         `json:"from"`
	To             string         `json:"to"`
	Cc             string         `json:"cc"`
	Subject        string         `json:"subject"`
	Date           string         `json:"date"`
	Labels         []string       `json:"labels"`
	Unread         bool           `json:"unread"`
	BodyText       string         `json:"body_text"`
	BodyFromHTML   bool           `json:"body_from_html"`
	BodyChars      int            `json:"body_chars"`
	NextBodyOffset int            `json:"next_body_offset"`
	Attachments    []ttAttachment `json:"attachments"`
}

type ttSent struct {
	ID       string `json:"id"`
	ThreadID string `json:"thread_id"`
	Account  string `json:"account"`
}

type ttEvent struct {
	ID          string `json:"id"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Start       string `json:"start"`
	End         string `json:"end"`
	AllDay      bool   `json:"all_day"`
	Location    string `json:"location"`
	Organizer   string `json:"organizer"`
	Attendees   []struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Response string `json:"response"`
	} `json:"attendees"`
	Status           string `json:"status"`
	RecurringEventID string `json:"recurring_event_id"`
	HTMLLink         string `json:"html_link"`
}

type ttEvents struct {
	Account       string    `json:"account"`
	CalendarID    string    `json:"calendar_id"`
	TimeZone      string    `json:"time_zone"`
	Events        []ttEvent `json:"events"`
	NextPageToken string    `json:"next_page_token"`
}

func (l ttEvents) find(summary string) []ttEvent {
	var out []ttEvent
	for _, e := range l.Events {
		if e.Summary == summary {
			out = append(out, e)
		}
	}
	return out
}

func (l ttEvents) one(t *testing.T, summary string) ttEvent {
	t.Helper()
	got := l.find(summary)
	if len(got) != 1 {
		var all []string
		for _, e := range l.Events {
			all = append(all, e.Summary+" "+e.Start)
		}
		t.Fatalf("%d events %q listed, want 1; listed: %q", len(got), summary, all)
	}
	return got[0]
}

type ttCalendar struct {
	ID         string `json:"id"`
	Summary    string `json:"summary"`
	Primary    bool   `json:"primary"`
	TimeZone   string `json:"time_zone"`
	AccessRole string `json:"access_role"`
}

type ttCreated struct {
	Account    string  `json:"account"`
	CalendarID string  `json:"calendar_id"`
	Event      ttEvent `json:"event"`
}

var (
	ttReadTools = []string{"list_accounts", "check_account", "list_messages", "get_message", "list_events", "list_calendars", "find_free_time", "get_thread", "get_attachment", "list_labels", "list_drafts"}
	// ttEventHints are the event changes' destructive and idempotent hints:
	// an update overwrites fields and removes guests; a deletion is
	// destructive, and repeating it changes nothing more; an answer may be
	// emailed again.
	ttEventHints = map[string][]bool{"update_event": {true, false}, "delete_event": {true, true}, "respond_to_event": {false, false}}
	ttWriteTools = []string{"send_email", "create_event", "connect_account", "modify_messages", "forward_email", "create_draft", "update_draft", "send_draft", "delete_draft", "update_event", "delete_event", "respond_to_event"}
	// ttRowFields are the fields of a listed message, exactly (interface.md).
	ttRowFields = []string{"id", "thread_id", "from", "to", "subject", "date", "snippet", "labels", "unread", "has_attachments"}
)

// ttCheckTools checks a tools/list result: every tool (only the
// read-only ones when readOnly) with an object input schema, an object
// output schema and the right hints.
func ttCheckTools(t *testing.T, who string, result any, readOnly bool) {
	t.Helper()
	tl := asWire[wireTools](t, who, result)
	var names []string
	for _, tool := range tl.Tools {
		names = append(names, tool.Name)
		a := tool.Annotations
		if a == nil || a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: %s does not set all four hints: %+v", who, tool.Name, a)
			continue
		}
		if tool.Description == "" || tool.InputSchema["type"] != "object" {
			t.Errorf("%s: %s has no description or no object input schema", who, tool.Name)
		}
		if tool.OutputSchema["type"] != "object" || tool.OutputSchema["properties"] == nil {
			t.Errorf("%s: %s outputSchema = %v, want an object schema", who, tool.Name, tool.OutputSchema)
		}
		switch {
		case slices.Contains(ttReadTools, tool.Name):
			if !*a.ReadOnlyHint || *a.DestructiveHint {
				t.Errorf("%s: %s readOnlyHint %v destructiveHint %v, want true and false", who, tool.Name, *a.ReadOnlyHint, *a.DestructiveHint)
			}
		case ttChangeHints[tool.Name] != nil:
			want := ttChangeHints[tool.Name]
			if *a.ReadOnlyHint || !*a.OpenWorldHint || *a.DestructiveHint != want.destructive || *a.IdempotentHint != want.idempotent {
				t.Errorf("%s: %s readOnlyHint %v openWorldHint %v destructiveHint %v idempotentHint %v, want false, true, %v, %v",
					who, tool.Name, *a.ReadOnlyHint, *a.OpenWorldHint, *a.DestructiveHint, *a.IdempotentHint, want.destructive, want.idempotent)
			}
		case tool.Name == "create_event":
			if *a.ReadOnlyHint || !*a.OpenWorldHint || *a.IdempotentHint {
				t.Errorf("%s: %s readOnlyHint %v openWorldHint %v idempotentHint %v, want false, true, false",
					who, tool.Name, *a.ReadOnlyHint, *a.OpenWorldHint, *a.IdempotentHint)
			}
		case tool.Name == "modify_messages": // trash is destructive; repeating it changes nothing more
			if *a.ReadOnlyHint || !*a.DestructiveHint || !*a.IdempotentHint || !*a.OpenWorldHint {
				t.Errorf("%s: modify_messages hints %+v, want destructive, idempotent, open world, not read-only", who, a)
			}
		case ttEventHints[tool.Name] != nil:
			if want := ttEventHints[tool.Name]; *a.ReadOnlyHint || *a.DestructiveHint != want[0] || *a.IdempotentHint != want[1] || !*a.OpenWorldHint {
				t.Errorf("%s: %s readOnlyHint %v destructiveHint %v idempotentHint %v openWorldHint %v, want false, %v, %v, true",
					who, tool.Name, *a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint, want[0], want[1])
			}
		case tool.Name == "connect_account":
			if *a.ReadOnlyHint {
				t.Errorf("%s: connect_account is marked read-only", who)
			}
		default:
			t.Errorf("%s: unexpected tool %s", who, tool.Name)
		}
		// The output schema of list_messages has exactly the row fields.
		if tool.Name == "list_messages" {
			props, _ := tool.OutputSchema["properties"].(map[string]any)
			msgs, _ := props["messages"].(map[string]any)
			items, _ := msgs["items"].(map[string]any)
			rowProps, _ := items["properties"].(map[string]any)
			got := slices.Sorted(maps.Keys(rowProps))
			if want := slices.Sorted(slices.Values(ttRowFields)); !slices.Equal(got, want) {
				t.Errorf("%s: list_messages outputSchema rows have %v, want %v", who, got, want)
			}
			if props["next_page_token"] == nil {
				t.Errorf("%s: list_messages outputSchema has no next_page_token", who)
			}
		}
	}
	want := slices.Clone(ttReadTools)
	if !readOnly {
		want = append(want, ttWriteTools...)
	}
	slices.Sort(want)
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("%s: tools %v, want %v", who, names, want)
	}
}
