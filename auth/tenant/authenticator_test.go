package tenant

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/internal/testclock"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

func (c *countingStore) counts() (lists, gets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists, c.gets
}

// holdingStore makes the reads of one tenant wait while hold is set, and
// take delay.
type holdingStore struct {
	*countingStore
	hold  atomic.Pointer[chan struct{}]
	bg    atomic.Int64 // reads marked store.Background
	delay time.Duration
}

func (h *holdingStore) GetTenant(ctx context.Context, name string) (store.Tenant, error) {
	if store.IsBackground(ctx) {
		h.bg.Add(1)
	}
	time.Sleep(h.delay)
	if c := h.hold.Load(); c != nil {
		<-*c
	}
	return h.countingStore.GetTenant(ctx, name)
}

// settle waits for the reads running in the background.
func (a *Authenticator) settle() {
	a.mu.Lock()
	f := a.flight
	a.mu.Unlock()
	if f != nil {
		<-f.done
	}
	for _, e := range a.snap.Load().byName {
		e.mu.Lock()
		c := e.check
		e.mu.Unlock()
		if c != nil {
			<-c.done
		}
	}
}

// newTenants adds n tenants to a counting memory store and returns an
// authenticator over them on a fake clock, and their keys by name.
func newTenants(t *testing.T, n int) (*Authenticator, *holdingStore, *testclock.Clock, map[string]string) {
	t.Helper()
	hs := &holdingStore{countingStore: &countingStore{Tenants: memory.New()}}
	reg := NewRegistry(hs)
	keys := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("t%d", i)
		k, err := reg.Add(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k
	}
	a := NewAuthenticator(reg)
	a.keepWarm = 0 // no timers on the real clock; see TestTenantKeptWarm
	clk := testclock.New(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	a.now = clk.Now
	return a, hs, clk, keys
}

// TestKeyLookupIndependentOfTenants: finding a key costs one hash of the
// presented key and no store read, with 1 tenant as with 2,000 (the
// authenticator used to compare it against every tenant's hash).
func TestKeyLookupIndependentOfTenants(t *testing.T) {
	var sums atomic.Int64
	orig := keySum
	keySum = func(key string) [sha256.Size]byte { sums.Add(1); return orig(key) }
	t.Cleanup(func() { keySum = orig })
	for _, n := range []int{1, 2000} {
		a, hs, _, keys := newTenants(t, n)
		ctx := context.Background()
		if _, ok, err := a.Authenticate(ctx, keys["t0"]); !ok || err != nil {
			t.Fatalf("%d tenants: key refused: %v", n, err)
		}
		sums.Store(0)
		lists, gets := hs.counts()
		for range 100 {
			if name, ok, _ := a.Authenticate(ctx, keys["t0"]); !ok || name != "t0" {
				t.Fatalf("%d tenants: key refused", n)
			}
		}
		l2, g2 := hs.counts()
		if s := sums.Load(); s != 100 || l2 != lists || g2 != gets {
			t.Fatalf("%d tenants: 100 authentications hashed %d times and read the store %d times; want 100 and 0",
				n, s, l2-lists+g2-gets)
		}
	}
}

// TestVerifiedInBackground: within verify a key costs no read; past it,
// requests go on without waiting while one read confirms the tenant in
// the background, also past verifyMax while that read is slow.
func TestVerifiedInBackground(t *testing.T) {
	ctx := context.Background()
	a, hs, clk, keys := newTenants(t, 3)
	if _, ok, _ := a.Authenticate(ctx, keys["t1"]); !ok {
		t.Fatal("key refused")
	}
	release := make(chan struct{})
	hs.hold.Store(&release)
	clk.Advance(a.verify)
	for range 100 {
		if _, ok, err := a.Authenticate(ctx, keys["t1"]); !ok || err != nil {
			t.Fatalf("refused while verifying in the background: %v", err)
		}
	}
	clk.Advance(a.verifyMax)
	done := make(chan bool)
	go func() {
		_, ok, _ := a.Authenticate(ctx, keys["t1"])
		done <- ok
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("refused past verifyMax while the background read is under way")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a request past verifyMax waited for the slow background read")
	}
	hs.hold.Store(nil)
	close(release)
	a.settle()
	if _, gets := hs.counts(); gets != 1 || hs.bg.Load() != 1 {
		t.Fatalf("%d reads (%d in the background), want 1 in the background", gets, hs.bg.Load())
	}
}

// TestBusyRemovedTenantRefusedWithin2s: a tenant whose requests keep
// coming, removed by another process, is refused within verifyMax (2 s).
func TestBusyRemovedTenantRefusedWithin2s(t *testing.T) {
	ctx := context.Background()
	a, hs, clk, keys := newTenants(t, 2)
	other := NewRegistry(hs) // another process
	if _, ok, _ := a.Authenticate(ctx, keys["t0"]); !ok {
		t.Fatal("key refused")
	}
	clk.Advance(700 * time.Millisecond)
	if err := other.Remove(ctx, "t0"); err != nil {
		t.Fatal(err)
	}
	step := 50 * time.Millisecond
	for since := time.Duration(0); ; since += step {
		_, ok, _ := a.Authenticate(ctx, keys["t0"])
		if !ok {
			if since > a.verifyMax {
				t.Fatalf("refused %v after the removal, want within %v", since, a.verifyMax)
			}
			break
		}
		if since > a.verifyMax {
			t.Fatalf("still accepted %v after the removal", since)
		}
		a.settle()
		clk.Advance(step)
	}
	if _, ok, _ := a.Authenticate(ctx, keys["t1"]); !ok {
		t.Fatal("the other tenant's key refused")
	}
}

// TestWrongKeysRateLimitedPerSource: one source's wrong keys beyond the
// burst get a RateLimitError and read nothing; its right keys, and other
// sources' requests, are not affected; the budget comes back with time.
func TestWrongKeysRateLimitedPerSource(t *testing.T) {
	ctx := context.Background()
	a, hs, clk, keys := newTenants(t, 3)
	const bad, good = "192.0.2.7", "198.51.100.1"
	if _, ok, _ := a.AuthenticateFrom(ctx, keys["t0"], bad); !ok {
		t.Fatal("key refused")
	}
	var limited int
	var retry time.Duration
	for i := range 100 {
		_, ok, err := a.AuthenticateFrom(ctx, fmt.Sprintf("mck_wrong%d", i), bad)
		var rl *RateLimitError
		switch {
		case ok:
			t.Fatal("wrong key accepted")
		case errors.As(err, &rl):
			limited++
			retry = rl.RetryAfter
		case err != nil:
			t.Fatal(err)
		}
		clk.Advance(10 * time.Millisecond)
	}
	if limited != 100-wrongKeyBurst || retry <= 0 || retry > wrongKeyEvery {
		t.Fatalf("%d of 100 wrong keys limited (retry after %v), want %d within %v", limited, retry, 100-wrongKeyBurst, wrongKeyEvery)
	}
	lists, gets := hs.counts()
	if lists > 2 || gets > 0 {
		t.Fatalf("100 wrong keys read every tenant %d times and one tenant %d times; want at most 2 and 0", lists, gets)
	}
	if _, ok, err := a.AuthenticateFrom(ctx, keys["t1"], bad); !ok || err != nil {
		t.Fatalf("a right key from the limited source: %v", err)
	}
	if _, ok, err := a.AuthenticateFrom(ctx, "mck_wrong", good); ok || err != nil {
		t.Fatalf("another source's wrong key: ok %v, %v; want a plain refusal", ok, err)
	}
	clk.Advance(wrongKeyEvery)
	if _, _, err := a.AuthenticateFrom(ctx, "mck_wrong", bad); err != nil {
		t.Fatalf("after %v: %v; want one more wrong key allowed", wrongKeyEvery, err)
	}
	// Over HTTP: 429 with Retry-After.
	h := Require(a, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a wrong key reached the handler") }))
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.RemoteAddr = bad + ":4711"
	req.Header.Set("Authorization", "Bearer mck_wrong")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"too_many_wrong_keys"`) {
		t.Fatalf("over HTTP: %d %q Retry-After %q, want 429 with Retry-After", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}
}

// TestWrongKeysFromManySources: wrong keys from ever new addresses make
// every tenant be read at most every minReload; a new tenant is found by
// the next such read.
func TestWrongKeysFromManySources(t *testing.T) {
	ctx := context.Background()
	a, hs, clk, keys := newTenants(t, 3)
	if _, ok, _ := a.Authenticate(ctx, keys["t0"]); !ok {
		t.Fatal("key refused")
	}
	for i := range 300 { // ten a second for 30 s, each from its own address
		if _, ok, _ := a.AuthenticateFrom(ctx, "mck_wrong", fmt.Sprintf("10.0.%d.%d", i/200, i%200)); ok {
			t.Fatal("wrong key accepted")
		}
		clk.Advance(100 * time.Millisecond)
	}
	if lists, _ := hs.counts(); lists > 1+15 {
		t.Fatalf("30 s of wrong keys from 300 addresses read every tenant %d times, want at most 1+15", lists)
	}
	k, err := NewRegistry(hs).Add(ctx, "late") // another process
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(a.minReload)
	if name, ok, _ := a.AuthenticateFrom(ctx, k, "10.9.9.9"); !ok || name != "late" {
		t.Fatalf("a new tenant's key: %q %v", name, ok)
	}
}

// TestOwnWritesSeenAtOnce: this process's Remove refuses the key at once,
// and its Add is accepted at once even right after a reload.
func TestOwnWritesSeenAtOnce(t *testing.T) {
	ctx := context.Background()
	hs := &holdingStore{countingStore: &countingStore{Tenants: memory.New()}}
	reg := NewRegistry(hs)
	k0, _ := reg.Add(ctx, "a")
	a := NewAuthenticator(reg)
	if _, ok, _ := a.Authenticate(ctx, k0); !ok {
		t.Fatal("key refused")
	}
	if _, ok, _ := a.Authenticate(ctx, "mck_wrong"); ok { // a miss: every tenant read just now
		t.Fatal("wrong key accepted")
	}
	k1, err := reg.Add(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if name, ok, _ := a.Authenticate(ctx, k1); !ok || name != "b" {
		t.Fatalf("a tenant this process added: %q %v", name, ok)
	}
	if err := reg.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Authenticate(ctx, k0); ok {
		t.Fatal("a tenant this process removed is still accepted")
	}
}

// TestTenantKeptWarm: a tenant used recently is verified by a timer, so
// that a request after a pause waits for no read; the timer stops once the
// tenant has been idle for keepWarm.
func TestTenantKeptWarm(t *testing.T) {
	ctx := context.Background()
	hs := &holdingStore{countingStore: &countingStore{Tenants: memory.New()}}
	reg := NewRegistry(hs)
	key, _ := reg.Add(ctx, "a")
	a := NewAuthenticator(reg)
	a.verify, a.verifyMax, a.keepWarm = 20*time.Millisecond, 300*time.Millisecond, 600*time.Millisecond
	if _, ok, _ := a.Authenticate(ctx, key); !ok {
		t.Fatal("key refused")
	}
	time.Sleep(350 * time.Millisecond) // past verifyMax, no request
	if bg := hs.bg.Load(); bg < 2 {
		t.Fatalf("%d background reads in 350 ms without a request, want the timer's (every 20 ms)", bg)
	}
	_, waited := hs.counts()
	waited -= int(hs.bg.Load())
	if _, ok, _ := a.Authenticate(ctx, key); !ok {
		t.Fatal("key refused")
	}
	if _, gets := hs.counts(); gets-int(hs.bg.Load()) != waited {
		t.Fatal("a request after a pause within keepWarm waited for a read")
	}
	time.Sleep(900 * time.Millisecond)
	_, n := hs.counts()
	time.Sleep(100 * time.Millisecond)
	if _, m := hs.counts(); m != n {
		t.Fatalf("%d reads while the tenant was idle past keepWarm", m-n)
	}
}

// TestTenantVerificationPacedBySlowStore: on a slow store the timer waits
// four times as long as the last read took, and requests past verifyMax do
// not wait for the store meanwhile.
func TestTenantVerificationPacedBySlowStore(t *testing.T) {
	ctx := context.Background()
	hs := &holdingStore{countingStore: &countingStore{Tenants: memory.New()}, delay: 50 * time.Millisecond}
	reg := NewRegistry(hs)
	key, _ := reg.Add(ctx, "a")
	a := NewAuthenticator(reg)
	a.verify, a.verifyMax, a.keepWarm = 10*time.Millisecond, 20*time.Millisecond, 1500*time.Millisecond
	if _, ok, _ := a.Authenticate(ctx, key); !ok {
		t.Fatal("key refused")
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, ok, _ := a.Authenticate(ctx, key); !ok {
			t.Fatal("key refused")
		}
	}
	// Unpaced: a read every 60 ms, about 16; paced: every 250 ms, about 4.
	_, gets := hs.counts()
	if gets > 8 {
		t.Fatalf("%d reads of 50 ms each in a second, want the timer paced to about 4", gets)
	}
	// Before the first read was timed, a timer that fires late on a loaded
	// machine (10 ms here) may let one request wait; none after.
	if waited := gets - int(hs.bg.Load()); waited > 1 {
		t.Fatalf("requests waited for %d reads, want none once the store is known to be slow", waited)
	}
}

func TestSource(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:5000":                "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":       "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":    "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443":    "2001:db8:1:2::/64",
		"not-an-address":                "not-an-address",
		"[2001:db8:0:0:0:0:0:1%eth0]:1": "2001:db8::/64",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if got := Source(r); got != want {
			t.Errorf("Source(%s) = %q, want %q", addr, got, want)
		}
	}
}
