package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mailcal/mailcal/auth/store"
)

// GetDataKey implements store.DataKeys.
func (s *Store) GetDataKey(ctx context.Context, tenant string) (store.DataKey, error) {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return store.DataKey{}, err
	}
	defer s.mu.Unlock()
	k, ok := s.dataKeys[tenant]
	if !ok {
		return store.DataKey{}, fmt.Errorf("data key of %s: %w", tenant, store.ErrNotFound)
	}
	k.Wrapped = slices.Clone(k.Wrapped)
	return k, nil
}

// PutDataKey implements store.DataKeys.
func (s *Store) PutDataKey(ctx context.Context, k store.DataKey) (int64, error) {
	if err := s.lock(ctx, store.ValidDataKey(k)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	old, ok := s.dataKeys[k.Tenant]
	var stored int64
	if ok {
		stored = old.Version
	}
	if stored != k.Version {
		return 0, fmt.Errorf("data key of %s: version %d, the write expected %d: %w", k.Tenant, stored, k.Version, store.ErrConflict)
	}
	k.Version++
	k.Wrapped = slices.Clone(k.Wrapped)
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	if ok {
		k.CreatedAt = old.CreatedAt // the key is the same one, re-wrapped
	}
	s.dataKeys[k.Tenant] = k
	return k.Version, nil
}

// DeleteDataKey implements store.DataKeys.
func (s *Store) DeleteDataKey(ctx context.Context, tenant string) error {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.dataKeys[tenant]; !ok {
		return fmt.Errorf("data key of %s: %w", tenant, store.ErrNotFound)
	}
	delete(s.dataKeys, tenant)
	return nil
}

// ListDataKeys implements store.DataKeys.
func (s *Store) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	if err := s.lock(ctx, nil); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]store.DataKey, 0, len(s.dataKeys))
	for _, k := range s.dataKeys {
		k.Wrapped = slices.Clone(k.Wrapped)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b store.DataKey) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out, nil
}
