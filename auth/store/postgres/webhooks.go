package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/store"
)

var _ store.Webhooks = (*Store)(nil)

// GetWebhook implements store.Webhooks.
func (s *Store) GetWebhook(ctx context.Context, tenant string) (store.Webhook, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return store.Webhook{}, err
	}
	var w store.Webhook
	var until *time.Time
	err := s.pool.QueryRow(ctx, "SELECT tenant, url, secret, created_at, previous_secret, previous_until FROM webhooks WHERE tenant = $1", tenant).
		Scan(&w.Tenant, &w.URL, &w.Secret, &w.CreatedAt, &w.PreviousSecret, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Webhook{}, fmt.Errorf("webhook of %s: %w", tenant, store.ErrNotFound)
	}
	if err != nil {
		return store.Webhook{}, wrap("webhook of "+tenant, err)
	}
	w.CreatedAt = utc(w.CreatedAt)
	if until != nil {
		w.PreviousUntil = utc(*until)
	}
	if len(w.PreviousSecret) == 0 {
		w.PreviousSecret = nil
	}
	return w, nil
}

// PutWebhook implements store.Webhooks.
func (s *Store) PutWebhook(ctx context.Context, w store.Webhook) error {
	if err := store.ValidWebhook(w); err != nil {
		return err
	}
	// NULLs when there is no previous secret (ValidWebhook made sure both
	// or neither are set).
	var prev []byte
	var until *time.Time
	if len(w.PreviousSecret) != 0 {
		prev, until = w.PreviousSecret, &w.PreviousUntil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO webhooks (tenant, url, secret, created_at, previous_secret, previous_until) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at,
			previous_secret = excluded.previous_secret, previous_until = excluded.previous_until`,
		w.Tenant, w.URL, w.Secret, w.CreatedAt, prev, until)
	return wrap("webhook of "+w.Tenant, err)
}

// DeleteWebhook implements store.Webhooks: the registration and the
// deliveries not yet made, in one transaction.
func (s *Store) DeleteWebhook(ctx context.Context, tenant string) error {
	if err := store.ValidTenant(tenant); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM webhooks WHERE tenant = $1", tenant)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("webhook of %s: %w", tenant, store.ErrNotFound)
		}
		_, err = tx.Exec(ctx, "DELETE FROM webhook_deliveries WHERE tenant = $1 AND NOT done", tenant)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return err
	}
	return wrap("webhook of "+tenant, err)
}

// AddDelivery implements store.Webhooks: the primary key and the unique
// (tenant, key) make one insert of racing ones succeed.
func (s *Store) AddDelivery(ctx context.Context, d store.Delivery) error {
	if err := store.ValidDelivery(d); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO webhook_deliveries (id, tenant, key, body, created_at, attempts, next_at, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		d.ID, d.Tenant, d.Key, d.Body, d.CreatedAt, d.Attempts, d.NextAt, d.LastError)
	if err != nil {
		return wrap("delivery "+d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delivery %s (%s): %w", d.ID, d.Key, store.ErrExists)
	}
	return nil
}

// ClaimDeliveries implements store.Webhooks in one statement: the due rows
// are locked with FOR UPDATE SKIP LOCKED (a row another claimant is taking
// is skipped, not waited for) and leased in the same UPDATE, each under a
// new random lease.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Delivery, error) {
	if lease <= 0 || max <= 0 {
		return nil, errors.New("claim deliveries: lease and max must be positive")
	}
	rows, _ := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM webhook_deliveries
			WHERE NOT done AND next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries d SET lease = gen_random_uuid()::text, lease_until = $2
		FROM due WHERE d.id = due.id
		RETURNING d.id, d.tenant, d.key, d.body, d.created_at, d.attempts, d.next_at, d.last_error, d.lease`,
		now, now.Add(lease), max)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Delivery, error) {
		var d store.Delivery
		err := r.Scan(&d.ID, &d.Tenant, &d.Key, &d.Body, &d.CreatedAt, &d.Attempts, &d.NextAt, &d.LastError, &d.Lease)
		d.CreatedAt, d.NextAt = utc(d.CreatedAt), utc(d.NextAt)
		return d, err
	})
	if err != nil {
		return nil, wrap("claiming deliveries", err)
	}
	slices.SortFunc(out, func(a, b store.Delivery) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return orEmpty(out), nil
}

// leased runs an update of a claimed delivery and tells a missing one
// from a lease no longer held.
func (s *Store) leased(ctx context.Context, id, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return wrap("delivery "+id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)", id).Scan(&exists); err != nil {
		return wrap("delivery "+id, err)
	}
	if !exists {
		return fmt.Errorf("delivery %s: %w", id, store.ErrNotFound)
	}
	return fmt.Errorf("delivery %s: the lease is no longer held: %w", id, store.ErrConflict)
}

// CompleteDelivery implements store.Webhooks; the body is dropped, the key
// kept.
func (s *Store) CompleteDelivery(ctx context.Context, id, lease string) error {
	if err := store.ValidLease(id, lease); err != nil {
		return err
	}
	return s.leased(ctx, id, `UPDATE webhook_deliveries SET done = true, lease = '', lease_until = NULL, body = ''::bytea
		WHERE id = $1 AND lease = $2 AND NOT done`, id, lease)
}

// RetryDelivery implements store.Webhooks.
func (s *Store) RetryDelivery(ctx context.Context, id, lease string, next time.Time, lastError string) error {
	if err := store.ValidLease(id, lease); err != nil {
		return err
	}
	return s.leased(ctx, id, `UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $3, last_error = $4, lease = '', lease_until = NULL
		WHERE id = $1 AND lease = $2 AND NOT done`, id, lease, next, store.ClipError(lastError))
}

// PruneDeliveries implements store.Webhooks.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM webhook_deliveries WHERE created_at < $1", before)
	if err != nil {
		return 0, wrap("pruning deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}
