package microsofttest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func idClaims(t *testing.T, tok *oauth2.Token) map[string]any {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(payload, &c) != nil {
		t.Fatalf("id_token payload %q", parts[1])
	}
	return c
}

// aad is an identity platform error answer.
type aad struct {
	status int
	body   map[string]any
}

func (e aad) code() int {
	codes, _ := e.body["error_codes"].([]any)
	if len(codes) != 1 {
		return 0
	}
	n, _ := codes[0].(float64)
	return int(n)
}

func tokenRequest(t *testing.T, rawURL string, form url.Values) aad {
	t.Helper()
	resp, err := http.PostForm(rawURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return aad{resp.StatusCode, body}
}

func refreshForm(s *Server, rt string) url.Values {
	f := url.Values{"client_id": {s.ClientID()}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if s.ClientSecret() != "" {
		f.Set("client_secret", s.ClientSecret())
	}
	return f
}

func wantAAD(t *testing.T, e aad, status int, errCode string, code int) {
	t.Helper()
	desc := str(e.body["error_description"])
	if e.status != status || e.body["error"] != errCode || e.code() != code ||
		!strings.HasPrefix(desc, "AADSTS") || !strings.Contains(desc, "\r\nTrace ID: ") || !strings.Contains(desc, "\r\nCorrelation ID: ") ||
		str(e.body["trace_id"]) == "" || str(e.body["correlation_id"]) == "" || str(e.body["timestamp"]) == "" ||
		!strings.HasSuffix(str(e.body["error_uri"]), "/error?code="+itoa(code)) {
		t.Fatalf("got %d %v, want %d %s AADSTS%d", e.status, e.body, status, errCode, code)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAuthorizationCodeFlow(t *testing.T) {
	s := setup(t, Options{})
	tok := flow(t, s, alice, "openid", "profile", "email", "offline_access", "https://graph.microsoft.com/mail.read", "User.Read")
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || time.Until(tok.Expiry) < 59*time.Minute ||
		tok.Extra("ext_expires_in") == nil || !strings.HasPrefix(tok.AccessToken, "eyJ0eXAi") {
		t.Fatalf("token %+v", tok)
	}
	// The scope lists Graph's permissions by their short names, then the
	// OpenID ones; offline_access is not listed.
	if got := tok.Extra("scope"); got != "Mail.Read User.Read profile openid email" {
		t.Fatalf("scope %q", got)
	}
	c := idClaims(t, tok)
	a := s.Account(alice)
	if c["ver"] != "2.0" || c["tid"] != a.TenantID || c["oid"] != a.ObjectID() || c["preferred_username"] != alice ||
		c["email"] != alice || c["name"] != "Alice" || c["aud"] != s.ClientID() || c["iss"] != "https://login.microsoftonline.com/"+a.TenantID+"/v2.0" ||
		len(str(c["sub"])) != 43 || str(c["sub"]) == a.ObjectID() {
		t.Fatalf("id_token claims %v", c)
	}
	// Without offline_access no refresh token; without email and profile
	// no such claims.
	tok = flow(t, s, zoe, "openid", "Mail.Read")
	c = idClaims(t, tok)
	if tok.RefreshToken != "" || c["email"] != nil || c["name"] != nil || c["tid"] != ConsumersTenantID ||
		!strings.HasPrefix(str(c["oid"]), "00000000-0000-0000-") {
		t.Fatalf("online token %+v, claims %v", tok, c)
	}
	// Consent accumulates: a later token carries what was granted before.
	tok = flow(t, s, alice, "offline_access", "Calendars.Read")
	if got := tok.Extra("scope"); got != "Calendars.Read Mail.Read User.Read profile openid email" {
		t.Fatalf("incremental scope %q", got)
	}
	if tok.Extra("id_token") == nil {
		t.Fatal("openid was granted before: an id_token is expected")
	}
}

func TestRefreshRotation(t *testing.T) {
	s := setup(t, Options{})
	tok := flow(t, s, alice, "offline_access", "Mail.Read")
	cfg := oauthConfig(s, "common")
	first := tok.RefreshToken
	refreshed := func(rt string) aad {
		t.Helper()
		return tokenRequest(t, s.TokenURL("common"), refreshForm(s, rt))
	}
	s.Advance(30 * 24 * time.Hour)
	r := refreshed(first)
	second := str(r.body["refresh_token"])
	if r.status != 200 || second == "" || second == first || r.body["scope"] != "Mail.Read" {
		t.Fatalf("refresh: %d %v", r.status, r.body)
	}
	// The old one keeps working, with its own lifetime of 90 days.
	if r := refreshed(first); r.status != 200 {
		t.Fatalf("the old refresh token died at once: %v", r.body)
	}
	s.Advance(61 * 24 * time.Hour)
	wantAAD(t, refreshed(first), 400, "invalid_grant", 700082)
	if r := refreshed(second); r.status != 200 {
		t.Fatalf("the newer refresh token expired with the first: %v", r.body)
	}
	// x/oauth2 stores what a refresh answers.
	old := &oauth2.Token{RefreshToken: second, Expiry: time.Now().Add(-time.Minute)}
	nt, err := cfg.TokenSource(context.Background(), old).Token()
	if err != nil || nt.RefreshToken == second || nt.AccessToken == "" {
		t.Fatalf("x/oauth2 refresh: %v %+v", err, nt)
	}
	// The person's password change or revoked consent ends the grant.
	s.RevokeUser(alice)
	wantAAD(t, refreshed(nt.RefreshToken), 400, "invalid_grant", 50173)
	wantAAD(t, refreshed("0.ARcAgarbage"), 400, "invalid_grant", 9002313)
	var re *oauth2.RetrieveError
	_, err = cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: second, Expiry: time.Now().Add(-time.Minute)}).Token()
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.HasPrefix(re.ErrorDescription, "AADSTS50173:") {
		t.Fatalf("x/oauth2 sees %v", err)
	}
}

func TestRetiredRefreshTokens(t *testing.T) {
	s := setup(t, Options{RetireOldRefreshTokens: true})
	tok := flow(t, s, alice, "offline_access", "Mail.Read")
	r := tokenRequest(t, s.TokenURL("common"), refreshForm(s, tok.RefreshToken))
	if r.status != 200 {
		t.Fatalf("refresh %v", r.body)
	}
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), refreshForm(s, tok.RefreshToken)), 400, "invalid_grant", 70000)
	if r := tokenRequest(t, s.TokenURL("common"), refreshForm(s, str(r.body["refresh_token"]))); r.status != 200 {
		t.Fatalf("the rotated token: %v", r.body)
	}
}

func TestClientAuthentication(t *testing.T) {
	s := setup(t, Options{})
	tok := flow(t, s, alice, "offline_access", "Mail.Read")
	form := refreshForm(s, tok.RefreshToken)
	form.Del("client_secret")
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 401, "invalid_client", 7000218)
	form.Set("client_secret", "nope")
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 401, "invalid_client", 7000215)
	form.Set("client_id", "00000000-0000-0000-0000-000000000000")
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 400, "unauthorized_client", 700016)

	pub := setup(t, Options{Public: true})
	if slices.ContainsFunc(pub.Env(), func(kv string) bool { return strings.HasPrefix(kv, "MAILCAL_MICROSOFT_CLIENT_SECRET=") }) {
		t.Fatal("a public client's environment has a secret")
	}
	tok = flow(t, pub, alice, "offline_access", "Mail.Read") // PKCE, no secret
	form = refreshForm(pub, tok.RefreshToken)
	if r := tokenRequest(t, pub.TokenURL("common"), form); r.status != 200 {
		t.Fatalf("public refresh %v", r.body)
	}
	form.Set("client_secret", DefaultClientSecret)
	wantAAD(t, tokenRequest(t, pub.TokenURL("common"), form), 401, "invalid_client", 700025)
	// A public client must use PKCE.
	cfg := oauthConfig(pub, "common", "Mail.Read")
	loc, err := pub.Approve(context.Background(), cfg.AuthCodeURL("st"))
	if err != nil || loc.Query().Get("error") != "invalid_request" || !strings.HasPrefix(loc.Query().Get("error_description"), "AADSTS9002325:") ||
		loc.Query().Get("state") != "st" {
		t.Fatalf("public client without PKCE: %v %v", loc, err)
	}
}

func TestCodes(t *testing.T) {
	s := setup(t, Options{})
	cfg := oauthConfig(s, "common", "offline_access", "Mail.Read")
	v := oauth2.GenerateVerifier()
	loc, err := s.Approve(context.Background(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	code := loc.Query().Get("code")
	form := url.Values{"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}, "grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {cfg.RedirectURL}, "code_verifier": {oauth2.GenerateVerifier()}}
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 400, "invalid_grant", 501481)
	form.Set("code_verifier", v)
	wantAAD(t, tokenRequest(t, s.TokenURL("organizations"), form), 400, "invalid_grant", 700005) // another tenant
	ok := tokenRequest(t, s.TokenURL("common"), form)
	if ok.status != 200 {
		t.Fatalf("exchange %v", ok.body)
	}
	// A replayed code fails, and what it gave dies.
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 400, "invalid_grant", 54005)
	if s.RefreshTokenLive(str(ok.body["refresh_token"])) {
		t.Fatal("the replayed code's refresh token still works")
	}
	form.Set("code", "garbage")
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 400, "invalid_grant", 9002313)
	// Codes live about 10 minutes.
	loc, _ = s.Approve(context.Background(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	s.Advance(11 * time.Minute)
	form.Set("code", loc.Query().Get("code"))
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 400, "invalid_grant", 70008)
	delete(form, "grant_type")
	wantAAD(t, tokenRequest(t, s.TokenURL("common"), form), 400, "invalid_request", 900144)
}

func TestTenants(t *testing.T) {
	s := setup(t, Options{})
	s.AddAccount(Account{Email: "eve@fabrikam.example", UPN: "eve@fabrikam.onmicrosoft.example", DisplayName: "Eve Adams"})
	approve := func(tenant, login string) (*url.URL, error) {
		cfg := oauthConfig(s, tenant, "Mail.Read")
		return s.Approve(context.Background(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("login_hint", login)))
	}
	a := s.Account(alice)
	for _, c := range []struct {
		tenant, login string
		ok            bool
		aadsts        string
	}{
		{"common", zoe, true, ""}, {"common", alice, true, ""},
		{"organizations", alice, true, ""}, {"organizations", zoe, false, "AADSTS50020"},
		{"consumers", zoe, true, ""}, {"consumers", alice, false, "AADSTS50020"},
		{"contoso.example", alice, true, ""}, {a.TenantID, alice, true, ""},
		{"contoso.example", "eve@fabrikam.onmicrosoft.example", false, "AADSTS50020"},
		{"fabrikam.onmicrosoft.example", "eve@fabrikam.onmicrosoft.example", true, ""},
		{"nowhere.example", alice, false, "AADSTS90002"},
	} {
		loc, err := approve(c.tenant, c.login)
		switch {
		case c.ok && (err != nil || loc.Query().Get("code") == ""):
			t.Errorf("%s at %s: %v %v", c.login, c.tenant, loc, err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), c.aadsts)):
			t.Errorf("%s at %s: %v %v, want the sign-in page's %s", c.login, c.tenant, loc, err, c.aadsts)
		}
	}
	wantAAD(t, tokenRequest(t, s.TokenURL("nowhere.example"), refreshForm(s, "x")), 400, "invalid_request", 90002)
	// A refresh at a tenant that does not take the account fails.
	tok := flow(t, s, zoe, "offline_access", "Mail.Read")
	wantAAD(t, tokenRequest(t, s.TokenURL("organizations"), refreshForm(s, tok.RefreshToken)), 400, "invalid_grant", 50020)
	if r := tokenRequest(t, s.TokenURL("consumers"), refreshForm(s, tok.RefreshToken)); r.status != 200 {
		t.Fatalf("refresh at consumers: %v", r.body)
	}
	// A UPN that is not the address: the token says the UPN, Graph both.
	eve := s.Account("eve@fabrikam.example")
	if eve.UPN != "eve@fabrikam.onmicrosoft.example" || eve.Email != "eve@fabrikam.example" {
		t.Fatalf("account %+v", eve)
	}
}

func TestScopes(t *testing.T) {
	s := setup(t, Options{})
	authorize := func(scope string, opts ...oauth2.AuthCodeOption) url.Values {
		t.Helper()
		cfg := oauthConfig(s, "common", strings.Fields(scope)...)
		loc, err := s.Approve(context.Background(), cfg.AuthCodeURL("st", append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))...))
		if err != nil {
			t.Fatal(err)
		}
		return loc.Query()
	}
	if q := authorize("Mail.Foo"); q.Get("error") != "invalid_scope" || !strings.HasPrefix(q.Get("error_description"), "AADSTS70011:") {
		t.Fatalf("unknown scope: %v", q)
	}
	if q := authorize("https://graph.microsoft.com/.default Mail.Read"); q.Get("error") != "invalid_scope" {
		t.Fatalf(".default with another scope: %v", q)
	}
	// .default grants the app registration's permissions.
	tok := flow(t, s, alice, "https://graph.microsoft.com/.default", "offline_access")
	if got := tok.Extra("scope"); got != "Calendars.ReadWrite Mail.ReadWrite Mail.Send MailboxSettings.Read User.Read" {
		t.Fatalf(".default scope %q", got)
	}
	if a := request(t, s, "GET", "/me/messages?$top=1", tok.AccessToken, nil); a.status != 200 {
		t.Fatalf("a .default token reads mail: %d %s", a.status, a.raw)
	}
	// prompt=none without consent; a person who declines.
	if q := authorize("Calendars.Read", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("login_hint", bob)); q.Get("error") != "consent_required" ||
		!strings.HasPrefix(q.Get("error_description"), "AADSTS65001:") {
		t.Fatalf("prompt=none: %v", q)
	}
	s.DenyNext()
	if q := authorize("Mail.Read"); q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004:") {
		t.Fatalf("declined: %v", q)
	}
	if q := authorize("Mail.Read", oauth2.SetAuthURLParam("response_mode", "form_post")); q.Get("error") != "invalid_request" {
		t.Fatalf("response_mode the fake does not do: %v", q)
	}
}

func TestEnv(t *testing.T) {
	s := setup(t, Options{Tenant: "organizations"})
	env := map[string]string{}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["MAILCAL_MICROSOFT_CLIENT_ID"] != DefaultClientID || env["MAILCAL_MICROSOFT_CLIENT_SECRET"] != DefaultClientSecret ||
		env["MAILCAL_MICROSOFT_TENANT"] != "organizations" || env["MAILCAL_MICROSOFT_AUTH_URL"] != s.AuthURL("organizations") ||
		env["MAILCAL_MICROSOFT_TOKEN_URL"] != s.TokenURL("organizations") || env["MAILCAL_MICROSOFT_GRAPH_URL"] != s.GraphURL() ||
		!strings.HasSuffix(s.GraphURL(), "/v1.0") {
		t.Fatalf("env %v", env)
	}
	// The discovery document of a tenant, without a revocation endpoint.
	resp, err := http.Get(s.URL() + "/organizations/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	if doc["token_endpoint"] != s.TokenURL("organizations") || doc["revocation_endpoint"] != nil {
		t.Fatalf("discovery %v", doc)
	}
	// The secrets the server issued include the tokens it gave out.
	tok := flow(t, s, alice, "offline_access", "Mail.Read")
	if !slices.Contains(s.Secrets(), tok.RefreshToken) || !slices.Contains(s.Secrets(), DefaultClientSecret) {
		t.Fatal("Secrets lacks what the server issued")
	}
}
