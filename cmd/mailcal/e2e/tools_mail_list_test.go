//go:build unix

package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// testListRequests: list_messages makes one list call and one metadata get
// per message, the gets in one batch request: two round trips (the fake
// adds 50 ms to each).
func (e *ttEnv) testListRequests(t *testing.T) {
	fg := e.fg
	// The account's first listing learns its labels' names (one
	// labels.list, kept for 5 minutes for all its calls).
	fg.ResetAPIStats()
	e.ok(t, "list_messages", map[string]any{"max_results": 100}, nil)
	if n := fg.APIRequests("/gmail/v1/users/me/labels"); n != 1 {
		t.Errorf("%d labels.list calls for a first listing of labelled mail, want 1", n)
	}
	fg.ResetAPIStats()
	fg.SetAPILatency(50 * time.Millisecond)
	start := time.Now()
	var l ttList
	e.ok(t, "list_messages", nil, &l)
	elapsed := time.Since(start)
	fg.SetAPILatency(0)
	gets := fg.APIRequests("/gmail/v1/users/me/messages/")
	lists := fg.APIRequests("/gmail/v1/users/me/messages") - gets
	trips, batches := fg.HTTPRequests("/"), fg.HTTPRequests("/batch/gmail/v1")
	t.Logf("default list_messages: %d rows, %d list + %d get calls in %d round trips (%d batches), %s with 50 ms per round trip",
		len(l.Messages), lists, gets, trips, batches, elapsed.Round(time.Millisecond))
	if len(l.Messages) != 20 || l.NextPageToken == "" {
		t.Errorf("default list_messages: %d rows, next_page_token %q; want 20 and a token", len(l.Messages), l.NextPageToken)
	}
	if lists != 1 || gets != len(l.Messages) {
		t.Errorf("%d list and %d get calls for %d rows, want 1 and %d", lists, gets, len(l.Messages), len(l.Messages))
	}
	if other := fg.APIRequests("/") - lists - gets; other != 0 {
		t.Errorf("%d other API calls (labels, profile…), want none", other)
	}
	if trips != 2 || batches != 1 {
		t.Errorf("%d round trips (%d batches) for a page: want the list and one batch of the gets", trips, batches)
	}

	// A page of up to 7 in label Work (2 messages): one list and 2 gets; the
	// label's name is known from the first listing: no labels call.
	fg.ResetAPIStats()
	e.ok(t, "list_messages", map[string]any{"max_results": 7, "label": "Work"}, &l)
	if got, want := e.keysOf(l.ids()), []string{"github", "report"}; !slices.Equal(got, want) {
		t.Errorf("label Work: %v, want %v", got, want)
	}
	gets = fg.APIRequests("/gmail/v1/users/me/messages/")
	if lists, labels := fg.APIRequests("/gmail/v1/users/me/messages")-gets, fg.APIRequests("/gmail/v1/users/me/labels"); lists != 1 || gets != 2 || labels != 0 {
		t.Errorf("label Work: %d list, %d get and %d labels requests, want 1, 2 and 0", lists, gets, labels)
	}
}

// testListRows: the rows' fields, exactly those of interface.md, with
// decoded headers, dates, labels and flags.
func (e *ttEnv) testListRows(t *testing.T) {
	t.Parallel()
	r := e.ok(t, "list_messages", map[string]any{"max_results": 100}, nil)
	var raw struct {
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.StructuredContent, &top); err != nil {
		t.Fatal(err)
	}
	for k := range top {
		if k != "messages" && k != "next_page_token" && k != "account" && k != "time_zone" {
			t.Errorf("list_messages structured content has %q: want messages, next_page_token, time_zone (and account)", k)
		}
	}
	if _, ok := top["next_page_token"]; ok {
		t.Errorf("the last page has a next_page_token: %s", top["next_page_token"])
	}
	json.Unmarshal(r.StructuredContent, &raw)
	for _, m := range raw.Messages {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, slices.Sorted(slices.Values(ttRowFields))) {
			t.Fatalf("a row has fields %v, want exactly %v", got, ttRowFields)
		}
	}
	var l ttList
	json.Unmarshal(r.StructuredContent, &l)
	// Everything but spam and trash, newest first.
	var want []string
	for k := range e.f.Messages {
		if k != "spam" && k != "trash" {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	if got := e.keysOf(l.ids()); !slices.Equal(got, want) {
		t.Errorf("list_messages max_results 100: %v, want %v", got, want)
	}
	if l.Account != alice {
		t.Errorf("account %q, want %s", l.Account, alice)
	}
	rows := map[string]ttRow{}
	var prev time.Time
	for i, m := range l.Messages {
		rows[e.keyOf(m.ID)] = m
		d, err := time.Parse(time.RFC3339, m.Date)
		if err != nil {
			t.Errorf("row %s: date %q is not RFC 3339", m.ID, m.Date)
			continue
		}
		if i > 0 && d.After(prev) {
			t.Errorf("row %d (%s) is newer than the one before: not newest first", i, e.keyOf(m.ID))
		}
		prev = d
		if m.ThreadID == "" || m.From == "" || m.Subject == "" || m.Labels == nil {
			t.Errorf("row %s lacks thread_id, from, subject or labels: %+v", e.keyOf(m.ID), m)
		}
	}
	report := rows["report"]
	if report.From != "Dave Davis <dave@example.com>" || !strings.Contains(report.To, alice) || report.Subject != "Q3 report draft" ||
		!report.Unread || !report.HasAttachments || !strings.Contains(report.Snippet, "Q3 report") ||
		!slices.Contains(report.Labels, "UNREAD") || !slices.Contains(report.Labels, "IMPORTANT") {
		t.Errorf("report row %+v", report)
	}
	if d, _ := time.Parse(time.RFC3339, report.Date); d.Sub(e.f.Now.Add(-2*time.Hour)).Abs() > 2*time.Second {
		t.Errorf("report row date %s, want 2 hours before %s", report.Date, e.f.Now.Format(time.RFC3339))
	}
	if w := rows["welcome"]; w.Unread || w.HasAttachments {
		t.Errorf("welcome row %+v: want read, no attachments", w)
	}
	if u := rows["umlaut"]; u.Subject != "Grüße aus München – Termin nächste Woche" || u.From != "Jürgen Müller <juergen.mueller@example.de>" {
		t.Errorf("umlaut row: subject %q from %q, want them decoded", u.Subject, u.From)
	}
	if l1 := rows["latin1"]; l1.Subject != "Réunion à Paris" || !strings.HasPrefix(l1.From, "François Dupont") {
		t.Errorf("latin1 row: subject %q from %q, want them decoded from ISO-8859-1", l1.Subject, l1.From)
	}
	// Every date in one zone, said once (the account's once a calendar
	// answer named it, else UTC), whatever zone each message was sent from.
	var zone string
	json.Unmarshal(top["time_zone"], &zone)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("list_messages time_zone %q: %v", zone, err)
	}
	for id, m := range rows {
		d, err := time.Parse(time.RFC3339, m.Date)
		if _, off := d.Zone(); err != nil || off != func() int { _, o := d.In(loc).Zone(); return o }() {
			t.Errorf("row %s date %q is not in %s", id, m.Date, zone)
		}
	}
	if j := rows["japanese"]; j.Subject != "会議の議事録" {
		t.Errorf("japanese row: subject %q date %q", j.Subject, j.Date)
	}
	if !strings.Contains(strings.SplitN(r.text(), "\n", 2)[0], "times in "+zone) {
		t.Errorf("list_messages header does not say the zone %s: %q", zone, strings.SplitN(r.text(), "\n", 2)[0])
	}
	// The text: one line per message, within budget.
	text := r.text()
	if n := len(lines([]byte(text))); n != len(l.Messages)+1 {
		t.Errorf("text has %d lines for %d messages, want a header and one per message", n, len(l.Messages))
	}
	t.Logf("list_messages text: %d bytes for %d messages (%d per message)", len(text), len(l.Messages), len(text)/len(l.Messages))
}

// listAll pages through list_messages and returns every row.
func (e *ttEnv) listAll(t *testing.T, args map[string]any) (rows []ttRow, pages int) {
	t.Helper()
	args = maps.Clone(args)
	for {
		var l ttList
		e.ok(t, "list_messages", args, &l)
		pages++
		rows = append(rows, l.Messages...)
		if l.NextPageToken == "" {
			return rows, pages
		}
		if pages > 20 {
			t.Fatalf("more than 20 pages")
		}
		if !strings.Contains(e.call(t, e.c, "list_messages", args).text(), "page_token="+l.NextPageToken) {
			t.Errorf("page %d: the text does not give the next page_token", pages)
		}
		args["page_token"] = l.NextPageToken
	}
}

// testListPages: max_results bounds and page_token pagination.
func (e *ttEnv) testListPages(t *testing.T) {
	t.Parallel()
	var l ttList
	e.ok(t, "list_messages", map[string]any{"max_results": 1}, &l)
	if len(l.Messages) != 1 || l.NextPageToken == "" {
		t.Errorf("max_results 1: %d rows, token %q", len(l.Messages), l.NextPageToken)
	}
	var all ttList
	e.ok(t, "list_messages", map[string]any{"max_results": 100}, &all)
	rows, pages := e.listAll(t, map[string]any{"max_results": 8})
	if want := (len(all.Messages) + 7) / 8; pages != want {
		t.Errorf("%d pages of 8 for %d messages, want %d", pages, len(all.Messages), want)
	}
	seen := map[string]bool{}
	var got []string
	for _, r := range rows {
		if seen[r.ID] {
			t.Errorf("message %s (%s) listed twice across pages", r.ID, e.keyOf(r.ID))
		}
		seen[r.ID] = true
		got = append(got, r.ID)
	}
	if !slices.Equal(got, all.ids()) {
		t.Errorf("the pages of 8 list %v, want the one page of 100's %v in the same order", e.keysOf(got), e.keysOf(all.ids()))
	}
	// Pages of a search.
	rows, pages = e.listAll(t, map[string]any{"max_results": 3, "query": "is:unread"})
	if pages != 4 || len(rows) != 10 {
		t.Errorf("is:unread by 3: %d rows in %d pages, want 10 in 4", len(rows), pages)
	}
	// A page token of another search is Google's to refuse, and the error
	// names the argument.
	e.fails(t, "list_messages", map[string]any{"query": "from:bob@example.com", "page_token": l.NextPageToken}, "invalid argument page_token", "next_page_token")
}

// testListQueries: Gmail search syntax, label and unread_only reach Gmail.
func (e *ttEnv) testListQueries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args map[string]any
		want []string
	}{
		{map[string]any{"query": "from:bob@example.com"}, []string{"forwarded", "invite", "offsite-3", "phoenix-1"}},
		{map[string]any{"query": "is:unread"}, []string{"calendar-reminder", "emoji", "injection", "invite", "newsletter", "pdf-nonascii", "phoenix-3", "report", "social", "umlaut"}},
		{map[string]any{"unread_only": true}, []string{"calendar-reminder", "emoji", "injection", "invite", "newsletter", "pdf-nonascii", "phoenix-3", "report", "social", "umlaut"}},
		{map[string]any{"query": "has:attachment"}, []string{"inline", "invite", "offsite-1", "pdf-nonascii", "photo", "report", "sent-solo"}},
		{map[string]any{"query": "from:bob@example.com", "unread_only": true}, []string{"invite"}},
		{map[string]any{"query": "subject:phoenix", "label": "INBOX"}, []string{"phoenix-1", "phoenix-3"}},
		{map[string]any{"label": "SENT"}, []string{"lunch-2", "offsite-2", "phoenix-2", "sent-solo"}},
		{map[string]any{"label": "receipts"}, []string{"receipt"}},
		{map[string]any{"label": "spam"}, []string{"spam"}},
		{map[string]any{"query": "München"}, []string{"umlaut"}},
		{map[string]any{"query": "from:nobody@nowhere.example"}, nil},
	} {
		var l ttList
		r := e.ok(t, "list_messages", tc.args, &l)
		if got := e.keysOf(l.ids()); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("list_messages %v: %v, want %v", tc.args, got, tc.want)
		}
		if l.Messages == nil {
			t.Errorf("list_messages %v: messages is null, want an array", tc.args)
		}
		if len(tc.want) == 0 && !strings.Contains(r.text(), "No messages") {
			t.Errorf("list_messages %v: text %q does not say there are none", tc.args, r.text())
		}
	}
}
