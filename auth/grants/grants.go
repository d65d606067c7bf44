// Package grants keeps the OAuth grants of connected accounts: the refresh
// token, sealed through a Sealer before it reaches the store, and what is
// known about the connection (scopes, status, when it was made).
//
// Every write is a compare-and-set against the store's version of the
// grant: two writers (a token refresh and a reconnect, or two processes)
// never overwrite each other unknowingly.
package grants

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Status of a connection.
const (
	StatusActive      = store.StatusActive
	StatusNeedsReauth = store.StatusNeedsReauth
	StatusRevoked     = store.StatusRevoked
)

// ErrNotFound is returned for an account that is not connected.
var ErrNotFound = errors.New("account not connected")

// Grant is one connected account.
type Grant struct {
	Tenant       string
	Provider     string
	Account      string
	RefreshToken string
	Scopes       []string
	ConnectedAt  time.Time
	Status       string
	StatusReason string
	StatusAt     time.Time // when Status last changed away from active
	// AccessToken and AccessExpiry are the last access token a refresh got,
	// shared with the other processes on the store (secret.go): empty when
	// none is shared. They are sealed together with the refresh token.
	AccessToken  string
	AccessExpiry time.Time
	// Version is the store's version of this grant when it was read.
	Version int64
}

func (g Grant) key() store.GrantKey {
	return store.GrantKey{Tenant: g.Tenant, Provider: g.Provider, Account: strings.ToLower(g.Account)}
}

// Sealer protects refresh tokens at rest: Seal before a grant is written,
// Open after it is read. The key binds a sealed token to its account, so
// that one copied to another grant does not open.
type Sealer interface {
	Seal(ctx context.Context, k store.GrantKey, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, k store.GrantKey, sealed []byte) ([]byte, error)
}

// Plain stores refresh tokens as they are: for stores that encrypt what
// they hold themselves (the OS keyrings and the encrypted file backend).
var Plain Sealer = plain{}

type plain struct{}

func (plain) Seal(_ context.Context, _ store.GrantKey, b []byte) ([]byte, error) {
	return slices.Clone(b), nil
}
func (plain) Open(_ context.Context, _ store.GrantKey, b []byte) ([]byte, error) {
	return slices.Clone(b), nil
}

// Store keeps grants. List answers from memory (cache.go); this process's
// writes clear a tenant's cached listing at once.
type Store struct {
	s      store.Grants
	sealer Sealer

	onTransition func(context.Context, Transition)

	cache                        listCache
	listFresh, listTTL, keepWarm time.Duration
	now                          func() time.Time
}

// maxAttempts bounds the compare-and-set retries of one write.
const maxAttempts = 16

// New returns a grant store over s, sealing refresh tokens with sealer.
func New(s store.Grants, sealer Sealer) *Store {
	return &Store{s: s, sealer: sealer, listFresh: listFresh, listTTL: listTTL, keepWarm: keepWarm, now: time.Now}
}

func (g *Store) forget(tenant string) { g.cache.forget(tenant) }

// Put saves a grant, replacing whatever is stored for the account (a new
// connection), a damaged record too.
func (g *Store) Put(ctx context.Context, gr Grant) error {
	if gr.Tenant == "" || gr.Provider == "" || gr.Account == "" {
		return errors.New("grant needs tenant, provider and account")
	}
	defer g.forget(gr.Tenant)
	for range maxAttempts {
		cur, err := g.s.GetGrant(ctx, gr.key())
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur.Version = 0
		case errors.Is(err, store.ErrDamaged):
			// Replaced by the new connection: delete it, then write at
			// version 0 as for an account never connected.
			if err := g.s.DeleteGrant(ctx, gr.key(), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			continue
		case err != nil:
			return err
		}
		gr.Version = cur.Version
		v, err := g.write(ctx, gr)
		if err == nil {
			g.transition(ctx, gr, gr.ConnectedAt, cur.Status, gr.Status, v, "v")
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("storing the grant of %s (%s): it kept changing under us; try again", gr.Account, gr.Provider)
}

// write seals and stores gr if the store still holds gr.Version.
func (g *Store) write(ctx context.Context, gr Grant) (int64, error) {
	k := gr.key()
	sealed, err := g.sealer.Seal(ctx, k, encodeSecret(gr))
	if err != nil {
		return 0, fmt.Errorf("sealing the refresh token of %s (%s): %w", k.Account, k.Provider, err)
	}
	return g.s.PutGrant(ctx, store.Grant{
		GrantKey: k, Version: gr.Version, Secret: sealed, Scopes: gr.Scopes,
		ConnectedAt: gr.ConnectedAt, Status: gr.Status, StatusReason: gr.StatusReason, StatusAt: gr.StatusAt,
	})
}

// Update reads an account's grant, lets fn change it and writes it back if
// no one wrote it in between (compare-and-set on its version); otherwise it
// reads again and calls fn again. If fn returns an error, nothing is
// written and Update returns that error.
func (g *Store) Update(ctx context.Context, tenant, provider, account string, fn func(*Grant) error) error {
	defer g.forget(tenant)
	for range maxAttempts {
		gr, err := g.Get(ctx, tenant, provider, account)
		if err != nil {
			return err
		}
		k, from := gr.key(), gr.Status
		if err := fn(&gr); err != nil {
			return err
		}
		if gr.key() != k {
			return errors.New("grant update may not change tenant, provider or account")
		}
		v, err := g.write(ctx, gr)
		if err == nil {
			g.transition(ctx, gr, gr.ConnectedAt, from, gr.Status, v, "v")
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("updating the grant of %s (%s): it kept changing under us; try again", account, provider)
}

// Get returns the grant of one account, as the store holds it now (never
// from a cache: the token manager re-reads a grant under its lock before it
// spends the refresh token). A damaged record is an error that wraps
// store.ErrDamaged and names it.
func (g *Store) Get(ctx context.Context, tenant, provider, account string) (Grant, error) {
	k := store.GrantKey{Tenant: tenant, Provider: provider, Account: strings.ToLower(account)}
	rec, err := g.s.GetGrant(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return Grant{}, fmt.Errorf("%w: %s (%s)", ErrNotFound, account, provider)
	}
	if err != nil {
		return Grant{}, err
	}
	return g.open(ctx, rec)
}

func (g *Store) open(ctx context.Context, rec store.Grant) (Grant, error) {
	tok, err := g.sealer.Open(ctx, rec.GrantKey, rec.Secret)
	if errors.Is(err, store.ErrDamaged) {
		return Grant{}, fmt.Errorf("the stored refresh token of %s (%s) cannot be opened; disconnect and connect it again: %w",
			rec.Account, rec.Provider, err)
	}
	if err != nil {
		// Not the grant's fault (a wrong master key, the store): the advice
		// is the error's.
		return Grant{}, fmt.Errorf("opening the stored refresh token of %s (%s): %w", rec.Account, rec.Provider, err)
	}
	gr := Grant{
		Tenant: rec.Tenant, Provider: rec.Provider, Account: rec.Account,
		Scopes: rec.Scopes, ConnectedAt: rec.ConnectedAt, Status: rec.Status, StatusReason: rec.StatusReason,
		StatusAt: rec.StatusAt, Version: rec.Version,
	}
	if err := decodeSecret(tok, &gr); err != nil {
		return Grant{}, fmt.Errorf("the stored refresh token of %s (%s) cannot be read; disconnect and connect it again: %w",
			rec.Account, rec.Provider, errors.Join(store.ErrDamaged, err))
	}
	return gr, nil
}

// WriteIf writes gr if the store still holds gr.Version (the version it
// was read at) and returns the new version; store.ErrConflict if another
// write came first. It is Update without the read, for a caller that read
// the grant under its lock.
func (g *Store) WriteIf(ctx context.Context, gr Grant) (int64, error) {
	if gr.Tenant == "" || gr.Provider == "" || gr.Account == "" {
		return 0, errors.New("grant needs tenant, provider and account")
	}
	defer g.forget(gr.Tenant)
	return g.write(ctx, gr)
}

// Delete removes the grant of one account, whatever its version.
func (g *Store) Delete(ctx context.Context, tenant, provider, account string) error {
	defer g.forget(tenant)
	k := store.GrantKey{Tenant: tenant, Provider: provider, Account: strings.ToLower(account)}
	var cur store.Grant
	if g.onTransition != nil {
		cur, _ = g.s.GetGrant(ctx, k) // what was removed, for the transition; a damaged one is removed too
	}
	err := g.s.DeleteGrant(ctx, k, 0)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s (%s)", ErrNotFound, account, provider)
	}
	if err == nil {
		g.transition(ctx, Grant{Tenant: tenant, Provider: provider, Account: k.Account}, cur.ConnectedAt, cmp.Or(cur.Status, StatusActive), "", cur.Version, "removed")
	}
	return err
}

// Lock holds one account across every process that shares the store (see
// store.Grants.LockGrant) until unlock is called; it waits until ctx ends.
// Hold one at a time.
func (g *Store) Lock(ctx context.Context, tenant, provider, account string) (unlock func(), err error) {
	return g.s.LockGrant(ctx, store.GrantKey{Tenant: tenant, Provider: provider, Account: strings.ToLower(account)})
}

// DeleteIf removes the grant of one account if it is still the version
// that was read (a disconnect must not delete a reconnect that happened
// meanwhile).
func (g *Store) DeleteIf(ctx context.Context, gr Grant) error {
	defer g.forget(gr.Tenant)
	err := g.s.DeleteGrant(ctx, gr.key(), gr.Version)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s (%s)", ErrNotFound, gr.Account, gr.Provider)
	}
	if err == nil {
		g.transition(ctx, Grant{Tenant: gr.Tenant, Provider: gr.Provider, Account: gr.Account}, gr.ConnectedAt, cmp.Or(gr.Status, StatusActive), "", gr.Version, "removed")
	}
	return err
}
