//go:build unix

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// statements counts what the database ran since the last reset, by
// statement, leaving out the counting's own.
type statements struct {
	conn *pgx.Conn
}

func newStatements(t *testing.T, dbURL string) *statements {
	t.Helper()
	if !pgtest.StatementsAvailable(t) {
		t.Skip("the test server has no pg_stat_statements")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	return &statements{conn}
}

func (s *statements) reset(t *testing.T) {
	t.Helper()
	if _, err := s.conn.Exec(context.Background(), "SELECT pg_stat_statements_reset()"); err != nil {
		t.Fatal(err)
	}
}

// read returns the statements run in this database since the reset and
// their total.
func (s *statements) read(t *testing.T) (map[string]int64, int64) {
	t.Helper()
	time.Sleep(1500 * time.Millisecond) // backends report their statistics when idle, at most once a second
	rows, err := s.conn.Query(context.Background(), `SELECT query, calls FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'CREATE EXTENSION%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	var total int64
	for rows.Next() {
		var q string
		var n int64
		if err := rows.Scan(&q, &n); err != nil {
			t.Fatal(err)
		}
		q = strings.Join(strings.Fields(q), " ")
		if len(q) > 110 {
			q = q[:40] + " … " + q[len(q)-60:] // the statement and its WHERE
		}
		out[q] += n
		total += n
	}
	return out, total
}

func describe(m map[string]int64) string {
	var b strings.Builder
	for q, n := range m {
		fmt.Fprintf(&b, "\n  %4d  %s", n, q)
	}
	return b.String()
}

// TestE2EPostgresRoundTrips measures the database round trips of a tool
// call once the account's grant is cached (the hot path: none, but the
// background re-reads every tenant in use makes every 1.5 to 2 s), and of
// a refresh (its lock, the grant re-read, the new grant written since the
// fake rotates refresh tokens as Microsoft does, the unlock). It fails if
// the hot path reads the database on every call.
func TestE2EPostgresRoundTrips(t *testing.T) {
	fx, dbURL := newDatabaseFixture(t, googletest.Options{RotateRefreshTokens: true})
	key := fx.dbTenant(t, "acme")
	st := newStatements(t, dbURL)
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "mail.read")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	fx.callOK(t, c, "list_messages", map[string]any{"account": alice, "max_results": 3}, nil) // warm

	const calls = 200
	st.reset(t)
	start := time.Now()
	for range calls {
		fx.callOK(t, c, "list_messages", map[string]any{"account": alice, "max_results": 3}, nil)
	}
	took := time.Since(start)
	byQuery, total := st.read(t)
	t.Logf("%d list_messages calls in %s: %d statements in the database (%.3f a call, background re-reads included):%s",
		calls, took.Round(time.Millisecond), total, float64(total)/calls, describe(byQuery))
	if total > calls/4 {
		t.Errorf("%d statements for %d warm tool calls: the hot path reads the database", total, calls)
	}

	refreshesBefore := fx.refreshes()
	st.reset(t)
	fx.fg.ExpireAccessTokens()
	fx.checkOK(t, "after expiry", c, alice)
	byQuery, total = st.read(t)
	t.Logf("one refresh (%d token request): %d statements:%s", fx.refreshes()-refreshesBefore, total, describe(byQuery))
	if fx.refreshes()-refreshesBefore != 1 {
		t.Errorf("%d refreshes after one expiry, want 1", fx.refreshes()-refreshesBefore)
	}
	var refresh int64 // the background re-reads (tenants, policies, grant listings) left out
	for q, n := range byQuery {
		if strings.Contains(q, "account = $3") || strings.Contains(q, "advisory") {
			refresh += n
		}
	}
	if refresh > 4 {
		t.Errorf("%d statements on grants and locks for one refresh, want at most 4 (lock, read, write, unlock)", refresh)
	}
}
