package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

var _ store.Webhooks = (*Store)(nil)

type delivery struct {
	store.Delivery
	done       bool
	leaseUntil time.Time
}

// GetWebhook implements store.Webhooks.
func (s *Store) GetWebhook(ctx context.Context, tenant string) (store.Webhook, error) {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return store.Webhook{}, err
	}
	defer s.mu.Unlock()
	w, ok := s.webhooks[tenant]
	if !ok {
		return store.Webhook{}, fmt.Errorf("webhook of %s: %w", tenant, store.ErrNotFound)
	}
	w.Secret = slices.Clone(w.Secret)
	w.PreviousSecret = slices.Clone(w.PreviousSecret)
	return w, nil
}

// PutWebhook implements store.Webhooks.
func (s *Store) PutWebhook(ctx context.Context, w store.Webhook) error {
	if err := s.lock(ctx, store.ValidWebhook(w)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	w.Secret = slices.Clone(w.Secret)
	w.PreviousSecret = slices.Clone(w.PreviousSecret)
	if len(w.PreviousSecret) == 0 {
		w.PreviousSecret = nil // empty reads back as nil, as from PostgreSQL
	}
	w.CreatedAt = w.CreatedAt.UTC()
	w.PreviousUntil = w.PreviousUntil.UTC()
	s.webhooks[w.Tenant] = w
	return nil
}

// DeleteWebhook implements store.Webhooks.
func (s *Store) DeleteWebhook(ctx context.Context, tenant string) error {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.webhooks[tenant]; !ok {
		return fmt.Errorf("webhook of %s: %w", tenant, store.ErrNotFound)
	}
	delete(s.webhooks, tenant)
	for id, d := range s.outbox {
		if d.Tenant == tenant && !d.done {
			delete(s.outbox, id)
		}
	}
	return nil
}

// AddDelivery implements store.Webhooks.
func (s *Store) AddDelivery(ctx context.Context, d store.Delivery) error {
	if err := s.lock(ctx, store.ValidDelivery(d)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, o := range s.outbox {
		if o.ID == d.ID || (o.Tenant == d.Tenant && o.Key == d.Key) {
			return fmt.Errorf("delivery %s (%s): %w", d.ID, d.Key, store.ErrExists)
		}
	}
	d.Body = slices.Clone(d.Body)
	d.CreatedAt, d.NextAt, d.Lease = d.CreatedAt.UTC(), d.NextAt.UTC(), ""
	s.outbox[d.ID] = &delivery{Delivery: d}
	return nil
}

// ClaimDeliveries implements store.Webhooks.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Delivery, error) {
	var valid error
	if lease <= 0 || max <= 0 {
		valid = errors.New("claim deliveries: lease and max must be positive")
	}
	if err := s.lock(ctx, valid); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var due []*delivery
	for _, d := range s.outbox {
		if !d.done && !d.NextAt.After(now) && !d.leaseUntil.After(now) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b *delivery) int { return a.NextAt.Compare(b.NextAt) })
	out := []store.Delivery{}
	for _, d := range due[:min(max, len(due))] {
		d.Lease, d.leaseUntil = newLease(), now.Add(lease)
		c := d.Delivery
		c.Body = slices.Clone(c.Body)
		out = append(out, c)
	}
	return out, nil
}

func newLease() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claimed returns the delivery id holds under lease; the store is locked.
func (s *Store) claimed(id, lease string) (*delivery, error) {
	d, ok := s.outbox[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("delivery %s: %w", id, store.ErrNotFound)
	case d.done || d.Lease != lease:
		return nil, fmt.Errorf("delivery %s: the lease is no longer held: %w", id, store.ErrConflict)
	}
	return d, nil
}

// CompleteDelivery implements store.Webhooks.
func (s *Store) CompleteDelivery(ctx context.Context, id, lease string) error {
	if err := s.lock(ctx, store.ValidLease(id, lease)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	d, err := s.claimed(id, lease)
	if err != nil {
		return err
	}
	d.done, d.Lease, d.leaseUntil, d.Body = true, "", time.Time{}, nil
	return nil
}

// RetryDelivery implements store.Webhooks.
func (s *Store) RetryDelivery(ctx context.Context, id, lease string, next time.Time, lastError string) error {
	if err := s.lock(ctx, store.ValidLease(id, lease)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	d, err := s.claimed(id, lease)
	if err != nil {
		return err
	}
	d.Attempts++
	d.NextAt, d.LastError, d.Lease, d.leaseUntil = next.UTC(), store.ClipError(lastError), "", time.Time{}
	return nil
}

// PruneDeliveries implements store.Webhooks.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	if err := s.lock(ctx, nil); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for id, d := range s.outbox {
		if d.CreatedAt.Before(before) {
			delete(s.outbox, id)
			n++
		}
	}
	return n, nil
}
