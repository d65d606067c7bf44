//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EOAuthInvalidGrant: a revoked grant is marked needs_reauth at the
// first call, every call then says so with a reconnect URL, and nobody asks
// Google again.
func TestE2EOAuthInvalidGrant(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key, s, c := fx.connectAlice(t, "mail.read")
	fx.checkOK(t, "before the revocation", c, alice)

	fx.fg.RevokeUser(alice)
	fx.fg.ExpireAccessTokens()
	checkReauth := func(who string, r wireResult) {
		t.Helper()
		text := r.text()
		if !r.IsError {
			t.Fatalf("%s: check_account succeeded with a revoked grant: %s", who, text)
		}
		for _, want := range []string{alice, "needs to be reconnected", "invalid_grant", "expired or revoked"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the error does not say %q: %s", who, want, text)
			}
		}
		m := googleReconnectURLRE.FindString(text)
		if strings.Contains(text, "too many connections waiting") {
			// Each answer on a dead grant starts a flow for its URL, and
			// auth/oauth refuses a tenant's 21st pending flow for 10 minutes.
			t.Errorf("%s: the reconnect URL could not be made: the tenant has too many pending flows, one per earlier call: %s", who, text)
			return
		}
		if m == "" {
			t.Errorf("%s: the error has no reconnect URL: %s", who, text)
			return
		}
		q := fx.checkAuthURL(t, m, s.base, "mail.read")
		if q.Get("login_hint") != alice {
			t.Errorf("%s: the reconnect URL's login_hint is %q, want %s", who, q.Get("login_hint"), alice)
		}
	}
	checkReauth("first call after the revocation", fx.call(t, c, "check_account", nil))
	refreshes := fx.refreshes()
	if refreshes != 2 {
		t.Errorf("%d refreshes, want 2 (the first call, then the one refused)", refreshes)
	}
	if a := fx.accountStatuses(t, c)[alice]; a.Status != "needs_reauth" {
		t.Errorf("list_accounts shows alice %+v, want needs_reauth", a)
	}
	if list := fx.integrations(t, s, key); len(list) != 1 || list[0].Status != "needs_reauth" || list[0].Connected {
		t.Errorf("integrations %+v, want alice needs_reauth, not connected", list)
	}

	// No retry storm: 20 more calls, no token request.
	for i := range 20 {
		checkReauth(fmt.Sprintf("call %d", i+2), fx.call(t, c, "check_account", map[string]any{"account": alice}))
	}
	if n := fx.refreshes(); n != refreshes {
		t.Errorf("%d token requests for 20 calls on a dead grant, want none", n-refreshes)
	}
	// The person can still reconnect (the calls' URLs did not use up the
	// tenant's pending flows), and the account works again.
	fx.connectHTTP(t, s, key, alice, "mail.read")
	fx.checkOK(t, "after reconnecting", c, alice)
	if a := fx.accountStatuses(t, c)[alice]; a.Status != "active" {
		t.Errorf("list_accounts after reconnecting: %+v, want active", a)
	}
}

// TestE2EOAuthHealthCheck: the background health check marks a revoked
// grant needs_reauth without any tool call.
func TestE2EOAuthHealthCheck(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{}, "MAILCAL_HEALTH_INTERVAL=2s")
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "")
	fx.fg.RevokeUser(alice)
	revoked := time.Now()
	for {
		list := fx.integrations(t, s, key)
		if len(list) == 1 && list[0].Status == "needs_reauth" {
			t.Logf("needs_reauth %s after the revocation", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if time.Since(revoked) > 15*time.Second {
			t.Fatalf("integrations %+v 15 s after the revocation, want needs_reauth", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := s.anyToolCalls(); n != 0 {
		t.Errorf("%d tool calls logged; the health check should need none", n)
	}
	if rs := s.logs.find("token health check", "outcome", "needs_reauth"); len(rs) == 0 {
		t.Errorf("no health check record with outcome needs_reauth")
	}
}

// TestE2EOAuthStdioConnectAccount: over stdio, connect_account answers a
// URL whose redirect is mailcal's own loopback listener, which completes
// the connection.
func TestE2EOAuthStdioConnectAccount(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	c := fx.stdio(t)
	if got := fx.accountStatuses(t, c); len(got) != 0 {
		t.Fatalf("accounts before connecting: %v", got)
	}
	r := fx.call(t, c, "connect_account", map[string]any{"provider": "google", "scopes": "mail.read,calendar.read"})
	if r.IsError {
		t.Fatalf("connect_account answered an error: %s", r.text())
	}
	var link struct {
		URL string `json:"authorization_url"`
	}
	if err := json.Unmarshal(r.StructuredContent, &link); err != nil || link.URL == "" {
		t.Fatalf("connect_account structured content %s, want authorization_url", r.StructuredContent)
	}
	if !strings.Contains(r.text(), link.URL) {
		t.Errorf("connect_account's text does not give the URL: %s", r.text())
	}
	q := fx.checkAuthURL(t, link.URL, "http://127.0.0.1:", "mail.read", "calendar.read")
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" || redirect.Port() == "0" || redirect.Path != "/oauth/callback" {
		t.Fatalf("redirect_uri %q, want http://127.0.0.1:PORT/oauth/callback", q.Get("redirect_uri"))
	}
	loc := fx.approve(t, link.URL)
	if loc.Host != redirect.Host {
		t.Fatalf("googletest sent the browser to %s, want %s", loc.Host, redirect.Host)
	}
	page := fx.browse(t, loc.String())
	if page.status != http.StatusOK || !strings.Contains(string(page.body), alice+" is connected") {
		t.Fatalf("the loopback callback answered %d %s", page.status, page.body)
	}
	got := fx.accountStatuses(t, c)
	if a, ok := got[alice]; !ok || len(got) != 1 || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read,calendar.read" {
		t.Fatalf("list_accounts after connecting: %+v, want alice active with mail.read,calendar.read", got)
	}
	fx.checkRefreshes(t, "stdio", c, 1)
}

// TestE2ETenantRemoveForgetsAccounts: removing a tenant revokes its accounts
// at the provider and deletes them, so that a tenant added again under the
// same name starts empty and cannot read the removed tenant's mailboxes; a
// tenant added over accounts left behind (by an older mailcal) starts empty
// too.
func TestE2ETenantRemoveForgetsAccounts(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key := fx.addTenant(t, "acme")
	other := fx.addTenant(t, "other")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "")
	fx.connectHTTP(t, s, key, bob, "mail.read")
	fx.connectHTTP(t, s, other, bob, "mail.read")

	accounts := func(tenantName string) []string {
		t.Helper()
		var names []string
		for _, a := range fx.accountsJSON(t, tenantName).Accounts {
			names = append(names, a.Account)
		}
		return names
	}
	if got := accounts("acme"); strings.Join(got, ",") != alice+","+bob {
		t.Fatalf("acme's accounts before removal: %v", got)
	}
	revokesBefore := fx.fg.RevokeRequests()

	_, errOut, code := fx.run(t, "tenant", "remove", "acme")
	if code != 0 {
		t.Fatalf("mailcal tenant remove acme: exit %d\n%s", code, errOut)
	}
	// Bob is connected to tenant other too: Google revokes the app's whole
	// grant for a person, so his is kept upstream and only deleted here.
	if n := fx.fg.RevokeRequests() - revokesBefore; n != 1 {
		t.Errorf("tenant remove made %d revocation requests, want 1 (alice; bob is shared with tenant other)", n)
	}
	if g := fx.fg.Granted(bob); len(g) == 0 {
		t.Errorf("removing acme revoked bob at Google, cutting off tenant other's connection of him")
	}
	if g := fx.fg.Granted(alice); len(g) != 0 {
		t.Errorf("alice still grants %v at Google after her tenant was removed", g)
	}
	if got := accounts("acme"); len(got) != 0 {
		t.Errorf("accounts of the removed tenant acme: %v, want none", got)
	}

	newKey := fx.addTenant(t, "acme")
	if got := accounts("acme"); len(got) != 0 {
		t.Errorf("a new tenant named acme lists %v, want no account", got)
	}
	// A running server takes a new key within its reload interval (2 s).
	deadline := time.Now().Add(10 * time.Second)
	for fx.do(t, s, "GET", "/api/integrations", nil, "X-API-Key", newKey).status == http.StatusUnauthorized && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	if got := fx.integrations(t, s, newKey); len(got) != 0 {
		t.Errorf("GET /api/integrations of the new acme: %+v, want none", got)
	}
	// The other tenant keeps its own connection of bob.
	if got := accounts("other"); strings.Join(got, ",") != bob {
		t.Errorf("accounts of tenant other after acme's removal: %v, want bob", got)
	}
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+other, false)
	fx.checkOK(t, "check_account of tenant other's bob", c, bob)

	// Accounts left behind without their tenant (as an older mailcal's
	// remove did) are forgotten when a tenant of that name is added.
	seedGoogleGrant(t, fx.k, "ghost", alice)
	if got := accounts("ghost"); len(got) != 1 {
		t.Fatalf("seeded leftover accounts of ghost: %v", got)
	}
	fx.addTenant(t, "ghost")
	if got := accounts("ghost"); len(got) != 0 {
		t.Errorf("a tenant added over leftover accounts lists %v, want none", got)
	}
}
