package tokens

import (
	"context"
	"fmt"
	"maps"
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

// twoSharing is the harness's manager and another on the same store, both
// sharing access tokens, as two replicas on one database.
func twoSharing(t *testing.T, h *harness) (a, b *Manager) {
	a, b, _ = twoSharingOutcomes(t, h)
	return a, b
}

// twoSharingOutcomes is twoSharing, and counts the refreshes' outcomes
// (OnRefresh) of both.
func twoSharingOutcomes(t *testing.T, h *harness) (a, b *Manager, outcomes func() map[string]int) {
	t.Helper()
	h.m.Close()
	cfg := h.cfg
	cfg.ShareAccessTokens = true
	var mu sync.Mutex
	seen := map[string]int{}
	cfg.OnRefresh = func(_, outcome string) { mu.Lock(); seen[outcome]++; mu.Unlock() }
	outcomes = func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
	a = New(cfg)
	t.Cleanup(a.Close)
	cfg.Grants = grants.New(h.st, grants.Plain)
	b = New(cfg)
	t.Cleanup(b.Close)
	return a, b, outcomes
}

func token(t *testing.T, m *Manager) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := m.Token(ctx, tenant, prov, account)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// With ShareAccessTokens, round after round of expiry, two managers on one
// store make one token request per expiry between them (with rotating
// refresh tokens that die at first use: the newest is the one stored), and
// the second uses the access token the first saved.
func TestShareAccessTokensOneRefreshPerExpiry(t *testing.T) {
	h := newHarness(t, retiringHandler())
	a, b, outcomes := twoSharingOutcomes(t, h)
	const rounds = 10
	for r := 1; r <= rounds; r++ {
		h.clk.Advance(2 * time.Hour)
		ta, tb := token(t, a), token(t, b)
		if ta != tb {
			t.Fatalf("round %d: the managers hold different access tokens", r)
		}
		if n := h.ep.count.Load(); n != int64(r) {
			t.Fatalf("round %d: %d token requests, want %d", r, n, r)
		}
	}
	g := h.stored(t)
	if g.RefreshToken != h.ep.lastIssuedRefresh() || g.AccessToken == "" || !g.AccessExpiry.After(h.clk.Now()) {
		t.Errorf("stored grant: newest refresh token %v, access token shared %v, expiry %s; want all", g.RefreshToken == h.ep.lastIssuedRefresh(), g.AccessToken != "", g.AccessExpiry)
	}
	if got := outcomes(); got[RefreshOK] != rounds || got[RefreshShared] != rounds || len(got) != 2 {
		t.Errorf("refresh outcomes %v, want %d %s and %d %s", got, rounds, RefreshOK, rounds, RefreshShared)
	}
}

// A shared access token the provider refused (Invalidate) is not taken
// from the store again by the manager that saw it refused: it refreshes,
// and the other manager then takes the new one.
func TestShareAccessTokensRefusedOneIsNotTakenAgain(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	a, b := twoSharing(t, h)
	first := token(t, a)
	if token(t, b) != first || h.ep.count.Load() != 1 {
		t.Fatalf("b did not take a's access token: %d token requests", h.ep.count.Load())
	}
	b.Invalidate(tenant, prov, account, first)
	second := token(t, b)
	if second == first || h.ep.count.Load() != 2 {
		t.Fatalf("after b saw the shared token refused: same token %v, %d token requests; want a refresh", second == first, h.ep.count.Load())
	}
	a.Invalidate(tenant, prov, account, first)
	if token(t, a) != second || h.ep.count.Load() != 2 {
		t.Errorf("a did not take b's new access token: %d token requests", h.ep.count.Load())
	}
}

// A shared access token about to expire is not taken: the manager
// refreshes.
func TestShareAccessTokensNotWhenAboutToExpire(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	a, b := twoSharing(t, h)
	token(t, a)
	h.clk.Advance(time.Hour - minShared + time.Second)
	token(t, b)
	if n := h.ep.count.Load(); n != 2 {
		t.Errorf("%d token requests, want 2: a token with less than %s left is not shared", n, minShared)
	}
}
