package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// TestSignAll: one v1 per secret, the first as Sign's; a receiver holding
// any of them verifies, one holding another does not.
func TestSignAll(t *testing.T) {
	now := time.Unix(1800000000, 0)
	body := []byte(`{"id":"evt_1"}`)
	cur, _ := NewSecret()
	old, _ := NewSecret()
	other, _ := NewSecret()
	h := SignAll([]string{cur, old}, now, body)
	if !strings.HasPrefix(h, Sign(cur, now, body)+",v1=") || strings.Count(h, "v1=") != 2 {
		t.Errorf("SignAll = %q; want Sign's value of the current secret, then a second v1", h)
	}
	for _, s := range []string{cur, old} {
		if err := Verify(s, h, body, now, DefaultTolerance); err != nil {
			t.Errorf("a receiver holding one of the two secrets: %v", err)
		}
	}
	if err := Verify(other, h, body, now, DefaultTolerance); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a receiver holding neither: %v; want ErrBadSignature", err)
	}
	if err := Verify(old, h, []byte(`{"id":"evt_2"}`), now, DefaultTolerance); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another body: %v; want ErrBadSignature", err)
	}
}

// TestAPIRotation: every PUT makes a new secret unless keep_secret; the
// one it replaces is kept (never shown) until SecretOverlap has passed.
func TestAPIRotation(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &API{Store: st, Sealer: grants.Plain, Lookup: fakeDNS, now: func() time.Time { return clock }}
	const u1, u2 = "https://hooks.example.com/one", "https://hooks.example.com/two"

	code, out := api(t, a, "PUT", `{"url":"`+u1+`","keep_secret":true}`)
	if msg, _ := errMessage(out); code != 409 || !strings.Contains(msg, "keep_secret") {
		t.Errorf("keep_secret without a webhook: %d %v; want 409 naming keep_secret", code, out)
	}
	if code, out := api(t, a, "PUT", `{"url":"`+u1+`","keep_secret":"yes"}`); code != 400 {
		t.Errorf("keep_secret not a boolean: %d %v", code, out)
	}
	code, out = api(t, a, "PUT", `{"url":"`+u1+`"}`)
	s1, _ := out["secret"].(string)
	if code != 200 || ValidSecret(s1) != nil || out["previous_secret_until"] != nil {
		t.Fatalf("first PUT: %d %v; want a secret and no previous one", code, out)
	}

	// Only the URL changes.
	code, out = api(t, a, "PUT", `{"url":"`+u2+`","keep_secret":true}`)
	if code != 200 || out["url"] != u2 || out["secret"] != nil || out["previous_secret_until"] != nil {
		t.Errorf("PUT keep_secret: %d %v; want the new URL and no secret", code, out)
	}
	if wh, _ := st.GetWebhook(ctx, "acme"); wh.URL != u2 || string(wh.Secret) != s1 || wh.PreviousSecret != nil {
		t.Errorf("after keep_secret, stored %+v; want the new URL and the same secret", wh)
	}

	// A new secret; the first signs beside it for a day.
	clock = clock.Add(time.Hour)
	until := clock.Add(SecretOverlap).Format(time.RFC3339)
	code, out = api(t, a, "PUT", `{"url":"`+u2+`"}`)
	s2, _ := out["secret"].(string)
	if code != 200 || ValidSecret(s2) != nil || s2 == s1 || out["previous_secret_until"] != until {
		t.Fatalf("rotating PUT: %d %v; want a new secret and previous_secret_until %s", code, out, until)
	}
	if wh, _ := st.GetWebhook(ctx, "acme"); string(wh.Secret) != s2 || string(wh.PreviousSecret) != s1 {
		t.Errorf("after rotation, stored %+v; want the new secret and the old one as previous", wh)
	}
	code, out = api(t, a, "GET", "")
	if code != 200 || out["previous_secret_until"] != until || out["secret"] != nil || strings.Contains(strings.Join(values(out), " "), "whsec_") {
		t.Errorf("GET during the overlap: %d %v", code, out)
	}
	// keep_secret during the overlap keeps the previous one too.
	clock = clock.Add(SecretOverlap - time.Second)
	if code, out := api(t, a, "PUT", `{"url":"`+u1+`","keep_secret":true}`); code != 200 || out["previous_secret_until"] != until {
		t.Errorf("keep_secret during the overlap: %d %v; want previous_secret_until %s", code, out, until)
	}
	// Once over, GET no longer names it and the next PUT forgets it.
	clock = clock.Add(time.Second)
	if code, out := api(t, a, "GET", ""); code != 200 || out["previous_secret_until"] != nil {
		t.Errorf("GET after the overlap: %d %v", code, out)
	}
	api(t, a, "PUT", `{"url":"`+u1+`","keep_secret":true}`)
	if wh, _ := st.GetWebhook(ctx, "acme"); string(wh.Secret) != s2 || wh.PreviousSecret != nil || !wh.PreviousUntil.IsZero() {
		t.Errorf("keep_secret after the overlap stored %+v; want the previous secret gone", wh)
	}
	// Two rotations: the previous secret is the one the first answered.
	_, out = api(t, a, "PUT", `{"url":"`+u1+`"}`)
	s3, _ := out["secret"].(string)
	api(t, a, "PUT", `{"url":"`+u1+`"}`)
	if wh, _ := st.GetWebhook(ctx, "acme"); string(wh.PreviousSecret) != s3 {
		t.Errorf("after two rotations, the previous secret is not the second one")
	}
}

func errMessage(out map[string]any) (string, bool) {
	e, _ := out["error"].(map[string]any)
	m, ok := e["message"].(string)
	return m, ok
}

func values(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestDeliveryOverlap: after a rotation, a receiver that still holds the
// old secret verifies deliveries until SecretOverlap has passed, and no
// longer after; one holding the new secret verifies both.
func TestDeliveryOverlap(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	var mu sync.Mutex
	var headers []string
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		headers, bodies = append(headers, r.Header.Get(SignatureHeader)), append(bodies, b)
	}))
	defer srv.Close()
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	a := &API{Store: st, Sealer: grants.Plain, AllowLoopback: true, now: now}
	_, out := api(t, a, "PUT", `{"url":"`+srv.URL+`/hook"}`)
	oldSecret, _ := out["secret"].(string)
	_, out = api(t, a, "PUT", `{"url":"`+srv.URL+`/hook"}`)
	newSecret, _ := out["secret"].(string)
	if ValidSecret(oldSecret) != nil || ValidSecret(newSecret) != nil {
		t.Fatalf("PUTs answered %q and %q", oldSecret, newSecret)
	}
	o := &Outbox{Store: st, Sealer: grants.Plain, Sender: NewSender(true), Log: slog.New(slog.DiscardHandler), now: now}
	deliver := func(key string) (string, []byte) {
		t.Helper()
		o.Emit(ctx, grants.Transition{Tenant: "acme", Provider: "google", Account: "a@example.com", To: grants.StatusActive, Key: key})
		if n := o.Once(ctx); n != 1 {
			t.Fatalf("claimed %d deliveries; want 1", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(headers) == 0 {
			t.Fatal("nothing delivered")
		}
		return headers[len(headers)-1], bodies[len(bodies)-1]
	}

	h, body := deliver("k1")
	if strings.Count(h, "v1=") != 2 {
		t.Errorf("during the overlap, %q; want two v1", h)
	}
	for name, s := range map[string]string{"old": oldSecret, "new": newSecret} {
		if err := Verify(s, h, body, time.Now(), DefaultTolerance); err != nil {
			t.Errorf("during the overlap, a receiver with the %s secret: %v", name, err)
		}
	}
	mu.Lock()
	clock = clock.Add(SecretOverlap + time.Second)
	mu.Unlock()
	h, body = deliver("k2")
	if err := Verify(oldSecret, h, body, time.Now(), DefaultTolerance); !errors.Is(err, ErrBadSignature) {
		t.Errorf("after the overlap, a receiver with the old secret: %v; want ErrBadSignature", err)
	}
	if err := Verify(newSecret, h, body, time.Now(), DefaultTolerance); err != nil || strings.Count(h, "v1=") != 1 {
		t.Errorf("after the overlap, %q with the new secret: %v; want one v1, verified", h, err)
	}
	if err := o.Sender.Send(ctx, srv.URL+"/hook", nil, "evt_x", body); err == nil {
		t.Error("Send without a secret: nil; want an error, nothing sent unsigned")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(headers) != 2 {
		t.Errorf("%d deliveries made; want 2", len(headers))
	}
}
