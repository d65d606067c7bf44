package google

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

var modifyScopes = []string{"openid", "email", gmail.GmailModifyScope}

// addMany adds n messages to alice's inbox, unread, and returns their ids.
func addMany(s *googletest.Server, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.AddMessage(alice, rawMsg(map[string]string{
			"From": "Bob <bob@example.com>", "To": alice, "Subject": fmt.Sprintf("Note %d", i), "Date": date(i % 28),
			"Message-ID": fmt.Sprintf("<note-%d@example.com>", i), "Content-Type": "text/plain; charset=utf-8",
		}, "Hello.\n"), "INBOX", "UNREAD")
	}
	return ids
}

func TestModifyMessages(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, modifyScopes...), alice)
	ctx := context.Background()
	ids := []string{fx.plain, fx.htmlOnly, fx.attachment}

	// mark_read: one batchModify and nothing else; an id that is no Gmail
	// id is reported, an unknown one passed over by Gmail (unconfirmed).
	s.ResetAPIStats()
	res, err := mb.ModifyMessages(ctx, append(slices.Clone(ids), "00000000ffffffff", "not-an-id"), providers.MessageChange{MarkRead: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Changed, append(slices.Clone(ids), "00000000ffffffff")) || !res.Unconfirmed || len(res.Failed) != 1 || res.Failed[0].ID != "not-an-id" {
		t.Fatalf("mark_read: %+v", res)
	}
	if trips, mods := s.HTTPRequests("/"), s.APIRequests("/gmail/v1/users/me/messages/batchModify"); trips != 1 || mods != 1 {
		t.Errorf("%d round trips, %d batchModify; want 1 and 1", trips, mods)
	}
	for _, id := range ids {
		if slices.Contains(s.MessageLabels(alice, id), "UNREAD") {
			t.Errorf("%s still unread", id)
		}
	}
	// add_labels by name in any case; move_to a label: added, out of the inbox.
	if res, err = mb.ModifyMessages(ctx, ids[:1], providers.MessageChange{AddLabels: []string{"newsletters"}, MoveTo: "WORK"}); err != nil || len(res.Changed) != 1 {
		t.Fatalf("add_labels + move_to: %+v %v", res, err)
	}
	got := s.MessageLabels(alice, ids[0])
	if slices.Contains(got, "INBOX") || len(got) != 2 || !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "Label_") }) {
		t.Errorf("after add_labels Newsletters and move_to Work: %v", got)
	}
	// Trash and archive.
	if res, err = mb.ModifyMessages(ctx, ids[1:2], providers.MessageChange{Trash: true}); err != nil || len(res.Changed) != 1 || !slices.Contains(s.MessageLabels(alice, ids[1]), "TRASH") {
		t.Fatalf("trash: %+v %v %v", res, err, s.MessageLabels(alice, ids[1]))
	}
	if res, err = mb.ModifyMessages(ctx, ids[2:], providers.MessageChange{Archive: true}); err != nil || len(res.Changed) != 1 || slices.Contains(s.MessageLabels(alice, ids[2]), "INBOX") {
		t.Fatalf("archive: %+v %v", res, err)
	}
	// Unknown and fixed labels are refused before anything is sent.
	s.ResetAPIStats()
	for _, c := range []struct {
		change providers.MessageChange
		field  string
	}{
		{providers.MessageChange{AddLabels: []string{"Nope"}}, "add_labels[0]"},
		{providers.MessageChange{RemoveLabels: []string{"INBOX", "sent"}}, "remove_labels[1]"},
		{providers.MessageChange{MoveTo: "Nowhere"}, "move_to"},
		{providers.MessageChange{AddLabels: []string{"Work"}, RemoveLabels: []string{"work"}}, "add_labels"},
	} {
		_, err := mb.ModifyMessages(ctx, ids, c.change)
		var fe *providers.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want a FieldError on %s", c.change, err, c.field)
		}
	}
	if n := s.APIRequests("/gmail/v1/users/me/messages/batchModify"); n != 0 {
		t.Errorf("%d batchModify calls for refused changes", n)
	}
}

// TestModifyWholeBatchRefused: should Gmail refuse a whole batchModify for
// an id it lacks, the ids it has are changed in a second one and the
// others reported.
func TestModifyWholeBatchRefused(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, modifyScopes...), alice)
	s.FailAPI("/gmail/v1/users/me/messages/batchModify", 1, 404, "notFound", 0)
	res, err := mb.ModifyMessages(context.Background(), []string{fx.plain, "00000000ffffffff"}, providers.MessageChange{MarkRead: true})
	if err != nil || !slices.Equal(res.Changed, []string{fx.plain}) || res.Unconfirmed || len(res.Failed) != 1 || res.Failed[0].ID != "00000000ffffffff" {
		t.Fatalf("%+v %v", res, err)
	}
	if n := s.APIRequests("/gmail/v1/users/me/messages/batchModify"); n != 2 {
		t.Errorf("%d batchModify calls, want 2", n)
	}
	// A refusal that is no id's fault stands.
	s.FailAPI("/gmail/v1/users/me/messages/batchModify", 1, 400, "invalidArgument", 0)
	if _, err := mb.ModifyMessages(context.Background(), []string{fx.plain}, providers.MessageChange{MarkRead: true}); !errors.Is(err, providers.ErrInvalid) {
		t.Errorf("a 400 for known ids: %v", err)
	}
}

func TestListLabels(t *testing.T) {
	s := fake(t)
	addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, modifyScopes...), alice)
	ctx := context.Background()
	s.ResetAPIStats()
	labels, err := mb.ListLabels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// labels.list, then one batch of labels.get: two round trips.
	if trips := s.HTTPRequests("/"); trips != 2 {
		t.Errorf("%d round trips, want 2", trips)
	}
	byName := map[string]providers.Label{}
	for _, l := range labels {
		byName[l.Name] = l
	}
	work, inbox := byName["Work"], byName["INBOX"]
	if work.Type != providers.LabelUser || !work.Counted || work.Total != 2 || !strings.HasPrefix(work.ID, "Label_") ||
		inbox.Type != providers.LabelSystem || inbox.Total != 5 || inbox.Unread != 2 {
		t.Fatalf("Work %+v, INBOX %+v", work, inbox)
	}
	if labels[len(labels)-1].Type != providers.LabelUser || labels[0].Type != providers.LabelSystem {
		t.Errorf("system labels first, then the user's: %+v", labels)
	}
	// The labels are kept: a listing naming them reads no labels again.
	s.ResetAPIStats()
	page, err := mb.List(ctx, providers.MessageQuery{Label: "work"})
	if err != nil || len(page.Messages) != 2 || !slices.Contains(page.Messages[0].Labels, "Work") {
		t.Fatalf("list label work: %+v %v", page, err)
	}
	if n := s.APIRequests("/gmail/v1/users/me/labels"); n != 0 {
		t.Errorf("%d labels calls after list_labels", n)
	}
}

// BenchmarkModifyMessages100 changes 100 messages with each action and
// reports the upstream HTTP requests (round trips) and Gmail API calls per
// call: one batchModify, nothing else.
//
//	go test -run '^$' -bench BenchmarkModifyMessages100 -benchtime 10x ./providers/google/
func BenchmarkModifyMessages100(b *testing.B) {
	s := fake(b)
	mb := mustMail(b, provider(b, s), connect(b, s, alice, modifyScopes...), alice)
	ids := addMany(s, 100)
	s.AddMessage(alice, rawMsg(map[string]string{"From": "c@example.com", "To": alice, "Subject": "x", "Date": date(1)}, "x"), "Work")
	ctx := context.Background()
	if _, err := mb.ListLabels(ctx); err != nil { // the label cache, as a listing fills it
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change providers.MessageChange
	}{
		{"mark_read", providers.MessageChange{MarkRead: true}},
		{"archive", providers.MessageChange{Archive: true}},
		{"trash", providers.MessageChange{Trash: true}},
		{"add_labels", providers.MessageChange{AddLabels: []string{"Work"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s.ResetAPIStats()
			n := 0
			for b.Loop() {
				res, err := mb.ModifyMessages(ctx, ids, c.change)
				if err != nil || len(res.Changed) != 100 {
					b.Fatal(err, len(res.Changed))
				}
				n++
			}
			b.ReportMetric(float64(s.HTTPRequests("/"))/float64(n), "round-trips/op")
			b.ReportMetric(float64(s.APIRequests("/gmail/v1/users/me/messages/batchModify"))/float64(n), "batchModify/op")
			b.ReportMetric(float64(s.APIRequests("/"))/float64(n), "api-calls/op")
		})
	}
	// Wall time at 50 ms a request: the batchModify.
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

// TestLabelCache: a mailbox's labels are read once for many calls at once
// and kept; a label made since is learnt by one more read, once the kept
// list is older than labelRecheck.
func TestLabelCache(t *testing.T) {
	s := fake(t)
	addMail(s)
	p := provider(t, s)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	p.labels.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	mb := mustMail(t, p, connect(t, s, alice, modifyScopes...), alice)
	ctx := context.Background()
	s.SetAPILatency(20 * time.Millisecond)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := mb.List(ctx, providers.MessageQuery{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s.SetAPILatency(0)
	if n := s.APIRequests("/gmail/v1/users/me/labels"); n != 1 {
		t.Errorf("%d labels.list calls for 10 listings at once, want 1", n)
	}
	// Another mailbox client of the same account shares the kept labels.
	mb2 := mustMail(t, p, connect(t, s, alice, modifyScopes...), alice)
	fresh := s.AddMessage(alice, rawMsg(map[string]string{"From": "c@example.com", "To": alice, "Subject": "new", "Date": date(2)}, "x"), "INBOX", "Projects")
	m, err := mb2.Get(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(m.Labels, "Projects") || s.APIRequests("/gmail/v1/users/me/labels") != 1 {
		t.Errorf("a label made within labelRecheck: labels %v, %d labels.list calls; want it left out and no read", m.Labels, s.APIRequests("/gmail/v1/users/me/labels"))
	}
	mu.Lock()
	now = now.Add(labelRecheck + time.Second)
	mu.Unlock()
	if m, err = mb2.Get(ctx, fresh); err != nil || !slices.Contains(m.Labels, "Projects") || s.APIRequests("/gmail/v1/users/me/labels") != 2 {
		t.Errorf("after labelRecheck: labels %v (%v), %d labels.list calls; want Projects and one more read", m.Labels, err, s.APIRequests("/gmail/v1/users/me/labels"))
	}
	mu.Lock()
	now = now.Add(labelTTL + time.Second)
	mu.Unlock()
	if _, err := mb2.List(ctx, providers.MessageQuery{Label: "projects"}); err != nil || s.APIRequests("/gmail/v1/users/me/labels") != 3 {
		t.Errorf("after labelTTL: %v, %d labels.list calls, want 3", err, s.APIRequests("/gmail/v1/users/me/labels"))
	}
}
