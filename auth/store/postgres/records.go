package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/store"
)

const flowColumns = "id, tenant, provider, scopes, verifier, redirect_uri, login_hint, created_at, expires_at"

func scanFlow(r pgx.Row) (store.FlowState, error) {
	var f store.FlowState
	err := r.Scan(&f.ID, &f.Tenant, &f.Provider, &f.Scopes, &f.Verifier, &f.RedirectURI, &f.LoginHint, &f.CreatedAt, &f.ExpiresAt)
	f.CreatedAt, f.ExpiresAt = utc(f.CreatedAt), utc(f.ExpiresAt)
	return f, err
}

// PutFlowState implements store.FlowStates.
func (s *Store) PutFlowState(ctx context.Context, f store.FlowState) error {
	if err := store.ValidFlowState(f); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO flow_states ("+flowColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
		f.ID, f.Tenant, f.Provider, orNone(f.Scopes), f.Verifier, f.RedirectURI, f.LoginHint, f.CreatedAt, f.ExpiresAt)
	if err != nil {
		return wrap("flow state "+f.ID[:8]+"…", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("flow state %s…: %w", f.ID[:8], store.ErrExists)
	}
	return nil
}

// TakeFlowState implements store.FlowStates: one DELETE … RETURNING, so
// of racing takers exactly one gets the row.
func (s *Store) TakeFlowState(ctx context.Context, id string) (store.FlowState, error) {
	if err := store.ValidFlowID(id); err != nil {
		return store.FlowState{}, err
	}
	f, err := scanFlow(s.pool.QueryRow(ctx, "DELETE FROM flow_states WHERE id = $1 RETURNING "+flowColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.FlowState{}, fmt.Errorf("flow state %s…: %w", id[:8], store.ErrNotFound)
	}
	if err != nil {
		return store.FlowState{}, wrap("flow state "+id[:8]+"…", err)
	}
	return f, nil
}

// ListFlowStates implements store.FlowStates.
func (s *Store) ListFlowStates(ctx context.Context, tenant string) ([]store.FlowState, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, "SELECT "+flowColumns+" FROM flow_states WHERE tenant = $1 ORDER BY created_at, id COLLATE \"C\"", tenant)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.FlowState, error) { return scanFlow(r) })
	if err != nil {
		return nil, wrap("flow states of "+tenant, err)
	}
	return orEmpty(out), nil
}

const policyColumns = "tenant, version, recipient_allowlist, max_sends_per_day, max_recipients, drafts_only, confirm_sends, allowed_signins, shared_accounts, updated_at"

// GetPolicy implements store.Policies.
func (s *Store) GetPolicy(ctx context.Context, tenant string) (store.Policy, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return store.Policy{}, err
	}
	var p store.Policy
	err := s.pool.QueryRow(ctx, "SELECT "+policyColumns+" FROM policies WHERE tenant = $1", tenant).Scan(
		&p.Tenant, &p.Version, &p.RecipientAllowlist, &p.MaxSendsPerDay, &p.MaxRecipients, &p.DraftsOnly, &p.ConfirmSends, &p.AllowedSignins, &p.SharedAccounts, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Policy{}, fmt.Errorf("policy of %s: %w", tenant, store.ErrNotFound)
	}
	if err != nil {
		return store.Policy{}, wrap("policy of "+tenant, err)
	}
	p.UpdatedAt = utc(p.UpdatedAt)
	return p, nil
}

// PutPolicy implements store.Policies.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy) (int64, error) {
	if err := store.ValidPolicy(p); err != nil {
		return 0, err
	}
	args := []any{p.Tenant, p.Version, orNone(p.RecipientAllowlist), p.MaxSendsPerDay, p.MaxRecipients, p.DraftsOnly, p.ConfirmSends, orNone(p.AllowedSignins), p.SharedAccounts, p.UpdatedAt}
	var sql string
	if p.Version == 0 {
		sql = "INSERT INTO policies (" + policyColumns + ") VALUES ($1, $2 + 1, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
	} else {
		sql = `UPDATE policies SET version = version + 1, recipient_allowlist = $3, max_sends_per_day = $4, max_recipients = $5,
			drafts_only = $6, confirm_sends = $7, allowed_signins = $8, shared_accounts = $9, updated_at = $10 WHERE tenant = $1 AND version = $2`
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, wrap("policy of "+p.Tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("policy of %s: the stored version is not %d: %w", p.Tenant, p.Version, store.ErrConflict)
	}
	return p.Version + 1, nil
}

// DeletePolicy implements store.Policies.
func (s *Store) DeletePolicy(ctx context.Context, tenant string) error {
	if err := store.ValidTenant(tenant); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM policies WHERE tenant = $1", tenant)
	if err != nil {
		return wrap("policy of "+tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("policy of %s: %w", tenant, store.ErrNotFound)
	}
	return nil
}

// IncrementCounter implements store.Counters in one statement: the row is
// created at 1, restarted at 1 in a new period, or incremented while below
// limit; ON CONFLICT DO UPDATE locks the row, so racing callers are
// serialised and each sees the count the last one left.
func (s *Store) IncrementCounter(ctx context.Context, k store.CounterKey, period string, limit int64) (int64, error) {
	if err := store.ValidCounter(k, period); err != nil {
		return 0, err
	}
	if limit > 0 {
		var n int64
		err := s.pool.QueryRow(ctx, `INSERT INTO counters AS c (tenant, provider, account, name, period, count) VALUES ($1, $2, $3, $4, $5, 1)
			ON CONFLICT (tenant, provider, account, name) DO UPDATE
			SET period = excluded.period, count = CASE WHEN c.period = excluded.period THEN c.count + 1 ELSE 1 END
			WHERE c.period <> excluded.period OR c.count < $6
			RETURNING count`, k.Tenant, k.Provider, k.Account, k.Name, period, limit).Scan(&n)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, wrap("counter "+k.String(), err)
		}
	}
	n, err := s.GetCounter(ctx, k, period)
	if err != nil {
		return 0, err
	}
	return n, fmt.Errorf("counter %s: %d counted in %s, the limit is %d: %w", k, n, period, limit, store.ErrLimit)
}

// GetCounter implements store.Counters.
func (s *Store) GetCounter(ctx context.Context, k store.CounterKey, period string) (int64, error) {
	if err := store.ValidCounter(k, period); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count FROM counters WHERE tenant = $1 AND provider = $2 AND account = $3 AND name = $4 AND period = $5",
		k.Tenant, k.Provider, k.Account, k.Name, period).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, wrap("counter "+k.String(), err)
}

const dataKeyColumns = "tenant, version, master_key_id, wrapped, created_at, updated_at"

func scanDataKey(r pgx.Row) (store.DataKey, error) {
	var k store.DataKey
	err := r.Scan(&k.Tenant, &k.Version, &k.MasterKeyID, &k.Wrapped, &k.CreatedAt, &k.UpdatedAt)
	k.CreatedAt, k.UpdatedAt = utc(k.CreatedAt), utc(k.UpdatedAt)
	return k, err
}

// GetDataKey implements store.DataKeys.
func (s *Store) GetDataKey(ctx context.Context, tenant string) (store.DataKey, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return store.DataKey{}, err
	}
	k, err := scanDataKey(s.pool.QueryRow(ctx, "SELECT "+dataKeyColumns+" FROM data_keys WHERE tenant = $1", tenant))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.DataKey{}, fmt.Errorf("data key of %s: %w", tenant, store.ErrNotFound)
	}
	if err != nil {
		return store.DataKey{}, wrap("data key of "+tenant, err)
	}
	return k, nil
}

// PutDataKey implements store.DataKeys.
func (s *Store) PutDataKey(ctx context.Context, k store.DataKey) (int64, error) {
	if err := store.ValidDataKey(k); err != nil {
		return 0, err
	}
	var sql string
	if k.Version == 0 {
		sql = "INSERT INTO data_keys (" + dataKeyColumns + ") VALUES ($1, $2 + 1, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
	} else {
		sql = `UPDATE data_keys SET version = version + 1, master_key_id = $3, wrapped = $4, created_at = $5, updated_at = $6
			WHERE tenant = $1 AND version = $2`
	}
	tag, err := s.pool.Exec(ctx, sql, k.Tenant, k.Version, k.MasterKeyID, k.Wrapped, k.CreatedAt, k.UpdatedAt)
	if err != nil {
		return 0, wrap("data key of "+k.Tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("data key of %s: the stored version is not %d: %w", k.Tenant, k.Version, store.ErrConflict)
	}
	return k.Version + 1, nil
}

// DeleteDataKey implements store.DataKeys.
func (s *Store) DeleteDataKey(ctx context.Context, tenant string) error {
	if err := store.ValidTenant(tenant); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM data_keys WHERE tenant = $1", tenant)
	if err != nil {
		return wrap("data key of "+tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("data key of %s: %w", tenant, store.ErrNotFound)
	}
	return nil
}

// ListDataKeys implements store.DataKeys.
func (s *Store) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+dataKeyColumns+" FROM data_keys ORDER BY tenant COLLATE \"C\"")
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DataKey, error) { return scanDataKey(r) })
	if err != nil {
		return nil, wrap("listing data keys", err)
	}
	return orEmpty(out), nil
}
