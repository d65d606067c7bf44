package keyring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcal/mailcal/auth/store"
)

// GetGrant implements store.Grants.
func (s *Store) GetGrant(ctx context.Context, k store.GrantKey) (store.Grant, error) {
	if err := store.ValidGrantKey(k); err != nil {
		return store.Grant{}, err
	}
	g, err := s.getGrant(ctx, k)
	if err != nil {
		return store.Grant{}, err
	}
	if g == nil {
		return store.Grant{}, fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
	}
	return *g, nil
}

// getGrant reads a grant; nil if there is none.
func (s *Store) getGrant(ctx context.Context, k store.GrantKey) (*store.Grant, error) {
	key := grantKey(k)
	data, err := s.read(ctx, key)
	if err != nil || data == nil {
		return nil, err
	}
	g, err := decodeGrant(key, data)
	if err != nil {
		return nil, err
	}
	if g.GrantKey != k { // decodeGrant checked grantKey(g.GrantKey) == key already
		return nil, mismatch(key, fmt.Sprintf("grant %q", g.GrantKey))
	}
	return &g, nil
}

// ListGrants implements store.Grants. Items that cannot be trusted are left
// out, with a warning in the log.
func (s *Store) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return nil, err
	}
	// The trailing "/" keeps tenant "a" from seeing "ab"'s and "a-b"'s grants.
	// Not the keys' order: accounts stored under their hash sort elsewhere.
	return listItems(ctx, s.kv, grantTenantPrefix(tenant), decodeGrant, func(a, b store.Grant) int {
		return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Account, b.Account))
	})
}

// PutGrant implements store.Grants. A grant whose item would not fit in a
// keyring item is refused before anything is written (see items.go).
func (s *Store) PutGrant(ctx context.Context, g store.Grant) (int64, error) {
	if err := store.ValidGrant(g); err != nil {
		return 0, err
	}
	data, err := encodeGrant(g, g.Version+1)
	if err != nil {
		return 0, err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	// A damaged item fails the write with its error rather than ErrConflict,
	// which would send the caller's retry loop round for ever; DeleteGrant
	// at version 0 removes it.
	cur, err := s.getGrant(ctx, g.GrantKey)
	if err != nil {
		return 0, err
	}
	var stored int64
	if cur != nil {
		stored = cur.Version
	}
	if stored != g.Version {
		return 0, fmt.Errorf("grant %s: version %d, the write expected %d: %w", g.GrantKey, stored, g.Version, store.ErrConflict)
	}
	if err := s.kv.Set(ctx, grantKey(g.GrantKey), data); err != nil {
		return 0, err
	}
	return g.Version + 1, nil
}

// DeleteGrant implements store.Grants. At version 0 it deletes whatever item
// is stored, a damaged one too.
func (s *Store) DeleteGrant(ctx context.Context, k store.GrantKey, version int64) error {
	if err := store.ValidGrantKey(k); err != nil {
		return err
	}
	if version < 0 {
		return fmt.Errorf("grant %s: negative version", k)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if version != 0 {
		cur, err := s.getGrant(ctx, k)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
		}
		if cur.Version != version {
			return fmt.Errorf("grant %s: version %d, the delete expected %d: %w", k, cur.Version, version, store.ErrConflict)
		}
	}
	err = s.kv.Delete(ctx, grantKey(k))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
	}
	return err
}
