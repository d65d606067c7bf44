package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
)

type receiver struct {
	mu     sync.Mutex
	secret string
	events []Event
	ids    map[string]int
	fail   atomic.Bool
	t      *testing.T
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if rc.fail.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := Verify(rc.secret, r.Header.Get(SignatureHeader), body, time.Now(), DefaultTolerance); err != nil {
		rc.t.Errorf("delivery not verified: %v", err)
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(IDHeader) {
		rc.t.Errorf("body %s: %v", body, err)
	}
	if strings.Contains(string(body), "rt-secret") {
		rc.t.Errorf("a delivery carries the refresh token: %s", body)
	}
	rc.ids[ev.ID]++
	rc.events = append(rc.events, ev)
}

func (rc *receiver) types() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, e := range rc.events {
		out = append(out, e.Type)
	}
	return out
}

func api(t *testing.T, a *API, method, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, "/api/webhook", strings.NewReader(body))
	r = r.WithContext(tenant.WithName(r.Context(), "acme"))
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func TestAPI(t *testing.T) {
	st := memory.New()
	a := &API{Store: st, Sealer: grants.Plain, AllowLoopback: true, Lookup: fakeDNS}
	if code, _ := api(t, a, "GET", ""); code != 404 {
		t.Errorf("GET without a webhook: %d", code)
	}
	for body, want := range map[string]int{
		`{"url":"http://hooks.example.com/h"}`:        400,
		`{"url":"https://u:p@hooks.example.com/h"}`:   400,
		`{"url":"https://10.0.0.1/h"}`:                400,
		`{"url":"https://hooks.example.com/h","x":1}`: 400,
		`not json`: 400,
		`{"url":"` + strings.Repeat("a", maxBody) + `"}`: 413,
	} {
		if code, out := api(t, a, "PUT", body); code != want {
			t.Errorf("PUT %.60s: %d %v, want %d", body, code, out, want)
		}
	}
	code, out := api(t, a, "PUT", `{"url":"https://hooks.example.com/h"}`)
	secret, _ := out["secret"].(string)
	if code != 200 || ValidSecret(secret) != nil || out["url"] != "https://hooks.example.com/h" {
		t.Fatalf("PUT: %d %v", code, out)
	}
	code, out = api(t, a, "GET", "")
	if code != 200 || out["url"] != "https://hooks.example.com/h" || out["secret"] != nil {
		t.Errorf("GET: %d %v", code, out)
	}
	stored, _ := st.GetWebhook(context.Background(), "acme")
	if string(stored.Secret) != secret {
		t.Errorf("the plain sealer stored %q", stored.Secret)
	}
	if code, _ := api(t, a, "POST", ""); code != 405 {
		t.Errorf("POST: %d", code)
	}
	if code, _ := api(t, a, "DELETE", ""); code != 204 {
		t.Errorf("DELETE: %d", code)
	}
	if code, _ := api(t, a, "DELETE", ""); code != 404 {
		t.Errorf("DELETE again: %d", code)
	}
	if code, out := api(t, &API{Sealer: grants.Plain}, "GET", ""); code != 501 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "MAILCAL_DATABASE_URL") {
		t.Errorf("without a webhook store: %d %v", code, out)
	}
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	rc := &receiver{ids: map[string]int{}, t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	a := &API{Store: st, Sealer: grants.Plain, AllowLoopback: true}
	_, out := api(t, a, "PUT", `{"url":"`+srv.URL+`/hook"}`)
	rc.secret, _ = out["secret"].(string)

	clock := time.Now()
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	log := slog.New(slog.DiscardHandler)
	var dropped atomic.Int32
	// Two outboxes over one store, as two replicas.
	boxes := make([]*Outbox, 2)
	for i := range boxes {
		boxes[i] = &Outbox{Store: st, Sealer: grants.Plain, Sender: NewSender(true), Log: log, BaseURL: func() string { return "https://mailcal.example.com/" }, now: now,
			Observe: func(o string) {
				if o == "dropped" {
					dropped.Add(1)
				}
			}}
	}
	g := grants.New(st, grants.Plain)
	g.OnTransition(boxes[0].Emit)
	g2 := grants.New(st, grants.Plain)
	g2.OnTransition(boxes[1].Emit)

	deliverAll := func() {
		var wg sync.WaitGroup
		for _, b := range boxes {
			wg.Add(1)
			go func() { defer wg.Done(); b.Once(ctx) }()
		}
		wg.Wait()
	}
	gr := grants.Grant{Tenant: "acme", Provider: "google", Account: "a@example.com", RefreshToken: "rt-secret", Status: grants.StatusActive}
	if err := g.Put(ctx, gr); err != nil {
		t.Fatal(err)
	}
	deliverAll()
	// Both replicas find the grant dead at once: one transition, one event.
	var wg sync.WaitGroup
	for _, gs := range []*grants.Store{g, g2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = gs.Update(ctx, "acme", "google", "a@example.com", func(cur *grants.Grant) error {
				if cur.Status != grants.StatusActive {
					return nil
				}
				cur.Status, cur.StatusReason = grants.StatusNeedsReauth, "invalid_grant"
				return nil
			})
		}()
	}
	wg.Wait()
	deliverAll()
	rc.fail.Store(true)
	if err := g2.Put(ctx, gr); err != nil { // reconnected
		t.Fatal(err)
	}
	deliverAll()
	if got := rc.types(); len(got) != 2 {
		t.Fatalf("delivered %v while the receiver was down", got)
	}
	rc.fail.Store(false)
	deliverAll() // not due yet
	if got := rc.types(); len(got) != 2 {
		t.Fatalf("delivered %v before the retry was due", got)
	}
	clockMu.Lock()
	clock = clock.Add(Backoff(1, func() float64 { return 1 }))
	clockMu.Unlock()
	deliverAll()
	if err := g.Delete(ctx, "acme", "google", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	deliverAll()

	want := []string{AccountConnected, AccountNeedsReauth, AccountRecovered, AccountDisconnected}
	if got := rc.types(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	for id, n := range rc.ids {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	ev := rc.events[1]
	if ev.Data["cause"] != "invalid_grant" || ev.Data["reconnect_url"] != "https://mailcal.example.com/api/integrations/google/authorize?login_hint=a%40example.com" ||
		ev.Tenant != "acme" || ev.Provider != "google" || ev.Account != "a@example.com" {
		t.Errorf("needs_reauth event %+v", ev)
	}
	// A receiver that stays down: the delivery is dropped after MaxAttempts.
	rc.fail.Store(true)
	gr.ConnectedAt = time.Now().Add(time.Minute)
	if err := g.Put(ctx, gr); err != nil {
		t.Fatal(err)
	}
	for range MaxAttempts {
		deliverAll()
		clockMu.Lock()
		clock = clock.Add(maxDelay)
		clockMu.Unlock()
	}
	if dropped.Load() != 1 {
		t.Errorf("dropped %d deliveries; want 1", dropped.Load())
	}
	if n := boxes[0].Once(ctx); n != 0 {
		t.Errorf("%d deliveries still claimable after the drop", n)
	}
}

// TestOutboxRunStops: Run returns once its context ends.
func TestOutboxRunStops(t *testing.T) {
	o := &Outbox{Store: memory.New(), Sealer: grants.Plain, Sender: NewSender(true), Log: slog.New(slog.DiscardHandler), Poll: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestEmitAfterCancel: a transition written by a caller whose context ends
// right after the write still queues its event.
func TestEmitAfterCancel(t *testing.T) {
	st := memory.New()
	if err := st.PutWebhook(context.Background(), store.Webhook{Tenant: "acme", URL: "https://hooks.example.com/", Secret: []byte("s"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	o := &Outbox{Store: st, Sealer: grants.Plain, Sender: NewSender(false), Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o.Emit(ctx, grants.Transition{Tenant: "acme", Provider: "google", Account: "a@example.com", From: grants.StatusActive, To: grants.StatusNeedsReauth, Reason: "invalid_grant", Key: "k1"})
	ds, err := st.ClaimDeliveries(context.Background(), time.Now().Add(time.Second), time.Minute, 5)
	if err != nil || len(ds) != 1 || !strings.Contains(string(ds[0].Body), `"type":"account.needs_reauth"`) || strings.Contains(string(ds[0].Body), "reconnect_url") {
		t.Fatalf("queued %+v (%v); want one needs_reauth without a reconnect URL (no base URL)", ds, err)
	}
	// needs_reauth to revoked tells nothing new.
	o.Emit(context.Background(), grants.Transition{Tenant: "acme", From: grants.StatusNeedsReauth, To: grants.StatusRevoked, Key: "k2"})
	// A tenant without a webhook queues nothing.
	o.Emit(context.Background(), grants.Transition{Tenant: "globex", To: grants.StatusActive, Key: "k3"})
	if ds, _ := st.ClaimDeliveries(context.Background(), time.Now().Add(time.Second), time.Minute, 5); len(ds) != 0 {
		t.Errorf("queued %+v", ds)
	}
}

// fakeDNS answers a public address for hooks.example.com, a private one
// for inside.example.com, nothing else.
func fakeDNS(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "hooks.example.com":
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
	case "inside.example.com":
		return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")}, nil
	}
	return nil, errors.New("no such host")
}

// TestOutboxWakes: an event this process queues is delivered at once, not
// at the next poll.
func TestOutboxWakes(t *testing.T) {
	st := memory.New()
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	defer srv.Close()
	if err := st.PutWebhook(context.Background(), store.Webhook{Tenant: "acme", URL: srv.URL, Secret: []byte("s"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	o := &Outbox{Store: st, Sealer: grants.Plain, Sender: NewSender(true), Log: slog.New(slog.DiscardHandler), Poll: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // Run's first pass is over
	o.Emit(ctx, grants.Transition{Tenant: "acme", Provider: "google", Account: "a@example.com", To: grants.StatusActive, Key: "k"})
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered within 5 s with an hourly poll")
	}
}
