package oauthtest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

const ann = "ann@example.com"

func start(t *testing.T, cfg oauthtest.Config) *oauthtest.Server {
	t.Helper()
	s := oauthtest.New(cfg)
	t.Cleanup(s.Close)
	s.AddUser(ann)
	return s
}

// pkce returns a verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize approves an authorization request at path with the standard
// parameters (PKCE from seed) and extra ones; it returns the redirect.
func authorize(t *testing.T, s *oauthtest.Server, path, seed string, extra url.Values) *url.URL {
	t.Helper()
	_, challenge := pkce(seed)
	q := url.Values{"client_id": {oauthtest.DefaultClientID}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"st"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	loc, err := s.Approve(context.Background(), s.URL()+path+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// post sends a form, with HTTP Basic when user is not empty, and decodes a
// JSON answer.
func post(t *testing.T, rawURL string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return do(t, req)
}

func get(t *testing.T, rawURL, bearer string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	if w := resp.Header.Get("WWW-Authenticate"); w != "" {
		if body == nil {
			body = map[string]any{}
		}
		body["WWW-Authenticate"] = w
	}
	return resp.StatusCode, body
}

// client is the default client's credentials in the body.
func client(form url.Values) url.Values {
	form.Set("client_id", oauthtest.DefaultClientID)
	form.Set("client_secret", oauthtest.DefaultClientSecret)
	return form
}

// exchange redeems the code of a redirect made by authorize with seed.
func exchange(t *testing.T, s *oauthtest.Server, path string, loc *url.URL, seed string) (int, map[string]any) {
	t.Helper()
	verifier, _ := pkce(seed)
	return post(t, s.URL()+path, client(url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}), "", "")
}

func refresh(t *testing.T, s *oauthtest.Server, path, rt string) (int, map[string]any) {
	t.Helper()
	return post(t, s.URL()+path, client(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), "", "")
}

func str(v any) string { s, _ := v.(string); return s }

func claims(t *testing.T, idToken string) map[string]any {
	t.Helper()
	parts := strings.Split(idToken, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[min(1, len(parts)-1)])
	var c map[string]any
	if err != nil || len(parts) != 3 || json.Unmarshal(payload, &c) != nil {
		t.Fatalf("id_token %q", idToken)
	}
	return c
}

// TestDefaults: the zero Config is the RFCs' server.
func TestDefaults(t *testing.T) {
	s := start(t, oauthtest.Config{})
	_, doc := get(t, s.URL()+"/.well-known/openid-configuration", "")
	if doc["issuer"] != s.URL() || doc["authorization_endpoint"] != s.URL()+"/authorize" || doc["token_endpoint"] != s.URL()+"/token" ||
		doc["revocation_endpoint"] != nil || doc["userinfo_endpoint"] != nil {
		t.Fatalf("discovery %v", doc)
	}
	loc := authorize(t, s, "/authorize", "a", url.Values{"nonce": {"n-1"}})
	if q := loc.Query(); q.Get("state") != "st" || q.Get("code") == "" || len(q) != 2 {
		t.Fatalf("redirect %s", loc)
	}
	status, tok := exchange(t, s, "/token", loc, "a")
	if status != 200 || str(tok["refresh_token"]) == "" || tok["token_type"] != "Bearer" || tok["expires_in"] != 3600.0 || tok["scope"] != "email openid" {
		t.Fatalf("exchange %d %v", status, tok)
	}
	c := claims(t, str(tok["id_token"]))
	if c["iss"] != s.URL() || c["aud"] != oauthtest.DefaultClientID || c["sub"] != s.Sub(ann) || c["nonce"] != "n-1" || len(c) != 6 {
		t.Fatalf("claims %v", c)
	}
	if email, scopes, ok := s.CheckToken(str(tok["access_token"])); !ok || email != ann || !slices.Equal(scopes, []string{"email", "openid"}) {
		t.Fatalf("CheckToken %v %v %v", email, scopes, ok)
	}
	// No rotation: no refresh_token in the answer, the old one still works.
	for range 2 {
		if status, nt := refresh(t, s, "/token", str(tok["refresh_token"])); status != 200 || nt["refresh_token"] != nil {
			t.Fatalf("refresh %d %v", status, nt)
		}
	}
	// A replayed code fails and kills what it gave.
	if status, body := exchange(t, s, "/token", loc, "a"); status != 400 || body["error"] != "invalid_grant" || body["error_description"] != "Code already used." {
		t.Fatalf("replay %d %v", status, body)
	}
	if _, _, ok := s.CheckToken(str(tok["access_token"])); ok {
		t.Fatal("replay left the access token valid")
	}
	// No revocation or identity endpoint unless configured.
	if status, _ := post(t, s.URL()+"/revoke", url.Values{"token": {"x"}}, "", ""); status != 404 {
		t.Fatalf("revoke %d", status)
	}
	if status, _ := get(t, s.URL()+"/userinfo", str(tok["access_token"])); status != 404 {
		t.Fatalf("userinfo %d", status)
	}
	if _, err := s.Approve(context.Background(), s.URL()+"/authorize?client_id=nobody"); err == nil ||
		!strings.Contains(err.Error(), "oauthtest: authorization page answered 401: invalid_client Error 401: invalid_client Unknown client.") {
		t.Fatalf("unknown client: %v", err)
	}
	if n := s.TokenRequests("authorization_code"); n != 2 {
		t.Fatalf("%d code requests", n)
	}
}

// graphError is Microsoft Graph's error body.
func graphError(w http.ResponseWriter, e oauthtest.Error) {
	code := map[int]string{401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied"}[e.Status]
	oauthtest.WriteJSON(w, e.Status, map[string]any{"error": map[string]string{"code": code, "message": e.Description}})
}

// aadError is Microsoft identity platform's token error: the AADSTS code
// also as a number.
func aadError(w http.ResponseWriter, e oauthtest.Error) {
	num := 0
	if _, rest, ok := strings.Cut(e.Description, "AADSTS"); ok {
		for _, c := range rest {
			if c < '0' || c > '9' {
				break
			}
			num = num*10 + int(c-'0')
		}
	}
	oauthtest.WriteJSON(w, e.Status, map[string]any{"error": e.Code, "error_description": e.Description, "error_codes": []int{num}})
}

// microsoftLike is a configuration in the shape of Microsoft's identity
// platform: tenant paths, offline_access, rotating refresh tokens, no
// revocation endpoint, AADSTS errors sent back to the client, Graph's /me.
func microsoftLike() oauthtest.Config {
	return oauthtest.Config{
		Name:          "mstest",
		DiscoveryPath: "/{tenant}/v2.0/.well-known/openid-configuration",
		Scopes:        oauthtest.Scopes{Basic: []string{"openid", "profile", "email", "offline_access"}},
		Authorize: oauthtest.Authorize{
			Paths:          []string{"/{tenant}/oauth2/v2.0/authorize"},
			RedirectErrors: true,
			IncludeGranted: func(url.Values) bool { return true },
			RefreshToken:   func(c oauthtest.Consent) bool { return slices.Contains(c.Granted, "offline_access") },
		},
		Tokens: oauthtest.Tokens{
			Path: "/{tenant}/oauth2/v2.0/token", Rotation: oauthtest.RotateRetireOld,
			Code: oauthtest.TokenFormat{Prefix: "M.C5"}, Access: oauthtest.TokenFormat{Prefix: "EwA"}, Refresh: oauthtest.TokenFormat{Prefix: "M.R3"},
		},
		Identity: oauthtest.Identity{
			Paths: []string{"/v1.0/me"}, Methods: []string{http.MethodGet}, WriteError: graphError,
			Claims: func(u oauthtest.User, _ []string) any {
				return map[string]string{"id": u.Sub, "mail": u.Email, "userPrincipalName": u.Email}
			},
		},
		Errors: map[oauthtest.Failure]oauthtest.Error{
			oauthtest.AuthInvalidPrompt:   {Status: 400, Code: "invalid_request", Description: "AADSTS90023: Invalid prompt: %s"},
			oauthtest.InvalidRefreshToken: {Status: 400, Code: "invalid_grant", Description: "AADSTS70000: The provided value for the 'refresh_token' is not valid."},
			oauthtest.InvalidAccessToken:  {Status: 401, Description: "Access token validation failure. Invalid audience."},
		},
		WriteError: aadError,
	}
}

func TestProviderConfig(t *testing.T) {
	s := start(t, microsoftLike())
	authPath, tokenPath := "/common/oauth2/v2.0/authorize", "/common/oauth2/v2.0/token"
	_, doc := get(t, s.URL()+"/common/v2.0/.well-known/openid-configuration", "")
	if doc["token_endpoint"] != s.URL()+tokenPath || doc["authorization_endpoint"] != s.URL()+authPath ||
		doc["userinfo_endpoint"] != s.URL()+"/v1.0/me" || doc["revocation_endpoint"] != nil {
		t.Fatalf("discovery %v", doc)
	}
	// Errors after the redirect is trusted go back to the client.
	loc := authorize(t, s, authPath, "b", url.Values{"prompt": {"sometimes"}})
	if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("error_description") != "AADSTS90023: Invalid prompt: sometimes" ||
		q.Get("state") != "st" || q.Has("code") {
		t.Fatalf("error redirect %s", loc)
	}
	// Without offline_access no refresh token.
	loc = authorize(t, s, authPath, "b", nil)
	if status, tok := exchange(t, s, tokenPath, loc, "b"); status != 200 || tok["refresh_token"] != nil {
		t.Fatalf("online: %d %v", status, tok)
	}
	loc = authorize(t, s, authPath, "c", url.Values{"scope": {"openid Mail.Read offline_access"}})
	if !strings.HasPrefix(loc.Query().Get("code"), "M.C5") {
		t.Fatalf("code %s", loc)
	}
	status, tok := exchange(t, s, tokenPath, loc, "c")
	rt := str(tok["refresh_token"])
	// The scopes granted before come too (email, from the first consent).
	if status != 200 || !strings.HasPrefix(rt, "M.R3") || !strings.HasPrefix(str(tok["access_token"]), "EwA") ||
		tok["scope"] != "Mail.Read email offline_access openid" {
		t.Fatalf("offline: %d %v", status, tok)
	}
	// Rotation: a new refresh token every time, the used one dies.
	status, nt := refresh(t, s, tokenPath, rt)
	if status != 200 || str(nt["refresh_token"]) == "" || nt["refresh_token"] == rt {
		t.Fatalf("rotation %d %v", status, nt)
	}
	status, body := refresh(t, s, tokenPath, rt)
	if codes, _ := body["error_codes"].([]any); status != 400 || body["error"] != "invalid_grant" ||
		!strings.HasPrefix(str(body["error_description"]), "AADSTS70000:") || len(codes) != 1 || codes[0] != 70000.0 {
		t.Fatalf("retired refresh token: %d %v", status, body)
	}
	if status, _ := refresh(t, s, tokenPath, str(nt["refresh_token"])); status != 200 {
		t.Fatal("the rotated refresh token does not work")
	}
	// No revocation endpoint; the identity endpoint is Graph's /me.
	if status, _ := post(t, s.URL()+"/revoke", url.Values{"token": {rt}}, "", ""); status != 404 || s.RevokeRequests() != 0 {
		t.Fatalf("revoke %d", status)
	}
	if status, me := get(t, s.URL()+"/v1.0/me", str(nt["access_token"])); status != 200 || me["mail"] != ann || me["id"] != s.Sub(ann) {
		t.Fatalf("me %d %v", status, me)
	}
	status, body = get(t, s.URL()+"/v1.0/me", "EwAnope")
	if e, _ := body["error"].(map[string]any); status != 401 || e["code"] != "InvalidAuthenticationToken" || body["WWW-Authenticate"] != `Bearer error="invalid_token"` {
		t.Fatalf("me with a bad token: %d %v", status, body)
	}
	if status, _ := post(t, s.URL()+"/v1.0/me", nil, "", ""); status != 405 {
		t.Fatalf("POST /me: %d", status)
	}
}

// offlineToken runs a flow and returns the token answer.
func offlineToken(t *testing.T, s *oauthtest.Server, seed string) map[string]any {
	t.Helper()
	status, tok := exchange(t, s, "/token", authorize(t, s, "/authorize", seed, nil), seed)
	if status != 200 {
		t.Fatalf("exchange %d %v", status, tok)
	}
	return tok
}

func TestRevocation(t *testing.T) {
	s := start(t, oauthtest.Config{Revocation: oauthtest.Revocation{Path: "/revoke"}})
	one, two := offlineToken(t, s, "d"), offlineToken(t, s, "e")
	revoke := func(form url.Values, user, pass string) (int, map[string]any) {
		t.Helper()
		return post(t, s.URL()+"/revoke", form, user, pass)
	}
	// HTTP Basic authenticates; only the token's grant dies (RFC 7009 2.1).
	if status, _ := revoke(url.Values{"token": {str(one["refresh_token"])}}, oauthtest.DefaultClientID, oauthtest.DefaultClientSecret); status != 200 {
		t.Fatalf("revoke %d", status)
	}
	if status, _ := refresh(t, s, "/token", str(one["refresh_token"])); status != 400 {
		t.Fatal("revoked refresh token works")
	}
	if _, _, ok := s.CheckToken(str(one["access_token"])); ok {
		t.Fatal("revoked grant's access token works")
	}
	if status, _ := refresh(t, s, "/token", str(two["refresh_token"])); status != 200 {
		t.Fatal("the other grant died")
	}
	// No credentials, or a client_id alone: accepted, not authenticated.
	// An unknown token is a success (RFC 7009 2.2).
	for _, form := range []url.Values{{"token": {"nope"}}, {"token": {"nope"}, "client_id": {oauthtest.DefaultClientID}}} {
		if status, body := revoke(form, "", ""); status != 200 || len(body) != 0 {
			t.Fatalf("revoke %v: %d %v", form, status, body)
		}
	}
	// Credentials in the body authenticate; wrong ones fail.
	if status, _ := revoke(client(url.Values{"token": {str(two["access_token"])}}), "", ""); status != 200 {
		t.Fatalf("revoke with the access token: %d", status)
	}
	if status, body := revoke(url.Values{"token": {"nope"}}, oauthtest.DefaultClientID, "wrong"); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", status, body)
	}
	if s.RevokeRequests() != 5 || s.RevokeRequestsAuthenticated() != 2 {
		t.Fatalf("%d revocations, %d authenticated", s.RevokeRequests(), s.RevokeRequestsAuthenticated())
	}
	if status, _ := refresh(t, s, "/token", str(two["refresh_token"])); status != 400 {
		t.Fatal("revoking the access token left the refresh token")
	}

	// Required client authentication; revoking the user's every grant.
	s = start(t, oauthtest.Config{Revocation: oauthtest.Revocation{Path: "/revoke", RequireClientAuth: true, RevokeUser: true,
		Methods: []string{http.MethodGet, http.MethodPost}}})
	one, two = offlineToken(t, s, "f"), offlineToken(t, s, "g")
	if status, body := post(t, s.URL()+"/revoke", url.Values{"token": {str(one["refresh_token"])}}, "", ""); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("no credentials: %d %v", status, body)
	}
	if status, _ := revoke(client(url.Values{"token": {str(one["refresh_token"])}}), "", ""); status != 200 {
		t.Fatalf("revoke %d", status)
	}
	if status, _ := refresh(t, s, "/token", str(two["refresh_token"])); status != 400 || len(s.Granted(ann)) != 0 {
		t.Fatal("RevokeUser left a grant")
	}
	if status, _ := get(t, s.URL()+"/revoke?token=x", ""); status != 401 {
		t.Fatalf("GET without credentials: %d", status)
	}
}

func TestClientAuthentication(t *testing.T) {
	s := start(t, oauthtest.Config{ClientAuth: oauthtest.ClientAuth{Methods: []string{"client_secret_basic"}}})
	tokURL := s.URL() + "/token"
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	if status, body := post(t, tokURL, client(form), "", ""); status != 401 || body["error_description"] != "Client authentication method not allowed." {
		t.Fatalf("post: %d %v", status, body)
	}
	if status, body := post(t, tokURL, form, oauthtest.DefaultClientID, oauthtest.DefaultClientSecret); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("basic: %d %v", status, body)
	}
	// A public client names itself; a secret it sends must still be right.
	s = start(t, oauthtest.Config{ClientAuth: oauthtest.ClientAuth{Public: true}})
	loc := authorize(t, s, "/authorize", "h", nil)
	verifier, _ := pkce("h")
	status, tok := post(t, s.URL()+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}, "client_id": {oauthtest.DefaultClientID}}, "", "")
	if status != 200 || tok["access_token"] == nil {
		t.Fatalf("public client: %d %v", status, tok)
	}
	if status, body := post(t, s.URL()+"/token", form, oauthtest.DefaultClientID, "wrong"); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("public client with a wrong secret: %d %v", status, body)
	}
}

func TestConsentClockAndInjection(t *testing.T) {
	s := start(t, oauthtest.Config{Scopes: oauthtest.Scopes{Basic: []string{"openid"}}, Identity: oauthtest.Identity{Paths: []string{"/userinfo"}, AnyScope: []string{"email"}}})
	s.DenyNext()
	if loc := authorize(t, s, "/authorize", "i", nil); loc.Query().Get("error") != "access_denied" || loc.Query().Has("code") {
		t.Fatalf("denied %s", loc)
	}
	if loc := authorize(t, s, "/authorize", "i", url.Values{"prompt": {"none"}}); loc.Query().Get("error") != "consent_required" {
		t.Fatalf("prompt=none before consent: %s", loc)
	}
	s.GrantOnly("nothing")
	status, tok := exchange(t, s, "/token", authorize(t, s, "/authorize", "i", nil), "i")
	if status != 200 || tok["scope"] != "openid" || !slices.Equal(s.Granted(ann), []string{"openid"}) {
		t.Fatalf("partial grant: %d %v", status, tok)
	}
	status, body := get(t, s.URL()+"/userinfo", str(tok["access_token"]))
	if status != 403 || body["error"] != "insufficient_scope" || body["WWW-Authenticate"] != `Bearer error="insufficient_scope", scope="email"` {
		t.Fatalf("userinfo without email: %d %v", status, body)
	}
	s.GrantOnly()
	loc := authorize(t, s, "/authorize", "j", nil)
	s.Advance(11 * time.Minute)
	if status, body := exchange(t, s, "/token", loc, "j"); status != 400 || body["error_description"] != "Code expired." {
		t.Fatalf("expired code: %d %v", status, body)
	}
	tok = offlineToken(t, s, "k")
	if status, info := get(t, s.URL()+"/userinfo", str(tok["access_token"])); status != 200 || info["email"] != ann {
		t.Fatalf("userinfo %d %v", status, info)
	}
	s.ExpireAccessTokens()
	if status, _ := get(t, s.URL()+"/userinfo", str(tok["access_token"])); status != 401 {
		t.Fatal("expired access token accepted")
	}
	s.FailTokenRequests(1, 502)
	if status, body := refresh(t, s, "/token", str(tok["refresh_token"])); status != 502 || body["error"] != "temporarily_unavailable" {
		t.Fatalf("injected failure: %d %v", status, body)
	}
	if status, _ := refresh(t, s, "/token", str(tok["refresh_token"])); status != 200 || s.TokenRequests("refresh_token") != 2 {
		t.Fatal("after the injected failure")
	}
	verifier, _ := pkce("k")
	for _, v := range []string{oauthtest.DefaultClientSecret, str(tok["access_token"]), str(tok["refresh_token"]), str(tok["id_token"]), verifier} {
		if !slices.Contains(s.Secrets(), v) {
			t.Fatalf("Secrets misses %q", v)
		}
	}
	if n := len(s.AuthRequests()); n != 5 {
		t.Fatalf("%d authorization requests", n)
	}
}

// tenanted is a multi-tenant server with a public client, plain PKCE,
// refresh tokens that rotate, keep working and expire, and distinct answers
// for revoked and expired ones.
func tenanted() oauthtest.Config {
	tenants := map[string]string{"common": "", "organizations": "", "contoso.example": "@contoso.example"}
	return oauthtest.Config{
		Name:       "tenanted",
		ClientAuth: oauthtest.ClientAuth{Public: true, RefuseSecret: true},
		Scopes:     oauthtest.Scopes{Normalize: strings.ToLower},
		Authorize:  oauthtest.Authorize{Paths: []string{"/{tenant}/authorize"}, PKCEMethods: []string{"S256", "plain"}},
		Tokens:     oauthtest.Tokens{Path: "/{tenant}/token", Rotation: oauthtest.RotateKeepOld, RefreshTTL: 90 * 24 * time.Hour},
		Tenants: &oauthtest.Tenants{
			Exists: func(t string) bool { _, ok := tenants[strings.ToLower(t)]; return ok },
			Accepts: func(t string, u oauthtest.User) bool {
				return strings.HasSuffix(u.Email, tenants[strings.ToLower(t)]) && (t != "organizations" || !strings.HasSuffix(u.Email, "@outlook.example"))
			},
		},
		Errors: map[oauthtest.Failure]oauthtest.Error{
			oauthtest.RevokedRefreshToken: {Status: 400, Code: "invalid_grant", Description: "revoked"},
			oauthtest.ExpiredRefreshToken: {Status: 400, Code: "invalid_grant", Description: "expired"},
		},
	}
}

func publicExchange(t *testing.T, s *oauthtest.Server, path string, loc *url.URL, verifier string) (int, map[string]any) {
	t.Helper()
	return post(t, s.URL()+path, url.Values{"client_id": {oauthtest.DefaultClientID}, "grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}, "", "")
}

func publicRefresh(t *testing.T, s *oauthtest.Server, tenant, rt string) (int, map[string]any) {
	t.Helper()
	return post(t, s.URL()+"/"+tenant+"/token", url.Values{"client_id": {oauthtest.DefaultClientID}, "grant_type": {"refresh_token"},
		"refresh_token": {rt}}, "", "")
}

func TestTenants(t *testing.T) {
	s := start(t, tenanted())
	s.AddUser("zoe@outlook.example")
	q := url.Values{"client_id": {oauthtest.DefaultClientID}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"response_type": {"code"}, "scope": {"openid Mail.Read"}, "code_challenge": {strings.Repeat("p", 43)}}
	if _, err := s.Approve(context.Background(), s.URL()+"/nope/authorize?"+q.Encode()); err == nil || !strings.Contains(err.Error(), "Unknown tenant: nope") {
		t.Fatalf("unknown tenant: %v", err)
	}
	if status, body := publicRefresh(t, s, "nope", "x"); status != 400 || body["error_description"] != "Unknown tenant: nope" {
		t.Fatalf("token at an unknown tenant: %d %v", status, body)
	}
	if _, err := s.Approve(context.Background(), s.URL()+"/contoso.example/authorize?"+q.Encode()); err == nil ||
		!strings.Contains(err.Error(), "The account "+ann+" cannot sign in at this tenant.") {
		t.Fatalf("another tenant's user: %v", err)
	}
	hint := cloneQuery(q)
	hint.Set("login_hint", "zoe@outlook.example")
	if _, err := s.Approve(context.Background(), s.URL()+"/organizations/authorize?"+hint.Encode()); err == nil {
		t.Fatal("a personal account signed in at organizations")
	}
	// A plain challenge (no method) is the verifier; the code is redeemed
	// where it was issued, and only there.
	loc, err := s.Approve(context.Background(), s.URL()+"/common/authorize?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := publicExchange(t, s, "/organizations/token", loc, strings.Repeat("p", 43)); status != 400 ||
		body["error_description"] != "The code was issued for another tenant." {
		t.Fatalf("redeemed at another tenant: %d %v", status, body)
	}
	loc, _ = s.Approve(context.Background(), s.URL()+"/common/authorize?"+q.Encode())
	status, tok := publicExchange(t, s, "/COMMON/token", loc, strings.Repeat("p", 43))
	if status != 200 || tok["scope"] != "mail.read openid" {
		t.Fatalf("plain PKCE exchange (tenant segment case-insensitive, scopes normalized): %d %v", status, tok)
	}
	// The refresh is refused at a tenant that does not take the account.
	if status, body := publicRefresh(t, s, "contoso.example", str(tok["refresh_token"])); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("refresh at another tenant: %d %v", status, body)
	}
}

func TestPublicClientAndRefreshLifetime(t *testing.T) {
	s := start(t, tenanted())
	verifier, challenge := pkce("v")
	q := url.Values{"client_id": {oauthtest.DefaultClientID}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	loc, err := s.Approve(context.Background(), s.URL()+"/common/authorize?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	// A public client that sends a secret is refused (here with the
	// fallback answer, WrongClientSecret's).
	status, body := post(t, s.URL()+"/common/token", client(url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}}), "", "")
	if status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("public client with a secret: %d %v", status, body)
	}
	status, tok := publicExchange(t, s, "/common/token", loc, verifier)
	if status != 200 {
		t.Fatalf("exchange %d %v", status, tok)
	}
	first := str(tok["refresh_token"])
	s.Advance(60 * 24 * time.Hour)
	status, nt := publicRefresh(t, s, "common", first)
	second := str(nt["refresh_token"])
	if status != 200 || second == "" || second == first {
		t.Fatalf("refresh: %d %v", status, nt)
	}
	// Rotation keeps the old token working, until its own expiry.
	if status, _ := publicRefresh(t, s, "common", first); status != 200 {
		t.Fatal("the refresh token used is dead after a rotation that keeps old ones")
	}
	s.Advance(31 * 24 * time.Hour)
	if status, body := publicRefresh(t, s, "common", first); status != 400 || body["error_description"] != "expired" || s.RefreshTokenLive(first) {
		t.Fatalf("expired refresh token: %d %v", status, body)
	}
	if !s.RefreshTokenLive(second) {
		t.Fatal("the rotated token expired with the first")
	}
	s.RevokeUser(ann)
	if status, body := publicRefresh(t, s, "common", second); status != 400 || body["error_description"] != "revoked" {
		t.Fatalf("revoked refresh token: %d %v", status, body)
	}
	if status, body := publicRefresh(t, s, "common", "garbage"); status != 400 || body["error_description"] != "Invalid refresh token." {
		t.Fatalf("unknown refresh token: %d %v", status, body)
	}
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

func TestAPIControl(t *testing.T) {
	var c oauthtest.APIControl
	req := func(path string) *http.Request {
		r, _ := http.NewRequest("GET", "http://x"+path, strings.NewReader("body"))
		return r
	}
	c.Fail("/a/", 1, 503, "busy", 1500*time.Millisecond)
	c.Fail("/", 2, 429, "slow", 0)
	end1 := c.Begin(req("/a/1"))
	end2 := c.Begin(req("/b/2"))
	if f := c.TakeFailure("/a/1"); f == nil || f.Status != 503 || f.Reason != "busy" {
		t.Fatalf("first rule: %+v", f)
	}
	if f := c.TakeFailure("/a/1"); f == nil || f.Status != 429 {
		t.Fatalf("the first rule is used up: %+v", f)
	}
	rec := httptest.NewRecorder()
	(&oauthtest.InjectedFailure{RetryAfter: 1500 * time.Millisecond}).SetRetryAfter(rec)
	if rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	end1()
	end2()
	if c.Requests("/a/") != 1 || c.Requests("/") != 2 || c.MaxConcurrent() != 2 {
		t.Fatalf("requests %d, %d, max %d", c.Requests("/a/"), c.Requests("/"), c.MaxConcurrent())
	}
	c.Reset()
	if c.Requests("/") != 0 || c.MaxConcurrent() != 0 || c.TakeFailure("/x") != nil {
		t.Fatal("Reset kept something")
	}
	// Latency ends early for a request its client gave up on.
	c.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c.Wait(req("/").WithContext(ctx), 10) {
		t.Fatal("a cancelled request waited")
	}
	c.SetLatency(0)
	if !c.Wait(req("/"), 10) {
		t.Fatal("no latency: Wait must not wait")
	}
}
