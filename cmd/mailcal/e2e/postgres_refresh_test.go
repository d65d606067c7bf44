//go:build unix

package e2e

// One refresh per account per expiry across replicas on one PostgreSQL:
// the refresh runs under the grant's advisory lock after a re-read, so the
// replicas that wait for it use its result instead of refreshing again.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// replicaCalls is how many tool calls the storm spreads over the replicas.
const replicaCalls = 300

// TestE2EPostgresRefreshAcrossReplicas: three replicas on one database
// serve alice; right after her access token expired, 300 concurrent tool
// calls spread over the three make exactly one token request at Google,
// and every call is answered.
//
// With rotating refresh tokens whose old one dies on use (the strictest
// rotation), the same storm makes one token request too, and the rotated
// token is what the database keeps: a replica started afterwards, with
// nothing cached, refreshes with it after the next expiry (the retired
// one would be refused with invalid_grant).
func TestE2EPostgresRefreshAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts googletest.Options
	}{
		{"google", googletest.Options{}},
		{"rotating", googletest.Options{RotateRefreshTokens: true, RetireOldRefreshTokens: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx, _ := newDatabaseFixture(t, tc.opts)
			key := fx.dbTenant(t, "acme")
			replicas := []*httpServer{fx.startHTTP(t), fx.startHTTP(t), fx.startHTTP(t)}
			fx.connectHTTP(t, replicas[0], key, alice, "mail.read")
			clients := make([]*mcpclient.Client, len(replicas))
			for i, s := range replicas {
				clients[i] = mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
				fx.waitAccount(t, fmt.Sprintf("replica %d", i), clients[i])
			}
			before := fx.refreshes()

			fx.fg.ExpireAccessTokens()
			took := fx.storm(t, clients)
			got := fx.refreshes() - before
			t.Logf("%d concurrent list_messages calls over %d replicas after one expiry: %d token request(s), all answered in %s",
				replicaCalls, len(replicas), got, took.Round(time.Millisecond))
			if got != 1 {
				t.Errorf("%d token requests for one expiry across %d replicas, want exactly 1", got, len(replicas))
			}
			if !tc.opts.RotateRefreshTokens {
				return
			}

			for _, s := range replicas {
				s.proc.signal(t, 9)
			}
			fresh := fx.startHTTP(t)
			fx.fg.ExpireAccessTokens()
			fx.checkRefreshes(t, "a replica started after the storm, after the next expiry", mcpgoHTTP(t, fresh, "/mcp", "Authorization", "Bearer "+key, false), before+2)
		})
	}
}

// waitAccount waits until c's replica serves alice: another replica's new
// connection shows there within a few seconds (its tenant re-read).
func (fx *googleFixture) waitAccount(t *testing.T, who string, c *mcpclient.Client) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := fx.call(t, c, "check_account", map[string]any{"account": alice})
		err := checkAccountOK(r, alice)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", who, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// storm makes replicaCalls list_messages calls at once, round-robin over
// clients, and fails the test for any that is not answered with messages.
func (fx *googleFixture) storm(t *testing.T, clients []*mcpclient.Client) time.Duration {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, replicaCalls)
	for i := range replicaCalls {
		c := clients[i%len(clients)]
		wg.Go(func() {
			r, err := fx.callTool(c, "list_messages", map[string]any{"account": alice, "max_results": 3})
			switch {
			case err != nil:
				errs <- fmt.Errorf("call %d (replica %d): %w", i, i%len(clients), err)
			case r.IsError || len(r.StructuredContent) == 0:
				errs <- fmt.Errorf("call %d (replica %d) answered %s", i, i%len(clients), tail(r.text(), 300))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Errorf("%d of %d calls failed", n, replicaCalls)
	}
	return took
}
