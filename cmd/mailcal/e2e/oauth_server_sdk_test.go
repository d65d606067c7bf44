//go:build unix

package e2e

// The official TypeScript SDK's MCP client against mailcal's OAuth server
// (testdata/npm/oauth-client.mjs, on the pinned Node): identified by a
// Client ID Metadata Document or registered dynamically, signing in through
// two replicas behind the balancer, for Google and for Microsoft accounts.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestE2EOAuthServerSDKMetadataDocument: the TypeScript SDK's client,
// identified by a Client ID Metadata Document served over https, signs in
// through two replicas behind the balancer (mailcal's consent page, the
// provider's consent, the callback), gets tokens, sees only the account it
// signed in with, and refreshes after a 401.
func TestE2EOAuthServerSDKMetadataDocument(t *testing.T) {
	t.Parallel()
	n := needNPM(t)
	mh := newMetadataHost(t)
	fx := newOAuthFixture(t, 2, true, "SSL_CERT_FILE="+mh.caFile, "MAILCAL_OAUTH_ALLOW_PRIVATE_CLIENTS=1")
	for _, provider := range []string{"google", "microsoft"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			name := "cimd-" + provider
			key := fx.tenant(t, name)
			fx.allowSignins(t, name, "*@example.com")
			fx.connectREST(t, key, provider, bob) // a colleague's account, not the signed-in person's
			redirect := loopbackRedirect(t)
			clientID := mh.publish(t, "/clients/"+provider+".json", "mailcal e2e (TypeScript SDK)", redirect)

			// No login_hint and no provider: the consent page offers both
			// providers, the browser presses one; the fake signs in alice.
			run := fx.sdkSignIn(t, n, "--server", fx.resource(name), "--redirect-uri", redirect,
				"--mode", "cimd", "--client-metadata-url", clientID, "--provider", provider)
			fx.checkSDKRun(t, run, name, provider, alice)
			if run.ClientID != clientID {
				t.Errorf("client_id %q, want the metadata document's URL %s", run.ClientID, clientID)
			}
			if len(run.requested("POST", fx.proxy.base+"/register", "", http.StatusCreated)) != 0 {
				t.Errorf("the SDK registered although mailcal takes metadata documents")
			}
			if !slices.Contains(run.ChoicePage, "google") || !slices.Contains(run.ChoicePage, "microsoft") {
				t.Errorf("the consent page offered %v, want google and microsoft", run.ChoicePage)
			}
			if got, want := fx.accounts(t, name), []string{provider + " " + alice, provider + " " + bob}; !slices.Equal(got, want) {
				t.Errorf("the tenant's accounts after the sign-in: %v, want %v (signing in connects the account)", got, want)
			}
		})
	}
	t.Cleanup(func() {
		if mh.fetches.Load() == 0 {
			t.Errorf("mailcal never fetched the client metadata documents")
		}
		for i, n := range fx.served() {
			if n == 0 {
				t.Errorf("replica %d served none of the requests", i)
			}
		}
	})
}

// TestE2EOAuthServerSDKRegistration: the TypeScript SDK's client without a
// metadata document registers dynamically (RFC 7591), and signs in with
// login_hint and provider given (the consent page offers that provider only).
func TestE2EOAuthServerSDKRegistration(t *testing.T) {
	t.Parallel()
	n := needNPM(t)
	fx := newOAuthFixture(t, 2, true)
	key := fx.tenant(t, "dcr")
	fx.allowSignins(t, "dcr", bob)
	fx.connectREST(t, key, "microsoft", alice)
	redirect := loopbackRedirect(t)
	run := fx.sdkSignIn(t, n, "--server", fx.resource("dcr"), "--redirect-uri", redirect,
		"--mode", "dcr", "--provider", "microsoft", "--provider-param", "--login-hint", bob)
	fx.checkSDKRun(t, run, "dcr", "microsoft", bob)
	if !strings.HasPrefix(run.ClientID, "mcc_") || len(run.requested("POST", fx.proxy.base+"/register", "", http.StatusCreated)) != 1 {
		t.Errorf("client_id %q, want one registration (POST /register 201) and an mcc_ client_id", run.ClientID)
	}
	if strings.Join(run.ChoicePage, ",") != "microsoft" {
		t.Errorf("the consent page offered %v, want only the provider given (microsoft)", run.ChoicePage)
	}
}

// checkSDKRun checks what the SDK's client saw of a sign-in of email at
// provider to tenant's endpoint.
func (fx *oauthFixture) checkSDKRun(t *testing.T, run sdkOAuthRun, tenantName, provider, email string) {
	t.Helper()
	base := fx.proxy.base
	prm := base + "/.well-known/oauth-protected-resource/t/" + tenantName + "/mcp"
	for _, want := range []struct{ method, url, grant string }{
		{"GET", prm, ""},
		{"GET", base + "/.well-known/oauth-authorization-server", ""},
		{"POST", base + "/token", "authorization_code"},
		{"POST", base + "/token", "refresh_token"},
	} {
		got := run.requested(want.method, want.url, want.grant, http.StatusOK)
		if len(got) == 0 {
			t.Errorf("the SDK's requests have no %s %s %s answered 200: %+v", want.method, want.url, want.grant, run.Requests)
		}
		for _, r := range got {
			if want.grant != "" && r.Resource != fx.resource(tenantName) {
				t.Errorf("%s %s: resource %q, want %s", want.url, want.grant, r.Resource, fx.resource(tenantName))
			}
		}
	}
	a := run.Authorize
	if a.URL != base+"/authorize" || a.ResponseType != "code" || a.CodeChallengeMethod != "S256" ||
		a.Resource != fx.resource(tenantName) || !a.HasState || a.Scope != "mcp" {
		t.Errorf("the authorization request: %+v, want %s/authorize, code, S256, resource %s, a state and scope mcp", a, base, fx.resource(tenantName))
	}
	if run.Iss != base {
		t.Errorf("the redirect to the client carried iss %q, want the issuer %s", run.Iss, base)
	}
	var through []string
	for _, h := range run.Hops {
		through = append(through, h.URL)
	}
	t.Logf("the SDK signed in %s at %s as client %s through %v; %d requests of its own, refreshed %t",
		email, provider, run.ClientID, run.Hops, len(run.Requests), run.Refreshed)
	if !slices.Contains(through, base+"/authorize") || !slices.ContainsFunc(through, func(u string) bool { return strings.HasSuffix(u, "/oauth/callback") }) {
		t.Errorf("the browser went through %v, want mailcal's /authorize and /oauth/callback", through)
	}
	if !run.Refreshed || !run.AccessTokenChanged || !run.RefreshTokenRotated {
		t.Errorf("after the spoilt access token: refreshed %t, new access token %t, refresh token rotated %t; want all",
			run.Refreshed, run.AccessTokenChanged, run.RefreshTokenRotated)
	}
	if !strings.EqualFold(run.TokenType, "bearer") || run.GrantedScope != "mcp" {
		t.Errorf("token_type %q, scope %q; want Bearer and mcp", run.TokenType, run.GrantedScope)
	}
	for _, tool := range []string{"list_accounts", "list_messages", "send_email", "list_events"} {
		if !slices.Contains(run.Tools, tool) {
			t.Errorf("tools/list has no %s: %v", tool, run.Tools)
		}
	}
	for label, list := range map[string][]wireAccount{
		"list_accounts": run.ListAccounts.Accounts, "list_accounts after the refresh": run.ListAccountsAfterRefresh.Accounts,
	} {
		if len(list) != 1 || list[0].Account != email || list[0].Provider != provider {
			t.Errorf("%s through the signed-in token: %+v, want only %s's %s account", label, list, email, provider)
		}
	}
}

// --- the TypeScript SDK's client

// sdkOAuthRun is the JSON line oauth-client.mjs prints.
type sdkOAuthRun struct {
	ClientID  string `json:"client_id"`
	Authorize struct {
		URL                 string `json:"url"`
		ResponseType        string `json:"response_type"`
		CodeChallengeMethod string `json:"code_challenge_method"`
		Resource            string `json:"resource"`
		Scope               string `json:"scope"`
		HasState            bool   `json:"has_state"`
	} `json:"authorize"`
	Iss        string   `json:"iss"`
	ChoicePage []string `json:"choice_page"`
	Hops       []struct {
		URL    string `json:"url"`
		Status int    `json:"status"`
	} `json:"hops"`
	Requests            []sdkRequest `json:"requests"`
	Refreshed           bool         `json:"refreshed"`
	AccessTokenChanged  bool         `json:"access_token_changed"`
	RefreshTokenRotated bool         `json:"refresh_token_rotated"`
	TokenType           string       `json:"token_type"`
	GrantedScope        string       `json:"granted_scope"`
	Tools               []string     `json:"tools"`
	ListAccounts        struct {
		Accounts []wireAccount `json:"accounts"`
	} `json:"list_accounts"`
	ListAccountsAfterRefresh struct {
		Accounts []wireAccount `json:"accounts"`
	} `json:"list_accounts_after_refresh"`
}

// sdkRequest is one request of the SDK's (its URL without the query).
type sdkRequest struct {
	Method    string `json:"method"`
	URL       string `json:"url"`
	Status    int    `json:"status"`
	GrantType string `json:"grant_type"`
	Resource  string `json:"resource"`
}

// requested returns the SDK's requests of method u (and grant type, when
// not "") that got status.
func (r sdkOAuthRun) requested(method, u, grantType string, status int) []sdkRequest {
	var out []sdkRequest
	for _, q := range r.Requests {
		if q.Method == method && q.URL == u && q.Status == status && (grantType == "" || q.GrantType == grantType) {
			out = append(out, q)
		}
	}
	return out
}

// sdkSignIn runs oauth-client.mjs on the pinned Node with args, bounded, and
// decodes its line; its output goes to the leak audit.
func (fx *oauthFixture) sdkSignIn(t *testing.T, n npmTools, args ...string) sdkOAuthRun {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	script := filepath.Join(root, "testdata", "npm", "oauth-client.mjs")
	cmd := command(ctx, n.node22, append([]string{script, "--deadline-ms", "100000"}, args...)...)
	cmd.Env = fx.k.env("NO_COLOR=1")
	cmd.Dir = fx.k.home
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	fx.leaks.record("oauth-client.mjs stdout", out.String())
	fx.leaks.record("oauth-client.mjs stderr", errOut.String())
	if err != nil {
		t.Fatalf("oauth-client.mjs %v: %v\nstderr: %s\nstdout: %s", args, err, tail(errOut.String(), 3000), tail(out.String(), 2000))
	}
	var run sdkOAuthRun
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &run); err != nil {
		t.Fatalf("oauth-client.mjs printed no JSON line (%v): %s", err, tail(out.String(), 2000))
	}
	return run
}
