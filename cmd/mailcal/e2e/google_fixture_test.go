//go:build unix

package e2e

// The Google fixture: googletest, the fake Google on 127.0.0.1, with its
// users alice and bob; the environment that points mailcal at it; what
// Google's authorization URLs and tokens look like; connecting an account
// through it; counting its token requests; and its secrets for the leak
// audit. Everything else (the keyring, the subprocesses, the REST API, MCP
// calls) is the provider-neutral harness it embeds (harness_test.go). The
// tools tests add alice's Gmail and Calendar fixtures to it
// (google_tools_fixture_test.go).

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// The fake Google's users: alice is the default account.
const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// Google's scopes for mailcal's scope names.
var googleScopes = map[string]string{
	"mail.read":      "https://www.googleapis.com/auth/gmail.readonly",
	"mail.send":      "https://www.googleapis.com/auth/gmail.send",
	"mail.modify":    "https://www.googleapis.com/auth/gmail.modify",
	"calendar.read":  "https://www.googleapis.com/auth/calendar.readonly",
	"calendar.write": "https://www.googleapis.com/auth/calendar.events",
}

// googleAuthURLPattern matches an authorization URL of the fake Google.
const googleAuthURLPattern = `http://127\.0\.0\.1:\d+/o/oauth2/auth\?\S+`

var (
	// googleAuthURLRE finds the authorization URL that `mailcal connect`
	// prints, on a line of its own.
	googleAuthURLRE = regexp.MustCompile(`(?m)^\s+(` + googleAuthURLPattern + `)\s*$`)
	// googleReconnectURLRE finds the authorization URL in a tool error that
	// asks the person to reconnect.
	googleReconnectURLRE = regexp.MustCompile(googleAuthURLPattern)
)

// googleFixture is a fake Google next to the harness, whose subprocesses it
// points at the fake and whose leak audit looks for the fake's secrets.
type googleFixture struct {
	*harness
	fg *googletest.Server
}

// newGoogleFixture starts a fake Google with alice and bob (alice is the
// default account) and a fresh keyring. extraEnv adds to (and overrides) the
// subprocesses' environment, whose health check is off by default.
func newGoogleFixture(t *testing.T, opts googletest.Options, extraEnv ...string) *googleFixture {
	t.Helper()
	mailcalBinary(t) // skipped with -short before anything starts
	fg := googletest.New(opts)
	t.Cleanup(fg.Close)
	fg.AddUser(alice)
	fg.AddUser(bob)
	return &googleFixture{harness: newHarness(t, "googletest", fg, extraEnv...), fg: fg}
}

// seedGoogleGrant stores a connected Google account the way `connect`
// would, without a fake Google (the refresh token only looks like one of
// Google's): for the tests that list accounts and call nothing at Google.
// list_accounts shows it as seededAccount.
func seedGoogleGrant(t *testing.T, k *testKeyring, tenantName, account string) {
	t.Helper()
	k.putGrant(t, grants.Grant{
		Tenant: tenantName, Provider: "google", Account: account,
		Scopes: []string{"mail.read"}, Status: grants.StatusActive,
		ConnectedAt:  time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC),
		RefreshToken: "1//seeded-refresh-token-" + randomHex(t, 8),
	})
}

// seededAccount is how list_accounts shows an account seedGoogleGrant
// stored, less its name.
var seededAccount = wireAccount{Provider: "google", Status: "active", Scopes: []string{"mail.read"}, ConnectedAt: "2026-11-01T09:30:00Z"}

// storedGrant reads a Google account's grant from the fixture's keyring.
func (fx *googleFixture) storedGrant(t *testing.T, tenantName, account string) grants.Grant {
	t.Helper()
	return fx.k.grant(t, tenantName, "google", account)
}

// refreshTokens returns the refresh tokens googletest issued, in order.
func (fx *googleFixture) refreshTokens() []string {
	var out []string
	for _, s := range fx.fg.Secrets() {
		if strings.HasPrefix(s, "1//0") {
			out = append(out, s)
		}
	}
	return out
}

func (fx *googleFixture) refreshes() int { return fx.fg.TokenRequests("refresh_token") }

// checkRefreshes checks alice's account through c, then that googletest
// has seen want refreshes in all.
func (fx *googleFixture) checkRefreshes(t *testing.T, who string, c *mcpclient.Client, want int) {
	t.Helper()
	fx.checkOK(t, who, c, alice)
	if n := fx.refreshes(); n != want {
		t.Errorf("%d refreshes after %s, want %d", n, who, want)
	}
}
func (fx *googleFixture) exchanges() int { return fx.fg.TokenRequests("authorization_code") }

// approve is the person approving at Google: it returns where the browser
// is sent (the redirect URI with code and state).
func (fx *googleFixture) approve(t *testing.T, authURL string) *url.URL {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	loc, err := fx.fg.Approve(ctx, authURL)
	if err != nil {
		t.Fatalf("approving at googletest: %v", err)
	}
	if loc.Query().Get("code") == "" && loc.Query().Get("error") == "" {
		t.Fatalf("googletest redirected to %s: neither code nor error", loc.Redacted())
	}
	return loc
}

// checkAuthURL checks an authorization URL mailcal made: googletest's
// endpoint, PKCE S256, offline access with consent, the Google scopes of
// want plus openid and email, and a redirect URI under redirectPrefix.
func (fx *googleFixture) checkAuthURL(t *testing.T, raw, redirectPrefix string, want ...string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("authorization URL %q: %v", raw, err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != fx.fg.URL()+"/o/oauth2/auth" {
		t.Errorf("authorization URL endpoint %s, want googletest's %s/o/oauth2/auth", got, fx.fg.URL())
	}
	q := u.Query()
	for name, v := range map[string]string{
		"response_type": "code", "client_id": googletest.DefaultClientID, "code_challenge_method": "S256",
		"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true",
	} {
		if q.Get(name) != v {
			t.Errorf("authorization URL %s = %q, want %q", name, q.Get(name), v)
		}
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("code_challenge %q is not an S256 challenge", q.Get("code_challenge"))
	}
	if len(q.Get("state")) < 32 {
		t.Errorf("state %q is too short to be random", q.Get("state"))
	}
	if !strings.HasPrefix(q.Get("redirect_uri"), redirectPrefix) || !strings.HasSuffix(q.Get("redirect_uri"), "/oauth/callback") {
		t.Errorf("redirect_uri %q, want %s.../oauth/callback", q.Get("redirect_uri"), redirectPrefix)
	}
	wantScopes := []string{"openid", "email"}
	for _, w := range want {
		wantScopes = append(wantScopes, googleScopes[w])
	}
	got := strings.Fields(q.Get("scope"))
	slices.Sort(got)
	slices.Sort(wantScopes)
	if !slices.Equal(got, wantScopes) {
		t.Errorf("authorization URL scope = %v, want %v", got, wantScopes)
	}
	return q
}

// connectAlice is where most tests start: tenant "a" and its API key, an
// HTTP server, alice connected to the tenant through the REST API with
// scopes ("" asks for the default ones), and an mcp-go streamable HTTP
// client with the tenant's key.
func (fx *googleFixture) connectAlice(t *testing.T, scopes string) (key string, s *httpServer, c *mcpclient.Client) {
	t.Helper()
	key = fx.addTenant(t, "a")
	s = fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, scopes)
	return key, s, mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
}

// connectHTTP connects an account through the REST API and the callback,
// as a web front end and the person's browser do.
func (fx *googleFixture) connectHTTP(t *testing.T, s *httpServer, key, email, scopes string) {
	t.Helper()
	q := url.Values{"login_hint": {email}}
	if scopes != "" {
		q.Set("scopes", scopes)
	}
	a := fx.authorize(t, s, key, "google", q)
	loc := fx.approve(t, a.URL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != s.base+"/oauth/callback" {
		t.Fatalf("googletest sent the browser to %s, want the server's %s/oauth/callback", got, s.base)
	}
	r := fx.browse(t, loc.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), email) || !strings.Contains(string(r.body), "Connected") {
		t.Fatalf("the callback answered %d %s, want a page saying %s is connected", r.status, r.body, email)
	}
}
