// Package tenant manages the workspaces (tenants) a mailcal deployment serves:
// their API keys, kept only as SHA-256 hashes in the store, and the
// authentication of HTTP requests by those keys.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Default is the tenant of a stdio server started without --tenant.
const Default = "default"

// keyPrefix starts every API key, so that a leaked key is easy to recognise
// (and to find with secret scanners).
const keyPrefix = "mck_"

var (
	// ErrExists is returned by Add for a name already in use.
	ErrExists = errors.New("tenant already exists")
	// ErrNotFound is returned for a tenant that does not exist.
	ErrNotFound = errors.New("tenant not found")
)

// ValidateName checks a tenant name: 1 to 63 characters of a-z, 0-9, '-' and
// '_', starting with a letter or digit.
func ValidateName(name string) error { return store.ValidTenant(name) }

// Tenant is one workspace. KeyHash is the hex SHA-256 of its API key; the key
// itself is never stored.
type Tenant = store.Tenant

// Registry keeps tenants in a store.
type Registry struct {
	store store.Tenants
	now   func() time.Time

	mu       sync.Mutex
	watchers []func(name string, removed bool)
}

// watch calls fn after each tenant this registry adds or removes.
func (r *Registry) watch(fn func(name string, removed bool)) {
	r.mu.Lock()
	r.watchers = append(r.watchers, fn)
	r.mu.Unlock()
}

func (r *Registry) notify(name string, removed bool) {
	r.mu.Lock()
	ws := r.watchers
	r.mu.Unlock()
	for _, fn := range ws {
		fn(name, removed)
	}
}

// NewRegistry returns a registry over s.
func NewRegistry(s store.Tenants) *Registry {
	return &Registry{store: s, now: time.Now}
}

// Add creates a tenant and returns its new API key. The key is shown once:
// only its hash is kept.
func (r *Registry) Add(ctx context.Context, name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	t := Tenant{Name: name, KeyHash: HashKey(key), CreatedAt: r.now().UTC().Truncate(time.Second)}
	err = r.store.CreateTenant(ctx, t)
	if errors.Is(err, store.ErrExists) {
		return "", fmt.Errorf("%w: %s", ErrExists, name)
	}
	if err != nil {
		return "", err
	}
	r.notify(name, false)
	return key, nil
}

// Get returns one tenant.
func (r *Registry) Get(ctx context.Context, name string) (Tenant, error) {
	if err := ValidateName(name); err != nil {
		return Tenant{}, err
	}
	t, err := r.store.GetTenant(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return Tenant{}, err
	}
	if t.Name != name || len(t.KeyHash) != sha256.Size*2 {
		return Tenant{}, fmt.Errorf("tenant %s: %w; remove and add it again", name, store.ErrDamaged)
	}
	return t, nil
}

// List returns every tenant, sorted by name.
func (r *Registry) List(ctx context.Context) ([]Tenant, error) {
	return r.store.ListTenants(ctx)
}

// Remove deletes a tenant's record. Its key stops working at once in this
// process and within about 2 seconds in running servers (see
// Authenticator). Its accounts and flows are the caller's to remove first.
func (r *Registry) Remove(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	err := r.store.DeleteTenant(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err == nil {
		r.notify(name, true)
	}
	return err
}

// NewKey returns a fresh API key: the prefix and 32 random bytes, base64url.
func NewKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating an API key: %w", err)
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashKey returns the hex SHA-256 of an API key. Keys carry 256 random bits,
// so a fast hash is enough: there is nothing to brute-force.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
