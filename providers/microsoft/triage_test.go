package microsoft

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

const bobAddr = "bob@example.com"

// graphFake is microsofttest with alice's mailbox holding n unread inbox
// messages (one filed under the category Work, one in Inbox/Receipts), and
// her mailbox client: the immutable ids of the n messages.
func graphFake(t testing.TB, n int) (*microsofttest.Server, *mailbox, []string) {
	t.Helper()
	s := microsofttest.New(microsofttest.Options{})
	t.Cleanup(s.Close)
	s.AddUser(alice)
	s.AddUser(bobAddr)
	ids := make([]string, n)
	for i := range ids {
		raw := fmt.Appendf(nil, "From: Bob <bob@example.com>\r\nTo: %s\r\nSubject: Note %d\r\nDate: Mon, 2 Nov 2026 10:%02d:00 +0000\r\nMessage-ID: <note-%d@example.com>\r\n\r\nHello.\r\n", alice, i, i%60, i)
		ids[i] = microsofttest.ImmutableID(s.AddMessage(alice, raw, microsofttest.Filing{}))
	}
	s.AddMessage(alice, []byte("From: c@example.com\r\nTo: "+alice+"\r\nSubject: filed\r\n\r\nx\r\n"), microsofttest.Filing{Folder: "Inbox/Receipts", Categories: []string{"Work"}, Read: true})
	a, err := New(Options{GraphURL: s.GraphURL(), MaxRetryWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a.backoff = func(n int) time.Duration { return time.Duration(n) * 5 * time.Millisecond }
	tok, err := s.Token(context.Background(), alice, "Mail.ReadWrite", "MailboxSettings.Read")
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Mail(providers.StaticSource(tok), alice)
	if err != nil {
		t.Fatal(err)
	}
	return s, m.(*mailbox), ids
}

func (mb *mailbox) listIDs(t *testing.T, label string, unread bool) []string {
	t.Helper()
	page, err := mb.List(context.Background(), providers.MessageQuery{Label: label, UnreadOnly: unread, MaxResults: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range page.Messages {
		out = append(out, m.ID)
	}
	return out
}

func TestGraphModifyMessages(t *testing.T) {
	s, mb, ids := graphFake(t, 30)
	ctx := context.Background()
	foreign := microsofttest.ImmutableID(s.AddMessage(bobAddr, []byte("From: x@example.com\r\nTo: "+bobAddr+"\r\nSubject: bob's\r\n\r\nx\r\n"), microsofttest.Filing{}))

	// mark_read of 30 and one unknown id: two batches of four chains; the
	// unknown id's chain is sent again in one more batch.
	s.ResetAPIStats()
	res, err := mb.ModifyMessages(ctx, append(slices.Clone(ids), foreign), providers.MessageChange{MarkRead: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 30 || len(res.Failed) != 1 || res.Failed[0].ID != foreign || !strings.Contains(res.Failed[0].Reason, "not found") {
		t.Fatalf("mark_read: %d changed, failed %+v", len(res.Changed), res.Failed)
	}
	if trips := s.HTTPRequests("/"); trips > 3 {
		t.Errorf("%d round trips for 31 ids, want at most 3", trips)
	}
	if left := mb.listIDs(t, "inbox", true); len(left) != 0 {
		t.Errorf("still unread: %v", left)
	}
	if n, th := s.MaxConcurrentMailbox(alice), s.Throttled(alice); n > 4 || th != 0 {
		t.Errorf("up to %d requests at once, %d throttled: want at most 4, none", n, th)
	}

	// Categories by name (any case): read, then PATCHed; listed by name.
	if res, err = mb.ModifyMessages(ctx, ids[:3], providers.MessageChange{AddLabels: []string{"work"}, MarkUnread: true}); err != nil || len(res.Changed) != 3 {
		t.Fatalf("add_labels: %+v %v", res, err)
	}
	if got := mb.listIDs(t, "Work", true); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids[:3]))) {
		t.Errorf("unread in category Work: %v, want %v", got, ids[:3])
	}
	// A category as a listing's label with a search: filtered here, as
	// Graph's $search takes no $filter.
	page, err := mb.List(ctx, providers.MessageQuery{Label: "WORK", Query: "Note", MaxResults: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Messages {
		if !slices.Contains(m.Labels, "Work") {
			t.Errorf("search in category Work listed %s (%v)", m.ID, m.Labels)
		}
	}
	if len(page.Messages) != 3 {
		t.Errorf("search in category Work: %d rows, want 3", len(page.Messages))
	}
	if res, err = mb.ModifyMessages(ctx, ids[:1], providers.MessageChange{RemoveLabels: []string{"Work"}}); err != nil || len(res.Changed) != 1 {
		t.Fatalf("remove_labels: %+v %v", res, err)
	}
	m, err := mb.Get(ctx, ids[0])
	if err != nil || slices.Contains(m.Labels, "Work") {
		t.Errorf("after remove_labels: %v %v", m.Labels, err)
	}
	// Moves keep the ids: archive, trash, move_to a subfolder by its name.
	for _, c := range []struct {
		change providers.MessageChange
		id     string
		folder string
	}{
		{providers.MessageChange{Archive: true}, ids[3], "archive"},
		{providers.MessageChange{Trash: true}, ids[4], "deleteditems"},
		{providers.MessageChange{MoveTo: "receipts"}, ids[5], "Inbox/Receipts"},
	} {
		if res, err := mb.ModifyMessages(ctx, []string{c.id}, c.change); err != nil || !slices.Equal(res.Changed, []string{c.id}) {
			t.Fatalf("%+v: %+v %v", c.change, res, err)
		}
		if !slices.Contains(mb.listIDs(t, c.folder, false), c.id) {
			t.Errorf("%+v: %s not in %s", c.change, c.id, c.folder)
		}
	}
	// Refusals: no request is made.
	s.ResetAPIStats()
	for _, c := range []providers.MessageChange{
		{AddLabels: []string{"Nope"}}, {AddLabels: []string{"Inbox"}}, {MoveTo: "Nowhere"},
	} {
		if _, err := mb.ModifyMessages(ctx, ids[:1], c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if c.AddLabels != nil && c.AddLabels[0] == "Inbox" && !strings.Contains(err.Error(), "move_to") {
			t.Errorf("a folder given as a category: %v, want advice to use move_to", err)
		}
	}
	if n := s.HTTPRequests("/v1.0/$batch"); n != 0 {
		t.Errorf("%d batches sent for refused changes", n)
	}
}

// TestGraphBatchRetriesThrottled: requests of a batch answered 429 are sent
// again after Retry-After, alone; the others are not repeated.
func TestGraphBatchRetriesThrottled(t *testing.T) {
	s, mb, ids := graphFake(t, 8)
	ctx := context.Background()
	s.ResetAPIStats()
	s.FailAPI("/v1.0/me/messages/", 2, 429, "ApplicationThrottled", time.Second)
	start := time.Now()
	res, err := mb.ModifyMessages(ctx, ids, providers.MessageChange{MarkRead: true})
	if err != nil || len(res.Changed) != 8 || len(res.Failed) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("sent again after %s, before the Retry-After of 1s", waited)
	}
	// The two throttled requests held back the two behind them in their
	// chains (424, never run): 6 run, then those four sent again in one
	// batch.
	if trips, sub := s.HTTPRequests("/"), s.APIRequests("/v1.0/me/messages/"); trips != 2 || sub != 10 {
		t.Errorf("%d round trips, %d requests; want 2 and 10", trips, sub)
	}
	if left := mb.listIDs(t, "inbox", true); len(left) != 0 {
		t.Errorf("still unread: %v", left)
	}
}

func TestGraphListLabels(t *testing.T) {
	s, mb, _ := graphFake(t, 3)
	s.ResetAPIStats()
	labels, err := mb.ListLabels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if trips := s.HTTPRequests("/"); trips != 2 {
		t.Errorf("%d requests, want 2 (folders with their children, categories)", trips)
	}
	by := map[string]providers.Label{}
	for _, l := range labels {
		by[l.Name] = l
	}
	if in := by["Inbox"]; in.Type != providers.LabelFolder || !in.Counted || in.Total != 3 || in.Unread != 3 {
		t.Errorf("Inbox %+v", in)
	}
	if r := by["Inbox/Receipts"]; r.Type != providers.LabelFolder || r.Total != 1 || r.Unread != 0 {
		t.Errorf("Inbox/Receipts %+v", r)
	}
	if w := by["Work"]; w.Type != providers.LabelCategory || w.Counted || w.ID == "" {
		t.Errorf("Work %+v", w)
	}
}

// BenchmarkGraphModifyMessages100 changes 100 messages with each action and
// reports the upstream HTTP requests (round trips: $batch requests and
// others) and Graph requests (each request of a batch) per call.
// add_labels reads the messages' categories first (Graph replaces the
// whole list): its calls alternate adding and removing, so that each
// changes every message.
//
//	go test -run '^$' -bench BenchmarkGraphModifyMessages100 -benchtime 10x ./providers/microsoft/
func BenchmarkGraphModifyMessages100(b *testing.B) {
	s, mb, ids := graphFake(b, 100)
	ctx := context.Background()
	if _, err := mb.ListLabels(ctx); err != nil { // the account's categories, as a first call learns them
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(i int) providers.MessageChange
	}{
		{"mark_read", func(int) providers.MessageChange { return providers.MessageChange{MarkRead: true} }},
		{"archive", func(int) providers.MessageChange { return providers.MessageChange{Archive: true} }},
		{"trash", func(int) providers.MessageChange { return providers.MessageChange{Trash: true} }},
		{"add_labels", func(i int) providers.MessageChange {
			if i%2 == 1 {
				return providers.MessageChange{RemoveLabels: []string{"Work"}}
			}
			return providers.MessageChange{AddLabels: []string{"Work"}}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s.ResetAPIStats()
			n := 0
			for b.Loop() {
				res, err := mb.ModifyMessages(ctx, ids, c.change(n))
				if err != nil || len(res.Changed) != 100 {
					b.Fatal(err, len(res.Changed), res.Failed)
				}
				n++
			}
			b.ReportMetric(float64(s.HTTPRequests("/"))/float64(n), "round-trips/op")
			b.ReportMetric(float64(s.APIRequests("/v1.0/me/"))/float64(n), "graph-requests/op")
			if th := s.Throttled(alice); th != 0 {
				b.Errorf("%d requests throttled", th)
			}
		})
	}
	// Wall time at 50 ms a request (the fake adds it to the batch and to
	// each request in it, as Outlook takes time for each): 5 batches of
	// four chains of 5.
	b.Run("mark_read_at_50ms", func(b *testing.B) {
		const latency = 50 * time.Millisecond
		s.SetAPILatency(latency)
		defer s.SetAPILatency(0)
		start, n := time.Now(), 0
		for b.Loop() {
			if _, err := mb.ModifyMessages(ctx, ids, providers.MessageChange{MarkRead: true}); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(time.Since(start))/float64(n)/float64(latency), "latency-multiples")
	})
}

// TestGraphBatchFailsMidway: a batch request that fails once others were
// answered fails only its requests and those after it; a move that fails
// after the messages were PATCHed says so for each.
func TestGraphBatchFailsMidway(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	batches, failFrom := 0, 2
	f.on("POST /$batch", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		batches++
		n := batches
		mu.Unlock()
		if n >= failFrom {
			graphErr(w, http.StatusInternalServerError, "UnknownError", "An unknown error has occurred.")
			return
		}
		var in struct {
			Requests []struct {
				ID string `json:"id"`
			} `json:"requests"`
		}
		if err := decodeBody(r, &in); err != nil {
			t.Error(err)
		}
		var out []map[string]any
		for _, q := range in.Requests {
			out = append(out, map[string]any{"id": q.ID, "status": 200, "body": map[string]any{}})
		}
		writeJSON(w, 200, map[string]any{"responses": out})
	})
	mb := mustMail(t, newAPI(t, f))
	ids := make([]string, 25)
	for i := range ids {
		ids[i] = fmt.Sprintf("AAMkAGI2%04d", i)
	}
	res, err := mb.ModifyMessages(context.Background(), ids, providers.MessageChange{MarkRead: true})
	if err != nil || len(res.Changed) != 20 || len(res.Failed) != 5 || !strings.Contains(res.Failed[0].Reason, "batch carrying it failed") {
		t.Fatalf("mark_read of 25, the second batch failing: %d changed, %+v, %v", len(res.Changed), res.Failed, err)
	}
	// The first batch fails: nothing was answered, the call fails.
	mu.Lock()
	batches, failFrom = 0, 1
	mu.Unlock()
	if _, err := mb.ModifyMessages(context.Background(), ids, providers.MessageChange{MarkRead: true}); err == nil {
		t.Error("a call whose first batch failed succeeded")
	}
	// PATCHed (two batches), then the move's first batch fails.
	mu.Lock()
	batches, failFrom = 0, 3
	mu.Unlock()
	res, err = mb.ModifyMessages(context.Background(), ids, providers.MessageChange{MarkRead: true, Archive: true})
	if err != nil || len(res.Changed) != 0 || len(res.Failed) != 25 || !strings.Contains(res.Failed[0].Reason, "changed but not moved") {
		t.Fatalf("move failing after the PATCHes: %d changed, %+v, %v", len(res.Changed), res.Failed, err)
	}
}
