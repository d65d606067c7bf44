package oauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/keyring"
)

// connectAlice connects alice to tenant a through the fake.
func (f *fixture) connectAlice(t *testing.T) {
	t.Helper()
	flow := f.begin(t, "a")
	to, _ := f.fake.Approve(context.Background(), flow.URL)
	if res := f.flows.Complete(context.Background(), flow.State, "a", to.Query().Get("code")); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestDisconnectWaitsForTheGrantLock: a disconnect does not revoke and
// delete while another process holds the account (refreshing it); it does
// once the holder lets go.
func TestDisconnectWaitsForTheGrantLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.connectAlice(t)
	unlock, err := f.grants.Lock(ctx, "a", "google", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.flows.Disconnect(short, "a", "google", "alice@example.com"); !errors.Is(err, context.DeadlineExceeded) || f.fake.RevokeRequests() != 0 {
		t.Fatalf("Disconnect while the account is held: %v, %d revocations; want it to wait", err, f.fake.RevokeRequests())
	}
	unlock()
	if d, err := f.flows.Disconnect(ctx, "a", "google", "alice@example.com"); err != nil || !d.Revoked {
		t.Fatalf("Disconnect after the holder let go: %+v, %v", d, err)
	}
}

// reconnectsFirst is a grant store in which the account is connected again
// (a new version written) just before the first delete.
type reconnectsFirst struct {
	store.Store
	done bool
}

func (r *reconnectsFirst) DeleteGrant(ctx context.Context, k store.GrantKey, version int64) error {
	if !r.done {
		r.done = true
		g, err := r.Store.GetGrant(ctx, k)
		if err != nil {
			return err
		}
		g.Secret = []byte("reconnected")
		if _, err := r.Store.PutGrant(ctx, g); err != nil {
			return err
		}
	}
	return r.Store.DeleteGrant(ctx, k, version)
}

// TestDisconnectKeepsAReconnect: a connection made between reading the
// grant and deleting it is kept, and the disconnect says so.
func TestDisconnectKeepsAReconnect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.connectAlice(t)
	st := &reconnectsFirst{Store: f.store}
	gs := grants.New(st, grants.Plain)
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: f.reg, Grants: gs, States: st})
	_, err := flows.Disconnect(ctx, "a", "google", "alice@example.com")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "connected again while it was being disconnected; the new connection was kept") {
		t.Fatalf("Disconnect with a reconnect in between: %v", err)
	}
	if g, err := gs.Get(ctx, "a", "google", "alice@example.com"); err != nil || g.RefreshToken != "reconnected" {
		t.Fatalf("the reconnect is gone: %+v, %v", g, err)
	}
}

// TestDisconnectDamagedGrant: an account whose stored grant cannot be read
// is deleted without revocation, and the result says why and where to
// remove the access by hand.
func TestDisconnectDamagedGrant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	kv := keyring.NewMemory()
	st := keyring.New(kv)
	gs := grants.New(st, grants.Plain)
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: f.reg, Grants: gs, States: st})
	if err := kv.Set(ctx, "grant/a/google/alice@example.com", []byte(`{"tenant":"a",`)); err != nil {
		t.Fatal(err)
	}
	d, err := flows.Disconnect(ctx, "a", "google", "alice@example.com")
	if err != nil || d.Revoked || !errors.Is(d.RevokeErr, store.ErrDamaged) || !strings.Contains(d.RevokeErr.Error(), "damaged") || d.RevokeHelp == "" {
		t.Fatalf("Disconnect of a damaged grant = %+v, %v", d, err)
	}
	if _, err := gs.Get(ctx, "a", "google", "alice@example.com"); !errors.Is(err, grants.ErrNotFound) {
		t.Errorf("the damaged grant is still there: %v", err)
	}
	if f.fake.RevokeRequests() != 0 {
		t.Errorf("%d revocations for a grant whose token is unknown", f.fake.RevokeRequests())
	}
}
