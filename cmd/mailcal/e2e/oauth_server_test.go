//go:build unix

package e2e

// mailcal as the OAuth authorization server of its own MCP endpoints,
// end to end, each guarantee on its own with a Go client
// (oauth_server_client_test.go): a sign-in split between replicas, refresh
// rotation and reuse detection, revocation, tokens bound to their tenant's
// endpoint, shared_accounts, allowed_signins, metadata documents on private
// addresses. The official TypeScript SDK's client signs in end to end in
// oauth_server_sdk_test.go.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2EOAuthServerReplicas: with a Go client, discovery from the 401;
// the authorization request on one replica, the callback and the token
// on the other; a code spent once; refresh rotation, and a reused refresh
// token revoking its family (the rotated refresh token and the access
// tokens stop working on every replica); revocation (RFC 7009); one
// refresh token sent to both replicas at once never answers two new pairs.
func TestE2EOAuthServerReplicas(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, 2, true)
	key := fx.tenant(t, "acme")
	fx.allowSignins(t, "acme", alice)
	fx.connectREST(t, key, "google", bob)
	fx.checkDiscovery(t, "acme")

	c := &oauthClient{fx: fx, tenant: "acme", redirectURI: loopbackRedirect(t)}
	c.id = fx.register(t, c.redirectURI)
	p, r := c.authorize(t, fx.replicas[0], "google", alice)
	code := c.code(t, p, c.consent(t, "google", r, fx.replicas[1]))
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {p.verifier}, "redirect_uri": {c.redirectURI}}
	wrong := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {randomToken(t)}, "redirect_uri": {c.redirectURI}}
	c.token(t, fx.replicas[1], wrong).mustFail(t, "the code with another verifier", "invalid_grant")
	first := c.token(t, fx.replicas[1], exchange)
	if first.status == http.StatusBadRequest && first.Error == "invalid_grant" {
		// A wrong verifier may spend the code (the spec allows either);
		// then sign in again.
		first = c.signIn(t, "google", alice, 0, 1)
	}
	first.mustOK(t, "the code's exchange on the other replica")
	c.token(t, fx.replicas[0], exchange).mustFail(t, "the code spent a second time", "invalid_grant")

	mc := fx.tenantClient(t, fx.proxy, "acme", first.AccessToken)
	if got := fx.listed(t, mc); !slices.Equal(got, []string{"google " + alice}) {
		t.Errorf("list_accounts with alice's token: %v, want only her account (not bob's)", got)
	}
	if err := checkAccountOK(fx.call(t, mc, "check_account", nil), alice); err != nil {
		t.Errorf("check_account without account, with alice's token: %v", err)
	}

	// Rotation: each refresh token is spent once, on either replica.
	second := c.refresh(t, fx.replicas[0], first.RefreshToken)
	second.mustOK(t, "the first refresh")
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("the refresh answered the same tokens, want new ones")
	}
	if st := fx.mcpStatus(t, fx.replicas[1], "acme", second.AccessToken).status; st != http.StatusOK {
		t.Fatalf("the refreshed access token on the other replica: %d, want 200", st)
	}
	// The first refresh token again: reuse, which revokes the family.
	c.refresh(t, fx.replicas[1], first.RefreshToken).mustFail(t, "a spent refresh token", "invalid_grant")
	revoked := time.Now()
	c.refresh(t, fx.replicas[0], second.RefreshToken).mustFail(t, "the rotated refresh token after a reuse", "invalid_grant")
	fx.waitRefused(t, "the family's access tokens after a reuse", "acme", revoked, first.AccessToken, second.AccessToken)
	if _, err := fx.callTool(mc, "list_accounts", nil); err == nil {
		t.Errorf("a session opened with a revoked family's token still answers")
	}

	// Revocation: an access token, then a refresh token, of a new sign-in.
	third := c.signIn(t, "google", alice, 1, 0)
	for _, s := range fx.replicas { // each replica has it validated (cached)
		if st := fx.mcpStatus(t, s, "acme", third.AccessToken).status; st != http.StatusOK {
			t.Fatalf("a new sign-in's access token: %d, want 200", st)
		}
	}
	c.revoke(t, third.AccessToken, "access_token")
	fx.waitRefused(t, "a revoked access token", "acme", time.Now(), third.AccessToken)
	c.revoke(t, third.RefreshToken, "refresh_token")
	c.refresh(t, fx.replicas[1], third.RefreshToken).mustFail(t, "a revoked refresh token", "invalid_grant")
	c.revoke(t, "mca_"+strings.Repeat("x", 43), "access_token") // unknown: 200 all the same

	// Both replicas handed one refresh token at once: at most one answers
	// new tokens, and the other's reuse revokes them with the rest.
	for round := range 3 {
		tok := c.signIn(t, "google", alice, round%2, (round+1)%2)
		var (
			answers [2]tokenAnswer
			errs    [2]error
			wg      sync.WaitGroup
		)
		for i := range answers {
			wg.Go(func() {
				answers[i], errs[i] = c.tryToken(fx.replicas[i], url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			})
		}
		wg.Wait()
		raced := time.Now()
		won, issued := 0, []string{tok.AccessToken}
		for i, a := range answers {
			switch {
			case errs[i] != nil:
				t.Fatal(errs[i])
			case a.status == http.StatusOK:
				won++
				issued = append(issued, a.AccessToken)
			case a.status != http.StatusBadRequest || a.Error != "invalid_grant":
				t.Errorf("round %d: replica %d answered %d %q, want new tokens or invalid_grant", round, i, a.status, a.Error)
			}
		}
		if won > 1 {
			t.Errorf("round %d: both replicas answered new tokens for one refresh token", round)
		}
		fx.waitRefused(t, fmt.Sprintf("round %d (%d of 2 answered tokens): the tokens of a refresh token spent twice at once", round, won), "acme", raced, issued...)
	}
}

// waitRefused waits until every replica refuses each token (401
// invalid_token) and fails the test unless that happened within about 2 s
// of since: a replica trusts a token it validated for 2 s without reading
// the store again.
func (fx *oauthFixture) waitRefused(t *testing.T, who, tenantName string, since time.Time, tokens ...string) {
	t.Helper()
	var worst time.Duration
	for i, s := range fx.replicas {
		for _, tok := range tokens {
			for {
				r := fx.mcpStatus(t, s, tenantName, tok)
				if r.status == http.StatusUnauthorized {
					fx.checkChallenge(t, who, r, tenantName, "invalid_token")
					worst = max(worst, time.Since(since))
					break
				}
				if time.Since(since) > 5*time.Second {
					t.Fatalf("%s: replica %d still answers %d 5 s later, want 401", who, i, r.status)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	t.Logf("%s: refused by every replica within %s", who, worst.Round(time.Millisecond))
	if worst > 3*time.Second { // 2 s, and the polling's own requests on a busy machine
		t.Errorf("%s: refused by every replica only after %s, want within 2 s", who, worst.Round(time.Millisecond))
	}
}

// checkDiscovery checks the 401 of a tenant's endpoint, its
// protected-resource metadata and the authorization server's metadata.
func (fx *oauthFixture) checkDiscovery(t *testing.T, tenantName string) {
	t.Helper()
	base := fx.proxy.base
	fx.checkChallenge(t, "no token", fx.mcpStatus(t, fx.proxy, tenantName, ""), tenantName, "")
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	fx.getJSON(t, "/.well-known/oauth-protected-resource/t/"+tenantName+"/mcp", &prm)
	if prm.Resource != fx.resource(tenantName) || !slices.Equal(prm.AuthorizationServers, []string{base}) || !slices.Equal(prm.ScopesSupported, []string{"mcp"}) {
		t.Errorf("protected-resource metadata %+v, want resource %s, authorization_servers [%s], scopes_supported [mcp]", prm, fx.resource(tenantName), base)
	}
	var as struct {
		Issuer           string   `json:"issuer"`
		Authorization    string   `json:"authorization_endpoint"`
		Token            string   `json:"token_endpoint"`
		Registration     string   `json:"registration_endpoint"`
		Revocation       string   `json:"revocation_endpoint"`
		Challenges       []string `json:"code_challenge_methods_supported"`
		ResponseTypes    []string `json:"response_types_supported"`
		GrantTypes       []string `json:"grant_types_supported"`
		Scopes           []string `json:"scopes_supported"`
		MetadataDocument bool     `json:"client_id_metadata_document_supported"`
		IssParameter     bool     `json:"authorization_response_iss_parameter_supported"`
	}
	fx.getJSON(t, "/.well-known/oauth-authorization-server", &as)
	if as.Issuer != base || as.Authorization != base+"/authorize" || as.Token != base+"/token" ||
		as.Registration != base+"/register" || as.Revocation != base+"/revoke" {
		t.Errorf("authorization-server metadata endpoints %+v, want issuer %s and its /authorize, /token, /register, /revoke", as, base)
	}
	if !slices.Equal(as.Challenges, []string{"S256"}) || !slices.Equal(as.ResponseTypes, []string{"code"}) ||
		!slices.Contains(as.GrantTypes, "authorization_code") || !slices.Contains(as.GrantTypes, "refresh_token") ||
		!slices.Equal(as.Scopes, []string{"mcp"}) || !as.MetadataDocument || !as.IssParameter {
		t.Errorf("authorization-server metadata %+v, want S256 only, code, both grants, scope mcp, metadata documents, iss in the answer", as)
	}
}

// TestE2EOAuthServerTenantBound, on the file keyring: a token issued for
// tenant a's endpoint is refused at b's (and b's API key at a's), while
// a's API key keeps working on a's endpoint; the signed-in person uses
// only their own account until the policy's shared_accounts lets them use
// the tenant's others.
func TestE2EOAuthServerTenantBound(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, 1, false)
	keyA, keyB := fx.tenant(t, "a"), fx.tenant(t, "b")
	for _, name := range []string{"a", "b"} {
		fx.allowSignins(t, name, "*@example.com")
	}
	fx.connectREST(t, keyA, "google", bob)
	c := &oauthClient{fx: fx, tenant: "a", redirectURI: loopbackRedirect(t)}
	c.id = fx.register(t, c.redirectURI)
	tok := c.signIn(t, "google", alice, 0, 0)

	fx.checkChallenge(t, "a's token at b's endpoint", fx.mcpStatus(t, fx.proxy, "b", tok.AccessToken), "b", "invalid_token")
	fx.checkChallenge(t, "b's API key at a's endpoint", fx.mcpStatus(t, fx.proxy, "a", keyB), "a", "")
	// A refresh token of a's is not exchanged for b's resource.
	if other := c.token(t, fx.proxy, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {fx.resource("b")}}); other.status != http.StatusBadRequest ||
		other.AccessToken != "" || (other.Error != "invalid_target" && other.Error != "invalid_grant") {
		t.Errorf("a's refresh token for b's resource: %d %q, want 400 invalid_target (or invalid_grant) and no token", other.status, other.Error)
	}
	// That refusal did not spend it: a's client refreshes for a's resource.
	tok = c.refresh(t, fx.proxy, tok.RefreshToken)
	tok.mustOK(t, "the refresh for a's resource after the refusal for b's")

	both := []string{"google " + alice, "google " + bob}
	withToken := fx.tenantClient(t, fx.proxy, "a", tok.AccessToken)
	if got := fx.listed(t, withToken); !slices.Equal(got, []string{"google " + alice}) {
		t.Errorf("list_accounts with alice's token at a: %v, want only alice", got)
	}
	fx.callFails(t, withToken, "check_account", map[string]any{"account": bob})
	withKey := fx.tenantClient(t, fx.proxy, "a", keyA)
	if got := fx.listed(t, withKey); !slices.Equal(got, both) {
		t.Errorf("list_accounts with a's API key at a: %v, want both accounts", got)
	}
	fx.checkOK(t, "a's API key at /t/a/mcp", withKey, bob)

	// shared_accounts: the signed-in person may use the tenant's other
	// accounts (the server sees another process's policy change within
	// seconds).
	if out, errOut, code := fx.run(t, "policy", "set", "--tenant", "a", "--shared-accounts", "true"); code != 0 {
		t.Fatalf("policy set --shared-accounts true: exit %d, %q %s", code, out, tail(errOut, 500))
	}
	deadline := time.Now().Add(10 * time.Second)
	for got := fx.listed(t, withToken); !slices.Equal(got, both); got = fx.listed(t, withToken) {
		if time.Now().After(deadline) {
			t.Fatalf("list_accounts with alice's token under shared_accounts: %v, want both accounts", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fx.checkOK(t, "alice's token naming bob under shared_accounts", withToken, bob)
}

// TestE2EOAuthServerSigninRefused: a tenant whose allowed_signins is empty
// lets nobody in, and says how an operator adds people; a person outside
// the list is refused with a page, no code reaches the client, and no
// account is added to the tenant; a person on it signs in.
func TestE2EOAuthServerSigninRefused(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, 2, true)
	fx.tenant(t, "acme")
	c := &oauthClient{fx: fx, tenant: "acme", redirectURI: loopbackRedirect(t)}
	c.id = fx.register(t, c.redirectURI)
	refused := func(who, email, provider string, wants ...string) {
		t.Helper()
		_, page := c.authorize(t, fx.replicas[0], provider, email)
		if page.status != http.StatusForbidden { // refused once the provider said who it is
			page = c.consent(t, provider, page, fx.replicas[1])
		}
		fx.leaks.record("refusal page", string(page.body))
		text := pageText(page.body)
		if page.status != http.StatusForbidden || page.header.Get("Location") != "" || strings.Contains(string(page.body), "mco_") {
			t.Errorf("%s: %d (Location %q) %s, want a 403 page and no redirect", who, page.status, page.header.Get("Location"), text)
		}
		if !strings.Contains(page.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q, want a page", who, page.header.Get("Content-Type"))
		}
		for _, w := range wants {
			if !strings.Contains(string(page.body), w) {
				t.Errorf("%s: the page does not say %q: %s", who, w, text)
			}
		}
	}
	refused("nobody allowed yet", alice, "google", "mailcal policy set", "--allowed-signins")
	fx.allowSignins(t, "acme", alice+",*@example.org")
	refused("bob outside the list", bob, "microsoft", bob)
	if got := fx.accounts(t, "acme"); len(got) != 0 {
		t.Errorf("the tenant's accounts after the refusals: %v, want none", got)
	}
	c.signIn(t, "google", alice, 1, 0)
	if got := fx.accounts(t, "acme"); !slices.Equal(got, []string{"google " + alice}) {
		t.Errorf("the tenant's accounts after alice signed in: %v, want only hers", got)
	}
}

// TestE2EOAuthServerPrivateClient, on the file keyring: a Client ID
// Metadata Document on 127.0.0.1 is refused without
// MAILCAL_OAUTH_ALLOW_PRIVATE_CLIENTS, with an error page naming the
// reason, no redirect and no request to that address.
func TestE2EOAuthServerPrivateClient(t *testing.T) {
	t.Parallel()
	mh := newMetadataHost(t)
	fx := newOAuthFixture(t, 1, false, "SSL_CERT_FILE="+mh.caFile)
	fx.tenant(t, "acme")
	fx.allowSignins(t, "acme", "*@example.com")
	redirect := loopbackRedirect(t)
	c := &oauthClient{fx: fx, tenant: "acme", redirectURI: redirect, id: mh.publish(t, "/client.json", "private", redirect)}
	_, r := c.authorize(t, fx.replicas[0], "google", alice)
	fx.leaks.record("private client page", string(r.body))
	text := strings.ToLower(pageText(r.body))
	if r.status < 400 || r.status >= 500 || r.header.Get("Location") != "" {
		t.Errorf("/authorize with a metadata document on 127.0.0.1: %d (Location %q) %s, want an error page and no redirect",
			r.status, r.header.Get("Location"), text)
	}
	if !strings.Contains(text, "private") && !strings.Contains(text, "loopback") {
		t.Errorf("the error page does not name the reason (a private or loopback address): %s", text)
	}
	if n := mh.fetches.Load(); n != 0 {
		t.Errorf("mailcal fetched the document on 127.0.0.1 %d times, want never", n)
	}
	// The same tenant with a registered client signs in on the keyring.
	c.id = fx.register(t, redirect)
	tok := c.signIn(t, "google", alice, 0, 0)
	if st := fx.mcpStatus(t, fx.proxy, "acme", tok.AccessToken).status; st != http.StatusOK {
		t.Errorf("the access token on the keyring store: %d, want 200", st)
	}
}
