package tenant

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"
)

// Authenticator resolves API keys to tenants. It keeps the key hashes in
// memory and reloads them from the registry every refresh interval, and at
// most once per minReload when a key is not recognised (so that a tenant
// added by `mailcal tenant add` while the server runs is accepted at once,
// without letting a flood of wrong keys hammer the keyring).
type Authenticator struct {
	reg       *Registry
	refresh   time.Duration
	minReload time.Duration
	now       func() time.Time

	mu       sync.Mutex // serialises reloads
	loadedAt time.Time
	entries  []entry // replaced whole, never mutated: readers take a snapshot
	snap     sync.RWMutex
}

type entry struct {
	name string
	hash []byte
}

// NewAuthenticator returns an authenticator over reg.
func NewAuthenticator(reg *Registry) *Authenticator {
	// refresh bounds how long a removed tenant's key keeps working: a known
	// key never triggers the reload-on-miss.
	return &Authenticator{reg: reg, refresh: 5 * time.Second, minReload: 2 * time.Second, now: time.Now}
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
	if name, ok := a.lookup(key); ok {
		return name, true, nil
	}
	if err := a.reload(ctx, a.minReload); err != nil {
		return "", false, err
	}
	name, ok := a.lookup(key)
	return name, ok, nil
}

func (a *Authenticator) lookup(key string) (string, bool) {
	a.snap.RLock()
	entries := a.entries
	a.snap.RUnlock()
	found := ""
	for _, e := range entries {
		if match(key, e.hash) {
			found = e.name
		}
	}
	return found, found != ""
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
		entries = append(entries, entry{name: t.Name, hash: h})
	}
	a.snap.Lock()
	a.entries, a.loadedAt = entries, a.now()
	a.snap.Unlock()
	return nil
}
