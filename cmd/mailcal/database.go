package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/postgres"
)

// envDatabaseURL selects the PostgreSQL store: postgres://… (unset: the
// keyring).
const envDatabaseURL = "MAILCAL_DATABASE_URL"

// openWait bounds connecting to the database (and applying migrations)
// when a command starts.
const openWait = 30 * time.Second

// checkDatabaseURL checks MAILCAL_DATABASE_URL's form without showing its
// password.
func checkDatabaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return fmt.Errorf("%s %s: want postgres://USER:PASSWORD@HOST:PORT/DATABASE", envDatabaseURL, postgres.RedactURL(raw))
	}
	return nil
}

// openStore returns the store the configuration selects, the sealer of its
// grants' refresh tokens and what closes it: the keyring (lazy, see
// openKeyring) unless MAILCAL_DATABASE_URL names a PostgreSQL database, which
// is connected to (and migrated) now, so that a command fails at its start
// with what is missing.
func openStore(ctx context.Context, c *config) (store.Store, grants.Sealer, func(), error) {
	if c.databaseURL == "" {
		return openKeyring(c), grants.Plain, func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, openWait)
	defer cancel()
	s, applied, err := postgres.Open(ctx, c.databaseURL, postgres.Options{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", envDatabaseURL, err)
	}
	for _, m := range applied {
		slog.Info("database migration applied", "migration", m.String())
	}
	sealer, err := sealerFor(c, s)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return s, sealer, s.Close, nil
}

const migrateHelp = `
Usage: mailcal migrate

Apply the database migrations the PostgreSQL store of MAILCAL_DATABASE_URL
lacks, and say which. Every mailcal process applies them when it starts
(under a lock: replicas starting at once apply each one once); run this
alone to migrate before a deployment, or as a user allowed to create tables.
A database migrated by a newer mailcal is refused.
`

func cmdMigrate(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("migrate", migrateHelp, e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("migrate", pos); err != nil {
		return err
	}
	if c.databaseURL == "" {
		return fmt.Errorf("%w: migrate needs %s (postgres://…): the keyring store has no schema to migrate", errUsage, envDatabaseURL)
	}
	applied, err := postgres.Migrate(ctx, c.databaseURL)
	if err != nil {
		return fmt.Errorf("%s: %w", envDatabaseURL, err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "The database is up to date (migration %d).\n", postgres.SchemaVersion())
		return nil
	}
	names := make([]string, len(applied))
	for i, m := range applied {
		names[i] = m.String()
	}
	fmt.Fprintf(e.stdout, "Applied %d migration(s): %s. The database is at migration %d.\n", len(applied), strings.Join(names, ", "), postgres.SchemaVersion())
	return nil
}
