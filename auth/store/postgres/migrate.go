package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one file of migrations/: NNNN_name.sql, applied in order.
type migration struct {
	Version int
	Name    string
	SQL     string
}

// Migration names one applied migration.
type Migration struct {
	Version int
	Name    string
}

func (m Migration) String() string { return fmt.Sprintf("%04d %s", m.Version, m.Name) }

// ErrSchemaNewer: the database was migrated by a newer mailcal than this
// one; this binary does not know its tables and refuses to use them.
var ErrSchemaNewer = errors.New("the database schema is newer than this mailcal knows")

// migrationLock is the advisory lock (a constant key of this program) that
// processes starting at once take around migrating, so that each migration
// is applied once.
const migrationLock int64 = 0x6d61696c63616c00 // "mailcal\0"

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql numbered from 1 without gaps", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{Version: v, Name: name, SQL: string(b)})
	}
	return out, nil
}

// SchemaVersion is the newest migration this binary knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return len(ms)
}

// migrate applies the migrations the database lacks, each in its own
// transaction with its row in schema_migrations, under migrationLock held on
// one connection (released on every path; a lost connection releases it on
// the server). It returns what it applied, and ErrSchemaNewer when the
// database has a migration this binary does not know.
func migrate(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return nil, fmt.Errorf("waiting for the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockWait)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrationLock); err != nil {
			conn.Conn().Close(uctx) // the server releases it with the session
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	if current > len(ms) {
		return nil, fmt.Errorf("%w: the database is at migration %d, this binary knows up to %d: run a mailcal at least as new as the one that migrated it", ErrSchemaNewer, current, len(ms))
	}
	var applied []Migration
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("applying migration %s: %w", Migration{m.Version, m.Name}, err)
		}
		applied = append(applied, Migration{m.Version, m.Name})
	}
	return applied, nil
}
