package googletest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/oauthtest"
	"golang.org/x/oauth2"
)

const (
	gmailRead = "https://www.googleapis.com/auth/gmail.readonly"
	calRead   = "https://www.googleapis.com/auth/calendar.readonly"
	alice     = "alice@example.com"
)

func setup(t *testing.T, opts Options) (*Server, *oauth2.Config) {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	s.AddUser(alice)
	s.AddUser("bob@example.com")
	return s, &oauth2.Config{
		ClientID:     DefaultClientID,
		ClientSecret: DefaultClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: s.URL() + "/o/oauth2/auth", TokenURL: s.URL() + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  "http://127.0.0.1:5555/callback",
		Scopes:       []string{"openid", "email", gmailRead, calRead},
	}
}

// authorize runs the browser half: it returns the redirect and the verifier.
func authorize(t *testing.T, s *Server, cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) (*url.URL, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, opts...)
	loc, err := s.Approve(context.Background(), cfg.AuthCodeURL("st-1", opts...))
	if err != nil {
		t.Fatal(err)
	}
	return loc, verifier
}

// connect runs the whole flow as mailcal does (offline, consent).
func connect(t *testing.T, s *Server, cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	loc, verifier := authorize(t, s, cfg, append([]oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.ApprovalForce}, opts...)...)
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func refresh(cfg *oauth2.Config, tok *oauth2.Token) (*oauth2.Token, error) {
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	return cfg.TokenSource(context.Background(), &old).Token()
}

func wantRetrieveError(t *testing.T, err error, status int, code string) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %v, want RetrieveError %d %s", err, status, code)
	}
	return re
}

func get(t *testing.T, rawURL, accessToken string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestAuthorizationCodeFlow(t *testing.T) {
	s, cfg := setup(t, Options{})
	loc, verifier := authorize(t, s, cfg, oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.SetAuthURLParam("login_hint", "bob@example.com"))
	q := loc.Query()
	if loc.Host != "127.0.0.1:5555" || loc.Path != "/callback" || q.Get("state") != "st-1" || q.Get("authuser") != "0" ||
		q.Get("prompt") != "consent" || !strings.HasPrefix(q.Get("code"), "4/0A") {
		t.Fatalf("redirect %s", loc)
	}
	if got := strings.Fields(q.Get("scope")); !slices.Contains(got, "email") || !slices.Contains(got, gmailRead) {
		t.Fatalf("redirect scope %q", got)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || time.Until(tok.Expiry) < 59*time.Minute ||
		!strings.Contains(tok.Extra("scope").(string), calRead) {
		t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
	}
	parts := strings.Split(tok.Extra("id_token").(string), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if len(parts) != 3 || !strings.Contains(string(payload), `"email":"bob@example.com"`) {
		t.Fatalf("id_token payload %s", payload)
	}

	resp, info := get(t, s.URL()+"/v1/userinfo", tok.AccessToken)
	if resp.StatusCode != 200 || info["email"] != "bob@example.com" || info["email_verified"] != true || info["sub"] != s.Sub("bob@example.com") {
		t.Fatalf("userinfo %d %v", resp.StatusCode, info)
	}
	resp, info = get(t, s.URL()+"/v1/userinfo", "ya29.nope")
	if resp.StatusCode != 401 || info["error_description"] != "Invalid Credentials" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("userinfo with a bad token: %d %v", resp.StatusCode, info)
	}

	// An API handler as Gmail's will be: scope-checked with Google's errors.
	s.Handle("GET /gmail/v1/users/me/profile", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if email, ok := s.Authorize(w, r, gmailRead, "https://mail.google.com/"); ok {
			oauthtest.WriteJSON(w, 200, map[string]string{"emailAddress": email})
		}
	}))
	if resp, body := get(t, s.URL()+"/gmail/v1/users/me/profile", tok.AccessToken); resp.StatusCode != 200 || body["emailAddress"] != "bob@example.com" {
		t.Fatalf("profile %d %v", resp.StatusCode, body)
	}
	if n := s.TokenRequests("authorization_code"); n != 1 {
		t.Fatalf("%d code requests", n)
	}
	if secrets := s.Secrets(); !slices.Contains(secrets, tok.AccessToken) || !slices.Contains(secrets, tok.RefreshToken) ||
		!slices.Contains(secrets, verifier) || !slices.Contains(secrets, q.Get("code")) || !slices.Contains(secrets, DefaultClientSecret) {
		t.Fatal("Secrets misses a value")
	}
}

func TestRefresh(t *testing.T) {
	s, cfg := setup(t, Options{AccessTokenTTL: 30 * time.Minute})
	tok := connect(t, s, cfg)
	nt, err := refresh(cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken != tok.RefreshToken || nt.Extra("refresh_token") != nil ||
		time.Until(nt.Expiry) > 30*time.Minute || nt.Extra("scope") != tok.Extra("scope") {
		t.Fatalf("refreshed %+v", nt)
	}
	// Both access tokens stay valid until they expire.
	for _, at := range []string{tok.AccessToken, nt.AccessToken} {
		if email, _, ok := s.CheckToken(at); !ok || email != alice {
			t.Fatal("access token invalid")
		}
	}
	// Down-scoping: a token without openid or email cannot read userinfo.
	resp, err := http.PostForm(s.URL()+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}, "scope": {gmailRead}})
	if err != nil {
		t.Fatal(err)
	}
	var small oauthtest.TokenResponse
	json.NewDecoder(resp.Body).Decode(&small)
	resp.Body.Close()
	if resp, body := get(t, s.URL()+"/v1/userinfo", small.AccessToken); resp.StatusCode != 403 || small.Scope != gmailRead || small.IDToken != "" {
		t.Fatalf("down-scoped: %+v, userinfo %d %v", small, resp.StatusCode, body)
	}
	s.ExpireAccessTokens()
	if resp, body := get(t, s.URL()+"/v1/userinfo", nt.AccessToken); resp.StatusCode != 401 {
		t.Fatalf("expired token: %d %v", resp.StatusCode, body)
	}
	if s.TokenRequests("refresh_token") != 2 {
		t.Fatal("refresh count")
	}
}

func TestRotation(t *testing.T) {
	s, cfg := setup(t, Options{RotateRefreshTokens: true})
	tok := connect(t, s, cfg)
	nt, err := refresh(cfg, tok)
	if err != nil || nt.RefreshToken == tok.RefreshToken || nt.RefreshToken == "" {
		t.Fatalf("rotation: %v %+v", err, nt)
	}
	if _, err := refresh(cfg, tok); err != nil {
		t.Fatalf("old refresh token: %v", err)
	}
	if !s.RefreshTokenLive(tok.RefreshToken) || !s.RefreshTokenLive(nt.RefreshToken) || s.RefreshTokenLive("1//0unknown") {
		t.Fatal("RefreshTokenLive: both tokens should be live, an unknown one not")
	}
}

// RetireOldRefreshTokens: the refresh token a refresh used dies at once;
// the new one works.
func TestRotationRetireOld(t *testing.T) {
	s, cfg := setup(t, Options{RotateRefreshTokens: true, RetireOldRefreshTokens: true})
	tok := connect(t, s, cfg)
	nt, err := refresh(cfg, tok)
	if err != nil || nt.RefreshToken == tok.RefreshToken || nt.RefreshToken == "" {
		t.Fatalf("rotation: %v %+v", err, nt)
	}
	if s.RefreshTokenLive(tok.RefreshToken) || !s.RefreshTokenLive(nt.RefreshToken) {
		t.Fatal("RefreshTokenLive: the old token should be dead, the new one live")
	}
	wantRetrieveError(t, func() error { _, err := refresh(cfg, tok); return err }(), 400, "invalid_grant")
	if _, err := refresh(cfg, nt); err != nil {
		t.Fatalf("new refresh token: %v", err)
	}
	other := connect(t, s, cfg)
	if !s.SameGrant(tok.RefreshToken, nt.RefreshToken) || s.SameGrant(tok.RefreshToken, other.RefreshToken) {
		t.Fatal("SameGrant: a rotation is the same grant (dead or not), another connection is not")
	}
}

func TestRevocation(t *testing.T) {
	s, cfg := setup(t, Options{})
	tok := connect(t, s, cfg)
	s.RevokeUser(alice)
	re := wantRetrieveError(t, func() error { _, err := refresh(cfg, tok); return err }(), 400, "invalid_grant")
	if re.ErrorDescription != "Token has been expired or revoked." {
		t.Fatalf("description %q", re.ErrorDescription)
	}
	if resp, _ := get(t, s.URL()+"/v1/userinfo", tok.AccessToken); resp.StatusCode != 401 {
		t.Fatalf("userinfo after revocation: %d", resp.StatusCode)
	}

	// The revocation endpoint: first time 200 {}, then invalid_token.
	tok = connect(t, s, cfg)
	for i, want := range []string{`200 {}`, `400 {"error":"invalid_token","error_description":"Token expired or revoked"}`} {
		resp, err := http.PostForm(s.URL()+"/revoke", url.Values{"token": {tok.RefreshToken}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Status[:3] + " " + strings.TrimSpace(string(b)); got != want {
			t.Fatalf("revoke #%d: %s", i, got)
		}
	}
	if _, _, ok := s.CheckToken(tok.AccessToken); ok || s.RevokeRequests() != 2 || len(s.Granted(alice)) != 0 {
		t.Fatal("revocation left access")
	}
	// Client credentials are optional (Google's documentation sends none),
	// checked when sent, and counted: RFC 7009 2.1's client authentication.
	tok = connect(t, s, cfg)
	for i, tc := range []struct {
		form       url.Values
		user, want string
	}{
		{url.Values{"token": {tok.AccessToken}, "client_id": {cfg.ClientID}, "client_secret": {"wrong"}}, "", "401 invalid_client"},
		{url.Values{"token": {tok.AccessToken}}, cfg.ClientID, "200 "},
		{url.Values{"token": {tok.RefreshToken}, "client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}}, "", "400 invalid_token"},
	} {
		req, _ := http.NewRequest("POST", s.URL()+"/revoke", strings.NewReader(tc.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.user != "" {
			req.SetBasicAuth(tc.user, cfg.ClientSecret)
		}
		resp, body := do(t, req)
		if got := fmt.Sprintf("%d %v", resp.StatusCode, body["error"]); strings.TrimSuffix(got, "<nil>") != tc.want {
			t.Fatalf("revoke with credentials #%d: %s", i, got)
		}
	}
	if s.RevokeRequests() != 5 || s.RevokeRequestsAuthenticated() != 2 {
		t.Fatalf("%d revocations, %d authenticated", s.RevokeRequests(), s.RevokeRequestsAuthenticated())
	}
}

func TestCodeReplayAndPKCE(t *testing.T) {
	s, cfg := setup(t, Options{})
	loc, verifier := authorize(t, s, cfg, oauth2.AccessTypeOffline)
	code := loc.Query().Get("code")
	ctx := context.Background()
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantRetrieveError(t, err, 400, "invalid_grant")
	_, err = cfg.Exchange(ctx, code)
	if re := wantRetrieveError(t, err, 400, "invalid_grant"); re.ErrorDescription != "Missing code verifier." {
		t.Fatal(re.ErrorDescription)
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	wantRetrieveError(t, err, 400, "invalid_grant")
	if _, _, ok := s.CheckToken(tok.AccessToken); ok {
		t.Fatal("replayed code left its access token valid")
	}
	_, err = refresh(cfg, tok)
	wantRetrieveError(t, err, 400, "invalid_grant")

	// Wrong redirect_uri, expired code.
	loc, verifier = authorize(t, s, cfg)
	other := *cfg
	other.RedirectURL = "http://127.0.0.1:5556/callback"
	_, err = other.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	wantRetrieveError(t, err, 400, "redirect_uri_mismatch")
	s.Advance(11 * time.Minute)
	_, err = cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	wantRetrieveError(t, err, 400, "invalid_grant")
	if n := s.TokenRequests("authorization_code"); n != 6 {
		t.Fatalf("%d code requests", n)
	}
}

func TestAuthorizationErrors(t *testing.T) {
	s, cfg := setup(t, Options{RedirectURIs: []string{"http://127.0.0.1/callback", "https://mail.example.com/oauth/callback"}})
	ctx := context.Background()
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	bad := func(mod func(c *oauth2.Config), want string, opts ...oauth2.AuthCodeOption) {
		t.Helper()
		c := *cfg
		mod(&c)
		if _, err := s.Approve(ctx, c.AuthCodeURL("x", opts...)); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %s", err, want)
		}
	}
	bad(func(c *oauth2.Config) { c.ClientID = "other" }, "Error 401: invalid_client", challenge)
	bad(func(c *oauth2.Config) { c.RedirectURL = "http://evil.example.com/callback" }, "redirect_uri_mismatch", challenge)
	bad(func(c *oauth2.Config) { c.Scopes = nil }, "Missing required parameter: scope", challenge)
	bad(func(c *oauth2.Config) { c.Scopes = []string{"gmail"} }, "invalid_scope", challenge)
	bad(func(c *oauth2.Config) {}, "code_challenge")
	bad(func(c *oauth2.Config) {}, "code_challenge_method", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)))

	// Registered redirect URIs: a loopback one takes any port.
	c := *cfg
	c.RedirectURL = "http://127.0.0.1:43210/callback"
	loc, _ := authorize(t, s, &c)
	if loc.Port() != "43210" {
		t.Fatalf("redirect %s", loc)
	}
	s.DenyNext()
	loc, _ = authorize(t, s, &c)
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st-1" || loc.Query().Has("code") {
		t.Fatalf("denied: %s", loc)
	}
	if len(s.AuthRequests()) != 8 {
		t.Fatal("auth requests not recorded")
	}
}

func TestConsent(t *testing.T) {
	s, cfg := setup(t, Options{})
	s.GrantOnly(gmailRead)
	tok := connect(t, s, cfg)
	if sc := tok.Extra("scope").(string); strings.Contains(sc, calRead) || !strings.Contains(sc, gmailRead) || !strings.Contains(sc, "openid") {
		t.Fatalf("granular consent: scope %q", sc)
	}
	s.GrantOnly()
	// Already granted, no prompt=consent: no consent screen, no refresh token.
	c := *cfg
	c.Scopes = []string{"openid", "email", gmailRead}
	loc, verifier := authorize(t, s, &c, oauth2.AccessTypeOffline)
	tok, err := c.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken != "" || loc.Query().Get("prompt") != "none" {
		t.Fatalf("repeat authorization: %v %s %+v", err, loc, tok)
	}
	// New scope with include_granted_scopes: consent, refresh token, union.
	c.Scopes = []string{"openid", "email", calRead}
	tok = connect(t, s, &c, oauth2.SetAuthURLParam("include_granted_scopes", "true"))
	if sc := tok.Extra("scope").(string); !strings.Contains(sc, calRead) || !strings.Contains(sc, gmailRead) || tok.RefreshToken == "" {
		t.Fatalf("incremental: scope %q", sc)
	}
	// A token without the scope an API needs: 403.
	s.Handle("GET /calendar/v3/users/me/calendarList", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.Authorize(w, r, "https://www.googleapis.com/auth/calendar"); ok {
			oauthtest.WriteJSON(w, 200, map[string]any{"items": []any{}})
		}
	}))
	resp, body := get(t, s.URL()+"/calendar/v3/users/me/calendarList", tok.AccessToken)
	if e, _ := body["error"].(map[string]any); resp.StatusCode != 403 || e["status"] != "PERMISSION_DENIED" {
		t.Fatalf("insufficient scope: %d %v", resp.StatusCode, body)
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	s, cfg := setup(t, Options{})
	tok := connect(t, s, cfg)
	s.FailTokenRequests(2, 503)
	for range 2 {
		_, err := refresh(cfg, tok)
		wantRetrieveError(t, err, 503, "internal_failure")
	}
	if _, err := refresh(cfg, tok); err != nil {
		t.Fatal(err)
	}
	s.SetTokenDelay(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(ctx, &old).Token(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow endpoint: %v", err)
	}
	s.SetTokenDelay(0)
	for i := 0; i < 100 && s.TokenRequests("refresh_token") < 4; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.TokenRequests("refresh_token"); n != 4 {
		t.Fatalf("%d refresh requests", n)
	}

	// Client authentication: HTTP Basic works; a wrong secret is invalid_client.
	basic := *cfg
	basic.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if _, err := refresh(&basic, tok); err != nil {
		t.Fatal(err)
	}
	basic.ClientSecret = "wrong"
	_, err := refresh(&basic, tok)
	wantRetrieveError(t, err, 401, "invalid_client")
}

func TestConcurrentRefreshes(t *testing.T) {
	s, cfg := setup(t, Options{})
	tok := connect(t, s, cfg)
	runConcurrently(t, 100, 100, func(int) error {
		nt, err := refresh(cfg, tok)
		if err == nil {
			if _, _, ok := s.CheckToken(nt.AccessToken); !ok {
				err = errors.New("refreshed token invalid")
			}
		}
		return err
	})
	if n := s.TokenRequests("refresh_token"); n != 100 {
		t.Fatalf("%d refresh requests", n)
	}
}

func TestEnv(t *testing.T) {
	s, _ := setup(t, Options{})
	env := strings.Join(s.Env(), "\n")
	for _, want := range []string{"MAILCAL_GOOGLE_CLIENT_ID=" + DefaultClientID, "MAILCAL_GOOGLE_TOKEN_URL=" + s.URL() + "/token",
		"MAILCAL_GOOGLE_AUTH_URL=" + s.URL() + "/o/oauth2/auth", "MAILCAL_GOOGLE_API_URL=" + s.URL() + "\n"} {
		if !strings.Contains(env+"\n", want) {
			t.Fatalf("Env misses %s:\n%s", want, env)
		}
	}
}

func TestApproveAndFollow(t *testing.T) {
	s, cfg := setup(t, Options{})
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		io.WriteString(w, "connected")
	}))
	defer cb.Close()
	cfg.RedirectURL = cb.URL + "/oauth/callback"
	resp, err := s.ApproveAndFollow(context.Background(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if q := <-got; resp.StatusCode != 200 || q.Get("state") != "st" || q.Get("code") == "" {
		t.Fatalf("callback got %v", q)
	}
}
