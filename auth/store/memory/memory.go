// Package memory is a store.Store in process memory, for tests: maps under
// one mutex, the same input checks and errors as the real stores, and copies
// in and out, so that a caller changing a slice it passed in or got back
// changes nothing stored.
//
// It runs the conformance suite in store/storetest like every other
// implementation. Nothing survives the process, and two processes never share
// a memory store: use it where a test needs a store, not where a deployment
// does.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/internal/keylock"
)

// Store is an in-memory store.Store. The zero value is not usable: call New.
type Store struct {
	mu      sync.Mutex
	tenants map[string]store.Tenant
	grants  map[store.GrantKey]store.Grant
	flows   map[string]store.FlowState

	policies map[string]store.Policy
	counters map[store.CounterKey]counter
	dataKeys map[string]store.DataKey
	webhooks map[string]store.Webhook
	outbox   map[string]*delivery // by id

	oauthClients  map[string]store.OAuthClient
	oauthTokens   map[string]store.OAuthToken // by hash
	oauthFamilies map[string]oauthFamily

	grantLocks keylock.Set
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		tenants: map[string]store.Tenant{},
		grants:  map[store.GrantKey]store.Grant{},
		flows:   map[string]store.FlowState{},

		policies: map[string]store.Policy{},
		counters: map[store.CounterKey]counter{},
		dataKeys: map[string]store.DataKey{},
		webhooks: map[string]store.Webhook{},
		outbox:   map[string]*delivery{},

		oauthClients:  map[string]store.OAuthClient{},
		oauthTokens:   map[string]store.OAuthToken{},
		oauthFamilies: map[string]oauthFamily{},
	}
}

// lock refuses an invalid argument (valid is its check's result) and an
// ended context, then takes the store's lock; the caller unlocks.
func (s *Store) lock(ctx context.Context, valid error) error {
	if valid != nil {
		return valid
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	return nil
}

// Backend returns "memory".
func (s *Store) Backend() string { return "memory" }

// CreateTenant implements store.Tenants.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	if err := s.lock(ctx, store.ValidTenant(t.Name)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.tenants[t.Name]; ok {
		return fmt.Errorf("tenant %s: %w", t.Name, store.ErrExists)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	s.tenants[t.Name] = t
	return nil
}

// GetTenant implements store.Tenants.
func (s *Store) GetTenant(ctx context.Context, name string) (store.Tenant, error) {
	if err := s.lock(ctx, store.ValidTenant(name)); err != nil {
		return store.Tenant{}, err
	}
	defer s.mu.Unlock()
	t, ok := s.tenants[name]
	if !ok {
		return store.Tenant{}, fmt.Errorf("tenant %s: %w", name, store.ErrNotFound)
	}
	return t, nil
}

// ListTenants implements store.Tenants.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	if err := s.lock(ctx, nil); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]store.Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.Tenant) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteTenant implements store.Tenants.
func (s *Store) DeleteTenant(ctx context.Context, name string) error {
	if err := s.lock(ctx, store.ValidTenant(name)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.tenants[name]; !ok {
		return fmt.Errorf("tenant %s: %w", name, store.ErrNotFound)
	}
	delete(s.tenants, name)
	return nil
}

// GetGrant implements store.Grants.
func (s *Store) GetGrant(ctx context.Context, k store.GrantKey) (store.Grant, error) {
	if err := s.lock(ctx, store.ValidGrantKey(k)); err != nil {
		return store.Grant{}, err
	}
	defer s.mu.Unlock()
	g, ok := s.grants[k]
	if !ok {
		return store.Grant{}, fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
	}
	return cloneGrant(g), nil
}

// ListGrants implements store.Grants.
func (s *Store) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := []store.Grant{}
	for k, g := range s.grants {
		if k.Tenant == tenant {
			out = append(out, cloneGrant(g))
		}
	}
	slices.SortFunc(out, func(a, b store.Grant) int {
		return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Account, b.Account))
	})
	return out, nil
}

// PutGrant implements store.Grants.
func (s *Store) PutGrant(ctx context.Context, g store.Grant) (int64, error) {
	if err := s.lock(ctx, store.ValidGrant(g)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var stored int64
	if old, ok := s.grants[g.GrantKey]; ok {
		stored = old.Version
	}
	if stored != g.Version {
		return 0, fmt.Errorf("grant %s: version %d, the write expected %d: %w", g.GrantKey, stored, g.Version, store.ErrConflict)
	}
	g = cloneGrant(g)
	g.Version++
	g.ConnectedAt = g.ConnectedAt.UTC()
	g.StatusAt = g.StatusAt.UTC()
	s.grants[g.GrantKey] = g
	return g.Version, nil
}

// DeleteGrant implements store.Grants.
func (s *Store) DeleteGrant(ctx context.Context, k store.GrantKey, version int64) error {
	if err := store.ValidGrantKey(k); err != nil {
		return err
	}
	if version < 0 {
		return fmt.Errorf("grant %s: negative version", k)
	}
	if err := s.lock(ctx, nil); err != nil {
		return err
	}
	defer s.mu.Unlock()
	g, ok := s.grants[k]
	if !ok {
		return fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
	}
	if version != 0 && g.Version != version {
		return fmt.Errorf("grant %s: version %d, the delete expected %d: %w", k, g.Version, version, store.ErrConflict)
	}
	delete(s.grants, k)
	return nil
}

// LockGrant implements store.Grants: a lock in this process (a memory store
// is never shared with another).
func (s *Store) LockGrant(ctx context.Context, k store.GrantKey) (unlock func(), err error) {
	if err := store.ValidGrantKey(k); err != nil {
		return nil, err
	}
	unlock, err = s.grantLocks.Lock(ctx, k.String())
	if err != nil {
		return nil, fmt.Errorf("grant %s: waiting for its lock: %w", k, err)
	}
	return unlock, nil
}

// PutFlowState implements store.FlowStates.
func (s *Store) PutFlowState(ctx context.Context, f store.FlowState) error {
	if err := s.lock(ctx, store.ValidFlowState(f)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.flows[f.ID]; ok {
		return fmt.Errorf("flow state %s…: %w", f.ID[:8], store.ErrExists)
	}
	f.Scopes = slices.Clone(f.Scopes)
	f.CreatedAt = f.CreatedAt.UTC()
	f.ExpiresAt = f.ExpiresAt.UTC()
	s.flows[f.ID] = f
	return nil
}

// TakeFlowState implements store.FlowStates.
func (s *Store) TakeFlowState(ctx context.Context, id string) (store.FlowState, error) {
	if err := s.lock(ctx, store.ValidFlowID(id)); err != nil {
		return store.FlowState{}, err
	}
	defer s.mu.Unlock()
	f, ok := s.flows[id]
	if !ok {
		return store.FlowState{}, fmt.Errorf("flow state %s…: %w", id[:8], store.ErrNotFound)
	}
	delete(s.flows, id)
	return f, nil // the stored Scopes slice is handed over: nothing else refers to it now
}

// ListFlowStates implements store.FlowStates.
func (s *Store) ListFlowStates(ctx context.Context, tenant string) ([]store.FlowState, error) {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := []store.FlowState{}
	for _, f := range s.flows {
		if f.Tenant == tenant {
			f.Scopes = slices.Clone(f.Scopes)
			out = append(out, f)
		}
	}
	slices.SortFunc(out, compareFlows)
	return out, nil
}

// compareFlows orders flow states oldest first, then by ID.
func compareFlows(a, b store.FlowState) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
}

func cloneGrant(g store.Grant) store.Grant {
	g.Secret = slices.Clone(g.Secret)
	g.Scopes = slices.Clone(g.Scopes)
	return g
}

// Ping answers nil: memory always answers.
func (s *Store) Ping(context.Context) error { return nil }
