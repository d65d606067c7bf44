//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
	mcpclient "github.com/mark3labs/mcp-go/client"
)

// TestE2EOAuthCLIConnect: `mailcal connect google --no-browser` prints the
// authorization URL on stderr, finishes when the browser reaches its
// loopback callback (or when the person pastes the URL the browser was
// sent to), prints the account on stdout, and `mailcal accounts` shows it;
// `mailcal disconnect` revokes it at Google and removes it.
func TestE2EOAuthCLIConnect(t *testing.T) {
	t.Parallel()
	for _, paste := range []bool{false, true} {
		name := "browser"
		if paste {
			name = "paste"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := newGoogleFixture(t, googletest.Options{})
			start := time.Now()
			c := fx.cli(t, fx.env(), paste, "connect", "google", "--no-browser", "--tenant", "t1", "--scopes", "mail.read,calendar.read")
			authURL := c.waitStderr(t, 30*time.Second, googleAuthURLRE)[1]
			q := fx.checkAuthURL(t, authURL, "http://127.0.0.1:", "mail.read", "calendar.read")
			redirect, _ := url.Parse(q.Get("redirect_uri"))
			if redirect == nil || redirect.Port() == "" || redirect.Port() == "0" {
				t.Errorf("redirect_uri %q has no port of its own", q.Get("redirect_uri"))
			}
			loc := fx.approve(t, authURL)
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != q.Get("redirect_uri") {
				t.Fatalf("googletest sent the browser to %s, want %s", got, q.Get("redirect_uri"))
			}
			if paste {
				// The browser is on another machine: the person pastes the
				// address it could not open.
				if _, err := io.WriteString(c.stdin, loc.String()+"\n"); err != nil {
					t.Fatal(err)
				}
			} else {
				r := fx.browse(t, loc.String())
				if r.status != http.StatusOK || !strings.Contains(string(r.body), alice) {
					t.Errorf("the loopback callback answered %d %s, want a page naming %s", r.status, r.body, alice)
				}
			}
			if code := c.waitExit(t, 30*time.Second); code != 0 {
				t.Fatalf("mailcal connect exited %d; stderr:\n%s", code, tail(c.logs.String(), 4000))
			}
			if c.stdin != nil {
				c.stdin.Close()
			}
			if got := c.stdout.String(); got != alice+"\n" {
				t.Errorf("mailcal connect printed %q on stdout, want only the account", got)
			}
			if !strings.Contains(c.logs.String(), "Connected "+alice) {
				t.Errorf("stderr does not say the account is connected:\n%s", tail(c.logs.String(), 2000))
			}
			if n := fx.exchanges(); n != 1 {
				t.Errorf("%d code exchanges, want 1", n)
			}

			list := fx.accountsJSON(t, "t1")
			if list.Tenant != "t1" || len(list.Accounts) != 1 {
				t.Fatalf("mailcal accounts --tenant t1 --json = %+v, want one account", list)
			}
			a := list.Accounts[0]
			if a.Account != alice || a.Provider != "google" || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read,calendar.read" {
				t.Errorf("account %+v, want %s google active with mail.read,calendar.read", a, alice)
			}
			checkConnectedAt(t, "mailcal accounts", a.ConnectedAt, start)
			// The default tenant has nothing.
			if out, _, _ := fx.run(t, "accounts", "--json"); strings.Contains(out, alice) {
				t.Errorf("the default tenant lists t1's account: %s", out)
			}
			// The stored grant holds the refresh token Google issued.
			if g, rts := fx.storedGrant(t, "t1", alice), fx.refreshTokens(); len(rts) != 1 || g.RefreshToken != rts[0] {
				t.Errorf("the keyring does not hold the refresh token googletest issued (%d issued)", len(rts))
			}

			if paste {
				return
			}
			_, errOut, code := fx.run(t, "disconnect", "google", alice, "--tenant", "t1")
			if code != 0 || !strings.Contains(errOut, "revoked") {
				t.Errorf("mailcal disconnect exited %d: %s", code, errOut)
			}
			if n := fx.fg.RevokeRequests(); n != 1 {
				t.Errorf("%d revocation requests, want 1", n)
			}
			if g := fx.fg.Granted(alice); len(g) != 0 {
				t.Errorf("alice still grants %v at Google after disconnect", g)
			}
			out, _, _ := fx.run(t, "accounts", "--tenant", "t1", "--json")
			if strings.Contains(out, alice) {
				t.Errorf("mailcal accounts after disconnect: %s", out)
			}
		})
	}
}

// TestE2EOAuthNoClient: without an OAuth client, connecting fails at once
// and says how to create one.
func TestE2EOAuthNoClient(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"no client", nil},
		{"no secret", []string{"MAILCAL_GOOGLE_CLIENT_ID=" + googletest.DefaultClientID}},
	} {
		c := fx.cli(t, fx.k.env(tc.env...), false, "connect", "google", "--no-browser")
		code := c.waitExit(t, 30*time.Second)
		errOut := c.logs.String()
		if code == 0 {
			t.Errorf("%s: mailcal connect exited 0", tc.name)
		}
		for _, want := range []string{"MAILCAL_GOOGLE_CLIENT_ID", "MAILCAL_GOOGLE_CLIENT_SECRET", "https://console.cloud.google.com/apis/credentials", "OAuth client"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr does not mention %s:\n%s", tc.name, want, errOut)
			}
		}
		if c.stdout.String() != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, c.stdout.String())
		}
	}
	if n := len(fx.fg.AuthRequests()); n != 0 {
		t.Errorf("%d authorization requests reached Google", n)
	}
}

// TestE2EOAuthRefresh: an access token that expired (Google refuses it) is
// refreshed once, silently, and cached tokens cause no request.
func TestE2EOAuthRefresh(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	_, _, c := fx.connectAlice(t, "")

	// The first call has no access token yet: one refresh.
	fx.checkRefreshes(t, "the first call", c, 1)
	fx.checkRefreshes(t, "a call with a valid cached token", c, 1)
	// Google expires the token: the call gets a 401, refreshes once and
	// succeeds.
	fx.fg.ExpireAccessTokens()
	fx.checkRefreshes(t, "a call after the token expired", c, 2)
	fx.checkRefreshes(t, "a call with the refreshed token", c, 2)
}

// TestE2EOAuthRotationRestart: a rotated refresh token is in the keyring
// when the server stops, and the next server goes on with it.
func TestE2EOAuthRotationRestart(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{RotateRefreshTokens: true})
	key := fx.addTenant(t, "a")
	s1 := fx.startHTTP(t)
	fx.connectHTTP(t, s1, key, alice, "")
	rts := fx.refreshTokens()
	if len(rts) != 1 || fx.storedGrant(t, "a", alice).RefreshToken != rts[0] {
		t.Fatalf("after connecting: %d refresh tokens issued, the keyring should hold the first", len(rts))
	}

	c1 := mcpgoHTTP(t, s1, "/mcp", "Authorization", "Bearer "+key, false)
	fx.checkOK(t, "first server", c1, alice)
	if rts = fx.refreshTokens(); len(rts) != 2 || fx.refreshes() != 1 {
		t.Fatalf("after the first check: %d refresh tokens issued and %d refreshes, want 2 and 1", len(rts), fx.refreshes())
	}
	s1.signal(t, syscall.SIGTERM)
	if code := s1.waitExit(t, 20*time.Second); code != 0 {
		t.Fatalf("the first server exited %d after SIGTERM", code)
	}
	if g := fx.storedGrant(t, "a", alice); g.RefreshToken != rts[1] {
		t.Fatalf("after the restart the keyring holds refresh token #%d of %d, want the rotated one (#2)",
			slices.Index(rts, g.RefreshToken)+1, len(rts))
	}

	s2 := fx.startHTTP(t)
	c2 := mcpgoHTTP(t, s2, "/mcp", "Authorization", "Bearer "+key, false)
	fx.checkOK(t, "second server", c2, alice)
	rts = fx.refreshTokens()
	if len(rts) != 3 || fx.refreshes() != 2 {
		t.Fatalf("after the second check: %d refresh tokens issued and %d refreshes, want 3 and 2", len(rts), fx.refreshes())
	}
	if g := fx.storedGrant(t, "a", alice); g.RefreshToken != rts[2] || g.Status != "active" {
		t.Errorf("the keyring holds refresh token #%d (status %s), want the newest (#3), active", slices.Index(rts, g.RefreshToken)+1, g.Status)
	}
}

// TestE2EOAuthConcurrentRefresh: 100 concurrent tool calls with an expired
// access token cause exactly one refresh, and all succeed; whether Google
// refuses the token (a 401, the cached token looking valid) or mailcal sees
// it expire on its own clock.
func TestE2EOAuthConcurrentRefresh(t *testing.T) {
	t.Parallel()
	t.Run("expired-at-google", func(t *testing.T) {
		t.Parallel()
		fx, s, clients := concurrentSetup(t, time.Hour)
		fx.fg.ExpireAccessTokens()
		elapsed := fx.concurrentChecks(t, s, clients)
		// Every call sends the cached token, gets a 401, drops that token
		// and asks for a new one: one refresh, however slow the calls.
		if n := fx.refreshes(); n != 2 {
			t.Errorf("%d refresh requests for %d concurrent calls (%s) with a token Google refuses, want exactly 1",
				n-1, concurrentCalls, elapsed.Round(time.Millisecond))
		}
	})
	t.Run("expired-locally", func(t *testing.T) {
		t.Parallel()
		// Tokens live 10 s and mailcal refreshes them half-way (5 s): its
		// 5-minute margin is capped at half the lifetime.
		const ttl = 10 * time.Second
		fx, s, clients := concurrentSetup(t, ttl)
		cachedAt := time.Now()
		time.Sleep(ttl/2 + 500*time.Millisecond - time.Since(cachedAt))
		fx.fg.ExpireAccessTokens()
		elapsed := fx.concurrentChecks(t, s, clients)
		n := fx.refreshes() - 1
		// The new token is due for a refresh ttl/2 after its refresh
		// started, which was after the calls started: if they all ended
		// before then, they all had to share that one refresh. Slower
		// (a loaded machine) a call may legitimately refresh again.
		if elapsed < ttl/2 {
			if n != 1 {
				t.Errorf("%d refresh requests for %d concurrent calls (%s) with an expired token, want exactly 1", n, concurrentCalls, elapsed)
			}
		} else if maxN := 1 + int(elapsed/(ttl/2)); n < 1 || n > maxN {
			t.Errorf("%d refresh requests for %d concurrent calls taking %s, want 1 to %d", n, concurrentCalls, elapsed, maxN)
		} else {
			t.Logf("the calls took %s, longer than a token's refresh time (%s): %d refresh(es), not asserted to be 1", elapsed, ttl/2, n)
		}
	})
}

const concurrentCalls = 100

// concurrentSetup connects alice on a server whose Google issues access
// tokens living ttl, makes one call (whose refresh caches a token) and
// returns 4 streamable HTTP clients.
func concurrentSetup(t *testing.T, ttl time.Duration) (*googleFixture, *httpServer, []*mcpclient.Client) {
	t.Helper()
	fx := newGoogleFixture(t, googletest.Options{AccessTokenTTL: ttl})
	key, s, c := fx.connectAlice(t, "")
	clients := []*mcpclient.Client{c}
	for len(clients) < 4 {
		clients = append(clients, mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false))
	}
	fx.checkOK(t, "first check", clients[0], alice)
	if n := fx.refreshes(); n != 1 {
		t.Fatalf("%d refreshes after the first call, want 1", n)
	}
	return fx, s, clients
}

// concurrentChecks makes concurrentCalls check_account calls at once over
// the clients; all must succeed.
func (fx *googleFixture) concurrentChecks(t *testing.T, s *httpServer, clients []*mcpclient.Client) time.Duration {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, concurrentCalls)
	for i := range concurrentCalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := fx.callTool(clients[i%len(clients)], "check_account", nil)
			if err == nil {
				err = checkAccountOK(r, alice)
			}
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	elapsed := time.Since(start)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent check_account calls took %s", concurrentCalls, elapsed.Round(time.Millisecond))
	s.waitToolCalls(t, "check_account", "a", concurrentCalls+1)
	return elapsed
}

// TestE2EOAuthHTTPFlow: the connection REST API: authorize, the callback,
// connect with a code, list and disconnect, each refused without the key.
func TestE2EOAuthHTTPFlow(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	start := time.Now()

	// Browser flow: authorize, approve, the callback names the account.
	a := fx.authorize(t, s, key, "google", nil)
	// The default covers every tool served by default (send_email and
	// create_event included).
	fx.checkAuthURL(t, a.URL, s.base, "mail.read", "mail.send", "mail.modify", "calendar.read", "calendar.write")
	loc := fx.approve(t, a.URL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != s.base+"/oauth/callback" {
		t.Fatalf("googletest sent the browser to %s, want %s/oauth/callback", got, s.base)
	}
	r := fx.browse(t, loc.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), alice+" is connected") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("the callback answered %d %q %s, want an HTML page naming %s", r.status, r.header.Get("Content-Type"), r.body, alice)
	}
	list := fx.integrations(t, s, key)
	if len(list) != 1 {
		t.Fatalf("integrations %+v, want alice only", list)
	}
	if i := list[0]; i.Account != alice || i.Provider != "google" || i.Status != "active" || !i.Connected ||
		strings.Join(i.Scopes, ",") != "mail.read,mail.send,mail.modify,calendar.read,calendar.write" {
		t.Errorf("integration %+v, want alice google active with the default scopes", i)
	}
	checkConnectedAt(t, "GET /api/integrations", list[0].ConnectedAt, start)

	// A calendar connection asks Google for calendar scopes only; the
	// front end completes it with the code itself.
	cal := fx.authorize(t, s, key, "calendar", url.Values{"login_hint": {bob}})
	calQuery := fx.checkAuthURL(t, cal.URL, s.base, "calendar.read", "calendar.write")
	if strings.Contains(calQuery.Get("scope"), "gmail") || calQuery.Get("login_hint") != bob {
		t.Errorf("calendar authorization: scope %q, login_hint %q; want no mail scope and bob", calQuery.Get("scope"), calQuery.Get("login_hint"))
	}
	calLoc := fx.approve(t, cal.URL)
	body := fmt.Sprintf(`{"auth_code":%q,"state":%q}`, calLoc.Query().Get("code"), cal.State)
	r = fx.do(t, s, "POST", "/api/integrations/google/connect", strings.NewReader(body), "Authorization", "Bearer "+key)
	var connected struct {
		Success bool     `json:"success"`
		Status  string   `json:"status"`
		Account string   `json:"account"`
		Scopes  []string `json:"scopes"`
	}
	if err := json.Unmarshal(r.body, &connected); err != nil || r.status != http.StatusOK || !connected.Success ||
		connected.Status != "connected" || connected.Account != bob {
		t.Fatalf("POST connect: %d %s, want {success:true, status:connected, account:%s}", r.status, r.body, bob)
	}
	list = fx.integrations(t, s, key)
	if got := integrationAccounts(list); strings.Join(got, ",") != alice+","+bob {
		t.Fatalf("integrations %v, want alice and bob", got)
	}
	if strings.Join(list[1].Scopes, ",") != "calendar.read,calendar.write" || list[1].Status != "active" {
		t.Errorf("bob's integration %+v, want active with the calendar scopes only", list[1])
	}

	// No key or a wrong one: 401, and nothing happens.
	wrong := "mck_" + randomHex(t, 24)
	requests := []struct{ method, path, body string }{
		{"GET", "/api/integrations", ""},
		{"GET", "/api/integrations/google/authorize", ""},
		{"POST", "/api/integrations/google/connect", body},
		{"DELETE", "/api/integrations/google/" + alice, ""},
	}
	for _, req := range requests {
		for _, h := range [][]string{nil, {"Authorization", "Bearer " + wrong}, {"X-API-Key", wrong}} {
			var rb io.Reader
			if req.body != "" {
				rb = strings.NewReader(req.body)
			}
			who := fmt.Sprintf("%s %s with %v", req.method, req.path, h)
			checkJSONError(t, who, fx.do(t, s, req.method, req.path, rb, h...), http.StatusUnauthorized, "unauthorized")
		}
	}
	if n := fx.fg.RevokeRequests(); n != 0 {
		t.Errorf("%d revocations after unauthenticated requests", n)
	}
	if got := integrationAccounts(fx.integrations(t, s, key)); len(got) != 2 {
		t.Errorf("integrations after unauthenticated requests: %v", got)
	}

	// Disconnect: revoked at Google, then gone.
	for i, account := range []string{alice, bob} {
		r = fx.do(t, s, "DELETE", "/api/integrations/google/"+account, nil, "Authorization", "Bearer "+key)
		var del struct {
			Success bool `json:"success"`
		}
		if err := json.Unmarshal(r.body, &del); err != nil || r.status != http.StatusOK || !del.Success {
			t.Errorf("DELETE %s: %d %s, want {\"success\":true}", account, r.status, r.body)
		}
		if n := fx.fg.RevokeRequests(); n != i+1 {
			t.Errorf("after deleting %s: %d revocation requests, want %d", account, n, i+1)
		}
		if g := fx.fg.Granted(account); len(g) != 0 {
			t.Errorf("%s still grants %v at Google", account, g)
		}
	}
	if got := fx.integrations(t, s, key); len(got) != 0 {
		t.Errorf("integrations after disconnecting both: %+v", got)
	}
	checkJSONError(t, "DELETE a disconnected account",
		fx.do(t, s, "DELETE", "/api/integrations/google/"+alice, nil, "X-API-Key", key), http.StatusNotFound, "not_found")
}

// TestE2EOAuthBadStates: a callback or connect request with an unknown,
// used or other tenant's state, a bad code, a refusal, or a malformed body
// changes nothing: no grant appears, nothing is exchanged, and the pending
// flow of the right tenant still completes.
func TestE2EOAuthBadStates(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	keyA, keyB := fx.addTenant(t, "a"), fx.addTenant(t, "b")
	s := fx.startHTTP(t)
	connectPath := "/api/integrations/google/connect"
	post := func(key, body string, headers ...string) rawResponse {
		t.Helper()
		return fx.do(t, s, "POST", connectPath, strings.NewReader(body), append([]string{"Authorization", "Bearer " + key}, headers...)...)
	}
	connectBody := func(code, state string) string {
		return fmt.Sprintf(`{"auth_code":%q,"state":%q}`, code, state)
	}
	// nothingChanged checks that no grant appeared and no code was
	// exchanged since the last call.
	wantExchanges := 0
	wantA := []string{}
	nothingChanged := func(who string) {
		t.Helper()
		if n := fx.exchanges(); n != wantExchanges {
			t.Errorf("%s: %d code exchanges at Google, want %d", who, n, wantExchanges)
		}
		if got := integrationAccounts(fx.integrations(t, s, keyA)); !slices.Equal(got, wantA) {
			t.Errorf("%s: tenant a's accounts %v, want %v", who, got, wantA)
		}
		if got := integrationAccounts(fx.integrations(t, s, keyB)); len(got) != 0 {
			t.Errorf("%s: tenant b's accounts %v, want none", who, got)
		}
	}
	errorPage := func(who string, r rawResponse, status int, says string) {
		t.Helper()
		if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(r.body), "Not connected") || !strings.Contains(string(r.body), says) {
			t.Errorf("%s: %d %q %s, want a %d error page saying %q", who, r.status, r.header.Get("Content-Type"), r.body, status, says)
		}
	}

	// Tenant a's flow, approved; the browser has not come back yet.
	flowA := fx.authorize(t, s, keyA, "google", nil)
	locA := fx.approve(t, flowA.URL)
	codeA := locA.Query().Get("code")

	// Unknown state, on the callback and on the connect API. (Its first
	// character changed: "x", unless it was one already, 1 time in 64.)
	cb := s.base + "/oauth/callback?"
	other := "x"
	if flowA.State[0] == 'x' {
		other = "y"
	}
	errorPage("callback with an unknown state",
		fx.browse(t, cb+url.Values{"state": {other + flowA.State[1:]}, "code": {codeA}}.Encode()), http.StatusBadRequest, "unknown or already used state")
	errorPage("callback without a state", fx.browse(t, cb+url.Values{"code": {codeA}}.Encode()), http.StatusBadRequest, "unknown")
	checkJSONError(t, "connect with an unknown state", post(keyA, connectBody(codeA, "no-such-state")), http.StatusBadRequest, "invalid_state")
	nothingChanged("unknown state")

	// Tenant b presenting a's state (and a's code): refused, and a's flow
	// is still pending.
	r := post(keyB, connectBody(codeA, flowA.State))
	checkJSONError(t, "b connecting with a's state", r, http.StatusBadRequest, "invalid_state")
	nothingChanged("other tenant's state")

	// a's browser comes back: connected to a, not b.
	r = fx.browse(t, locA.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), alice+" is connected") {
		t.Fatalf("a's callback after the bad attempts: %d %s", r.status, r.body)
	}
	wantExchanges, wantA = 1, []string{alice}
	nothingChanged("a's own callback")

	// The same callback again (a reload, or a replay): an error page, and
	// the code is not sent to Google again (which would revoke the grant).
	errorPage("reused callback", fx.browse(t, locA.String()), http.StatusBadRequest, "unknown or already used state")
	checkJSONError(t, "reused state on connect", post(keyA, connectBody(codeA, flowA.State)), http.StatusBadRequest, "invalid_state")
	nothingChanged("reused state")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+keyA, false)
	fx.checkOK(t, "alice after the replays", c, alice)

	// A bad code on connect: refused as invalid_code, and the state is used
	// up. Then a code swapped between two flows: PKCE makes Google refuse
	// it, and the flow it belongs to still completes.
	flowP := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	flowQ := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	flowR := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	locP, locQ := fx.approve(t, flowP.URL), fx.approve(t, flowQ.URL)
	checkJSONError(t, "connect with a made-up code", post(keyA, connectBody("4/0Anot-a-code", flowR.State)), http.StatusBadRequest, "invalid_code")
	wantExchanges++
	nothingChanged("bad code")
	checkJSONError(t, "connect with the state of a failed attempt", post(keyA, connectBody(locQ.Query().Get("code"), flowR.State)), http.StatusBadRequest, "invalid_state")
	checkJSONError(t, "connect with P's code and Q's state", post(keyA, connectBody(locP.Query().Get("code"), flowQ.State)), http.StatusBadRequest, "invalid_code")
	wantExchanges++
	nothingChanged("swapped code")
	r = fx.browse(t, locP.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), bob+" is connected") {
		t.Fatalf("P's own callback after its code was tried with Q's state: %d %s", r.status, r.body)
	}
	wantExchanges, wantA = wantExchanges+1, []string{alice, bob}
	nothingChanged("P's own callback")

	// The person refuses: the page says so, and the state is used up.
	fx.fg.DenyNext()
	flowD := fx.authorize(t, s, keyA, "google", nil)
	locD := fx.approve(t, flowD.URL)
	if locD.Query().Get("error") != "access_denied" {
		t.Fatalf("DenyNext: googletest redirected to %s", locD.Redacted())
	}
	errorPage("callback with error=access_denied", fx.browse(t, locD.String()), http.StatusOK, "no account was connected")
	errorPage("callback after the refusal", fx.browse(t, cb+url.Values{"state": {flowD.State}, "code": {"4/0Aafter"}}.Encode()), http.StatusBadRequest, "unknown")
	nothingChanged("access_denied")

	// Malformed connect requests: 400 naming the problem, nothing else.
	flowM := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	locM := fx.approve(t, flowM.URL)
	codeM := locM.Query().Get("code")
	for _, tc := range []struct {
		name, body string
		headers    []string
		says       string
	}{
		{"malformed JSON", `{"auth_code":`, nil, "JSON"},
		{"not an object", `["x"]`, nil, "JSON object"},
		{"unknown field", `{"auth_code":"c","state":"s","redirect_uri":"https://evil.example"}`, nil, `unknown field "redirect_uri"`},
		{"no code", fmt.Sprintf(`{"state":%q}`, flowM.State), nil, "auth_code"},
		{"no state", fmt.Sprintf(`{"auth_code":%q}`, codeM), nil, `"state" is required`},
		{"two objects", connectBody(codeM, flowM.State) + `{}`, nil, "one JSON object"},
		{"oversized", fmt.Sprintf(`{"auth_code":%q,"state":%q}`, strings.Repeat("x", 20<<10), flowM.State), nil, "larger than"},
		{"form body", "auth_code=c&state=s", []string{"Content-Type", "application/x-www-form-urlencoded"}, "Content-Type"},
	} {
		r := post(keyA, tc.body, tc.headers...)
		checkJSONError(t, tc.name, r, http.StatusBadRequest, "invalid_request")
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(r.body, &e) != nil || !strings.Contains(e.Error.Message, tc.says) {
			t.Errorf("%s: %s does not say %q", tc.name, r.body, tc.says)
		}
	}
	checkJSONError(t, "over the API's 64 KiB limit", post(keyA, connectBody(strings.Repeat("x", 70<<10), flowM.State)),
		http.StatusRequestEntityTooLarge, "request_too_large")
	nothingChanged("malformed requests")
	// flowM was not consumed by any of them.
	r = post(keyA, connectBody(codeM, flowM.State))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"success":true`) {
		t.Errorf("connect after the malformed requests: %d %s", r.status, r.body)
	}
	wantExchanges++
	nothingChanged("connect after the malformed requests")

	// A code that expired at Google (the person took over 10 minutes to
	// come back; mailcal's own 10-minute state expiry is unit-tested in
	// auth/oauth: the server's clock cannot be moved from here).
	flowE := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	locE := fx.approve(t, flowE.URL)
	fx.fg.Advance(11 * time.Minute)
	r = fx.browse(t, locE.String())
	errorPage("callback with a code expired at Google", r, http.StatusBadRequest, "invalid_grant")
	wantExchanges++
	nothingChanged("expired code")
}
