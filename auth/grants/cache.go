package grants

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Every tool call lists its tenant's grants, and a store read can cost
// milliseconds (a keyring item is decrypted per read) and waits behind
// other reads, so List answers from memory:
//
//   - A listing is stamped when its read finished, however long the read
//     queued, and is served as it is for listFresh.
//   - A tenant listed within keepWarm is read again by a timer, listFresh
//     after the last read ended, or four times as long as that read took
//     when the store is slow (at most listTTL/2): its calls find a fresh
//     listing however they are spaced, and a slow store is not buried
//     under refreshes. After keepWarm without a call the timer stops.
//   - From listFresh to listTTL a listing is still served, and a call that
//     finds it that old with no timer set starts one read in the
//     background.
//   - Past listTTL it is not served: callers wait for a read. However many
//     callers need one, one read runs (single flight); a caller that gives
//     up does not cancel it for the others.
//   - This process's writes drop the tenant's listing at once, and a read
//     that was running during a write is neither cached nor joined by later
//     callers. Another process's writes (`mailcal connect` beside a
//     server) are seen within listFresh plus one read for a busy tenant,
//     within listTTL however slow the store, and at the next call for an
//     idle one (its listing expired).
const (
	listFresh = 2 * time.Second
	listTTL   = 10 * time.Second
	keepWarm  = 10 * time.Second
	// listTimeout bounds one read no caller owns.
	listTimeout = 30 * time.Second
	// maxCachedTenants bounds the cache; past it, it starts again empty.
	maxCachedTenants = 10000
)

// listCache holds the listings of every tenant. Finding a tenant's entry
// takes a read lock; the rest is per tenant.
type listCache struct {
	mu      sync.RWMutex
	tenants map[string]*tenantList
}

// tenantList is one tenant's cached listing and the read that refreshes it.
type tenantList struct {
	cur     atomic.Pointer[listing] // nil: none
	loading atomic.Bool             // a read is running (flight != nil)
	used    atomic.Int64            // unix nanoseconds of the last List, to 100 ms
	warming atomic.Bool             // a keep-warm read is scheduled
	took    atomic.Int64            // how long the last read took, in nanoseconds

	mu     sync.Mutex // guards gen and flight
	gen    uint64     // bumped by this process's writes
	flight *listFlight
}

type listing struct {
	grants []Grant
	at     time.Time // when the read finished
}

// listFlight is one read of a tenant's grants; its callers wait for done.
type listFlight struct {
	done   chan struct{}
	grants []Grant
	err    error
}

// entry returns the tenant's entry, creating it if create.
func (c *listCache) entry(tenant string, create bool) *tenantList {
	c.mu.RLock()
	e := c.tenants[tenant]
	c.mu.RUnlock()
	if e != nil || !create {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.tenants[tenant]; e == nil {
		if c.tenants == nil || len(c.tenants) >= maxCachedTenants {
			c.tenants = map[string]*tenantList{}
		}
		e = &tenantList{}
		c.tenants[tenant] = e
	}
	return e
}

// forget drops a tenant's listing after this process wrote one of its
// grants.
func (c *listCache) forget(tenant string) {
	e := c.entry(tenant, false)
	if e == nil {
		return // nothing cached, and no read started before the write
	}
	e.mu.Lock()
	e.gen++
	e.cur.Store(nil)
	e.flight = nil // its callers get its answer; later ones start afresh
	e.loading.Store(false)
	e.mu.Unlock()
}

// List returns a tenant's grants, sorted by provider and account.
func (g *Store) List(ctx context.Context, tenant string) ([]Grant, error) {
	e := g.cache.entry(tenant, true)
	now := g.now()
	if n := now.UnixNano(); n-e.used.Load() > int64(100*time.Millisecond) {
		e.used.Store(n)
	}
	if l := e.cur.Load(); l != nil {
		age := now.Sub(l.at)
		if age < g.listTTL {
			if age >= g.listFresh && !e.loading.Load() && !e.warming.Load() {
				g.load(e, tenant, true)
			}
			return slices.Clone(l.grants), nil
		}
	}
	f := g.load(e, tenant, false)
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return slices.Clone(f.grants), nil
}

// load returns the tenant's running read, starting one if none runs.
// background marks a read that no caller waits for (store.Background).
func (g *Store) load(e *tenantList, tenant string, background bool) *listFlight {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil {
		return e.flight
	}
	f := &listFlight{done: make(chan struct{})}
	e.flight = f
	e.loading.Store(true)
	gen := e.gen
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
		defer cancel()
		if background {
			ctx = store.Background(ctx)
		}
		start := time.Now()
		f.grants, f.err = g.read(ctx, tenant)
		e.took.Store(int64(time.Since(start)))
		e.mu.Lock()
		if e.flight == f {
			e.flight = nil
			e.loading.Store(false)
		}
		if f.err == nil && e.gen == gen {
			e.cur.Store(&listing{grants: f.grants, at: g.now()})
		}
		e.mu.Unlock()
		g.warm(e, tenant)
		close(f.done)
	}()
	return f
}

// warm schedules the next keep-warm read of a tenant listed within
// keepWarm, unless one is scheduled.
func (g *Store) warm(e *tenantList, tenant string) {
	if g.keepWarm <= 0 || g.now().UnixNano()-e.used.Load() >= int64(g.keepWarm) || !e.warming.CompareAndSwap(false, true) {
		return
	}
	pause := max(g.listFresh, min(4*time.Duration(e.took.Load()), g.listTTL/2))
	time.AfterFunc(pause, func() {
		e.warming.Store(false)
		if l := e.cur.Load(); l != nil && g.now().Sub(l.at) < g.listFresh/2 {
			g.warm(e, tenant) // read meanwhile (after a write of ours)
			return
		}
		g.load(e, tenant, true)
	})
}

// read lists a tenant's grants in the store. A grant whose sealed token
// does not open (store.ErrDamaged: altered, or sealed under a destroyed
// key) is left out, as the store leaves out its own damaged records, rather
// than failing every call of the tenant; Get still names it, and
// disconnect deletes it. Any other failure (a wrong master key) fails the
// listing.
func (g *Store) read(ctx context.Context, tenant string) ([]Grant, error) {
	recs, err := g.s.ListGrants(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(recs))
	for _, rec := range recs {
		gr, err := g.open(ctx, rec)
		if errors.Is(err, store.ErrDamaged) {
			slog.Warn("a connected account is left out: its refresh token cannot be opened", "tenant", tenant, "provider", rec.Provider, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, gr)
	}
	return out, nil
}

// Cached calls fn with each tenant's listing held in memory, however old,
// and reads no store: what metrics show of the grants' statuses costs a
// scrape nothing but a walk over at most maxCachedTenants listings. A
// tenant this process has not listed lately (or whose grant it just wrote)
// is not among them. fn must not keep or change gs.
func (g *Store) Cached(fn func(tenant string, gs []Grant)) {
	type held struct {
		tenant string
		l      *listing
	}
	g.cache.mu.RLock()
	all := make([]held, 0, len(g.cache.tenants))
	for name, e := range g.cache.tenants {
		if l := e.cur.Load(); l != nil {
			all = append(all, held{name, l})
		}
	}
	g.cache.mu.RUnlock()
	for _, h := range all {
		fn(h.tenant, h.l.grants)
	}
}
