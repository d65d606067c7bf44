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

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
)

const (
	tenant       = "acme"
	prov         = "google"
	account      = "x@y.com"
	clientSecret = "client-secret-SHOULD-NOT-LEAK"
	firstRT      = "1//refresh-SHOULD-NOT-LEAK-0"
)

// --- test doubles -----------------------------------------------------------

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

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
	clk   *clock
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
	h := &harness{clk: &clock{t: time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
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
