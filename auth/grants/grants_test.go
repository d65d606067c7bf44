package grants

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store/keyring"
)

// countingStore counts listings of the underlying store.
type countingStore struct {
	keyring.KV
	mu    sync.Mutex
	lists int
}

func (c *countingStore) List(ctx context.Context, prefix string) ([]string, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.KV.List(ctx, prefix)
}

func TestListCachedAndInvalidated(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{KV: keyring.NewMemory()}
	g := New(cs)
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	if err := g.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "X@Example.com", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		gs, err := g.List(ctx, "a")
		if err != nil || len(gs) != 1 || gs[0].Account != "x@example.com" {
			t.Fatalf("list = %+v, %v", gs, err)
		}
	}
	if cs.lists != 1 {
		t.Fatalf("10 listings read the store %d times, want 1", cs.lists)
	}
	// Our own write shows at once.
	err := g.Update(ctx, "a", "google", "x@example.com", func(gr *Grant) error { gr.Status = StatusNeedsReauth; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if gs, _ := g.List(ctx, "a"); gs[0].Status != StatusNeedsReauth {
		t.Fatalf("stale after update: %+v", gs)
	}
	// Another process's write shows after the TTL.
	other := New(cs)
	if err := other.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "y@example.com", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	if gs, _ := g.List(ctx, "a"); len(gs) != 1 {
		t.Fatalf("cached listing changed before the TTL: %+v", gs)
	}
	now = now.Add(listTTL)
	if gs, _ := g.List(ctx, "a"); len(gs) != 2 {
		t.Fatalf("other process's grant not seen after the TTL: %+v", gs)
	}
	if err := g.Delete(ctx, "a", "google", "y@example.com"); err != nil {
		t.Fatal(err)
	}
	if gs, _ := g.List(ctx, "a"); len(gs) != 1 {
		t.Fatalf("stale after delete: %+v", gs)
	}
	if err := g.Delete(ctx, "a", "google", "y@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestUpdateRefusal(t *testing.T) {
	ctx := context.Background()
	g := New(keyring.NewMemory())
	if err := g.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "x@example.com", RefreshToken: "r1"}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	if err := g.Update(ctx, "a", "google", "x@example.com", func(gr *Grant) error { gr.RefreshToken = "r2"; return stop }); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	if gr, _ := g.Get(ctx, "a", "google", "x@example.com"); gr.RefreshToken != "r1" {
		t.Fatal("a refused update was written")
	}
	if err := g.Update(ctx, "a", "google", "x@example.com", func(gr *Grant) error { gr.Account = "y@example.com"; return nil }); err == nil {
		t.Fatal("an update may not move a grant")
	}
	if err := g.Update(ctx, "a", "google", "nobody@example.com", func(*Grant) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing grant: %v", err)
	}
}
