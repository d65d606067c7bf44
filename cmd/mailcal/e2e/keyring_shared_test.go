//go:build unix

package e2e

// Several mailcal processes on one file keyring: two servers refreshing a
// grant whose refresh token rotates and dies at its first use, and the
// CLI (accounts, connect, disconnect) beside a server that refreshes. Each
// test counts its trials and what went wrong, logs the figures and fails
// on any loss.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// rotatingGoogle is a fake Google whose refresh tokens rotate on every
// refresh and die at their first use: two processes that spend the same one
// see invalid_grant for the second spend.
var rotatingGoogle = googletest.Options{RotateRefreshTokens: true, RetireOldRefreshTokens: true}

// tryGrant reads a grant from the keyring as a mailcal process would,
// returning errors instead of failing the test.
func (k *testKeyring) tryGrant(tenantName, provider, account string) (grants.Grant, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st *grants.Store
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("opening the keyring: %v", r)
			}
		}()
		st, err = k.openGrants(ctx)
	}()
	if err != nil {
		return grants.Grant{}, err
	}
	return st.Get(ctx, tenantName, provider, account)
}

// grantLost tells why a stored grant no longer works ("" if it does): gone,
// unreadable, marked dead, or holding a refresh token the fake refuses.
func (fx *googleFixture) grantLost(tenantName, account string) string {
	g, err := fx.k.tryGrant(tenantName, "google", account)
	switch {
	case err != nil:
		return err.Error()
	case g.Status != grants.StatusActive:
		return "marked " + g.Status + ": " + g.StatusReason
	case !fx.fg.RefreshTokenLive(g.RefreshToken):
		return "the stored refresh token is dead at Google (a rotated one was lost)"
	}
	return ""
}

// TestE2ESharedKeyringRotatingRefresh: two servers on one file keyring,
// both asked at once to refresh a grant whose refresh token rotates and
// dies at first use, round after round. The refreshes are serialised
// across the processes, each re-reading the grant first: no grant is lost
// and no answer asks to reconnect.
func TestE2ESharedKeyringRotatingRefresh(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, rotatingGoogle)
	key := fx.addTenant(t, "a")
	servers := []*httpServer{fx.startHTTP(t), fx.startHTTP(t)}
	fx.connectHTTP(t, servers[0], key, alice, "mail.read")
	var clients []*mcpclient.Client
	for _, s := range servers {
		clients = append(clients, mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false))
	}

	const maxRounds, budget = 40, 20 * time.Second
	start := time.Now()
	var rounds, answers, lost, reconnect, failed int
	for rounds < maxRounds && time.Since(start) < budget {
		rounds++
		fx.fg.ExpireAccessTokens()
		results := make([]wireResult, len(clients))
		errs := make([]error, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = fx.callTool(c, "check_account", map[string]any{"account": alice})
			}()
		}
		wg.Wait()
		for i := range clients {
			answers++
			switch {
			case errs[i] != nil:
				failed++
				t.Logf("round %d, server %d: %v", rounds, i+1, errs[i])
			case results[i].IsError && strings.Contains(results[i].text(), "reconnect"):
				reconnect++
				t.Logf("round %d, server %d asks to reconnect: %s", rounds, i+1, tail(results[i].text(), 300))
			case results[i].IsError:
				failed++
				t.Logf("round %d, server %d: %s", rounds, i+1, tail(results[i].text(), 300))
			}
		}
		if why := fx.grantLost("a", alice); why != "" {
			lost++
			t.Logf("round %d lost the grant: %s", rounds, why)
			fx.connectHTTP(t, servers[0], key, alice, "mail.read") // and go on counting
		}
	}
	t.Logf("%d rounds, %d answers in %s: %d grants lost, %d answers asking to reconnect, %d other failures",
		rounds, answers, time.Since(start).Round(time.Millisecond), lost, reconnect, failed)
	if lost+reconnect+failed > 0 {
		t.Errorf("%d of %d rounds lost the grant, %d of %d answers asked to reconnect, %d failed otherwise; want none",
			lost, rounds, reconnect, answers, failed)
	}
	if n := fx.refreshes(); n < 2*rounds {
		t.Errorf("%d refreshes for %d rounds of two servers, want at least %d", n, rounds, 2*rounds)
	}
}

// refresher keeps a server refreshing alice's grant: it expires the
// access tokens and calls check_account, pausing between calls, until
// stopped (which waits for the call in flight). Answers are not checked (the account may
// be disconnected meanwhile), nor kept for the leak audit, which would
// compare each of thousands with each of the thousands of tokens issued;
// the server's logs are audited.
func (fx *googleFixture) refresher(t *testing.T, c *mcpclient.Client, pause time.Duration) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			fx.fg.ExpireAccessTokens()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "check_account", Arguments: map[string]any{"account": alice}}})
			cancel()
			time.Sleep(pause)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { done.Store(true); wg.Wait() }) }
}

// waitRefreshes waits until the fake has answered n more refreshes.
func (fx *googleFixture) waitRefreshes(t *testing.T, n int) {
	t.Helper()
	want := fx.refreshes() + n
	deadline := time.Now().Add(20 * time.Second)
	for fx.refreshes() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the server made %d of %d refreshes in 20 s", n-(want-fx.refreshes()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connectCLI connects alice with `mailcal connect` and these scopes, the
// browser reaching its loopback callback.
func (fx *googleFixture) connectCLI(t *testing.T, tenantName, scopes string) error {
	t.Helper()
	c := fx.cli(t, fx.env(), false, "connect", "google", "--no-browser", "--tenant", tenantName, "--login-hint", alice, "--scopes", scopes)
	deadline := time.Now().Add(30 * time.Second)
	for googleAuthURLRE.FindStringSubmatch(c.logs.String()) == nil {
		select {
		case <-c.done:
			return fmt.Errorf("mailcal connect exited before printing a URL: %s", tail(c.logs.String(), 1000))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailcal connect printed no URL in 30 s: %s", tail(c.logs.String(), 1000))
		}
	}
	fx.browse(t, fx.approve(t, googleAuthURLRE.FindStringSubmatch(c.logs.String())[1]).String())
	if code := c.waitExit(t, 30*time.Second); code != 0 {
		return fmt.Errorf("mailcal connect exited %d: %s", code, tail(c.logs.String(), 1000))
	}
	return nil
}

// TestE2ESharedKeyringCLIBesideServer: the CLI beside a server that
// refreshes a rotating grant all the time: `accounts` never fails (no
// "wrong passphrase" from an item read while it was written), a reconnect
// is never overwritten by the server's copy of the old grant, and a
// disconnected account never comes back.
func TestE2ESharedKeyringCLIBesideServer(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, rotatingGoogle)
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "mail.read")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	start := time.Now()

	// accounts, four at a time, while the server writes the grant at every
	// refresh.
	const listings = 40
	var listFailed, passphrase atomic.Int32
	stop := fx.refresher(t, c, 0) // as many writes as it can
	fx.waitRefreshes(t, 2)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < listings; i += 4 {
				out, errOut, code := fx.run(t, "accounts", "--tenant", "a", "--json")
				if code != 0 || !strings.Contains(out, alice) {
					listFailed.Add(1)
					if strings.Contains(errOut, "passphrase") {
						passphrase.Add(1)
					}
					t.Logf("accounts #%d exited %d: %s%s", i+1, code, tail(errOut, 300), tail(out, 300))
				}
			}
		}()
	}
	wg.Wait()
	stop()
	t.Logf("%d listings in %s", listings, time.Since(start).Round(time.Millisecond))

	// Reconnects while the server refreshes: once the refreshes in flight
	// have landed, the keyring holds the reconnect's grant (another grant
	// at Google than the one before), active, with a refresh token that
	// works.
	const reconnects = 5
	var overwritten, broken int
	for i := range reconnects {
		before, err := fx.k.tryGrant("a", "google", alice)
		if err != nil {
			broken++
			t.Logf("before reconnect #%d the grant cannot be read: %v", i+1, err)
		}
		stop := fx.refresher(t, c, 10*time.Millisecond)
		err = retryExpired(func() error { return fx.connectCLI(t, "a", "mail.read") })
		if err == nil {
			fx.waitRefreshes(t, 3)
		}
		stop()
		if err != nil {
			t.Errorf("reconnect #%d: %v", i+1, err)
			continue
		}
		g, err := fx.k.tryGrant("a", "google", alice)
		switch {
		case err != nil || fx.fg.SameGrant(g.RefreshToken, before.RefreshToken):
			overwritten++
			t.Logf("reconnect #%d: the keyring holds the grant from before it (%v)", i+1, err)
		case g.Status != grants.StatusActive || !fx.fg.RefreshTokenLive(g.RefreshToken):
			broken++
			t.Logf("reconnect #%d: the grant is %s, its refresh token live: %v", i+1, g.Status, fx.fg.RefreshTokenLive(g.RefreshToken))
		}
	}
	t.Logf("%d reconnects by %s", reconnects, time.Since(start).Round(time.Millisecond))

	// Disconnects while the server refreshes: gone for good.
	const disconnects = 5
	var back int
	for i := range disconnects {
		// Connected first (the refresher expires every access token, the
		// connect's own too before it asks who the account is), then the
		// server refreshes while the CLI disconnects.
		if err := retryExpired(func() error { return fx.tryConnectHTTP(t, s, key, "mail.read") }); err != nil {
			t.Errorf("connecting before disconnect #%d: %v", i+1, err)
			continue
		}
		stop := fx.refresher(t, c, 10*time.Millisecond)
		fx.waitRefreshes(t, 1)
		_, errOut, code := fx.run(t, "disconnect", "google", alice, "--tenant", "a")
		stop()
		if code != 0 {
			t.Logf("disconnect #%d exited %d: %s", i+1, code, tail(errOut, 300))
		}
		if g, err := fx.k.tryGrant("a", "google", alice); !errors.Is(err, grants.ErrNotFound) {
			back++
			t.Logf("disconnect #%d: the account is back: %s %v (%v)", i+1, g.Status, g.Scopes, err)
		}
	}
	t.Logf("%d listings: %d failed (%d blaming the passphrase); %d reconnects: %d overwritten by the old grant, %d broken otherwise; %d disconnects: %d came back; %s in all",
		listings, listFailed.Load(), passphrase.Load(), reconnects, overwritten, broken, disconnects, back, time.Since(start).Round(time.Millisecond))
	if int(listFailed.Load())+overwritten+broken+back > 0 {
		t.Errorf("want no failed listing, no overwritten or broken reconnect and no account back")
	}
}

// retryExpired runs connect up to ten times while it fails because the
// provider refused the new connection's access token: the refresher
// expires every access token all the time, a new connection's too.
func retryExpired(connect func() error) error {
	var err error
	for range 10 { // a loaded machine widens the window a refresher's expiry falls in
		if err = connect(); err == nil || !strings.Contains(err.Error(), "refused the access token") {
			return err
		}
	}
	return err
}

// tryConnectHTTP is connectHTTP for alice, returning the callback's
// failure instead of failing the test.
func (fx *googleFixture) tryConnectHTTP(t *testing.T, s *httpServer, key, scopes string) error {
	t.Helper()
	a := fx.authorize(t, s, key, "google", url.Values{"login_hint": {alice}, "scopes": {scopes}})
	r := fx.browse(t, fx.approve(t, a.URL).String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Connected") {
		return fmt.Errorf("the callback answered %d %s", r.status, pageText(r.body))
	}
	return nil
}

// pageText is an HTML page's text, roughly: for failure messages.
func pageText(b []byte) string {
	return tail(strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(string(b), " ")), " "), 400)
}

// storedGrants lists a tenant's accounts in the keyring.
func (fx *googleFixture) storedGrants(t *testing.T, tenantName string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gs, err := fx.k.grants(t, ctx).List(ctx, tenantName)
	if err != nil {
		t.Fatalf("listing the keyring's grants: %v", err)
	}
	var out []string
	for _, g := range gs {
		out = append(out, g.Account)
	}
	return slices.Clip(out)
}
