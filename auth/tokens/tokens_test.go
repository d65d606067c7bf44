package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/internal/testclock"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"golang.org/x/oauth2"
)

// --- tests ------------------------------------------------------------------

func TestCachedTokenReuse(t *testing.T) {
	var h *harness
	h = newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	a := h.mustToken(t)
	b := h.mustToken(t)
	if a != b || h.ep.count.Load() != 1 {
		t.Fatalf("second call: same=%v, requests=%d; want the cached token and 1 request", a == b, h.ep.count.Load())
	}
	if !a.Expiry.Equal(h.clk.Now().Add(time.Hour)) || a.Type() != "Bearer" {
		t.Errorf("token expiry %v type %q", a.Expiry, a.Type())
	}
	// Account names are case-insensitive.
	if c, err := h.m.Token(context.Background(), tenant, prov, "X@Y.com"); err != nil || c != a {
		t.Errorf("mixed-case account: %v, same=%v", err, c == a)
	}
	// TokenSource goes through the Manager.
	if c, err := h.m.Source(tenant, prov, account).Token(context.Background()); err != nil || c != a {
		t.Errorf("Source: %v, same=%v", err, c == a)
	}
	h.clk.Advance(54 * time.Minute) // 6 minutes left: still outside the 5 min margin
	if c := h.mustToken(t); c != a || h.ep.count.Load() != 1 {
		t.Errorf("at 54 min: requests=%d", h.ep.count.Load())
	}
}

func TestRefreshAfterExpiry(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	a := h.mustToken(t)
	h.clk.Advance(56 * time.Minute) // within the 5 min margin
	b := h.mustToken(t)
	if h.ep.count.Load() != 2 || a.AccessToken == b.AccessToken {
		t.Fatalf("within margin: requests=%d, new token=%v", h.ep.count.Load(), a.AccessToken != b.AccessToken)
	}
	h.clk.Advance(2 * time.Hour) // long expired
	c := h.mustToken(t)
	if h.ep.count.Load() != 3 || c.AccessToken == b.AccessToken {
		t.Fatalf("after expiry: requests=%d", h.ep.count.Load())
	}
	// No rotation: the stored refresh token is unchanged and reused.
	if g := h.stored(t); g.RefreshToken != firstRT || h.ep.lastSeen() != firstRT {
		t.Errorf("refresh token changed without rotation")
	}
}

func TestConcurrentCallsOneRefresh(t *testing.T) {
	gate := make(chan struct{})
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			if n > 1 {
				<-gate // hold the refresh until every caller waits for it
			}
			h.ep.writeToken(w, fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n), "", 3600)
		}
	})
	old := h.mustToken(t)
	h.clk.Advance(2 * time.Hour)

	const callers = 100
	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = h.m.Token(context.Background(), tenant, prov, account)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || toks[i] != toks[0] || toks[i].AccessToken == old.AccessToken {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if n := h.ep.count.Load(); n != 2 {
		t.Fatalf("token requests = %d, want 2 (first token + one refresh)", n)
	}
}

func TestRotatedRefreshTokenSavedBeforeUse(t *testing.T) {
	var mu sync.Mutex
	current := firstRT                // the refresh token the endpoint accepts
	issuedWith := map[string]string{} // refresh token -> access token issued with it
	handedOut := map[string]bool{}    // access tokens Token returned
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			mu.Lock()
			if rt != current {
				mu.Unlock()
				writeErr(w, 400, "invalid_grant", "Bad Request")
				return
			}
			next, access := fmt.Sprintf("1//refresh-SHOULD-NOT-LEAK-%d", n), fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n)
			current, issuedWith[next] = next, access
			mu.Unlock()
			h.ep.writeToken(w, access, next, 3600)
		}
	})
	// Every store write of a rotated refresh token must happen before the
	// access token issued with it is handed out.
	var saves atomic.Int64
	h.st.onSet = func(g store.Grant) {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := issuedWith[string(g.Secret)]; ok {
			saves.Add(1)
			if handedOut[a] {
				t.Errorf("refresh token saved after the access token issued with it was handed out")
			}
		}
	}
	got := func(tok *oauth2.Token) {
		mu.Lock()
		handedOut[tok.AccessToken] = true
		mu.Unlock()
	}

	// 1. Saving fails: the call fails and no access token is handed out.
	h.st.failSets.Store(1)
	if tok, err := h.token(t); err == nil || tok != nil {
		t.Fatalf("Token succeeded although the rotated refresh token could not be saved")
	} else if !strings.Contains(err.Error(), "could not be saved") {
		t.Errorf("error: %v", err)
	}
	if g := h.stored(t); g.RefreshToken != firstRT {
		t.Fatalf("stored refresh token changed although the write failed")
	}

	// 2. Next call (after the failure backoff): the pending rotated token is
	// saved first, then used.
	h.clk.Advance(DefaultMaxBackoff + time.Second)
	got(h.mustToken(t))
	if h.ep.lastSeen() != "1//refresh-SHOULD-NOT-LEAK-1" {
		t.Errorf("second refresh did not use the rotated refresh token")
	}
	g := h.stored(t)
	if g.RefreshToken != "1//refresh-SHOULD-NOT-LEAK-2" {
		t.Fatalf("stored refresh token is not the latest rotated one")
	}
	if g.Status != grants.StatusActive || len(g.Scopes) != 1 || !g.ConnectedAt.Equal(h.grant.ConnectedAt) {
		t.Errorf("grant fields changed: %+v", g.Status)
	}

	// 3. A later refresh rotates again.
	h.clk.Advance(2 * time.Hour)
	got(h.mustToken(t))
	if h.ep.lastSeen() != "1//refresh-SHOULD-NOT-LEAK-2" || h.stored(t).RefreshToken != "1//refresh-SHOULD-NOT-LEAK-3" {
		t.Fatalf("second rotation not used or not saved")
	}

	// 4. Restart: a new Manager over the same store uses the rotated token.
	m2 := New(h.cfg)
	defer m2.Close()
	tok, err := m2.Token(context.Background(), tenant, prov, account)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	got(tok)
	if h.ep.lastSeen() != "1//refresh-SHOULD-NOT-LEAK-3" || h.stored(t).RefreshToken != "1//refresh-SHOULD-NOT-LEAK-4" {
		t.Errorf("restarted manager did not use the stored rotated refresh token")
	}
	if saves.Load() != 4 {
		t.Errorf("rotated refresh tokens saved: %d, want 4", saves.Load())
	}
}

func TestRefreshWithoutRefreshTokenKeepsOld(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	var sets atomic.Int64
	h.st.onSet = func(store.Grant) { sets.Add(1) }
	h.mustToken(t)
	h.clk.Advance(2 * time.Hour)
	h.mustToken(t)
	if g := h.stored(t); g.RefreshToken != firstRT || sets.Load() != 0 {
		t.Errorf("grant rewritten (%d sets) or refresh token lost", sets.Load())
	}
}

func TestTransientFailuresRetried(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			if n <= 2 {
				http.Error(w, "backend error "+rt, http.StatusServiceUnavailable) // a body echoing a secret
				return
			}
			h.ep.writeToken(w, "ya29.access-SHOULD-NOT-LEAK-ok", "", 3600)
		}
	})
	if tok := h.mustToken(t); tok.AccessToken != "ya29.access-SHOULD-NOT-LEAK-ok" {
		t.Fatal("wrong token")
	}
	if n := h.ep.count.Load(); n != 3 {
		t.Fatalf("requests = %d, want 3 (two 503s, then success)", n)
	}
}

func TestTransientFailureGivesUp(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `{"oops":"%s %s"}`, rt, clientSecret)
		}
	})
	_, err := h.token(t)
	var fe *RefreshError
	if !errors.As(err, &fe) || !fe.Temporary || fe.Attempts != 3 || fe.Status != 502 {
		t.Fatalf("err = %#v", err)
	}
	if n := h.ep.count.Load(); n != 3 {
		t.Fatalf("requests = %d, want 3", n)
	}
	if !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("error text: %v", err)
	}
	if !strings.Contains(err.Error(), "mailcal tries again in 1s") {
		t.Errorf("error text does not say when the next refresh is: %v", err)
	}
	// Before the next refresh, a caller whose deadline comes first gets
	// the same failure at once, without a request.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err2 := h.m.Token(ctx, tenant, prov, account); !errors.As(err2, &fe) || fe.Status != 502 || h.ep.count.Load() != 3 {
		t.Errorf("within the backoff: %v, requests=%d", err2, h.ep.count.Load())
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				writeErr(w, http.StatusTooManyRequests, "rate_limited", "slow down")
				return
			}
			h.ep.writeToken(w, "ya29.access-SHOULD-NOT-LEAK", "", 3600)
		}
	})
	start := time.Now()
	h.mustToken(t)
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v; Retry-After said 1s", d)
	}
	if h.ep.count.Load() != 2 {
		t.Errorf("requests = %d", h.ep.count.Load())
	}
}

func TestPermanentFailureNotRetried(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			writeErr(w, 401, "invalid_client", "Unauthorized")
		}
	})
	_, err := h.token(t)
	var fe *RefreshError
	if !errors.As(err, &fe) || fe.Temporary || fe.Code != "invalid_client" || h.ep.count.Load() != 1 {
		t.Fatalf("err = %v, requests = %d", err, h.ep.count.Load())
	}
	if errors.Is(err, ErrNeedsReauth) {
		t.Error("invalid_client is not a reauth")
	}
	if g := h.stored(t); g.Status != grants.StatusActive {
		t.Errorf("grant marked %s", g.Status)
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	cfg := h.cfg
	cfg.Providers = testProviders(t, deadURL, clientSecret, nil)
	m := New(cfg)
	defer m.Close()
	_, err := m.Token(context.Background(), tenant, prov, account)
	var fe *RefreshError
	if !errors.As(err, &fe) || !fe.Temporary || fe.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	h.assertNoLeak(t, err.Error(), "error")
}

func TestStaleTokenUsedWhileRefreshFails(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			if n == 1 {
				h.ep.writeToken(w, "ya29.access-SHOULD-NOT-LEAK-1", "", 3600)
				return
			}
			http.Error(w, "down", 503)
		}
	})
	a := h.mustToken(t)
	h.clk.Advance(57 * time.Minute) // refresh due, 3 minutes left
	b := h.mustToken(t)
	if b != a || h.ep.count.Load() != 4 {
		t.Fatalf("want the still-valid token after a failed early refresh; requests=%d", h.ep.count.Load())
	}
	h.clk.Advance(5 * time.Minute) // expired
	if _, err := h.token(t); err == nil {
		t.Fatal("expired token handed out")
	}
}

func TestNoSecretInErrors(t *testing.T) {
	// Token-endpoint answers that quote secrets in every field.
	answers := []func(w http.ResponseWriter, rt string){
		func(w http.ResponseWriter, rt string) { writeErr(w, 400, "invalid_grant", "bad token "+rt) },
		func(w http.ResponseWriter, rt string) {
			writeErr(w, 401, "invalid_client", "secret "+clientSecret+" refused")
		},
		func(w http.ResponseWriter, rt string) { http.Error(w, rt+" "+clientSecret, 500) },
		func(w http.ResponseWriter, rt string) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(418)
			fmt.Fprintf(w, "refresh_token=%s&client_secret=%s", rt, clientSecret)
		},
		func(w http.ResponseWriter, rt string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"refresh_token":%q}`, rt) // 200 without an access token
		},
	}
	for i, answer := range answers {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
				return func(w http.ResponseWriter, rt string, n int64) { answer(w, rt) }
			})
			_, err := h.token(t) // checks err.Error() for secrets
			if err == nil {
				t.Fatal("no error")
			}
			h.assertNoLeak(t, fmt.Sprintf("%v %+v %#v", err, err, errors.Unwrap(err)), "formatted error")
			if g := h.stored(t); strings.Contains(g.StatusReason, firstRT) || strings.Contains(g.StatusReason, clientSecret) {
				t.Errorf("status reason leaks: %q", g.StatusReason)
			}
		})
	}
}

func TestMarginClampedForShortTokens(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		return func(w http.ResponseWriter, rt string, n int64) {
			h.ep.writeToken(w, fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n), "", 120) // 2 min < margin
		}
	})
	h.mustToken(t)
	h.mustToken(t)
	if h.ep.count.Load() != 1 {
		t.Fatalf("a token shorter than the margin is refreshed on every call")
	}
	h.clk.Advance(61 * time.Second)
	h.mustToken(t)
	if h.ep.count.Load() != 2 {
		t.Fatalf("not refreshed after half its lifetime")
	}
}

func TestClosedAndUnconfigured(t *testing.T) {
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) { return okHandler(&h.ep) })
	cfg := h.cfg
	cfg.Providers = testProviders(t, h.ep.srv.URL, "", nil)
	m := New(cfg)
	if _, err := m.Token(context.Background(), tenant, prov, account); !errors.Is(err, providers.ErrNotConfigured) {
		t.Errorf("unconfigured client: %v", err)
	}
	m.Close()
	h.m.Close()
	if _, err := h.token(t); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if h.ep.count.Load() != 0 {
		t.Errorf("requests = %d", h.ep.count.Load())
	}
}

func BenchmarkTokenCached(b *testing.B) {
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"ya29.a","token_type":"Bearer","expires_in":3600}`)
	}))
	defer ep.Close()
	gs := grants.New(memory.New(), grants.Plain)
	ctx := context.Background()
	if err := gs.Put(ctx, grants.Grant{Tenant: tenant, Provider: prov, Account: account, RefreshToken: "1//r", Status: grants.StatusActive}); err != nil {
		b.Fatal(err)
	}
	m := New(Config{Grants: gs, Providers: testProviders(b, ep.URL, "s", nil)})
	defer m.Close()
	if _, err := m.Token(ctx, tenant, prov, account); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Token(ctx, tenant, prov, account); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Token(ctx, tenant, prov, account); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

const (
	tenant       = "acme"
	prov         = "google"
	account      = "x@y.com"
	clientSecret = "client-secret-SHOULD-NOT-LEAK"
	firstRT      = "1//refresh-SHOULD-NOT-LEAK-0"
)

// --- test doubles -----------------------------------------------------------

// endpoint is a fake token endpoint. handle answers one request; n counts
// from 1.
type endpoint struct {
	srv    *httptest.Server
	count  atomic.Int64
	mu     sync.Mutex
	handle func(w http.ResponseWriter, rt string, n int64)
	seen   []string // refresh tokens received
	issued []string // access and refresh tokens issued (to look for leaks)
}

func newEndpoint(t *testing.T, handle func(w http.ResponseWriter, rt string, n int64)) *endpoint {
	ep := &endpoint{handle: handle}
	ep.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ep.count.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", 400)
			return
		}
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("client_secret") != clientSecret || r.PostForm.Get("client_id") != "cid" {
			writeErr(w, 401, "invalid_client", "The OAuth client was not found.")
			return
		}
		rt := r.PostForm.Get("refresh_token")
		ep.mu.Lock()
		ep.seen = append(ep.seen, rt)
		ep.mu.Unlock()
		ep.handle(w, rt, n)
	}))
	t.Cleanup(ep.srv.Close)
	return ep
}

func (ep *endpoint) lastSeen() string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if len(ep.seen) == 0 {
		return ""
	}
	return ep.seen[len(ep.seen)-1]
}

func (ep *endpoint) writeToken(w http.ResponseWriter, access, refresh string, expiresIn int) {
	ep.mu.Lock()
	ep.issued = append(ep.issued, access)
	if refresh != "" {
		ep.issued = append(ep.issued, refresh)
	}
	ep.mu.Unlock()
	m := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": expiresIn, "scope": "openid email"}
	if refresh != "" {
		m["refresh_token"] = refresh
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}

func writeErr(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// okHandler issues access-N tokens valid for an hour, without rotation.
func okHandler(ep **endpoint) func(http.ResponseWriter, string, int64) {
	return func(w http.ResponseWriter, rt string, n int64) {
		(*ep).writeToken(w, fmt.Sprintf("ya29.access-SHOULD-NOT-LEAK-%d", n), "", 3600)
	}
}

// flakyStore wraps a grant store; PutGrant fails while failSets > 0, and
// onSet sees every grant written.
type flakyStore struct {
	store.Grants
	failSets atomic.Int64
	onSet    func(g store.Grant)
}

func (f *flakyStore) PutGrant(ctx context.Context, g store.Grant) (int64, error) {
	if f.failSets.Add(-1) >= 0 {
		return 0, errors.New("keyring locked")
	}
	f.failSets.Store(0)
	v, err := f.Grants.PutGrant(ctx, g)
	if err != nil {
		return v, err
	}
	if f.onSet != nil {
		f.onSet(g)
	}
	return v, nil
}

// testProviders is a registry of one provider whose token endpoint is
// tokenURL; advice, if set, is its dead-grant advice.
func testProviders(t testing.TB, tokenURL, secret string, advice func(providers.DeadGrant) string) *providers.Registry {
	t.Helper()
	spec := &providers.Spec{
		Name: prov, Title: "Example", Products: "Example Mail",
		Configure: func(func(string) string) (providers.Config, error) {
			return providers.Config{ClientID: "cid", ClientSecret: secret, TokenURL: tokenURL}, nil
		},
		NewAPI: func(providers.Config, *http.Client) (providers.API, error) { return nil, errors.New("no API") },
		Scopes: map[string][]string{providers.MailRead: {"mail"}}, DeadGrantAdvice: advice,
		Limits: providers.Limits{MaxMessageBytes: 1 << 20, MaxRecipients: 10},
	}
	reg, err := providers.NewRegistry([]*providers.Spec{spec}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

type harness struct {
	m     *Manager
	gs    *grants.Store
	st    *flakyStore
	ep    *endpoint
	clk   *testclock.Clock
	logs  *syncBuffer
	cfg   Config
	grant grants.Grant
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, handle func(h *harness) func(http.ResponseWriter, string, int64)) *harness {
	t.Helper()
	h := &harness{clk: testclock.New(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)), logs: &syncBuffer{}}
	h.ep = newEndpoint(t, func(w http.ResponseWriter, rt string, n int64) { handle(h)(w, rt, n) })
	h.st = &flakyStore{Grants: memory.New()}
	h.gs = grants.New(h.st, grants.Plain)
	h.grant = grants.Grant{Tenant: tenant, Provider: prov, Account: account, RefreshToken: firstRT,
		Scopes: []string{providers.MailRead}, ConnectedAt: h.clk.Now().Add(-24 * time.Hour), Status: grants.StatusActive}
	if err := h.gs.Put(context.Background(), h.grant); err != nil {
		t.Fatal(err)
	}
	h.cfg = Config{
		Grants:    h.gs,
		Providers: testProviders(t, h.ep.srv.URL, clientSecret, nil),
		Now:       h.clk.Now,
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryBase: time.Millisecond,
		Tenants:   func(context.Context) ([]string, error) { return []string{tenant}, nil },
	}
	h.m = New(h.cfg)
	t.Cleanup(func() {
		h.m.Close()
		h.assertNoLeak(t, h.logs.String(), "log")
	})
	return h
}

func (h *harness) token(t *testing.T) (*oauth2.Token, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := h.m.Token(ctx, tenant, prov, account)
	if err != nil {
		h.assertNoLeak(t, err.Error(), "error")
	}
	return tok, err
}

func (h *harness) mustToken(t *testing.T) *oauth2.Token {
	t.Helper()
	tok, err := h.token(t)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok.RefreshToken != "" {
		t.Fatalf("a handed-out token carries the refresh token")
	}
	return tok
}

func (h *harness) stored(t *testing.T) grants.Grant {
	t.Helper()
	g, err := h.gs.Get(context.Background(), tenant, prov, account)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// assertNoLeak fails if s holds any token, the client secret or a refresh
// token ever used.
func (h *harness) assertNoLeak(t *testing.T, s, what string) {
	t.Helper()
	secrets := []string{clientSecret, firstRT, "SHOULD-NOT-LEAK"}
	h.ep.mu.Lock()
	secrets = append(secrets, h.ep.issued...)
	secrets = append(secrets, h.ep.seen...)
	h.ep.mu.Unlock()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("%s contains a secret (%q): %s", what, sec, s)
		}
	}
}
