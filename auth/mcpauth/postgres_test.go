package mcpauth_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/mcpauth"
	"github.com/mailcal/mailcal/auth/store/postgres"
	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
)

// TestPostgres runs the server on PostgreSQL, as replicas do: a sign-in
// begun on one replica and redeemed on another, reuse detection, and
// concurrent refreshes whose spends race in the database.
func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pg, _, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	f := newFixtureOpts(t, fixtureOpts{store: pg})
	// A second replica on the same database: it redeems the first one's
	// code and verifies its tokens.
	other, err := mcpauth.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	code := f.signIn(t, "a", "alice@example.com")
	st, m := f.exchange(t, code, testVerifier)
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, m)
	}
	si, err := other.Verify(ctx, str(m, "access_token"), "a")
	if err != nil || si.Account != "alice@example.com" {
		t.Fatalf("the other replica: %+v %v", si, err)
	}
	if _, err := other.Verify(ctx, str(m, "access_token"), "b"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("a's token at b: %v", err)
	}
	if st, m := f.exchange(t, code, testVerifier); st != 400 || !strings.Contains(str(m, "error_description"), "already used") {
		t.Fatalf("code reuse: %d %v", st, m)
	}
	if _, err := f.srv.Verify(ctx, str(m, "access_token"), "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("after the code's reuse: %v", err)
	}
	t.Run("concurrent refresh", func(t *testing.T) { concurrentRefresh(t, f) })
	t.Run("rotation and reuse", func(t *testing.T) {
		_, rt := f.tokens(t)
		st, m := f.refresh(t, rt)
		if st != 200 {
			t.Fatalf("refresh: %d %v", st, m)
		}
		if st, _ := f.refresh(t, rt); st != 400 {
			t.Fatal("reuse accepted")
		}
		if _, err := f.srv.Verify(ctx, str(m, "access_token"), "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
			t.Fatalf("the rotated access token outlived the reuse: %v", err)
		}
		if st, _, _ := f.post(t, "/revoke", url.Values{"token": {str(m, "refresh_token")}, "client_id": {publicID}}, "", ""); st != 200 {
			t.Fatal(st)
		}
	})
}
