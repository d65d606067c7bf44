package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mailcal/mailcal/auth/store"
)

// The OAuth server's state (migrations/0003_oauth.sql). Its one promise
// across replicas beyond single statements: a token put racing with its
// family's revocation is refused or revoked, never left behind. Both lock
// the family's row in oauth_families. A put is one statement that upserts
// that row (ON CONFLICT DO UPDATE … WHERE revoked_until IS NULL, which locks
// it and re-reads it after a revocation that held it) and inserts the token
// only if the upsert succeeded. A revocation marks the row, then deletes the
// family's tokens in a second statement of the same transaction: under READ
// COMMITTED that statement's snapshot is taken after the mark's lock was
// granted, so it sees every token a put committed before, and every later
// put waits for the mark and is refused.

var _ store.OAuthServer = (*Store)(nil)

// PutOAuthClient implements store.OAuthServer.
func (s *Store) PutOAuthClient(ctx context.Context, c store.OAuthClient) error {
	if err := store.ValidOAuthClient(c); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO oauth_clients (id, secret_hash, metadata, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		c.ID, c.SecretHash, orNoBytes(c.Metadata), c.CreatedAt)
	if err != nil {
		return wrap("OAuth client "+c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("OAuth client %s: %w", c.ID, store.ErrExists)
	}
	return nil
}

// GetOAuthClient implements store.OAuthServer.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error) {
	if err := store.ValidOAuthClient(store.OAuthClient{ID: id}); err != nil {
		return store.OAuthClient{}, err
	}
	var c store.OAuthClient
	err := s.pool.QueryRow(ctx, "SELECT id, secret_hash, metadata, created_at FROM oauth_clients WHERE id = $1", id).
		Scan(&c.ID, &c.SecretHash, &c.Metadata, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.OAuthClient{}, fmt.Errorf("OAuth client %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.OAuthClient{}, wrap("OAuth client "+id, err)
	}
	c.CreatedAt = utc(c.CreatedAt)
	return c, nil
}

const oauthTokenColumns = "hash, kind, family, tenant, provider, account, client, resource, scopes, redirect_uri, challenge, state, created_at, expires_at, spent_at"

func scanOAuthToken(r pgx.Row) (store.OAuthToken, error) {
	var t store.OAuthToken
	var spent *time.Time
	err := r.Scan(&t.Hash, &t.Kind, &t.Family, &t.Tenant, &t.Provider, &t.Account, &t.Client, &t.Resource, &t.Scopes,
		&t.RedirectURI, &t.Challenge, &t.State, &t.CreatedAt, &t.ExpiresAt, &spent)
	t.CreatedAt, t.ExpiresAt = utc(t.CreatedAt), utc(t.ExpiresAt)
	if spent != nil {
		t.SpentAt = utc(*spent)
	}
	return t, err
}

// PutOAuthToken implements store.OAuthServer in one statement: the
// family's row upserted (and locked) unless the family is revoked, the
// token inserted only then; the counts tell a revoked family from a taken
// hash.
func (s *Store) PutOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if err := store.ValidOAuthToken(t); err != nil {
		return err
	}
	var spent *time.Time
	if !t.SpentAt.IsZero() {
		spent = &t.SpentAt
	}
	var families, tokens int
	err := s.pool.QueryRow(ctx, `WITH fam AS (
			INSERT INTO oauth_families AS f (family, expires_at) VALUES ($3, $14)
			ON CONFLICT (family) DO UPDATE SET expires_at = greatest(f.expires_at, excluded.expires_at)
			WHERE f.revoked_until IS NULL
			RETURNING 1),
		tok AS (
			INSERT INTO oauth_tokens (`+oauthTokenColumns+`)
			SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text[],
				$10::text, $11::text, $12::text, $13::timestamptz, $14::timestamptz, $15::timestamptz FROM fam
			ON CONFLICT (hash) DO NOTHING
			RETURNING 1)
		SELECT (SELECT count(*) FROM fam), (SELECT count(*) FROM tok)`,
		t.Hash, t.Kind, t.Family, t.Tenant, t.Provider, t.Account, t.Client, t.Resource, orNone(t.Scopes),
		t.RedirectURI, t.Challenge, t.State, t.CreatedAt, t.ExpiresAt, spent).Scan(&families, &tokens)
	switch {
	case err != nil:
		return wrap("OAuth token "+t.Hash[:8]+"…", err)
	case families == 0:
		return fmt.Errorf("OAuth token %s…: its family was revoked: %w", t.Hash[:8], store.ErrConflict)
	case tokens == 0:
		return fmt.Errorf("OAuth token %s…: %w", t.Hash[:8], store.ErrExists)
	}
	return nil
}

// GetOAuthToken implements store.OAuthServer.
func (s *Store) GetOAuthToken(ctx context.Context, hash string) (store.OAuthToken, error) {
	if err := store.ValidOAuthHash(hash); err != nil {
		return store.OAuthToken{}, err
	}
	t, err := scanOAuthToken(s.pool.QueryRow(ctx, "SELECT "+oauthTokenColumns+" FROM oauth_tokens WHERE hash = $1", hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.OAuthToken{}, fmt.Errorf("OAuth token %s…: %w", hash[:8], store.ErrNotFound)
	}
	if err != nil {
		return store.OAuthToken{}, wrap("OAuth token "+hash[:8]+"…", err)
	}
	return t, nil
}

// SpendOAuthToken implements store.OAuthServer: an UPDATE … WHERE
// spent_at IS NULL, which racing spenders run one after the other on the
// row's lock, so exactly one changes it; the others read the spent row.
func (s *Store) SpendOAuthToken(ctx context.Context, hash string, at time.Time) (store.OAuthToken, bool, error) {
	if err := store.ValidOAuthHash(hash); err != nil {
		return store.OAuthToken{}, false, err
	}
	if at.IsZero() {
		return store.OAuthToken{}, false, fmt.Errorf("OAuth token %s…: spending needs a time", hash[:8])
	}
	// A row inserted between the UPDATE and the SELECT (another put of the
	// same hash, deleted before) reads unspent: spend again.
	for range 3 {
		t, err := scanOAuthToken(s.pool.QueryRow(ctx, "UPDATE oauth_tokens SET spent_at = $2 WHERE hash = $1 AND spent_at IS NULL RETURNING "+oauthTokenColumns, hash, at))
		if err == nil {
			t.SpentAt = time.Time{} // the record as it was
			return t, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return store.OAuthToken{}, false, wrap("OAuth token "+hash[:8]+"…", err)
		}
		t, err = s.GetOAuthToken(ctx, hash)
		if err != nil || !t.SpentAt.IsZero() {
			return t, false, err
		}
	}
	return store.OAuthToken{}, false, fmt.Errorf("OAuth token %s…: put and deleted again while being spent: %w", hash[:8], store.ErrConflict)
}

// DeleteOAuthToken implements store.OAuthServer.
func (s *Store) DeleteOAuthToken(ctx context.Context, hash string) error {
	if err := store.ValidOAuthHash(hash); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM oauth_tokens WHERE hash = $1", hash)
	if err != nil {
		return wrap("OAuth token "+hash[:8]+"…", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("OAuth token %s…: %w", hash[:8], store.ErrNotFound)
	}
	return nil
}

// RevokeOAuthFamily implements store.OAuthServer: the mark (until `until`
// or the family's latest expiry, whichever is later), then the delete, in
// one transaction sent as one batch (one round trip).
func (s *Store) RevokeOAuthFamily(ctx context.Context, family string, until time.Time) (int, error) {
	if err := store.ValidOAuthFamily(family); err != nil {
		return 0, err
	}
	// A batch runs in one implicit transaction: an error rolls it back.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO oauth_families AS f (family, expires_at, revoked_until) VALUES ($1, $2, $2)
		ON CONFLICT (family) DO UPDATE SET revoked_until = greatest(f.revoked_until, f.expires_at, excluded.revoked_until)`, family, until)
	deleted := b.Queue("DELETE FROM oauth_tokens WHERE family = $1", family)
	var n int
	deleted.Exec(func(tag pgconn.CommandTag) error { n = int(tag.RowsAffected()); return nil })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, wrap("revoking OAuth family "+family, err)
	}
	return n, nil
}

// RevokeOAuthAccount implements store.OAuthServer.
func (s *Store) RevokeOAuthAccount(ctx context.Context, k store.GrantKey) (int, error) {
	if err := store.ValidGrantKey(k); err != nil {
		return 0, err
	}
	return s.revokeFamilies(ctx, "OAuth families of "+k.String(),
		"SELECT family FROM oauth_tokens WHERE tenant = $1 AND provider = $2 AND account = $3", k.Tenant, k.Provider, k.Account)
}

// RevokeOAuthTenant implements store.OAuthServer.
func (s *Store) RevokeOAuthTenant(ctx context.Context, tenant string) (int, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return 0, err
	}
	return s.revokeFamilies(ctx, "OAuth families of "+tenant, "SELECT family FROM oauth_tokens WHERE tenant = $1", tenant)
}

// revokeFamilies revokes the families that the query `which` names, each
// until its latest expiry: their rows locked in order (two revocations
// sharing families do not deadlock) and marked, then their tokens deleted
// by a second statement, as RevokeOAuthFamily does.
func (s *Store) revokeFamilies(ctx context.Context, what, which string, args ...any) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE oauth_families f SET revoked_until = greatest(f.revoked_until, f.expires_at)
			FROM (SELECT family FROM oauth_families WHERE family IN (`+which+`) ORDER BY family FOR UPDATE) l
			WHERE f.family = l.family RETURNING f.family`, args...)
		families, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(families) == 0 {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM oauth_tokens WHERE family = ANY($1)", families)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, wrap("revoking "+what, err)
	}
	return n, nil
}

// PruneOAuth implements store.OAuthServer in one statement. A family that
// is not revoked and whose tokens have all expired goes too, uncounted: it
// is only the bookkeeping of its tokens' expiry.
func (s *Store) PruneOAuth(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `WITH t AS (DELETE FROM oauth_tokens WHERE expires_at < $1 RETURNING 1),
			f AS (DELETE FROM oauth_families WHERE coalesce(revoked_until, expires_at) < $1 RETURNING revoked_until)
		SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM f WHERE revoked_until IS NOT NULL)`, before).Scan(&n)
	if err != nil {
		return 0, wrap("pruning the OAuth server's records", err)
	}
	return n, nil
}

// PruneOAuthClients implements store.OAuthServer in one statement (the
// index oauth_tokens_client, migration 0004, makes each NOT EXISTS one
// probe). Under READ COMMITTED the statement sees the tokens committed
// before it began: a token put while it runs, and naming a client it
// deletes, names a client that is gone, which the contract allows.
func (s *Store) PruneOAuthClients(ctx context.Context, createdBefore time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM oauth_clients c WHERE c.created_at < $1
		AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.client = c.id)`, createdBefore)
	if err != nil {
		return 0, wrap("pruning unused OAuth clients", err)
	}
	return int(tag.RowsAffected()), nil
}
