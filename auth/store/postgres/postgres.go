// Package postgres is a store.Store in PostgreSQL, shared by every replica
// of a hosted deployment: tenants, grants, flow states, policies, counters,
// the tenants' wrapped data keys (store.DataKeys) and the state of mailcal's
// own OAuth server (store.OAuthServer, oauth.go), through
// github.com/jackc/pgx/v5 (a pool; each connection prepares and caches the
// statements it runs).
//
// Every contract is one statement where it must be atomic: compare-and-set
// is an UPDATE … WHERE version = $n (or an INSERT … ON CONFLICT DO NOTHING
// for version 0), a flow state's take a DELETE … RETURNING, a counter's
// increment one INSERT … ON CONFLICT DO UPDATE … WHERE count < limit.
// LockGrant is a session advisory lock held on a connection of its own pool
// for as long as it is held (see lock.go).
//
// Open applies the embedded migrations (migrations/*.sql, recorded in
// schema_migrations) under an advisory lock, so that replicas starting at
// once apply each one once, and refuses a database migrated by a newer
// binary.
//
// Refresh tokens reach this store sealed by the grants layer; a database is
// not a keyring, so the caller must give the grants layer a real sealer
// (per-tenant data keys), never grants.Plain.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mailcal/mailcal/auth/store"
)

// Store is a store.Store and a store.DataKeys in one PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	locks *pgxpool.Pool // connections holding (or waiting for) grant locks

	mu     sync.Mutex
	held   map[*pgxpool.Conn]struct{} // connections holding a grant lock
	closed bool
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.DataKeys = (*Store)(nil)
)

// Options tune Open; the zero value is the default.
type Options struct {
	// MaxConns bounds the pool for reads and writes (default 20, or the
	// URL's pool_max_conns).
	MaxConns int32
	// MaxLockConns bounds the connections that hold or wait for grant
	// locks: one each (default 32). A waiter beyond it waits for one.
	MaxLockConns int32
	// NoMigrate: check the schema but apply nothing (an error asks for
	// `mailcal migrate` when a migration is missing).
	NoMigrate bool
}

// Open connects to the database at rawURL (postgres://…), applies the
// migrations it lacks (unless opts.NoMigrate), and returns the store and
// what it applied. Errors name what is missing and never hold the URL's
// password.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, []Migration, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, nil, &setupError{"database URL " + RedactURL(rawURL) + ": " + redactIn(err.Error(), rawURL), err}
	}
	if !strings.Contains(rawURL, "pool_max_conns") {
		cfg.MaxConns = cmp.Or(opts.MaxConns, 20)
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "mailcal"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 { // no connect_timeout in the URL: a silent host fails in 10 s, not the system's minutes
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	lockCfg := cfg.Copy()
	lockCfg.MaxConns = cmp.Or(opts.MaxLockConns, 32)
	lockCfg.MinConns = 0
	// A replica that vanishes (power, network) holding a grant lock must
	// not hold it for the system's default two hours of TCP keepalive: the
	// server probes a silent lock connection after 10 s and drops it (and
	// its locks) about 25 s after the replica went away.
	for k, v := range map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3", "tcp_user_timeout": "25000"} {
		if _, set := lockCfg.ConnConfig.RuntimeParams[k]; !set {
			lockCfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, &setupError{"database " + RedactURL(rawURL) + ": " + redactIn(err.Error(), rawURL), err}
	}
	locks, err := pgxpool.NewWithConfig(ctx, lockCfg)
	if err != nil {
		pool.Close()
		return nil, nil, &setupError{"database " + RedactURL(rawURL) + ": " + redactIn(err.Error(), rawURL), err}
	}
	s := &Store{pool: pool, locks: locks, held: map[*pgxpool.Conn]struct{}{}}
	if err := pool.Ping(ctx); err != nil {
		s.Close()
		return nil, nil, &setupError{"database " + RedactURL(rawURL) + ": " + explain(err, rawURL), err}
	}
	var applied []Migration
	if opts.NoMigrate {
		err = s.checkSchema(ctx)
	} else {
		applied, err = migrate(ctx, pool)
	}
	if err != nil {
		s.Close()
		return nil, nil, &setupError{"database " + RedactURL(rawURL) + ": " + explain(err, rawURL), err}
	}
	return s, applied, nil
}

// Migrate connects, applies the migrations the database lacks and returns
// them (none when it is up to date).
func Migrate(ctx context.Context, rawURL string) ([]Migration, error) {
	s, applied, err := Open(ctx, rawURL, Options{MaxConns: 2, MaxLockConns: 1})
	if err != nil {
		return nil, err
	}
	s.Close()
	return applied, nil
}

// checkSchema fails unless the database has exactly the migrations this
// binary knows.
func (s *Store) checkSchema(ctx context.Context) error {
	var current int
	err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		current, err = 0, nil
	}
	switch {
	case err != nil:
		return err
	case current > SchemaVersion():
		return fmt.Errorf("%w: the database is at migration %d, this binary knows up to %d", ErrSchemaNewer, current, SchemaVersion())
	case current < SchemaVersion():
		return fmt.Errorf("the database is at migration %d of %d: run `mailcal migrate`", current, SchemaVersion())
	}
	return nil
}

// Close closes the pools. Grant locks still held are released (their
// connections closed: a later unlock does nothing); Close waits for
// statements in flight, each bounded by its caller's context.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	held := s.held
	s.held = map[*pgxpool.Conn]struct{}{}
	s.mu.Unlock()
	for c := range held {
		ctx, cancel := context.WithTimeout(context.Background(), unlockWait)
		c.Conn().Close(ctx)
		cancel()
		c.Release()
	}
	s.pool.Close()
	s.locks.Close()
}

// Backend returns "postgres".
func (s *Store) Backend() string { return "postgres" }

// setupError is an error of Open: its text has no password, and it wraps
// the cause for errors.Is (ErrSchemaNewer, context errors).
type setupError struct {
	msg string
	err error
}

func (e *setupError) Error() string { return e.msg }
func (e *setupError) Unwrap() error { return e.err }

// RedactURL returns a database URL without its password (user and host
// stay, to say which database is meant).
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactIn removes the URL's password from an error text (a parse error may
// quote the URL).
func redactIn(msg, raw string) string {
	msg = strings.ReplaceAll(msg, raw, RedactURL(raw))
	if u, err := url.Parse(raw); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		if pw := u.Query().Get("password"); pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// explain turns a connection or migration failure into what to do.
func explain(err error, raw string) string {
	msg := redactIn(err.Error(), raw)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "28P01", errors.As(err, &pe) && pe.Code == "28000":
		return "authentication failed: check the user and password of MAILCAL_DATABASE_URL (" + msg + ")"
	case errors.As(err, &pe) && pe.Code == "3D000":
		return "the database does not exist: create it (createdb) or fix the URL's path (" + msg + ")"
	case errors.As(err, &pe) && pe.Code == "42501":
		return "permission denied: the URL's user may not create tables; run `mailcal migrate` as one that may (" + msg + ")"
	case errors.As(err, &pe):
		return msg
	case errors.Is(err, ErrSchemaNewer), strings.Contains(msg, "mailcal migrate"):
		return msg
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "no answer in time: is the server reachable at the URL's host and port? (" + msg + ")"
	}
	return "unreachable: is PostgreSQL running at the URL's host and port? (" + msg + ")"
}

// wrap adds what was asked to a database error.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func utc(t time.Time) time.Time { return t.UTC() }

// CreateTenant implements store.Tenants.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	if err := store.ValidTenant(t.Name); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO tenants (name, key_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		t.Name, t.KeyHash, t.CreatedAt)
	if err != nil {
		return wrap("tenant "+t.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("tenant %s: %w", t.Name, store.ErrExists)
	}
	return nil
}

// GetTenant implements store.Tenants.
func (s *Store) GetTenant(ctx context.Context, name string) (store.Tenant, error) {
	if err := store.ValidTenant(name); err != nil {
		return store.Tenant{}, err
	}
	t := store.Tenant{Name: name}
	err := s.pool.QueryRow(ctx, "SELECT key_hash, created_at FROM tenants WHERE name = $1", name).Scan(&t.KeyHash, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Tenant{}, fmt.Errorf("tenant %s: %w", name, store.ErrNotFound)
	}
	t.CreatedAt = utc(t.CreatedAt)
	return t, wrap("tenant "+name, err)
}

// ListTenants implements store.Tenants.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, _ := s.pool.Query(ctx, "SELECT name, key_hash, created_at FROM tenants ORDER BY name COLLATE \"C\"")
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Tenant, error) {
		var t store.Tenant
		err := r.Scan(&t.Name, &t.KeyHash, &t.CreatedAt)
		t.CreatedAt = utc(t.CreatedAt)
		return t, err
	})
	if err != nil {
		return nil, wrap("listing tenants", err)
	}
	return orEmpty(out), nil
}

// DeleteTenant implements store.Tenants.
func (s *Store) DeleteTenant(ctx context.Context, name string) error {
	if err := store.ValidTenant(name); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM tenants WHERE name = $1", name)
	if err != nil {
		return wrap("tenant "+name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("tenant %s: %w", name, store.ErrNotFound)
	}
	return nil
}

const grantColumns = "tenant, provider, account, version, secret, scopes, connected_at, status, status_reason, status_at"

func scanGrant(r pgx.Row) (store.Grant, error) {
	var g store.Grant
	err := r.Scan(&g.Tenant, &g.Provider, &g.Account, &g.Version, &g.Secret, &g.Scopes, &g.ConnectedAt, &g.Status, &g.StatusReason, &g.StatusAt)
	g.ConnectedAt, g.StatusAt = utc(g.ConnectedAt), utc(g.StatusAt)
	return g, err
}

// GetGrant implements store.Grants.
func (s *Store) GetGrant(ctx context.Context, k store.GrantKey) (store.Grant, error) {
	if err := store.ValidGrantKey(k); err != nil {
		return store.Grant{}, err
	}
	g, err := scanGrant(s.pool.QueryRow(ctx, "SELECT "+grantColumns+" FROM grants WHERE tenant = $1 AND provider = $2 AND account = $3",
		k.Tenant, k.Provider, k.Account))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Grant{}, fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
	}
	if err != nil {
		return store.Grant{}, wrap("grant "+k.String(), err)
	}
	return g, nil
}

// ListGrants implements store.Grants.
func (s *Store) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, "SELECT "+grantColumns+" FROM grants WHERE tenant = $1 ORDER BY provider COLLATE \"C\", account COLLATE \"C\"", tenant)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Grant, error) { return scanGrant(r) })
	if err != nil {
		return nil, wrap("grants of "+tenant, err)
	}
	return orEmpty(out), nil
}

// PutGrant implements store.Grants.
func (s *Store) PutGrant(ctx context.Context, g store.Grant) (int64, error) {
	if err := store.ValidGrant(g); err != nil {
		return 0, err
	}
	args := []any{g.Tenant, g.Provider, g.Account, g.Version, orNoBytes(g.Secret), orNone(g.Scopes), g.ConnectedAt, g.Status, g.StatusReason, g.StatusAt}
	var sql string
	if g.Version == 0 {
		sql = "INSERT INTO grants (" + grantColumns + ") VALUES ($1, $2, $3, $4 + 1, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
	} else {
		sql = `UPDATE grants SET version = version + 1, secret = $5, scopes = $6, connected_at = $7, status = $8, status_reason = $9, status_at = $10
			WHERE tenant = $1 AND provider = $2 AND account = $3 AND version = $4`
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, wrap("grant "+g.GrantKey.String(), err)
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("grant %s: the stored version is not %d: %w", g.GrantKey, g.Version, store.ErrConflict)
	}
	return g.Version + 1, nil
}

// DeleteGrant implements store.Grants.
func (s *Store) DeleteGrant(ctx context.Context, k store.GrantKey, version int64) error {
	if err := store.ValidGrantKey(k); err != nil {
		return err
	}
	if version < 0 {
		return fmt.Errorf("grant %s: negative version", k)
	}
	// One statement: the CTE's read sees the row as it was before the
	// delete, so a miss tells "none" from "another version".
	var deleted bool
	var stored *int64
	err := s.pool.QueryRow(ctx, `WITH d AS (
			DELETE FROM grants WHERE tenant = $1 AND provider = $2 AND account = $3 AND ($4 = 0 OR version = $4) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM d), (SELECT version FROM grants WHERE tenant = $1 AND provider = $2 AND account = $3)`,
		k.Tenant, k.Provider, k.Account, version).Scan(&deleted, &stored)
	switch {
	case err != nil:
		return wrap("grant "+k.String(), err)
	case deleted:
		return nil
	case stored == nil:
		return fmt.Errorf("grant %s: %w", k, store.ErrNotFound)
	}
	return fmt.Errorf("grant %s: version %d, the delete expected %d: %w", k, *stored, version, store.ErrConflict)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// orNone stores a nil list as an empty array (the columns are NOT NULL).
func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orNoBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Ping implements store.Pinger: one round trip on a pooled connection
// (readiness; no table is read).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("PostgreSQL does not answer: %w", err)
	}
	return nil
}
