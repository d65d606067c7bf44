package tokens

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
)

// retiringHandler is a token endpoint whose refresh tokens rotate on every
// refresh and die at once: a refresh token spent twice gets invalid_grant.
// It answers after a pause, so that refreshes that are not serialised
// overlap. (newHarness asks for the handler at every request: the state is
// made once, here.)
func retiringHandler() func(h *harness) func(http.ResponseWriter, string, int64) {
	var mu sync.Mutex
	current := firstRT
	return func(h *harness) func(http.ResponseWriter, string, int64) { return retire(h, &mu, &current) }
}

func retire(h *harness, mu *sync.Mutex, current *string) func(http.ResponseWriter, string, int64) {
	return func(w http.ResponseWriter, rt string, n int64) {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if rt != *current {
			writeErr(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		*current = fmt.Sprintf("1//refresh-SHOULD-NOT-LEAK-%d", n)
		h.ep.writeToken(w, fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n), *current, 3600)
	}
}

// Two token managers on one store, as two processes on one keyring, refresh
// the same grant at once, round after round, with a provider whose refresh
// tokens die at first use: the grant lock makes the second wait, re-read
// the rotated token and spend that one. No answer is a reauth, and the
// grant stays active with the newest refresh token.
func TestTwoManagersShareARotatingGrant(t *testing.T) {
	h := newHarness(t, retiringHandler())
	cfg := h.cfg
	cfg.Grants = grants.New(h.st, grants.Plain) // the other process's view of the store
	other := New(cfg)
	t.Cleanup(other.Close)
	managers := []*Manager{h.m, other}

	const rounds = 20
	for r := 1; r <= rounds; r++ {
		h.clk.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, len(managers))
		for i, m := range managers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, errs[i] = m.Token(ctx, tenant, prov, account)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, manager %d: %v", r, i+1, err)
			}
		}
	}
	g := h.stored(t)
	if g.Status != grants.StatusActive || g.RefreshToken != h.ep.lastIssuedRefresh() {
		t.Errorf("after %d rounds the grant is %s with refresh token %q, want active with the newest", rounds, g.Status, g.RefreshToken)
	}
	if n := h.ep.count.Load(); n != 2*rounds {
		t.Errorf("%d token requests for %d rounds of two managers, want %d", n, rounds, 2*rounds)
	}
}

// A refresh waits for the grant lock another process holds, and gives up
// with the caller's context.
func TestRefreshWaitsForTheGrantLock(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	unlock, err := h.gs.Lock(context.Background(), tenant, prov, account)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.m.Token(ctx, tenant, prov, account); err == nil || h.ep.count.Load() != 0 {
		t.Fatalf("Token while another holds the grant lock: %v, %d requests; want to wait", err, h.ep.count.Load())
	}
	unlock()
	h.mustToken(t)
	if n := h.ep.count.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// lastIssuedRefresh is the newest refresh token the endpoint issued.
func (ep *endpoint) lastIssuedRefresh() string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for i := len(ep.issued) - 1; i >= 0; i-- {
		if len(ep.issued[i]) > 3 && ep.issued[i][:3] == "1//" {
			return ep.issued[i]
		}
	}
	return ""
}
