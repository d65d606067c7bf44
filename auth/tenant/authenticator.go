package tenant

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Authenticator resolves API keys to tenants. It keeps the key hashes in
// memory and reloads them all from the registry every refresh interval, and
// at most once per minReload when a key is not recognised (so that a tenant
// added by `mailcal tenant add` while the server runs is accepted at once,
// without letting a flood of wrong keys hammer the keyring). A tenant whose
// key matched is read again at most every verify interval, so that a
// removed tenant's key stops working within seconds at the cost of one
// keyring read per active tenant, not a read of every tenant.
type Authenticator struct {
	reg       *Registry
	refresh   time.Duration
	minReload time.Duration
	verify    time.Duration
	now       func() time.Time

	mu       sync.Mutex // serialises reloads
	loadedAt time.Time
	entries  []entry // replaced whole, never mutated: readers take a snapshot
	snap     sync.RWMutex
}

type entry struct {
	name     string
	hash     []byte
	verified *atomic.Int64 // unix nanoseconds of the last read of this tenant
}

// NewAuthenticator returns an authenticator over reg.
func NewAuthenticator(reg *Registry) *Authenticator {
	return &Authenticator{reg: reg, refresh: time.Minute, minReload: 2 * time.Second, verify: 2 * time.Second, now: time.Now}
}

// Authenticate returns the tenant whose key this is. Every known hash is
// compared in constant time, whatever matches, so timing says nothing about
// which tenant or how much of a key was right. An error means the tenants
// could not be read (the keyring is unavailable), not a wrong key.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (string, bool, error) {
	if key == "" || len(key) > 256 {
		return "", false, nil
	}
	if a.stale(a.refresh) {
		if err := a.reload(ctx, a.refresh); err != nil && a.empty() {
			return "", false, err
		}
	}
	if e, ok := a.lookup(key); ok {
		return a.confirm(ctx, e)
	}
	if err := a.reload(ctx, a.minReload); err != nil {
		return "", false, err
	}
	e, ok := a.lookup(key)
	return e.name, ok, nil
}

// confirm reads a matched tenant again if that has not happened for the
// verify interval (one caller does; the others go on with the cached
// answer), and refuses its key if the tenant was removed or given a new key.
func (a *Authenticator) confirm(ctx context.Context, e entry) (string, bool, error) {
	now := a.now().UnixNano()
	last := e.verified.Load()
	if now-last < a.verify.Nanoseconds() || !e.verified.CompareAndSwap(last, now) {
		return e.name, true, nil
	}
	t, err := a.reg.Get(ctx, e.name)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && t.KeyHash != hex.EncodeToString(e.hash)):
		a.forceReload(ctx)
		return "", false, nil
	case err != nil:
		// The keyring did not answer: keep serving on what we know, and
		// try again on the next request.
		e.verified.Store(last)
		slog.WarnContext(ctx, "re-reading a tenant failed", "tenant", e.name, "err", err)
	}
	return e.name, true, nil
}

func (a *Authenticator) lookup(key string) (entry, bool) {
	a.snap.RLock()
	entries := a.entries
	a.snap.RUnlock()
	var found entry
	for _, e := range entries {
		if match(key, e.hash) {
			found = e
		}
	}
	return found, found.name != ""
}

// forceReload reads every tenant now.
func (a *Authenticator) forceReload(ctx context.Context) {
	a.snap.Lock()
	a.loadedAt = time.Time{}
	a.snap.Unlock()
	_ = a.reload(ctx, 0)
}

func (a *Authenticator) stale(age time.Duration) bool {
	a.snap.RLock()
	defer a.snap.RUnlock()
	return a.loadedAt.IsZero() || a.now().Sub(a.loadedAt) >= age
}

func (a *Authenticator) empty() bool {
	a.snap.RLock()
	defer a.snap.RUnlock()
	return a.entries == nil
}

// reload reads the tenants again unless that happened less than age ago.
func (a *Authenticator) reload(ctx context.Context, age time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.stale(age) {
		return nil
	}
	tenants, err := a.reg.List(ctx)
	if err != nil {
		slog.WarnContext(ctx, "reading tenants failed", "err", err)
		return err
	}
	entries := make([]entry, 0, len(tenants))
	for _, t := range tenants {
		h, err := hex.DecodeString(t.KeyHash)
		if err != nil {
			continue
		}
		v := new(atomic.Int64)
		v.Store(a.now().UnixNano())
		entries = append(entries, entry{name: t.Name, hash: h, verified: v})
	}
	a.snap.Lock()
	a.entries, a.loadedAt = entries, a.now()
	a.snap.Unlock()
	return nil
}
