//go:build unix

package e2e

// Webhooks end to end: two replicas on one PostgreSQL, a receiver on
// loopback that checks every signature; connect, a grant revoked at Google
// and found by a refresh, reconnect and disconnect each delivered once,
// also while the receiver was down for a while.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
	"github.com/mailcal/mailcal/auth/webhook"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

type hookReceiver struct {
	t       *testing.T
	mu      sync.Mutex
	secret  string
	events  []webhook.Event
	down    atomic.Bool
	refused atomic.Int32
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if h.down.Load() {
		h.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(h.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
		h.t.Errorf("a delivery failed verification: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(webhook.IDHeader) {
		h.t.Errorf("delivery body %s: %v", body, err)
	}
	h.events = append(h.events, ev)
	w.WriteHeader(http.StatusNoContent)
}

// waitFor waits until n events arrived and returns them.
func (h *hookReceiver) waitFor(t *testing.T, n int, within time.Duration) []webhook.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		h.mu.Lock()
		got := append([]webhook.Event(nil), h.events...)
		h.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				types := []string{}
				for _, e := range got {
					types = append(types, e.Type)
				}
				t.Fatalf("%d deliveries %v; want %d", len(got), types, n)
			}
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newWebhookFixture is a database fixture whose servers accept loopback
// webhook URLs.
func newWebhookFixture(t *testing.T) (*googleFixture, string) {
	t.Helper()
	mailcalBinary(t)
	dbURL := pgtest.URL(t)
	master := make([]byte, 32)
	rand.Read(master)
	masterKey := base64.StdEncoding.EncodeToString(master)
	fx := newGoogleFixture(t, googletest.Options{}, "MAILCAL_DATABASE_URL="+dbURL, "MAILCAL_ENCRYPTION_KEY="+masterKey,
		"MAILCAL_WEBHOOK_ALLOW_LOOPBACK=1")
	u, _ := url.Parse(dbURL)
	pw, _ := u.User.Password()
	fx.leaks.secret(pw)
	fx.leaks.secret(masterKey)
	return fx, dbURL
}

// putWebhook registers url for the tenant of key and returns the secret.
func putWebhook(t *testing.T, fx *googleFixture, s *httpServer, key, hookURL string) string {
	t.Helper()
	r := s.do(t, "PUT", "/api/webhook", strings.NewReader(`{"url":"`+hookURL+`"}`), "Authorization", "Bearer "+key)
	var put struct{ URL, Secret string }
	if err := json.Unmarshal(r.body, &put); r.status != 200 || err != nil || webhook.ValidSecret(put.Secret) != nil {
		t.Fatalf("PUT /api/webhook: %d %s", r.status, r.body)
	}
	fx.leaks.secret(put.Secret)
	return put.Secret
}

func TestE2EWebhooks(t *testing.T) {
	t.Parallel()
	fx, dbURL := newWebhookFixture(t)
	key := fx.dbTenant(t, "acme")

	rc := &hookReceiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	a, b := fx.startHTTP(t), fx.startHTTP(t)

	r := a.do(t, "PUT", "/api/webhook", strings.NewReader(`{"url":"https://10.0.0.1/hook"}`), "Authorization", "Bearer "+key)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "private") {
		t.Errorf("PUT of a private address: %d %s", r.status, r.body)
	}
	secret := putWebhook(t, fx, a, key, srv.URL+"/hook")
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	r = b.do(t, "GET", "/api/webhook", nil, "Authorization", "Bearer "+key)
	if r.status != 200 || !strings.Contains(string(r.body), srv.URL) || strings.Contains(string(r.body), secret) {
		t.Errorf("GET /api/webhook on the other replica: %d %s", r.status, r.body)
	}

	fx.connectHTTP(t, a, key, alice, "mail.read")
	rc.waitFor(t, 1, 15*time.Second)

	// Revoked at Google, found by a refresh on each replica at once: one
	// transition, one delivery.
	fx.fg.RevokeUser(alice)
	fx.fg.ExpireAccessTokens()
	var wg sync.WaitGroup
	for _, s := range []*httpServer{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
			fx.call(t, c, "check_account", map[string]any{"account": alice})
		}()
	}
	wg.Wait()
	rc.waitFor(t, 2, 15*time.Second)

	// The receiver is down when the account is reconnected: delivered once
	// it is back, after a retry.
	rc.down.Store(true)
	fx.connectHTTP(t, b, key, alice, "mail.read")
	deadline := time.Now().Add(15 * time.Second)
	for rc.refused.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	rc.down.Store(false)
	if rc.refused.Load() == 0 {
		t.Fatal("the reconnect's event was not attempted while the receiver was down")
	}
	rc.waitFor(t, 3, 30*time.Second) // the first retry comes 5 to 10 s later

	if r := a.do(t, "DELETE", "/api/integrations/google/"+alice, nil, "Authorization", "Bearer "+key); r.status/100 != 2 {
		t.Fatalf("disconnect: %d %s", r.status, r.body)
	}
	events := rc.waitFor(t, 4, 15*time.Second)
	time.Sleep(2 * time.Second) // nothing more comes
	events = rc.waitFor(t, 4, 0)

	want := []string{webhook.AccountConnected, webhook.AccountNeedsReauth, webhook.AccountRecovered, webhook.AccountDisconnected}
	ids := map[string]bool{}
	for i, ev := range events {
		if ev.Type != want[i] || ev.Tenant != "acme" || ev.Provider != "google" || ev.Account != alice || ids[ev.ID] {
			t.Errorf("delivery %d: %+v; want %s of %s", i, ev, want[i], alice)
		}
		ids[ev.ID] = true
	}
	if c := events[1].Data["cause"]; !strings.Contains(c, "invalid_grant") {
		t.Errorf("needs_reauth's cause %q", c)
	}
	if u := events[1].Data["reconnect_url"]; !strings.HasSuffix(u, "/api/integrations/google/authorize?login_hint="+url.QueryEscape(alice)) {
		t.Errorf("needs_reauth's reconnect URL %q", u)
	}

	// The replicas' counters: four delivered between them, the reconnect's
	// first attempt retried.
	var delivered, retried float64
	for _, s := range []*httpServer{a, b} {
		fams, _ := scrape(t, s.base)
		delivered += sample(fams, "mailcal_webhook_deliveries_total", map[string]string{"outcome": "delivered"})
		retried += sample(fams, "mailcal_webhook_deliveries_total", map[string]string{"outcome": "retried"})
	}
	if delivered != 4 || retried < 1 {
		t.Errorf("metrics: %v delivered, %v retried; want 4 and at least 1", delivered, retried)
	}

	// A new secret: the receiver, still holding the old one, verifies the
	// next delivery (both sign for a day); GET says until when, never the
	// secrets.
	newSecret := putWebhook(t, fx, b, key, srv.URL+"/hook")
	r = a.do(t, "GET", "/api/webhook", nil, "Authorization", "Bearer "+key)
	if r.status != 200 || !strings.Contains(string(r.body), `"previous_secret_until":"`) || strings.Contains(string(r.body), "whsec_") || newSecret == secret {
		t.Errorf("GET /api/webhook after a new secret: %d %s", r.status, r.body)
	}
	fx.connectHTTP(t, a, key, alice, "mail.read")
	rc.waitFor(t, 5, 15*time.Second) // verified with the old secret

	if r := b.do(t, "DELETE", "/api/webhook", nil, "Authorization", "Bearer "+key); r.status != http.StatusNoContent {
		t.Errorf("DELETE /api/webhook: %d %s", r.status, r.body)
	}
	if r := a.do(t, "GET", "/api/webhook", nil, "Authorization", "Bearer "+key); r.status != http.StatusNotFound {
		t.Errorf("GET /api/webhook after DELETE: %d %s", r.status, r.body)
	}

	// Removing the tenant removes its webhook.
	if r := a.do(t, "PUT", "/api/webhook", strings.NewReader(`{"url":"`+srv.URL+`/hook"}`), "Authorization", "Bearer "+key); r.status != 200 {
		t.Fatalf("PUT /api/webhook again: %d %s", r.status, r.body)
	}
	if _, errOut, code := fx.run(t, "tenant", "remove", "acme"); code != 0 {
		t.Fatalf("tenant remove: exit %d %s", code, tail(errOut, 1000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM webhooks WHERE tenant = 'acme'").Scan(&n); err != nil || n != 0 {
		t.Errorf("after tenant remove, %d webhooks of acme (%v)", n, err)
	}
}

// TestE2EWebhookClaimantKilled: the replica attempting a delivery is killed
// (-9) while the receiver holds the request; another replica delivers it
// once the lease has passed. Nothing is lost.
func TestE2EWebhookClaimantKilled(t *testing.T) {
	t.Parallel()
	fx, _ := newWebhookFixture(t)
	key := fx.dbTenant(t, "acme")
	held := make(chan string, 4)
	release := make(chan struct{})
	var first atomic.Bool
	var mu sync.Mutex
	var secret string
	var delivered []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhook.IDHeader)
		if first.CompareAndSwap(false, true) {
			held <- id
			select { // until the client is gone or the test ends
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
			t.Errorf("redelivery not verified: %v", err)
		}
		delivered = append(delivered, id)
	}))
	defer srv.Close()
	defer close(release)

	a := fx.startHTTP(t)
	s := putWebhook(t, fx, a, key, srv.URL+"/hook")
	mu.Lock()
	secret = s
	mu.Unlock()
	fx.connectHTTP(t, a, key, alice, "mail.read")
	var heldID string
	select {
	case heldID = <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the connected event was not attempted")
	}
	a.proc.signal(t, 9)
	fx.startHTTP(t)
	deadline := time.Now().Add(60 * time.Second) // the 30 s lease, then a 5 s poll
	for {
		mu.Lock()
		got := append([]string(nil), delivered...)
		mu.Unlock()
		if len(got) > 0 {
			if len(got) != 1 || got[0] != heldID {
				t.Fatalf("delivered %v; want %s once", got, heldID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed replica's delivery was never made")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
