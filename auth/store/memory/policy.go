package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/mailcal/mailcal/auth/store"
)

type counter struct {
	period string
	count  int64
}

// GetPolicy implements store.Policies.
func (s *Store) GetPolicy(ctx context.Context, tenant string) (store.Policy, error) {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return store.Policy{}, err
	}
	defer s.mu.Unlock()
	p, ok := s.policies[tenant]
	if !ok {
		return store.Policy{}, fmt.Errorf("policy of %s: %w", tenant, store.ErrNotFound)
	}
	return clonePolicy(p), nil
}

// PutPolicy implements store.Policies.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy) (int64, error) {
	if err := s.lock(ctx, store.ValidPolicy(p)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var stored int64
	if old, ok := s.policies[p.Tenant]; ok {
		stored = old.Version
	}
	if stored != p.Version {
		return 0, fmt.Errorf("policy of %s: version %d, the write expected %d: %w", p.Tenant, stored, p.Version, store.ErrConflict)
	}
	p = clonePolicy(p)
	p.Version++
	p.UpdatedAt = p.UpdatedAt.UTC()
	s.policies[p.Tenant] = p
	return p.Version, nil
}

// DeletePolicy implements store.Policies.
func (s *Store) DeletePolicy(ctx context.Context, tenant string) error {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.policies[tenant]; !ok {
		return fmt.Errorf("policy of %s: %w", tenant, store.ErrNotFound)
	}
	delete(s.policies, tenant)
	return nil
}

// IncrementCounter implements store.Counters.
func (s *Store) IncrementCounter(ctx context.Context, k store.CounterKey, period string, limit int64) (int64, error) {
	if err := s.lock(ctx, store.ValidCounter(k, period)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	c := s.counters[k]
	if c.period != period {
		c = counter{period: period}
	}
	if c.count >= limit {
		return c.count, fmt.Errorf("counter %s: %d counted in %s, the limit is %d: %w", k, c.count, period, limit, store.ErrLimit)
	}
	c.count++
	s.counters[k] = c
	return c.count, nil
}

// GetCounter implements store.Counters.
func (s *Store) GetCounter(ctx context.Context, k store.CounterKey, period string) (int64, error) {
	if err := s.lock(ctx, store.ValidCounter(k, period)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if c := s.counters[k]; c.period == period {
		return c.count, nil
	}
	return 0, nil
}

func clonePolicy(p store.Policy) store.Policy {
	p.RecipientAllowlist = slices.Clone(p.RecipientAllowlist)
	p.AllowedSignins = slices.Clone(p.AllowedSignins)
	return p
}
