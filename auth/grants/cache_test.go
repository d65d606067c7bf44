package grants

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/internal/testclock"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// readCounter counts the store's listings. A listing that starts while
// hold is set waits until that channel is closed; during, if set, runs
// inside each listing (a slow read moves the clock).
type readCounter struct {
	store.Grants
	lists      atomic.Int64
	background atomic.Int64 // listings marked store.Background
	hold       atomic.Pointer[chan struct{}]
	during     func()
}

func (c *readCounter) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	c.lists.Add(1)
	if store.IsBackground(ctx) {
		c.background.Add(1)
	}
	if h := c.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.during != nil {
		c.during()
	}
	return c.Grants.ListGrants(ctx, tenant)
}

// holdReads makes the listings that start from now on wait until the
// returned function is called.
func (c *readCounter) holdReads() (release func()) {
	h := make(chan struct{})
	c.hold.Store(&h)
	return func() { c.hold.Store(nil); close(h) }
}

// newCached returns a grant store over a counting memory store with one
// grant of tenant "a", and its clock.
func newCached(t *testing.T) (*Store, *readCounter, *testclock.Clock) {
	t.Helper()
	rc := &readCounter{Grants: memory.New()}
	g := New(rc, Plain)
	clk := testclock.New(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	g.now = clk.Now
	g.keepWarm = 0 // no timers on the real clock; see TestListKeptWarm
	if err := g.Put(context.Background(), Grant{Tenant: "a", Provider: "google", Account: "x@example.com", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	return g, rc, clk
}

// settle waits for the tenant's running read, if any.
func (g *Store) settle(tenant string) {
	if e := g.cache.entry(tenant, false); e != nil {
		e.mu.Lock()
		f := e.flight
		e.mu.Unlock()
		if f != nil {
			<-f.done
		}
	}
}

func TestListSingleFlight(t *testing.T) {
	g, rc, _ := newCached(t)
	release := rc.holdReads()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gs, err := g.List(context.Background(), "a")
			if err == nil && len(gs) != 1 {
				err = errors.New("wrong listing")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	// Let every caller arrive while the first read waits, then release it.
	for rc.lists.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := rc.lists.Load(); n != 1 {
		t.Fatalf("100 concurrent listings on a cold cache read the store %d times, want 1", n)
	}
}

func TestListWarmReadsNothing(t *testing.T) {
	ctx := context.Background()
	g, rc, clk := newCached(t)
	if _, err := g.List(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	rc.lists.Store(0)
	for range 1000 {
		if gs, err := g.List(ctx, "a"); err != nil || len(gs) != 1 {
			t.Fatalf("List = %v, %v", gs, err)
		}
	}
	if n := rc.lists.Load(); n != 0 {
		t.Fatalf("1000 warm listings read the store %d times, want 0", n)
	}
	// Past listFresh: still answered from memory without waiting (the
	// store blocks), and one read refreshes it in the background.
	release := rc.holdReads()
	clk.Advance(listFresh)
	for range 1000 {
		if gs, err := g.List(ctx, "a"); err != nil || len(gs) != 1 {
			t.Fatalf("List = %v, %v", gs, err)
		}
	}
	release()
	g.settle("a")
	if n, bg := rc.lists.Load(), rc.background.Load(); n != 1 || bg != 1 {
		t.Fatalf("1000 listings past listFresh read the store %d times (%d in the background), want 1 background read", n, bg)
	}
}

// TestListNeverServedPastTTL: a listing is stamped when its read finished,
// so a read that queued longer than the TTL is still cached; and it is
// never served once older than the TTL.
func TestListNeverServedPastTTL(t *testing.T) {
	ctx := context.Background()
	g, rc, clk := newCached(t)
	// The read takes longer than the TTL.
	rc.during = func() { clk.Advance(2 * listTTL) }
	if _, err := g.List(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	rc.during = nil
	if _, err := g.List(ctx, "a"); err != nil || rc.lists.Load() != 1 {
		t.Fatalf("a slow read was not cached: %d reads, %v", rc.lists.Load(), err)
	}
	// Another process adds a grant. Just under the TTL (and the background
	// read failing), the cached listing may still be served; at the TTL it
	// may not.
	other := New(rc.Grants, Plain)
	if err := other.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "y@example.com", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	failing := errors.New("store down")
	rc.Grants = failStore{rc.Grants, failing}
	clk.Advance(listTTL - time.Millisecond)
	if gs, err := g.List(ctx, "a"); err != nil || len(gs) != 1 {
		t.Fatalf("under the TTL: %v, %v; want the cached listing", gs, err)
	}
	g.settle("a")
	clk.Advance(time.Millisecond)
	if gs, err := g.List(ctx, "a"); !errors.Is(err, failing) {
		t.Fatalf("at the TTL with the store down: %v, %v; want the store's error, not the old listing", gs, err)
	}
	rc.Grants = rc.Grants.(failStore).Grants
	if gs, err := g.List(ctx, "a"); err != nil || len(gs) != 2 {
		t.Fatalf("at the TTL: %v, %v; want a fresh read with both grants", gs, err)
	}
}

type failStore struct {
	store.Grants
	err error
}

func (f failStore) ListGrants(context.Context, string) ([]store.Grant, error) { return nil, f.err }

// TestListSeesOtherProcessWithinBound: another process's new grant shows
// within listFresh and one background read for a busy tenant, and at once
// for a tenant whose listing expired.
func TestListSeesOtherProcessWithinBound(t *testing.T) {
	ctx := context.Background()
	g, rc, clk := newCached(t)
	if _, err := g.List(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	other := New(rc.Grants, Plain) // another process on the same store
	if err := other.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "y@example.com", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	// A busy tenant: calls keep coming; the one past listFresh starts the
	// background read, and the calls after it see the new grant.
	seenAt := time.Duration(-1)
	for step := time.Duration(0); step <= listTTL; step += 100 * time.Millisecond {
		gs, err := g.List(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) == 2 {
			seenAt = step
			break
		}
		g.settle("a")
		clk.Advance(100 * time.Millisecond)
	}
	if seenAt < 0 || seenAt > listFresh+100*time.Millisecond {
		t.Fatalf("a busy tenant saw the other process's grant after %v, want within %v", seenAt, listFresh+100*time.Millisecond)
	}
	// An idle tenant: the first call after the TTL reads again.
	if err := other.Delete(ctx, "a", "google", "y@example.com"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(listTTL)
	if gs, err := g.List(ctx, "a"); err != nil || len(gs) != 1 {
		t.Fatalf("after the TTL: %v, %v; want the other process's delete seen", gs, err)
	}
}

// TestListReadDuringWriteNotKept: a read that was running when this
// process wrote is neither cached nor joined by the callers after the
// write, and a caller that gives up does not cancel the read for others.
func TestListReadDuringWriteNotKept(t *testing.T) {
	ctx := context.Background()
	g, rc, _ := newCached(t)
	release := rc.holdReads()
	first := make(chan []Grant, 1)
	go func() {
		gs, _ := g.List(ctx, "a")
		first <- gs
	}()
	for rc.lists.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// A caller that gives up.
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.List(short, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	// This process writes while the read waits; the reads after it see
	// the write.
	rc.hold.Store(nil)
	if err := g.Update(ctx, "a", "google", "x@example.com", func(gr *Grant) error { gr.Status = StatusNeedsReauth; return nil }); err != nil {
		t.Fatal(err)
	}
	gs, err := g.List(ctx, "a")
	if err != nil || len(gs) != 1 || gs[0].Status != StatusNeedsReauth {
		t.Fatalf("after our write: %+v, %v", gs, err)
	}
	// The old read completes (for its caller, who gave up on nothing) and
	// is not cached over the newer listing, which is served from memory.
	release()
	if gs := <-first; len(gs) != 1 {
		t.Fatalf("the first caller got %+v", gs)
	}
	g.settle("a")
	before := rc.lists.Load()
	gs, _ = g.List(ctx, "a")
	if rc.lists.Load() != before || gs[0].Status != StatusNeedsReauth {
		t.Fatalf("after the old read ended: %+v, %d more reads; want the listing after the write, from memory", gs, rc.lists.Load()-before)
	}
}

// TestListKeptWarm: a tenant listed recently is read again by a timer,
// so that a call after a pause finds a fresh listing; the timer stops
// once the tenant has been idle for keepWarm.
func TestListKeptWarm(t *testing.T) {
	ctx := context.Background()
	rc := &readCounter{Grants: memory.New()}
	g := New(rc, Plain)
	g.listFresh, g.listTTL, g.keepWarm = 20*time.Millisecond, 300*time.Millisecond, 600*time.Millisecond
	if err := g.Put(ctx, Grant{Tenant: "a", Provider: "google", Account: "x@example.com", Status: StatusActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.List(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond) // longer than the TTL, no call
	if bg := rc.background.Load(); bg < 2 {
		t.Fatalf("%d background reads in 350 ms without a call, want the timer's (every 20 ms)", bg)
	}
	waited := rc.lists.Load() - rc.background.Load()
	if _, err := g.List(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if w := rc.lists.Load() - rc.background.Load(); w != waited {
		t.Fatal("a call after a pause within keepWarm waited for a read")
	}
	// Idle past keepWarm: the timer stops.
	time.Sleep(900 * time.Millisecond)
	n := rc.lists.Load()
	time.Sleep(100 * time.Millisecond)
	if m := rc.lists.Load(); m != n {
		t.Fatalf("%d reads while the tenant was idle past keepWarm", m-n)
	}
}

// TestListKeptWarmPacedBySlowStore: the timer waits four times as long as
// the last read took, so that refreshes do not bury a slow store.
func TestListKeptWarmPacedBySlowStore(t *testing.T) {
	ctx := context.Background()
	rc := &readCounter{Grants: memory.New()}
	rc.during = func() { time.Sleep(50 * time.Millisecond) }
	g := New(rc, Plain)
	g.listFresh, g.listTTL, g.keepWarm = 10*time.Millisecond, 10*time.Second, 1500*time.Millisecond
	if _, err := g.List(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	// Unpaced: a read every 60 ms, about 16; paced: every 250 ms, about 4.
	if n := rc.lists.Load(); n > 8 {
		t.Fatalf("%d reads of 50 ms each in a second, want the timer paced to about 4", n)
	}
}
