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

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// Mail.List reads the listed messages through Gmail's batch endpoint
// (batch.go), here against the fake's, which answers each call on its own
// as Google documents.

// listIDs lists alice's mailbox and returns the rows' ids.
func listIDs(t *testing.T, mb providers.Mail, q providers.MessageQuery) []string {
	t.Helper()
	page, err := mb.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// batches counts the batch round trips since the last ResetAPIStats.
func batches(s *googletest.Server) int { return s.HTTPRequests("/batch/gmail/v1") }

func TestListBatchRetriesFailedCalls(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	want := listIDs(t, mb, providers.MessageQuery{})
	if _, err := mb.Get(context.Background(), fx.plain); err != nil || mb.(*mailbox).svc != nil {
		t.Fatalf("Get: %v; List and Get made the client library's service (%v): they need none", err, mb.(*mailbox).svc != nil)
	}

	// Two calls fail inside a 200 batch (a 429 asking for a second, a
	// 503): the next batch carries them alone, after the Retry-After.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 429, "rateLimitExceeded", time.Second)
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.attachment, 1, 503, "backendError", 0)
	start := time.Now()
	if got := listIDs(t, mb, providers.MessageQuery{}); !slices.Equal(got, want) {
		t.Fatalf("after failed calls: %v, want %v", got, want)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the retry came after %v, before the Retry-After of 1s", d)
	}
	for id, n := range map[string]int{fx.plain: 2, fx.attachment: 2, fx.alternative: 1, fx.thread: 1, fx.htmlOnly: 1} {
		if got := s.APIRequests("/gmail/v1/users/me/messages/" + id); got != n {
			t.Errorf("message %s read %d times, want %d", id, got, n)
		}
	}
	if b := batches(s); b != 2 {
		t.Errorf("%d batches, want 2", b)
	}

	// A 403 rate limit is retried; a daily limit is not.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 403, "userRateLimitExceeded", 0)
	if got := listIDs(t, mb, providers.MessageQuery{}); !slices.Equal(got, want) || batches(s) != 2 {
		t.Fatalf("after a 403 rate limit: %v in %d batches", got, batches(s))
	}
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 403, "dailyLimitExceeded", 0)
	_, err := mb.List(context.Background(), providers.MessageQuery{})
	if pe := wantKind(t, err, providers.ErrRateLimited); !strings.Contains(pe.Message, "HTTP 403") || batches(s) != 1 {
		t.Fatalf("a daily limit: %v after %d batches, want 1", pe, batches(s))
	}

	// A call that keeps failing: maxBatchRounds batches, then its error.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.thread, 1000, 500, "backendError", 0)
	_, err = mb.List(context.Background(), providers.MessageQuery{})
	wantKind(t, err, providers.ErrUnavailable)
	if b := batches(s); b != maxBatchRounds {
		t.Errorf("%d batches for a call that always fails, want %d", b, maxBatchRounds)
	}
}

func TestListBatchRetryBudget(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)

	// Asked to wait past the retry budget: the 429 at once, with its wait.
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 429, "rateLimitExceeded", 40*time.Second)
	start := time.Now()
	_, err := mb.List(context.Background(), providers.MessageQuery{})
	if pe := wantKind(t, err, providers.ErrRateLimited); pe.RetryAfter != 40*time.Second || time.Since(start) > 5*time.Second {
		t.Fatalf("%v (retry after %v) after %v", pe, pe.RetryAfter, time.Since(start))
	}
	// Asked to wait past the call's deadline: likewise.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 429, "rateLimitExceeded", 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start = time.Now()
	_, err = mb.List(ctx, providers.MessageQuery{})
	if wantKind(t, err, providers.ErrRateLimited); time.Since(start) > 900*time.Millisecond || batches(s) != 1 {
		t.Fatalf("a wait past the deadline: %v after %v and %d batches", err, time.Since(start), batches(s))
	}
}

// refreshingSource is a token source whose Invalidate makes the next Token
// a new access token of the fake's.
type refreshingSource struct {
	t *testing.T
	s *googletest.Server

	mu          sync.Mutex
	tok         *oauth2.Token
	invalidated int
	fail        error // what Token returns after an Invalidate, if set
}

func (r *refreshingSource) Token(context.Context) (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tok == nil {
		if r.fail != nil {
			return nil, r.fail
		}
		r.tok = connect(r.t, r.s, alice, allScopes...)
	}
	return r.tok, nil
}

func (r *refreshingSource) Invalidate(access string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tok != nil && r.tok.AccessToken == access {
		r.tok = nil
		r.invalidated++
	}
}

func TestListBatchUnauthorizedCalls(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	p := provider(t, s)
	src := &refreshingSource{t: t, s: s}
	mb, err := p.Mail(src, alice)
	if err != nil {
		t.Fatal(err)
	}
	want := listIDs(t, mb, providers.MessageQuery{})

	// Calls refused with 401 inside the batch: one refresh, one more batch.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 401, "authError", 0)
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.thread, 1, 401, "authError", 0)
	if got := listIDs(t, mb, providers.MessageQuery{}); !slices.Equal(got, want) || src.invalidated != 1 || batches(s) != 2 {
		t.Fatalf("after 401s: %v, %d refreshes, %d batches; want 1 and 2", got, src.invalidated, batches(s))
	}
	// Refused again with the fresh token: the 401 stands.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 2, 401, "authError", 0)
	_, err = mb.List(context.Background(), providers.MessageQuery{})
	if wantKind(t, err, providers.ErrUnauthorized); src.invalidated != 2 || batches(s) != 2 {
		t.Fatalf("a second 401: %d refreshes, %d batches; want 2 and 2", src.invalidated, batches(s))
	}
	// No other token to try (a fixed one): the 401 at once.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 401, "authError", 0)
	_, err = mustMail(t, p, connect(t, s, alice, allScopes...), alice).List(context.Background(), providers.MessageQuery{})
	if wantKind(t, err, providers.ErrUnauthorized); batches(s) != 1 {
		t.Fatalf("a fixed token: %d batches, want 1", batches(s))
	}
	// The refresh fails: that failure is the answer, as a TokenError.
	s.ResetAPIStats()
	src.fail = errors.New("invalid_grant")
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 401, "authError", 0)
	_, err = mb.List(context.Background(), providers.MessageQuery{})
	var te *providers.TokenError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("a failed refresh: %v (%T), want a TokenError", err, err)
	}
}

// TestListBatchSplit: a page of more than maxBatchCalls messages takes
// several batches, read in parallel, rows in the list's order.
func TestListBatchSplit(t *testing.T) {
	s := fake(t)
	for i := range 70 {
		s.AddMessage(alice, rawMsg(map[string]string{"From": bob, "To": alice, "Subject": fmt.Sprintf("n%02d", i), "Date": date(i)}, "x\n"))
	}
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	s.SetAPILatency(20 * time.Millisecond)
	s.ResetAPIStats()
	page, err := mb.List(context.Background(), providers.MessageQuery{MaxResults: 70})
	s.SetAPILatency(0)
	if err != nil || len(page.Messages) != 70 {
		t.Fatalf("%v, %d rows", err, len(page.Messages))
	}
	for i, m := range page.Messages {
		if want := fmt.Sprintf("n%02d", 69-i); m.Subject != want {
			t.Fatalf("row %d is %q, want %q (newest first)", i, m.Subject, want)
		}
	}
	if b, gets, c := batches(s), s.APIRequests("/gmail/v1/users/me/messages/"), s.MaxConcurrentAPI(); b != 2 || gets != 70 || c != 2 {
		t.Fatalf("%d batches of %d calls, %d at once; want 2 of 70, at once", b, gets, c)
	}
	// A page of one batch, and an empty page: no batch.
	s.ResetAPIStats()
	if ids := listIDs(t, mb, providers.MessageQuery{MaxResults: 50}); len(ids) != 50 || batches(s) != 1 {
		t.Fatalf("a page of 50: %d rows in %d batches, want 50 in 1", len(ids), batches(s))
	}
	s.ResetAPIStats()
	if ids := listIDs(t, mb, providers.MessageQuery{Query: "from:nobody@nowhere.example"}); len(ids) != 0 || batches(s) != 0 {
		t.Fatalf("an empty page: %d rows in %d batches, want none", len(ids), batches(s))
	}
}

// racedSource is refreshingSource whose token another caller replaces
// (refreshes) once, as soon as the batch request has reached the fake and
// before the batcher deals with its 401s: the batcher then meets a source
// that already holds a fresh token.
type racedSource struct {
	*refreshingSource
	armed, raced bool
	mints        int // tokens made: the other caller's refresh and any of ours
}

func (r *racedSource) race() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed && !r.raced && batches(r.s) >= 1 {
		r.raced = true
		r.tok = connect(r.t, r.s, alice, allScopes...)
		r.mints++
	}
}

func (r *racedSource) Token(ctx context.Context) (*oauth2.Token, error) {
	r.race()
	return r.refreshingSource.Token(ctx)
}

func (r *racedSource) Invalidate(access string) {
	r.race()
	r.mu.Lock()
	had := r.tok
	r.mu.Unlock()
	r.refreshingSource.Invalidate(access)
	r.mu.Lock()
	if had != nil && r.tok == nil {
		r.mints++ // ours: the next Token makes a new one
	}
	r.mu.Unlock()
}

// Calls refused with the token a batch went with, after another call has
// refreshed it: the batch takes that fresh token and refreshes nothing
// more (it used to invalidate the fresh one too: a refresh per call that
// met the same expiry).
func TestBatchUnauthorizedAfterAnotherRefresh(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	p := provider(t, s)
	src := &racedSource{refreshingSource: &refreshingSource{t: t, s: s}}
	mb, err := p.Mail(src, alice)
	if err != nil {
		t.Fatal(err)
	}
	want := listIDs(t, mb, providers.MessageQuery{})
	s.ResetAPIStats()
	src.mu.Lock()
	src.armed = true
	src.mu.Unlock()
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 401, "authError", 0)
	if got := listIDs(t, mb, providers.MessageQuery{}); !slices.Equal(got, want) {
		t.Fatalf("listing after a 401: %v, want %v", got, want)
	}
	if !src.raced || src.mints != 1 {
		t.Errorf("raced %v, %d tokens made for one expiry, want 1 (the other caller's)", src.raced, src.mints)
	}
}
