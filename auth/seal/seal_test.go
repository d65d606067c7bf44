package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// newKey returns a random master key and its base64.
func newKey(t testing.TB) (*MasterKey, string) {
	t.Helper()
	raw := make([]byte, KeySize)
	rand.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	m, err := ParseMasterKey(text, EnvKey)
	if err != nil {
		t.Fatal(err)
	}
	return m, text
}

// countingKeys counts the store's data key reads.
type countingKeys struct {
	store.DataKeys
	gets atomic.Int64
}

func (c *countingKeys) GetDataKey(ctx context.Context, tenant string) (store.DataKey, error) {
	c.gets.Add(1)
	return c.DataKeys.GetDataKey(ctx, tenant)
}

func newSealer(t testing.TB, keys store.DataKeys, mk MasterKeys, o Options) *Sealer {
	t.Helper()
	s, err := New(keys, mk, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	acct  = store.GrantKey{Tenant: "acme", Provider: "google", Account: "ann@example.com"}
	token = []byte("1//0gRefreshTokenOfAnn-xyz")
)

func TestRoundTrip(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := memory.New()
	s := newSealer(t, st, MasterKeys{Current: mk}, Options{})
	a, err := s.Seal(ctx, acct, token)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Seal(ctx, acct, token)
	if bytes.Contains(a, token) || bytes.Equal(a, b) {
		t.Error("sealed tokens hold the plaintext or repeat a nonce")
	}
	if a[0] != formatV1 || len(a) != header+len(token)+tagSize {
		t.Errorf("envelope: version %d, %d bytes", a[0], len(a))
	}
	for _, sealed := range [][]byte{a, b} {
		got, err := s.Open(ctx, acct, sealed)
		if err != nil || !bytes.Equal(got, token) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	// Another process over the same store, its cache cold, opens it too.
	got, err := newSealer(t, st, MasterKeys{Current: mk}, Options{}).Open(ctx, acct, a)
	if err != nil || !bytes.Equal(got, token) {
		t.Fatalf("Open in another process = %q, %v", got, err)
	}
	dk, err := st.GetDataKey(ctx, "acme")
	if err != nil || dk.MasterKeyID != mk.ID() || bytes.Contains(dk.Wrapped, token) {
		t.Fatalf("stored data key %+v, %v", dk, err)
	}
	// An empty token round-trips too.
	e, _ := s.Seal(ctx, acct, nil)
	if got, err := s.Open(ctx, acct, e); err != nil || len(got) != 0 {
		t.Errorf("empty token: %q, %v", got, err)
	}
}

// A sealed token moved to another account's, provider's or tenant's record
// does not open.
func TestAADBinding(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	s := newSealer(t, memory.New(), MasterKeys{Current: mk}, Options{})
	sealed, err := s.Seal(ctx, acct, token)
	if err != nil {
		t.Fatal(err)
	}
	// tenant b has a key of its own.
	if _, err := s.Seal(ctx, store.GrantKey{Tenant: "acme-2", Provider: "google", Account: "x@example.com"}, token); err != nil {
		t.Fatal(err)
	}
	for _, k := range []store.GrantKey{
		{Tenant: "acme", Provider: "google", Account: "bob@example.com"},
		{Tenant: "acme", Provider: "microsoft", Account: "ann@example.com"},
		{Tenant: "acme-2", Provider: "google", Account: "ann@example.com"},
		{Tenant: "acme", Provider: "googl", Account: "eann@example.com"}, // the same bytes run together
	} {
		got, err := s.Open(ctx, k, sealed)
		if err == nil || !errors.Is(err, store.ErrDamaged) || got != nil {
			t.Errorf("Open as %s = %q, %v; want ErrDamaged", k, got, err)
		}
	}
	// acme-2 given acme's data key record as well: still bound to acme.
	st := memory.New()
	s1 := newSealer(t, st, MasterKeys{Current: mk}, Options{})
	sealed, _ = s1.Seal(ctx, acct, token)
	rec, _ := st.GetDataKey(ctx, "acme")
	rec.Tenant, rec.Version = "acme-2", 0
	if _, err := st.PutDataKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	_, err = s1.Open(ctx, store.GrantKey{Tenant: "acme-2", Provider: acct.Provider, Account: acct.Account}, sealed)
	if !errors.Is(err, store.ErrDamaged) || errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("a data key copied to another tenant: %v; want ErrDamaged", err)
	}
}

func TestTampering(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	s := newSealer(t, memory.New(), MasterKeys{Current: mk}, Options{})
	sealed, _ := s.Seal(ctx, acct, token)
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if got, err := s.Open(ctx, acct, bad); !errors.Is(err, store.ErrDamaged) || got != nil {
			t.Errorf("byte %d flipped: %q, %v", i, got, err)
		}
	}
	for _, bad := range [][]byte{nil, sealed[:header+tagSize-1], sealed[:len(sealed)-1], append(bytes.Clone(sealed), 0)} {
		if _, err := s.Open(ctx, acct, bad); !errors.Is(err, store.ErrDamaged) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
	bad := bytes.Clone(sealed)
	bad[0] = 2
	if _, err := s.Open(ctx, acct, bad); err == nil || !strings.Contains(err.Error(), "format version 2") {
		t.Errorf("unknown version: %v", err)
	}
	for _, k := range []store.GrantKey{{Tenant: "Bad Name", Provider: "google", Account: "a"}, {Tenant: "acme", Account: "a"}, {Tenant: "acme", Provider: "google"}} {
		if _, err := s.Seal(ctx, k, token); err == nil {
			t.Errorf("Seal for %q accepted", k)
		}
	}
}

// A process with another master key is told so, and a damaged data key
// record is told apart from it.
func TestWrongMasterKey(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	other, otherText := newKey(t)
	st := memory.New()
	sealed, _ := newSealer(t, st, MasterKeys{Current: mk}, Options{}).Seal(ctx, acct, token)

	_, err := newSealer(t, st, MasterKeys{Current: other}, Options{}).Open(ctx, acct, sealed)
	if !errors.Is(err, ErrWrongMasterKey) || errors.Is(err, store.ErrDamaged) {
		t.Fatalf("Open under another master key: %v; want ErrWrongMasterKey", err)
	}
	if !strings.Contains(err.Error(), mk.ID()) || !strings.Contains(err.Error(), other.ID()) || strings.Contains(err.Error(), otherText) {
		t.Errorf("error should name both keys' ids and no key: %v", err)
	}
	if _, err := newSealer(t, st, MasterKeys{Current: other}, Options{}).Seal(ctx, acct, token); !errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("Seal under another master key: %v", err)
	}

	// The record altered, naming the right master key: damaged.
	rec, _ := st.GetDataKey(ctx, "acme")
	rec.Wrapped[len(rec.Wrapped)-1] ^= 1
	if _, err := st.PutDataKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	_, err = newSealer(t, st, MasterKeys{Current: mk}, Options{}).Open(ctx, acct, sealed)
	if !errors.Is(err, store.ErrDamaged) || errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("altered data key: %v; want ErrDamaged", err)
	}
	if _, err := New(st, MasterKeys{}, Options{}); err == nil || !strings.Contains(err.Error(), EnvKey) {
		t.Errorf("New without a master key: %v", err)
	}
}

// Two processes sealing a tenant's first tokens at once keep one data key.
func TestConcurrentFirstKey(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := memory.New()
	procs := []*Sealer{newSealer(t, st, MasterKeys{Current: mk}, Options{}), newSealer(t, st, MasterKeys{Current: mk}, Options{})}
	const n = 32
	sealed := make([][]byte, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var err error
			if sealed[i], err = procs[i%2].Seal(ctx, acct, token); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, b := range sealed {
		for _, p := range procs {
			if got, err := p.Open(ctx, acct, b); err != nil || !bytes.Equal(got, token) {
				t.Fatalf("token %d: %q, %v", i, got, err)
			}
		}
	}
	if rec, err := st.GetDataKey(ctx, "acme"); err != nil || rec.Version != 1 {
		t.Errorf("data key %+v, %v; want one, written once", rec, err)
	}
}

// Destroying a tenant's key makes its tokens unreadable, in this process
// and any other; the tenant added again gets a new key.
func TestDestroy(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := memory.New()
	s := newSealer(t, st, MasterKeys{Current: mk}, Options{})
	sealed, _ := s.Seal(ctx, acct, token)
	if err := s.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if s.cachedLen() != 0 {
		t.Error("the destroyed key is still in memory")
	}
	for _, p := range []*Sealer{s, newSealer(t, st, MasterKeys{Current: mk}, Options{})} {
		if got, err := p.Open(ctx, acct, sealed); !errors.Is(err, store.ErrDamaged) || got != nil {
			t.Errorf("Open after Destroy: %q, %v", got, err)
		}
	}
	if err := s.Destroy(ctx, "acme"); err != nil {
		t.Errorf("Destroy of a tenant without a key: %v", err)
	}
	if _, err := s.Seal(ctx, acct, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, acct, sealed); err == nil || !strings.Contains(err.Error(), "removed and added again") {
		t.Errorf("a token of the earlier key: %v", err)
	}
}

func TestCache(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := &countingKeys{DataKeys: memory.New()}
	now := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newSealer(t, st, MasterKeys{Current: mk}, Options{MaxCached: 2, Recheck: time.Minute, Now: clock})
	sealed, _ := s.Seal(ctx, acct, token)
	base := st.gets.Load()
	for range 10 {
		s.Seal(ctx, acct, token)
		s.Open(ctx, acct, sealed)
	}
	if d := st.gets.Load() - base; d != 0 {
		t.Errorf("a warm cache read the store %d times", d)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	s.Open(ctx, acct, sealed)
	if d := st.gets.Load() - base; d != 0 {
		t.Errorf("opening read the store %d times: a token names its key", d)
	}
	s.Seal(ctx, acct, token)
	s.Seal(ctx, acct, token)
	if d := st.gets.Load() - base; d != 1 {
		t.Errorf("sealing after Recheck read the store %d times, want 1", d)
	}
	// Bounded: a third tenant evicts the least recently used.
	for _, tn := range []string{"b", "c"} {
		s.Seal(ctx, store.GrantKey{Tenant: tn, Provider: "google", Account: "a@example.com"}, token)
	}
	if n := s.cachedLen(); n != 2 {
		t.Errorf("%d keys cached, want the bound 2", n)
	}
	base = st.gets.Load()
	if got, err := s.Open(ctx, acct, sealed); err != nil || !bytes.Equal(got, token) {
		t.Fatal(got, err)
	}
	if d := st.gets.Load() - base; d != 1 {
		t.Errorf("an evicted key was read %d times, want 1", d)
	}
	s.Forget("acme")
	s.Forget("nobody")
	if n := s.cachedLen(); n != 1 {
		t.Errorf("after Forget: %d keys cached, want 1", n)
	}
}

// A tenant removed and added again through another process gets a new key;
// this process seals under it once Recheck has passed.
func TestRecheckSeesReplacedKey(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := memory.New()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := newSealer(t, st, MasterKeys{Current: mk}, Options{Now: clock})
	b := newSealer(t, st, MasterKeys{Current: mk}, Options{})
	a.Seal(ctx, acct, token)
	if err := b.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	b.Seal(ctx, acct, token) // the new tenant's first key
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	sealed, err := a.Seal(ctx, acct, token)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(ctx, acct, sealed); err != nil || !bytes.Equal(got, token) {
		t.Errorf("sealed by a after the recheck, opened by b: %q, %v", got, err)
	}
}

func BenchmarkSeal(b *testing.B) {
	mk, _ := newKey(b)
	s := newSealer(b, memory.New(), MasterKeys{Current: mk}, Options{})
	ctx := context.Background()
	s.Seal(ctx, acct, token)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(ctx, acct, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	mk, _ := newKey(b)
	s := newSealer(b, memory.New(), MasterKeys{Current: mk}, Options{})
	ctx := context.Background()
	sealed, _ := s.Seal(ctx, acct, token)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(ctx, acct, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// Many goroutines seal and open for a few tenants while the recheck
// interval keeps passing: no data race, every token opens.
func TestConcurrentUse(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := memory.New()
	var tick atomic.Int64
	clock := func() time.Time { return time.Unix(tick.Add(1), 0) } // a second a call: every Seal rechecks
	s := newSealer(t, st, MasterKeys{Current: mk}, Options{Recheck: time.Second, MaxCached: 2, Now: clock})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			k := store.GrantKey{Tenant: []string{"a", "b", "c"}[i%3], Provider: "google", Account: "x@example.com"}
			for range 50 {
				b, err := s.Seal(ctx, k, token)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Open(ctx, k, b); err != nil || !bytes.Equal(got, token) {
					t.Errorf("%q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A tenant removed through another process: this one opens its tokens
// from memory until RecheckOpen has passed, then asks the store (once per
// RecheckOpen while the key stays), finds the key gone and drops it.
func TestRecheckOpenSeesDestroyedKey(t *testing.T) {
	ctx := t.Context()
	mk, _ := newKey(t)
	st := &countingKeys{DataKeys: memory.New()}
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a := newSealer(t, st, MasterKeys{Current: mk}, Options{Now: clock, RecheckOpen: 10 * time.Minute})
	sealed, _ := a.Seal(ctx, acct, token)

	advance(11 * time.Minute)
	base := st.gets.Load()
	for range 3 {
		if _, err := a.Open(ctx, acct, sealed); err != nil {
			t.Fatal(err)
		}
	}
	if d := st.gets.Load() - base; d != 1 {
		t.Errorf("past RecheckOpen, three opens read the store %d times, want 1", d)
	}
	if err := newSealer(t, st, MasterKeys{Current: mk}, Options{}).Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(ctx, acct, sealed); err != nil {
		t.Errorf("within RecheckOpen the cached key still opens: %v", err)
	}
	advance(11 * time.Minute)
	if _, err := a.Open(ctx, acct, sealed); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("past RecheckOpen after the key was destroyed: %v", err)
	}
	if a.cachedLen() != 0 {
		t.Error("the destroyed key stays in memory")
	}
}

// FuzzOpen: whatever bytes a store hands back, Open fails cleanly (never a
// panic, never plaintext from a forgery).
func FuzzOpen(f *testing.F) {
	mk, _ := newKey(f)
	s := newSealer(f, memory.New(), MasterKeys{Current: mk}, Options{})
	good, err := s.Seal(context.Background(), acct, token)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	f.Add(append([]byte{formatV1}, make([]byte, header+tagSize)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := s.Open(context.Background(), acct, b)
		if err == nil && (!bytes.Equal(b, good) || !bytes.Equal(got, token)) {
			t.Fatalf("forged %x opened to %q", b, got)
		}
	})
}
