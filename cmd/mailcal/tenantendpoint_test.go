package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mailcal/mailcal/auth/tenant"
)

var errFakeInvalid = errors.New("invalid token")

// fakeVerifier stands for mailcal's OAuth server: tokens it knows, each
// for one tenant's endpoint.
type fakeVerifier struct {
	mu     sync.Mutex
	tokens map[string]tenant.Signin
	asked  []string // the tenant of every Verify
}

func (f *fakeVerifier) Verify(ctx context.Context, token, tenantName string) (tenant.Signin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, tenantName)
	if token == "mca_broken" {
		return tenant.Signin{}, errors.New("store unavailable")
	}
	s, ok := f.tokens[token]
	if !ok || s.Tenant != tenantName {
		return tenant.Signin{}, fmt.Errorf("verify: %w", errFakeInvalid)
	}
	return s, nil
}

func (f *fakeVerifier) ResourceMetadataURL(tenantName string) string {
	return "https://mail.example.com/.well-known/oauth-protected-resource/t/" + tenantName + "/mcp"
}

func (f *fakeVerifier) lastAsked() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[len(f.asked)-1]
}

// Tokens of the fake: alice signed in twice to tenant a (families f1, f2;
// f1 refreshed once), bob once to tenant b.
const (
	tokAlice1  = "mca_alice1"
	tokAlice1r = "mca_alice1-refreshed"
	tokAlice2  = "mca_alice2"
	tokBob     = "mca_bob"
)

func newFakeVerifier() *fakeVerifier {
	alice := tenant.Signin{Tenant: "a", Provider: "google", Account: "alice@example.com", Client: "https://client.example/meta.json", Family: "f1"}
	alice2 := alice
	alice2.Family = "f2"
	return &fakeVerifier{tokens: map[string]tenant.Signin{
		tokAlice1: alice, tokAlice1r: alice, tokAlice2: alice2,
		tokBob: {Tenant: "b", Provider: "google", Account: "bob@example.com", Client: "c", Family: "fb"},
	}}
}

func newOAuthTestHTTP(t *testing.T, f *fakeVerifier) *testHTTP {
	return newTestHTTP(t, serveConfig{oauth: &oauthBearer{verifier: f, invalid: errFakeInvalid}}, "a", "b")
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// initAt initializes a session at path with header pairs and returns its id.
func (ts *testHTTP) initAt(t *testing.T, path, tenantName string, headers ...string) string {
	t.Helper()
	code, h, body := ts.do(t, "POST", path, tenantName, initializeBody, headers...)
	if code != http.StatusOK || h.Get("Mcp-Session-Id") == "" {
		t.Fatalf("initialize at %s: %d %s", path, code, body)
	}
	return h.Get("Mcp-Session-Id")
}

// pingAt pings session id at path with header pairs.
func (ts *testHTTP) pingAt(t *testing.T, path, id, tenantName string, headers ...string) int {
	t.Helper()
	code, _, _ := ts.do(t, "POST", path, tenantName, pingBody, append([]string{"Mcp-Session-Id", id, "Mcp-Protocol-Version", "2025-11-25"}, headers...)...)
	return code
}

func TestTenantEndpointChallenges(t *testing.T) {
	f := newFakeVerifier()
	ts := newOAuthTestHTTP(t, f)
	code, h, body := ts.do(t, "POST", "/t/a/mcp", "", initializeBody)
	want := `Bearer resource_metadata="https://mail.example.com/.well-known/oauth-protected-resource/t/a/mcp", scope="mcp"`
	if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != want || !strings.Contains(body, "API key") || !strings.Contains(body, "OAuth") {
		t.Errorf("no credentials: %d %q %s; want 401 with %q and how to connect", code, h.Get("WWW-Authenticate"), body, want)
	}
	// Alice's token of tenant a at tenant b's endpoint: verified for b (the
	// path's tenant), refused as invalid.
	code, h, body = ts.do(t, "POST", "/t/b/mcp", "", initializeBody, bearer(tokAlice1)...)
	want = `Bearer error="invalid_token", error_description="the access token is unknown, expired, revoked or not for this endpoint; sign in again", resource_metadata="https://mail.example.com/.well-known/oauth-protected-resource/t/b/mcp", scope="mcp"`
	if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != want || f.lastAsked() != "b" {
		t.Errorf("a's token at /t/b/mcp: %d %q %s (verified for %q); want 401 %q, verified for b", code, h.Get("WWW-Authenticate"), body, f.lastAsked(), want)
	}
	if strings.Contains(body, tokAlice1) || strings.Contains(h.Get("WWW-Authenticate"), tokAlice1) {
		t.Error("the refusal echoes the token")
	}
	// The tokens could not be checked: 503, not a 401 that sends the
	// client to sign in again.
	if code, _, body := ts.do(t, "POST", "/t/a/mcp", "", initializeBody, bearer("mca_broken")...); code != http.StatusServiceUnavailable {
		t.Errorf("verifier failing: %d %s; want 503", code, body)
	}
	// Another tenant's API key is refused exactly as an unknown key.
	code, h, body = ts.do(t, "POST", "/t/a/mcp", "b", initializeBody)
	code2, h2, body2 := ts.do(t, "POST", "/t/a/mcp", "", initializeBody, "X-API-Key", "mck_unknown")
	if code != http.StatusUnauthorized || code != code2 || body != body2 || h.Get("WWW-Authenticate") != h2.Get("WWW-Authenticate") {
		t.Errorf("b's key at /t/a/mcp: %d %q %s; an unknown key: %d %q %s; want the same 401", code, h.Get("WWW-Authenticate"), body, code2, h2.Get("WWW-Authenticate"), body2)
	}
	for _, p := range []string{"/t/A/mcp", "/t/-a/mcp", "/t/" + strings.Repeat("a", 64) + "/mcp"} {
		if code, _, body := ts.do(t, "POST", p, "a", initializeBody); code != http.StatusNotFound {
			t.Errorf("%s: %d %s; want 404", p, code, body)
		}
	}
}

func TestTenantEndpointWithoutOAuth(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{}, "a", "b")
	code, h, body := ts.do(t, "POST", "/t/a/mcp", "", initializeBody)
	if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Bearer realm="mailcal"` {
		t.Errorf("no credentials, no OAuth server: %d %q %s; want 401 without resource_metadata", code, h.Get("WWW-Authenticate"), body)
	}
	// An OAuth-looking token is only a wrong key here.
	code, h, _ = ts.do(t, "POST", "/t/a/mcp", "", initializeBody, bearer(tokAlice1)...)
	if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Bearer realm="mailcal", error="invalid_token", error_description="invalid API key"` {
		t.Errorf("token without OAuth server: %d %q", code, h.Get("WWW-Authenticate"))
	}
	id := ts.initAt(t, "/t/a/mcp", "a")
	if code := ts.pingAt(t, "/mcp", id, "a"); code != http.StatusOK {
		t.Errorf("a session opened at /t/a/mcp, used at /mcp with the same key: %d; want 200 (one session table)", code)
	}
	if code := ts.pingAt(t, "/t/b/mcp", id, "b"); code != http.StatusNotFound {
		t.Errorf("a's session with b's key at /t/b/mcp: %d; want 404", code)
	}
}

// Tool handlers get the tenant and the sign-in; API keys carry none.
func TestTenantEndpointCarriesSignin(t *testing.T) {
	ts := newOAuthTestHTTP(t, newFakeVerifier())
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
	for _, c := range []struct {
		tenantName string
		headers    []string
		want       string
	}{
		{"", bearer(tokAlice1), "a alice@example.com"},
		{"a", nil, "a -"},
	} {
		id := ts.initAt(t, "/t/a/mcp", c.tenantName, c.headers...)
		code, _, body := ts.do(t, "POST", "/t/a/mcp", c.tenantName, call, append([]string{"Mcp-Session-Id", id, "Mcp-Protocol-Version", "2025-11-25"}, c.headers...)...)
		if code != http.StatusOK || !strings.Contains(body, c.want) {
			t.Errorf("whoami: %d %s; want %q", code, body, c.want)
		}
	}
}

// A session opened with an OAuth token is bound to its sign-in (the token
// family): a refreshed token of the same sign-in uses it, another sign-in
// of the same person, the tenant's API key and another tenant's token
// cannot; another replica adopts it from the same sign-in only.
func TestTenantEndpointSessionsBoundToSignin(t *testing.T) {
	f := newFakeVerifier()
	ts := newOAuthTestHTTP(t, f)
	id := ts.initAt(t, "/t/a/mcp", "", bearer(tokAlice1)...)
	for _, c := range []struct {
		name, path, tenantName string
		headers                []string
		want                   int
	}{
		{"same token", "/t/a/mcp", "", bearer(tokAlice1), 200},
		{"refreshed token", "/t/a/mcp", "", bearer(tokAlice1r), 200},
		{"another sign-in of alice", "/t/a/mcp", "", bearer(tokAlice2), 404},
		{"the tenant's API key", "/t/a/mcp", "a", nil, 404},
		{"the tenant's API key at /mcp", "/mcp", "a", nil, 404},
		{"bob's token at his endpoint", "/t/b/mcp", "", bearer(tokBob), 404},
	} {
		if code := ts.pingAt(t, c.path, id, c.tenantName, c.headers...); code != c.want {
			t.Errorf("%s: %d; want %d", c.name, code, c.want)
		}
	}

	other := newOAuthTestHTTP(t, f)
	if code := other.pingAt(t, "/t/a/mcp", id, "", bearer(tokAlice2)...); code != http.StatusNotFound {
		t.Errorf("another replica, another sign-in: %d; want 404", code)
	}
	if code := other.pingAt(t, "/t/a/mcp", id, "a"); code != http.StatusNotFound {
		t.Errorf("another replica, the tenant's API key: %d; want 404", code)
	}
	if code := other.pingAt(t, "/t/a/mcp", id, "", bearer(tokAlice1r)...); code != http.StatusOK {
		t.Errorf("another replica, the same sign-in: %d; want 200 (adopted)", code)
	}
	if code := other.pingAt(t, "/t/a/mcp", id, "", bearer(tokAlice2)...); code != http.StatusNotFound {
		t.Errorf("another replica, once adopted, another sign-in: %d; want 404", code)
	}
}

// The tenant given a new key ends what its old key opened, not what its
// sign-ins opened; removing the tenant ends both.
func TestRekeyKeepsSigninSessions(t *testing.T) {
	ts := newOAuthTestHTTP(t, newFakeVerifier())
	signin := ts.initAt(t, "/t/a/mcp", "", bearer(tokAlice1)...)
	keyed := ts.initAt(t, "/t/a/mcp", "a")
	for name, keys := range ts.sessions.keysInUse() {
		if name == "a" && (len(keys) != 1 || !keys[tenant.HashKey(ts.keys["a"])]) {
			t.Errorf("keys in use of a: %v; want only its API key's hash", keys)
		}
	}
	ts.sessions.endTenant("a", tenant.HashKey("mck_the-next-key"))
	if code := ts.pingAt(t, "/t/a/mcp", keyed, "a"); code != http.StatusNotFound {
		t.Errorf("the old key's session after a new key: %d; want 404", code)
	}
	if code := ts.pingAt(t, "/t/a/mcp", signin, "", bearer(tokAlice1)...); code != http.StatusOK {
		t.Errorf("the sign-in's session after a new key: %d; want 200", code)
	}
	ts.sessions.endTenant("a", "")
	if code := ts.pingAt(t, "/t/a/mcp", signin, "", bearer(tokAlice1)...); code != http.StatusNotFound {
		t.Errorf("the sign-in's session after the tenant's removal: %d; want 404", code)
	}
}

// Wrong OAuth tokens spend the source's budget of wrong keys.
func TestWrongTokensRateLimited(t *testing.T) {
	ts := newOAuthTestHTTP(t, newFakeVerifier())
	var limited int
	for range 40 {
		code, h, _ := ts.do(t, "POST", "/t/a/mcp", "", pingBody, bearer("mca_wrong")...)
		switch code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			if h.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			limited++
		default:
			t.Fatalf("wrong token: %d", code)
		}
	}
	if limited == 0 {
		t.Fatal("40 wrong tokens from one address, none limited")
	}
	// A right token from the limited address still passes.
	ts.initAt(t, "/t/a/mcp", "", bearer(tokAlice1)...)
}

func TestHalfConfiguredOAuthRefused(t *testing.T) {
	for _, ob := range []*oauthBearer{{verifier: newFakeVerifier()}, {invalid: errFakeInvalid}} {
		if err := ob.check(); err == nil {
			t.Errorf("%+v accepted", ob)
		}
	}
	var none *oauthBearer
	if err := none.check(); err != nil {
		t.Errorf("no OAuth server: %v", err)
	}
}

// A sign-in this process revoked has its sessions ended at once; another
// sign-in of the same person, and the tenant's API key, keep theirs.
func TestRevokedSigninEndsItsSessions(t *testing.T) {
	ts := newOAuthTestHTTP(t, newFakeVerifier())
	revoked := ts.initAt(t, "/t/a/mcp", "", bearer(tokAlice1)...)
	other := ts.initAt(t, "/t/a/mcp", "", bearer(tokAlice2)...)
	keyed := ts.initAt(t, "/t/a/mcp", "a")
	ts.sessions.endSignin("f1")
	if code := ts.pingAt(t, "/t/a/mcp", revoked, "", bearer(tokAlice1r)...); code != http.StatusNotFound {
		t.Errorf("the revoked sign-in's session: %d; want 404", code)
	}
	if code := ts.pingAt(t, "/t/a/mcp", other, "", bearer(tokAlice2)...); code != http.StatusOK {
		t.Errorf("alice's other sign-in: %d; want 200", code)
	}
	if code := ts.pingAt(t, "/t/a/mcp", keyed, "a"); code != http.StatusOK {
		t.Errorf("the API key's session: %d; want 200", code)
	}
}
