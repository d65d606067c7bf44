package tokens

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// failing answers the first n requests with status (and Retry-After, if
// set), then issues tokens.
func failing(n int64, status int, retryAfter string) func(h *harness) func(http.ResponseWriter, string, int64) {
	return func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, i int64) {
			if i <= n {
				if retryAfter != "" {
					w.Header().Set("Retry-After", retryAfter)
				}
				writeErr(w, status, "backend_error", "down")
				return
			}
			okHandler(&h.ep)(w, rt, i)
		}
	}
}

// TestBackoffCallersWaitForNextRefresh: the token endpoint fails (503, one
// refresh of three attempts), then recovers. The failed caller learns when
// the next refresh is; the callers that come meanwhile are not failed
// instantly (they used to be, for 2 s): they wait for that refresh, made
// once for all of them, and get its token.
func TestBackoffCallersWaitForNextRefresh(t *testing.T) {
	h := newHarness(t, failing(3, http.StatusServiceUnavailable, ""))
	_, err := h.token(t)
	var fe *RefreshError
	if !errors.As(err, &fe) || fe.Status != 503 || fe.RetryIn <= 0 || fe.RetryIn > DefaultFailureBackoff {
		t.Fatalf("first caller: %v; want a 503 saying the next refresh comes within %s", err, DefaultFailureBackoff)
	}
	for _, want := range []string{"Example's token endpoint answered HTTP 503 Service Unavailable", "mailcal tries again in 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	const callers = 10
	var wg sync.WaitGroup
	errs := make([]error, callers)
	start := time.Now()
	for i := range callers {
		wg.Go(func() { _, errs[i] = h.token(t) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d during the backoff failed: %v", i, err)
		}
	}
	if n := h.ep.count.Load(); n != 4 {
		t.Errorf("%d token requests, want 4 (three failed attempts, then one refresh for all %d callers)", n, callers)
	}
	if took := time.Since(start); took > DefaultFailureBackoff+2*time.Second {
		t.Errorf("the callers waited %s, want about the backoff (at most %s)", took, DefaultFailureBackoff)
	}
}

// TestBackoffGrows: consecutive failures of a refresh that may pass push the
// next one further out, jittered, up to MaxBackoff; each error says when.
func TestBackoffGrows(t *testing.T) {
	h := newHarness(t, failing(1000, http.StatusBadGateway, ""))
	cfg := h.cfg
	cfg.FailureBackoff, cfg.MaxBackoff = 50*time.Millisecond, 300*time.Millisecond
	m := New(cfg)
	defer m.Close()
	for i, limit := range []time.Duration{50, 100, 200, 300, 300} {
		limit *= time.Millisecond
		// No deadline: a caller during the backoff waits for the next
		// refresh and answers its failure.
		_, err := m.Token(context.Background(), tenant, prov, account)
		var fe *RefreshError
		if !errors.As(err, &fe) || fe.RetryIn < limit/2 || fe.RetryIn > limit {
			t.Fatalf("failure %d: %v (next in %s); want the next refresh in %s to %s", i+1, err, fe.RetryIn, limit/2, limit)
		}
		if n := h.ep.count.Load(); n != int64(3*(i+1)) {
			t.Fatalf("failure %d: %d token requests, want %d (three attempts per refresh)", i+1, n, 3*(i+1))
		}
	}
}

// TestBackoffRetryAfter: a 429 whose Retry-After is beyond one refresh's
// budget: no refresh is made before it, callers fail at once saying when.
func TestBackoffRetryAfter(t *testing.T) {
	h := newHarness(t, failing(1000, http.StatusTooManyRequests, "120"))
	_, err := h.token(t)
	var fe *RefreshError
	if !errors.As(err, &fe) || fe.Status != 429 || fe.RetryIn != 2*time.Minute || h.ep.count.Load() != 1 {
		t.Fatalf("%v after %d requests; want a 429 saying the next refresh is in 2m", err, h.ep.count.Load())
	}
	h.clk.Advance(time.Minute)
	_, err = h.token(t)
	if !errors.As(err, &fe) || fe.RetryIn != time.Minute || !strings.Contains(err.Error(), "tries again in 1m0s") || h.ep.count.Load() != 1 {
		t.Fatalf("a minute later: %v after %d requests; want the same failure, next refresh in 1m", err, h.ep.count.Load())
	}
	h.clk.Advance(time.Minute)
	if _, err := h.token(t); !errors.As(err, &fe) || h.ep.count.Load() != 2 {
		t.Fatalf("after Retry-After: %v after %d requests; want a new refresh", err, h.ep.count.Load())
	}
}

// TestBackoffPermanentFailsAtOnce: a failure that will not pass by itself
// (the OAuth client refused) is not waited for: callers fail at once, and
// the next refresh comes after MaxBackoff.
func TestBackoffPermanentFailsAtOnce(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) { writeErr(w, 401, "invalid_client", "Unauthorized") }
	})
	if _, err := h.token(t); err == nil || !strings.Contains(err.Error(), "tries again in 30s") {
		t.Fatalf("%v; want invalid_client, next refresh in 30s", err)
	}
	start := time.Now()
	_, err := h.token(t)
	var fe *RefreshError
	if !errors.As(err, &fe) || fe.Code != "invalid_client" || h.ep.count.Load() != 1 || time.Since(start) > time.Second {
		t.Fatalf("second caller: %v after %d requests in %s; want the failure at once", err, h.ep.count.Load(), time.Since(start))
	}
	h.clk.Advance(DefaultMaxBackoff)
	if h.token(t); h.ep.count.Load() != 2 {
		t.Errorf("after the backoff: %d requests, want a new refresh", h.ep.count.Load())
	}
}

// TestBackoffResetBySuccess: a success forgets the failures: the next
// failure backs off from the start again.
func TestBackoffResetBySuccess(t *testing.T) {
	var fail bool
	var mu sync.Mutex
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			mu.Lock()
			f := fail
			mu.Unlock()
			if f {
				writeErr(w, 503, "backend_error", "down")
				return
			}
			okHandler(&h.ep)(w, rt, n)
		}
	})
	set := func(v bool) { mu.Lock(); fail = v; mu.Unlock() }
	set(true)
	for range 3 {
		h.token(t) // three failures: the third backs off up to 4 s
		h.clk.Advance(DefaultMaxBackoff)
	}
	set(false)
	h.clk.Advance(DefaultMaxBackoff)
	h.mustToken(t)
	set(true)
	h.clk.Advance(2 * time.Hour) // expired
	_, err := h.token(t)
	var fe *RefreshError
	if !errors.As(err, &fe) || fe.RetryIn > DefaultFailureBackoff {
		t.Fatalf("first failure after a success: %v; want the next refresh within %s", err, DefaultFailureBackoff)
	}
}

// TestBackoffNotConnected: an account not connected (yet) is read again
// after FailureBackoff, not MaxBackoff: another process may connect it.
func TestBackoffNotConnected(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	ctx := context.Background()
	if err := h.gs.Delete(ctx, tenant, prov, account); err != nil {
		t.Fatal(err)
	}
	if _, err := h.token(t); err == nil {
		t.Fatal("a token for an account not connected")
	}
	if err := h.gs.Put(ctx, h.grant); err != nil { // connected by another process: no Forget here
		t.Fatal(err)
	}
	h.clk.Advance(DefaultFailureBackoff)
	h.mustToken(t)
}
