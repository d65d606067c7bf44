package grants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/keyring"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// countingStore counts listings of the underlying store.
type countingStore struct {
	store.Grants
	mu    sync.Mutex
	lists int
}

func (c *countingStore) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Grants.ListGrants(ctx, tenant)
}

func TestListCachedAndInvalidated(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Grants: memory.New()}
	g := New(cs, Plain)
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
	other := New(cs, Plain)
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
	g := New(memory.New(), Plain)
	if err := g.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "x@example.com", RefreshToken: "r1", Status: StatusActive}); err != nil {
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

// xorSealer is a sealer whose sealed bytes differ from the token, bound to
// its account: what a per-tenant encryption does, in miniature.
type xorSealer struct{}

func (xorSealer) Seal(_ context.Context, k store.GrantKey, b []byte) ([]byte, error) {
	return append([]byte(k.String()+"|"), xor(b)...), nil
}

func (xorSealer) Open(_ context.Context, k store.GrantKey, b []byte) ([]byte, error) {
	prefix := k.String() + "|"
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, errors.New("sealed for another account")
	}
	return xor(b[len(prefix):]), nil
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0x5a
	}
	return out
}

// TestSealed: refresh tokens reach the store sealed, come back opened, and
// a sealed token copied to another account does not open.
func TestSealed(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	g := New(st, xorSealer{})
	if err := g.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "x@example.com", RefreshToken: "1//secret", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	rec, err := st.GetGrant(ctx, store.GrantKey{Tenant: "a", Provider: "google", Account: "x@example.com"})
	if err != nil || strings.Contains(string(rec.Secret), "1//secret") {
		t.Fatalf("stored secret %q, %v: want it sealed", rec.Secret, err)
	}
	if gr, err := g.Get(ctx, "a", "google", "x@example.com"); err != nil || gr.RefreshToken != "1//secret" || gr.Version != 1 {
		t.Fatalf("Get = %+v, %v", gr, err)
	}
	rec.GrantKey.Tenant, rec.Version = "b", 0
	if _, err := st.PutGrant(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get(ctx, "b", "google", "x@example.com"); err == nil {
		t.Fatal("a secret copied to another tenant's grant opened")
	}
}

// TestUpdateIsCompareAndSet: an Update whose read was overtaken by another
// writer reads again and applies its change to the newer grant; nothing is
// lost across 8 writers doing 25 increments each.
func TestUpdateIsCompareAndSet(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	if err := New(st, Plain).Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "x@example.com", RefreshToken: "0", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := New(st, Plain) // as another process: no shared lock
			for range 25 {
				err := g.Update(ctx, "a", "google", "x@example.com", func(gr *Grant) error {
					n, _ := strconv.Atoi(gr.RefreshToken)
					gr.RefreshToken = strconv.Itoa(n + 1)
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	gr, err := New(st, Plain).Get(ctx, "a", "google", "x@example.com")
	if err != nil || gr.RefreshToken != "200" || gr.Version != 201 {
		t.Fatalf("after 200 updates: %+v, %v; want 200 at version 201", gr, err)
	}
}

// A connection replaces a damaged record; reading it says it is damaged.
func TestPutReplacesDamaged(t *testing.T) {
	ctx := context.Background()
	kv := keyring.NewMemory()
	g := New(keyring.New(kv), Plain)
	if err := kv.Set(ctx, "grant/a/google/x@example.com", []byte(`{"tenant":`)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get(ctx, "a", "google", "x@example.com"); !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), "grant/a/google/x@example.com") {
		t.Fatalf("Get of a damaged grant: %v", err)
	}
	if err := g.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "x@example.com", RefreshToken: "rt", Status: StatusActive}); err != nil {
		t.Fatalf("Put over a damaged grant: %v", err)
	}
	if gr, err := g.Get(ctx, "a", "google", "x@example.com"); err != nil || gr.RefreshToken != "rt" || gr.Version != 1 {
		t.Errorf("after Put: %+v, %v", gr, err)
	}
}

// Lock holds an account whatever the case of its address, and no other.
func TestLock(t *testing.T) {
	ctx := context.Background()
	g := New(memory.New(), Plain)
	unlock, err := g.Lock(ctx, "a", "google", "X@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.Lock(short, "a", "google", "x@example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock of a held account: %v", err)
	}
	other, err := g.Lock(ctx, "a", "google", "y@example.com")
	if err != nil {
		t.Errorf("Lock of another account: %v", err)
	} else {
		other()
	}
	unlock()
	if again, err := g.Lock(ctx, "a", "google", "x@example.com"); err != nil {
		t.Errorf("Lock after unlock: %v", err)
	} else {
		again()
	}
}

// damagingSealer opens every token but those of one account, which it
// reports damaged; other failures (a wrong master key) for another.
type damagingSealer struct{ damaged, failing string }

func (d damagingSealer) Seal(_ context.Context, _ store.GrantKey, b []byte) ([]byte, error) {
	return slices.Clone(b), nil
}

func (d damagingSealer) Open(_ context.Context, k store.GrantKey, b []byte) ([]byte, error) {
	switch k.Account {
	case d.damaged:
		return nil, fmt.Errorf("sealed token of %s does not open: %w", k, store.ErrDamaged)
	case d.failing:
		return nil, errors.New("wrong master key")
	}
	return slices.Clone(b), nil
}

// TestListLeavesOutUnopenable: a grant whose token does not open is left out
// of the listing (the others stay usable) and named by Get; a sealer
// failing otherwise fails the listing.
func TestListLeavesOutUnopenable(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	for _, acc := range []string{"ok@example.com", "bad@example.com"} {
		if err := New(st, Plain).Put(ctx, Grant{Tenant: "a", Provider: "google", Account: acc, RefreshToken: "1//x", Status: StatusActive}); err != nil {
			t.Fatal(err)
		}
	}
	g := New(st, damagingSealer{damaged: "bad@example.com"})
	list, err := g.List(ctx, "a")
	if err != nil || len(list) != 1 || list[0].Account != "ok@example.com" {
		t.Fatalf("List = %+v, %v; want only ok@", list, err)
	}
	if _, err := g.Get(ctx, "a", "google", "bad@example.com"); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("Get of the damaged grant: %v", err)
	}
	if _, err := New(st, damagingSealer{failing: "bad@example.com"}).List(ctx, "a"); err == nil {
		t.Error("a sealer failing for another reason than damage: the listing succeeded")
	}
	_, err = New(st, damagingSealer{failing: "bad@example.com"}).Get(ctx, "a", "google", "bad@example.com")
	if err == nil || strings.Contains(err.Error(), "disconnect") || !strings.Contains(err.Error(), "wrong master key") {
		t.Errorf("a wrong master key is not the grant's fault: %v", err)
	}
}
