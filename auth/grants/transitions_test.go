package grants

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	g := New(memory.New(), Plain)
	var mu sync.Mutex
	var got []Transition
	g.OnTransition(func(_ context.Context, tr Transition) {
		mu.Lock()
		got = append(got, tr)
		mu.Unlock()
	})
	gr := Grant{Tenant: "acme", Provider: "google", Account: "A@example.com", RefreshToken: "rt-secret", Status: StatusActive, ConnectedAt: time.Unix(1800000000, 0)}
	if err := g.Put(ctx, gr); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, gr); err != nil { // a reconnect of a working account: no transition
		t.Fatal(err)
	}
	dead := func(cur *Grant) error { cur.Status, cur.StatusReason = StatusNeedsReauth, "invalid_grant"; return nil }
	if err := g.Update(ctx, "acme", "google", "a@example.com", dead); err != nil {
		t.Fatal(err)
	}
	if err := g.Update(ctx, "acme", "google", "a@example.com", dead); err != nil { // no change
		t.Fatal(err)
	}
	if err := g.Put(ctx, gr); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete(ctx, "acme", "google", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	want := []Transition{
		{From: "", To: StatusActive, Key: "google/a@example.com/1800000000000000/v1"},
		{From: StatusActive, To: StatusNeedsReauth, Reason: "invalid_grant", Key: "google/a@example.com/1800000000000000/v3"},
		{From: StatusNeedsReauth, To: StatusActive, Key: "google/a@example.com/1800000000000000/v5"},
		{From: StatusActive, To: "", Key: "google/a@example.com/1800000000000000/removed5"},
	}
	if len(got) != len(want) {
		t.Fatalf("transitions %+v; want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Tenant != "acme" || g.Provider != "google" || g.Account != "a@example.com" || g.From != w.From || g.To != w.To || g.Reason != w.Reason || g.Key != w.Key {
			t.Errorf("transition %d = %+v, want %+v", i, g, w)
		}
	}
}

// A reconnect within the same second as the connection it replaced (a
// disconnect and a connect at once) gets a key of its own; an account too
// long for a key is named by a hash.
func TestTransitionKeys(t *testing.T) {
	at := time.Unix(1800000000, 0)
	a := transitionKey("google", "a@example.com", at, "v", 1)
	b := transitionKey("google", "a@example.com", at.Add(300*time.Millisecond), "v", 1)
	if a == b {
		t.Errorf("two connections 300 ms apart share the key %s", a)
	}
	if c := transitionKey("google", "a@example.com", at.Add(300*time.Millisecond+400*time.Nanosecond), "v", 1); c != b {
		t.Errorf("key %s from the time as written, %s as a store keeps it (to the microsecond): they must be one", c, b)
	}
	long := strings.Repeat("x", 240) + "@example.com"
	k := transitionKey("microsoft", long, at, "removed", 12)
	if len(k) > store.MaxDeliveryKeyLen || !strings.HasPrefix(k, "microsoft/sha256:") || k == transitionKey("microsoft", long+"x", at, "removed", 12) {
		t.Errorf("long account's key %q (%d characters)", k, len(k))
	}
}
