//go:build unix

package e2e

// One refresh per account per expiry across replicas on one PostgreSQL:
// the refresh runs under the grant's advisory lock after a re-read, so the
// replicas that wait for it use its result instead of refreshing again.

import (
	"fmt"
	"strings"
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

// leading is what a replica logs when it takes over the health check.
const leading = `"msg":"leading among the replicas","role":"health check"`

// TestE2EPostgresHealthLeader: three replicas with a health check every
// second run it on one replica at a time (about one refresh a second in
// all, not three); when that replica is killed (kill -9), another takes
// over within a few seconds.
func TestE2EPostgresHealthLeader(t *testing.T) {
	t.Parallel()
	fx, _ := newDatabaseFixture(t, googletest.Options{}, "MAILCAL_HEALTH_INTERVAL=1s")
	key := fx.dbTenant(t, "acme")
	replicas := []*httpServer{fx.startHTTP(t), fx.startHTTP(t), fx.startHTTP(t)}
	fx.connectHTTP(t, replicas[0], key, alice, "mail.read")

	leader := func(not int) int {
		for i, s := range replicas {
			if i != not && strings.Contains(s.proc.logs.String(), leading) {
				return i
			}
		}
		return -1
	}
	deadline := time.Now().Add(15 * time.Second)
	first := leader(-1)
	for ; first < 0; first = leader(-1) {
		if time.Now().After(deadline) {
			t.Fatal("no replica leads the health check")
		}
		time.Sleep(20 * time.Millisecond)
	}

	const window = 6 * time.Second
	before := fx.refreshes()
	time.Sleep(window)
	n := fx.refreshes() - before
	t.Logf("%d health-check refreshes in %s with 3 replicas and an interval of 1s", n, window)
	if n < 3 || n > 8 {
		t.Errorf("%d health-check refreshes in %s, want about 6 (one replica checking every 1s±10%%), not 3 replicas' worth", n, window)
	}
	if l := leader(first); l >= 0 {
		t.Fatalf("replicas %d and %d both took the lead", first, l)
	}

	replicas[first].proc.signal(t, 9)
	killed := time.Now()
	next := leader(first)
	for ; next < 0; next = leader(first) {
		if time.Since(killed) > 15*time.Second {
			t.Fatal("no replica took the health check over within 15 s of the leader's kill -9")
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("replica %d leads the health check %s after replica %d was killed", next, took.Round(time.Millisecond), first)
	if took > 5*time.Second {
		t.Errorf("a new health-check leader %s after the kill, want within about 2 s", took)
	}
}

// TestE2EPostgresRefreshKilled: a replica killed (kill -9) while its
// refresh is in flight at the token endpoint, holding the grant's lock,
// loses nothing: the server releases the lock with the dead session, the
// other replica refreshes with the refresh token the database holds (the
// killed request never got its answer, so with Microsoft-like rotation the
// old token is still the valid one), and the account keeps working, also
// for a replica started afterwards.
func TestE2EPostgresRefreshKilled(t *testing.T) {
	t.Parallel()
	fx, _ := newDatabaseFixture(t, googletest.Options{RotateRefreshTokens: true})
	key := fx.dbTenant(t, "acme")
	a, b := fx.startHTTP(t), fx.startHTTP(t)
	fx.connectHTTP(t, a, key, alice, "mail.read")
	ca := mcpgoHTTP(t, a, "/mcp", "Authorization", "Bearer "+key, false)
	cb := mcpgoHTTP(t, b, "/mcp", "Authorization", "Bearer "+key, false)
	fx.waitAccount(t, "replica a", ca)
	fx.waitAccount(t, "replica b", cb)
	before := fx.refreshes()

	fx.fg.SetTokenDelay(time.Minute)
	fx.fg.ExpireAccessTokens()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fx.callTool(ca, "list_messages", map[string]any{"account": alice, "max_results": 3}) // killed: no answer expected
	}()
	fx.waitRefreshes(t, 1) // a's refresh is at the token endpoint, under the lock
	a.proc.signal(t, 9)
	<-done
	fx.fg.SetTokenDelay(0)

	start := time.Now()
	fx.callOK(t, cb, "list_messages", map[string]any{"account": alice, "max_results": 3}, nil)
	t.Logf("the other replica answered %s after the kill, with %d token request(s) in all", time.Since(start).Round(time.Millisecond), fx.refreshes()-before)
	if n := fx.refreshes() - before; n != 2 {
		t.Errorf("%d token requests, want 2 (the killed one and one by the other replica)", n)
	}

	c := fx.startHTTP(t)
	fx.fg.ExpireAccessTokens()
	fx.checkRefreshes(t, "a replica started after the kill, after the next expiry", mcpgoHTTP(t, c, "/mcp", "Authorization", "Bearer "+key, false), before+3)
}
