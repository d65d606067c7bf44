package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// Dead grants: invalid_grant, reconnects, disconnects, the health check.

// TestInteractionRequired: a refresh answered interaction_required (a
// sign-in policy wants the person) is a dead grant too, not a failure to
// retry.
func TestInteractionRequired(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			writeErr(w, 400, "interaction_required", "AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.")
		}
	})
	for range 3 {
		if _, err := h.token(t); !errors.Is(err, ErrNeedsReauth) {
			t.Fatalf("err = %v, want ErrNeedsReauth", err)
		}
	}
	if g := h.stored(t); g.Status != grants.StatusNeedsReauth || !strings.Contains(g.StatusReason, "AADSTS50076") {
		t.Errorf("stored: %s %q", g.Status, g.StatusReason)
	}
	if n := h.ep.count.Load(); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}
}

func TestInvalidGrant(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			// A description echoing the refresh token must not leak.
			writeErr(w, 400, "invalid_grant", "Token has been expired or revoked.")
		}
	})
	_, err := h.token(t)
	var re *ReauthError
	if !errors.As(err, &re) || !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("err = %v", err)
	}
	want := "account x@y.com (google) needs to be reconnected: Example refused its refresh token (invalid_grant: Token has been expired or revoked.)"
	if err.Error() != want {
		t.Errorf("error text:\n got %s\nwant %s", err, want)
	}
	if re.Tenant != tenant || re.Provider != prov || re.Account != account ||
		!re.ConnectedAt.Equal(h.grant.ConnectedAt) || !re.FailedAt.Equal(h.clk.Now()) || re.Advice != "" {
		t.Errorf("fields: %+v", re)
	}
	g := h.stored(t)
	if g.Status != grants.StatusNeedsReauth || g.StatusReason != "Example refused its refresh token (invalid_grant: Token has been expired or revoked.)" ||
		!g.StatusAt.Equal(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("stored: %s %q at %v", g.Status, g.StatusReason, g.StatusAt)
	}
	if n := h.ep.count.Load(); n != 1 {
		t.Fatalf("requests = %d, want 1 (invalid_grant is not retried)", n)
	}
	for i := range 50 {
		_, err := h.token(t)
		if !errors.As(err, &re) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Even after the recheck interval: the grant is re-read, the endpoint is not asked.
	h.clk.Advance(time.Minute)
	if _, err := h.token(t); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("after recheck: %v", err)
	}
	if n := h.ep.count.Load(); n != 1 {
		t.Fatalf("requests = %d after reauth, want no more", n)
	}

	// A restarted Manager answers from the store alone, FailedAt included.
	m2 := New(h.cfg)
	defer m2.Close()
	_, err = m2.Token(context.Background(), tenant, prov, account)
	var re2 *ReauthError
	if !errors.As(err, &re2) || re2.Error() != want || !re2.FailedAt.Equal(re.FailedAt) {
		t.Fatalf("restarted: %v", err)
	}
	if n := h.ep.count.Load(); n != 1 {
		t.Fatalf("restarted manager asked the endpoint")
	}
}

// TestDeadGrantAdvice: the provider's advice on a dead grant is asked with
// when the grant was connected and when it died, and ends the error, also
// once the grant is read back dead from the store.
func TestDeadGrantAdvice(t *testing.T) {
	var asked []providers.DeadGrant
	var mu sync.Mutex
	advice := func(d providers.DeadGrant) string {
		mu.Lock()
		asked = append(asked, d)
		mu.Unlock()
		if d.FailedAt.Sub(d.ConnectedAt) > 6*24*time.Hour {
			return "It died a week after it was connected: check the app's status."
		}
		return ""
	}
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			writeErr(w, 400, "invalid_grant", "Token has been expired or revoked.")
		}
	})
	h.cfg.Providers = testProviders(t, h.ep.srv.URL, clientSecret, advice)
	h.m.Close()
	h.m = New(h.cfg)
	g := h.grant
	g.ConnectedAt = h.clk.Now().Add(-7*24*time.Hour - 20*time.Minute)
	if err := h.gs.Put(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	_, err := h.token(t)
	want := `account x@y.com (google) needs to be reconnected: Example refused its refresh token (invalid_grant: Token has been expired or revoked.) It died a week after it was connected: check the app's status.`
	if err == nil || err.Error() != want {
		t.Fatalf("error text:\n got %v\nwant %s", err, want)
	}
	mu.Lock()
	if len(asked) == 0 || asked[0].Code != "invalid_grant" || !asked[0].ConnectedAt.Equal(g.ConnectedAt) || !asked[0].FailedAt.Equal(h.clk.Now()) {
		t.Errorf("advice asked with %+v", asked)
	}
	mu.Unlock()
	// A new manager reads the dead grant from the store: same advice.
	m2 := New(h.cfg)
	defer m2.Close()
	if _, err := m2.Token(context.Background(), tenant, prov, account); err == nil || err.Error() != want {
		t.Fatalf("restarted: %v", err)
	}
}

// newRT is the refresh token of a reconnect; every other one is refused.
const newRT = "1//refresh-SHOULD-NOT-LEAK-new"

// onlyNewRT answers invalid_grant to every refresh token but newRT.
func onlyNewRT(h *harness) func(http.ResponseWriter, string, int64) {
	return func(w http.ResponseWriter, rt string, n int64) {
		if rt != newRT {
			writeErr(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		h.ep.writeToken(w, fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n), "", 3600)
	}
}

func TestReconnectClearsReauth(t *testing.T) {
	h := newHarness(t, onlyNewRT)
	if _, err := h.token(t); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("err = %v", err)
	}
	// The person connects again.
	g := h.grant
	g.RefreshToken, g.ConnectedAt = newRT, h.clk.Now()
	if err := h.gs.Put(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	// Within the recheck interval the cached state answers.
	if _, err := h.token(t); !errors.Is(err, ErrNeedsReauth) || h.ep.count.Load() != 1 {
		t.Fatalf("err = %v, requests=%d", err, h.ep.count.Load())
	}
	// After it, the grant is re-read and the new one used.
	h.clk.Advance(DefaultReauthRecheck + time.Second)
	h.mustToken(t)
	if h.ep.count.Load() != 2 || h.ep.lastSeen() != newRT {
		t.Fatalf("requests=%d", h.ep.count.Load())
	}
	if s := h.stored(t); s.Status != grants.StatusActive {
		t.Errorf("status %s", s.Status)
	}
}

func TestForgetAfterReconnect(t *testing.T) {
	h := newHarness(t, onlyNewRT)
	if _, err := h.token(t); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("err = %v", err)
	}
	g := h.grant
	g.RefreshToken = newRT
	if err := h.gs.Put(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	h.m.Forget(tenant, prov, account)
	h.mustToken(t) // no clock advance needed
}

func TestDisconnected(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	h.mustToken(t)
	if err := h.gs.Delete(context.Background(), tenant, prov, account); err != nil {
		t.Fatal(err)
	}
	h.m.Forget(tenant, prov, account)
	if _, err := h.token(t); !errors.Is(err, grants.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

// TestForgetTenant: the tenant's cached tokens go, other tenants' stay.
func TestForgetTenant(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	h.mustToken(t)
	other := h.m.entry(makeKey("other", prov, account))
	h.m.ForgetTenant("someone-else")
	h.m.mu.RLock()
	n := len(h.m.entries)
	h.m.mu.RUnlock()
	if n != 2 {
		t.Fatalf("%d entries after forgetting another tenant, want 2", n)
	}
	h.m.ForgetTenant(tenant)
	h.m.mu.RLock()
	_, kept := h.m.entries[other.k]
	n = len(h.m.entries)
	h.m.mu.RUnlock()
	if !kept || n != 1 {
		t.Errorf("after ForgetTenant: %d entries, the other tenant's kept: %v; want only it", n, kept)
	}
	h.mustToken(t)
	if got := h.ep.count.Load(); got != 2 {
		t.Errorf("%d token requests, want 2: the forgotten token is not used again", got)
	}
}

func TestInvalidate(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	a := h.mustToken(t)
	h.m.Invalidate(tenant, prov, account, a.AccessToken)
	b := h.mustToken(t)
	if b.AccessToken == a.AccessToken || h.ep.count.Load() != 2 {
		t.Fatalf("no refresh after Invalidate")
	}
	// A late Invalidate of the old token does not drop the new one.
	h.m.Invalidate(tenant, prov, account, a.AccessToken)
	if c := h.mustToken(t); c != b || h.ep.count.Load() != 2 {
		t.Fatalf("stale Invalidate dropped the new token")
	}
	h.m.Invalidate("other", prov, account, b.AccessToken) // unknown account: no-op
}

func TestCallerCancelDoesNotBreakRefresh(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			close(arrived)
			<-release
			h.ep.writeToken(w, "ya29.access-SHOULD-NOT-LEAK", "", 3600)
		}
	})
	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := h.m.Token(ctxA, tenant, prov, account)
		errA <- err
	}()
	<-arrived
	resB := make(chan error, 1)
	go func() {
		_, err := h.m.Token(context.Background(), tenant, prov, account)
		resB <- err
	}()
	time.Sleep(20 * time.Millisecond) // let B join the refresh
	cancelA()
	select {
	case err := <-errA:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("A: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("A did not return when its context was cancelled")
	}
	close(release)
	if err := <-resB; err != nil {
		t.Fatalf("B: %v", err)
	}
	if h.ep.count.Load() != 1 {
		t.Fatalf("requests = %d", h.ep.count.Load())
	}
}

func TestHealthCheck(t *testing.T) {
	const revokedRT = "1//refresh-SHOULD-NOT-LEAK-revoked"
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			if rt == revokedRT {
				writeErr(w, 400, "invalid_grant", "Token has been expired or revoked.")
				return
			}
			h.ep.writeToken(w, fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n), "", 3600)
		}
	})
	ctx := context.Background()
	for _, g := range []grants.Grant{
		{Tenant: "beta", Provider: prov, Account: "gone@y.com", RefreshToken: revokedRT, Status: grants.StatusActive, ConnectedAt: h.clk.Now().Add(-40 * 24 * time.Hour)},
		{Tenant: "beta", Provider: prov, Account: "old@y.com", RefreshToken: "1//x", Status: grants.StatusNeedsReauth},
	} {
		if err := h.gs.Put(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	h.cfg.Tenants = func(context.Context) ([]string, error) { return []string{tenant, "beta"}, nil }
	// No keep-alive connections: their goroutines would outlive Run.
	h.cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	m := New(h.cfg)

	before := runtime.NumGoroutine()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(runCtx, 30*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, err := h.gs.Get(ctx, "beta", prov, "gone@y.com")
		if err != nil {
			t.Fatal(err)
		}
		// The mark is written before the check logs its outcome: wait for both
		// (stopping Run in between would end the check with its context).
		if g.Status == grants.StatusNeedsReauth && strings.Contains(h.logs.String(), "outcome=needs_reauth") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("health check did not mark the revoked grant")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	m.Close()
	// No goroutine left behind (allow the test's own to settle).
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines: %d before Run, %d after", before, n)
	}
	if g := h.stored(t); g.Status != grants.StatusActive {
		t.Errorf("healthy grant marked %s", g.Status)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "outcome=needs_reauth") || !strings.Contains(logs, "outcome=ok") || strings.Contains(logs, "old@y.com") {
		t.Errorf("logs:\n%s", logs)
	}

	// CheckAll reports the outcome per account; the dead grant is no longer checked.
	m2 := New(h.cfg)
	defer m2.Close()
	before2 := h.ep.count.Load()
	res, err := m2.CheckAll(ctx)
	if err != nil || len(res) != 1 || res[0].Outcome != CheckOK || res[0].Account != account {
		t.Fatalf("CheckAll: %+v %v", res, err)
	}
	if h.ep.count.Load() != before2+1 {
		t.Errorf("CheckAll requests: %d", h.ep.count.Load()-before2)
	}
}

func TestHealthCheckJoinsRunningRefresh(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			if n == 1 {
				close(arrived)
				<-release
			}
			h.ep.writeToken(w, "ya29.access-SHOULD-NOT-LEAK", "", 3600)
		}
	})
	go func() { _, _ = h.m.Token(context.Background(), tenant, prov, account) }()
	<-arrived
	resc := make(chan []CheckResult)
	go func() { r, _ := h.m.CheckAll(context.Background()); resc <- r }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if r := <-resc; len(r) != 1 || r[0].Outcome != CheckOK {
		t.Fatalf("%+v", r)
	}
	if n := h.ep.count.Load(); n != 1 {
		t.Fatalf("requests = %d, want 1 (the check joined the running refresh)", n)
	}
}
