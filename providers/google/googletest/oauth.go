package googletest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /o/oauth2/auth", s.handleAuth)
	s.mux.HandleFunc("GET /o/oauth2/v2/auth", s.handleAuth)
	s.mux.HandleFunc("POST /token", s.handleToken)
	s.mux.HandleFunc("/revoke", s.handleRevoke)
	s.mux.HandleFunc("/v1/userinfo", s.handleUserinfo)
	s.mux.HandleFunc("/oauth2/v3/userinfo", s.handleUserinfo)
	s.mux.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscovery)
}

// handleAuth is the authorization endpoint (accounts.google.com/o/oauth2/auth):
// the person is signed in and approves at once, unless told otherwise
// (DenyNext, GrantOnly). Errors before a redirect is known to be safe are
// HTML pages, as Google shows them.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.authReqs = append(s.authReqs, cloneValues(q))
	s.mu.Unlock()

	redirectURI := q.Get("redirect_uri")
	switch clientID := q.Get("client_id"); {
	case clientID == "":
		authErrorPage(w, 400, "invalid_request", "Missing required parameter: client_id")
		return
	case clientID != s.opts.ClientID:
		authErrorPage(w, 401, "invalid_client", "The OAuth client was not found.")
		return
	case redirectURI == "":
		authErrorPage(w, 400, "invalid_request", "Missing required parameter: redirect_uri")
		return
	case !s.redirectAllowed(redirectURI):
		authErrorPage(w, 400, "redirect_uri_mismatch", "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. Request details: redirect_uri="+redirectURI)
		return
	}
	asked := strings.Fields(q.Get("scope"))
	prompt := strings.Fields(q.Get("prompt"))
	if msg := checkAuthParams(q, asked, prompt); msg != "" {
		code, detail, _ := strings.Cut(msg, ": ")
		authErrorPage(w, 400, code, detail)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.ToLower(q.Get("login_hint"))]
	if u == nil {
		u = s.defaultUser
	}
	if u == nil {
		authErrorPage(w, 400, "invalid_request", "googletest: no Google account signed in (call AddUser)")
		return
	}
	state := q.Get("state")
	if s.denyNext {
		s.denyNext = false
		redirect(w, r, redirectURI, "error", "access_denied", "state", state)
		return
	}
	scopes := canonicalScopes(asked)
	known := !slices.ContainsFunc(scopes, func(sc string) bool { return !u.consented[sc] })
	promptNone, promptConsent := slices.Contains(prompt, "none"), slices.Contains(prompt, "consent")
	if promptNone && !known {
		redirect(w, r, redirectURI, "error", "consent_required", "state", state)
		return
	}
	consentShown := !promptNone && (promptConsent || !known)
	if consentShown && s.grantOnly != nil {
		scopes = slices.DeleteFunc(scopes, func(sc string) bool { return !basicScope(sc) && !slices.Contains(s.grantOnly, sc) })
	}
	for _, sc := range scopes {
		u.consented[sc] = true
	}
	if q.Get("include_granted_scopes") == "true" {
		scopes = setToList(u.consented)
	}
	code := s.newSecret("4/0A", 48)
	s.codes[code] = &authCode{
		user: u, redirectURI: redirectURI, challenge: q.Get("code_challenge"), scopes: scopes,
		nonce: q.Get("nonce"), expiry: s.now().Add(codeTTL),
		refresh: q.Get("access_type") == "offline" && consentShown,
	}
	// Google's redirect lists the short names asked for as well as the scopes.
	shown := slices.Clone(scopes)
	for alias, full := range scopeAliases {
		if slices.Contains(asked, alias) && slices.Contains(scopes, full) {
			shown = append(shown, alias)
		}
	}
	slices.Sort(shown)
	promptShown := "none"
	if consentShown {
		promptShown = "consent"
	}
	redirect(w, r, redirectURI, "state", state, "code", code, "scope", strings.Join(shown, " "),
		"authuser", "0", "prompt", promptShown)
}

// checkAuthParams checks the authorization parameters after client and
// redirect: "" or "error_code: description".
func checkAuthParams(q url.Values, scopes, prompt []string) string {
	switch rt := q.Get("response_type"); {
	case rt == "":
		return "invalid_request: Required parameter is missing: response_type"
	case rt != "code":
		return "unsupported_response_type: Unsupported response_type: " + rt
	}
	if len(scopes) == 0 {
		return "invalid_request: Missing required parameter: scope"
	}
	for _, sc := range scopes {
		if !validScope(sc) {
			return "invalid_scope: Some requested scopes were invalid. {invalid=[" + sc + "]}"
		}
	}
	switch challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method"); {
	case challenge == "":
		return "invalid_request: Missing required parameter: code_challenge (this client requires PKCE)"
	case method != "S256":
		return "invalid_request: Invalid code_challenge_method: " + method + " (S256 required)"
	case len(challenge) != 43 || strings.Trim(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "":
		return "invalid_request: Invalid code_challenge"
	}
	if at := q.Get("access_type"); at != "" && at != "online" && at != "offline" {
		return "invalid_request: Invalid access_type: " + at
	}
	for _, p := range prompt {
		if p != "none" && p != "consent" && p != "select_account" || p == "none" && len(prompt) > 1 {
			return "invalid_request: Invalid prompt: " + strings.Join(prompt, " ")
		}
	}
	if igs := q.Get("include_granted_scopes"); igs != "" && igs != "true" && igs != "false" {
		return "invalid_request: Invalid include_granted_scopes: " + igs
	}
	return ""
}

// redirectAllowed accepts an absolute http(s) URL without fragment; with
// Options.RedirectURIs, only those (any port on a loopback host).
func (s *Server) redirectAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return false
	}
	if len(s.opts.RedirectURIs) == 0 {
		return true
	}
	for _, reg := range s.opts.RedirectURIs {
		ru, err := url.Parse(reg)
		if reg == raw || err == nil && isLoopback(u.Hostname()) && ru.Hostname() == u.Hostname() &&
			ru.Scheme == u.Scheme && ru.Path == u.Path {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && ip.IsLoopback()
}

// redirect sends a 302 to base with the parameters appended in order,
// escaped as Google does (spaces as %20; "/" and ":" left as they are).
func redirect(w http.ResponseWriter, r *http.Request, base string, kv ...string) {
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	esc := strings.NewReplacer("+", "%20", "%2F", "/", "%3A", ":")
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "state" && kv[i+1] == "" {
			continue
		}
		b.WriteString(sep + kv[i] + "=" + esc.Replace(url.QueryEscape(kv[i+1])))
		sep = "&"
	}
	http.Redirect(w, r, b.String(), http.StatusFound)
}

func authErrorPage(w http.ResponseWriter, num int, code, detail string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Error %d (%s)</title></head><body>"+
		"<h1>Access blocked: Authorization Error</h1><p>Error %d: %s</p><p>%s</p></body></html>",
		num, code, num, code, html.EscapeString(detail))
}

// tokenResponse is the token endpoint's answer, fields in Google's order.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token,omitempty"`
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken is the token endpoint (oauth2.googleapis.com/token).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	r.ParseForm()
	f := r.PostForm
	grantType := f.Get("grant_type")
	s.mu.Lock()
	s.tokenReqs[grantType]++
	if v := f.Get("code_verifier"); len(v) >= 16 {
		s.addSecret(v)
	}
	delay := s.tokenDelay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN > 0 {
		s.failN--
		oauthError(w, s.failStatus, "internal_failure", "Backend Error")
		return
	}
	if !s.clientAuth(w, r, f) {
		return
	}
	switch grantType {
	case "authorization_code":
		s.exchange(w, f)
	case "refresh_token":
		s.refreshToken(w, f)
	case "":
		oauthError(w, 400, "invalid_request", "Required parameter is missing: grant_type")
	default:
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+grantType)
	}
}

// clientAuth checks the client credentials, from the body or HTTP Basic
// (whose parts are form-encoded, RFC 6749 2.3.1), and answers if they fail.
func (s *Server) clientAuth(w http.ResponseWriter, r *http.Request, f url.Values) bool {
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	switch {
	case id == "":
		oauthError(w, 400, "invalid_request", "Could not determine client ID from request.")
	case id != s.opts.ClientID:
		oauthError(w, 401, "invalid_client", "The OAuth client was not found.")
	case secret == "":
		oauthError(w, 400, "invalid_request", "client_secret is missing.")
	case secret != s.opts.ClientSecret:
		oauthError(w, 401, "invalid_client", "Unauthorized")
	default:
		return true
	}
	return false
}

// exchange answers grant_type=authorization_code. Called with s.mu held.
func (s *Server) exchange(w http.ResponseWriter, f url.Values) {
	code := f.Get("code")
	if code == "" {
		oauthError(w, 400, "invalid_request", "Missing required parameter: code")
		return
	}
	ac := s.codes[code]
	switch {
	case ac == nil && !strings.HasPrefix(code, "4/"):
		oauthError(w, 400, "invalid_grant", "Malformed auth code.")
		return
	case ac == nil:
		oauthError(w, 400, "invalid_grant", "Bad Request")
		return
	case ac.exchanged != nil: // replay: the tokens issued from the code die too
		ac.exchanged.revoked = true
		oauthError(w, 400, "invalid_grant", "Bad Request")
		return
	case !s.now().Before(ac.expiry):
		delete(s.codes, code)
		oauthError(w, 400, "invalid_grant", "Bad Request")
		return
	}
	switch ru := f.Get("redirect_uri"); {
	case ru == "":
		oauthError(w, 400, "invalid_request", "Missing parameter: redirect_uri")
		return
	case ru != ac.redirectURI:
		oauthError(w, 400, "redirect_uri_mismatch", "Bad Request")
		return
	}
	verifier := f.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	switch {
	case verifier == "":
		oauthError(w, 400, "invalid_grant", "Missing code verifier.")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != ac.challenge:
		oauthError(w, 400, "invalid_grant", "Bad Request")
		return
	}
	g := &grant{user: ac.user, scopes: ac.scopes}
	s.grants = append(s.grants, g)
	ac.exchanged = g
	refresh := ""
	if ac.refresh {
		refresh = s.newSecret("1//0", 72)
		s.refresh[refresh] = g
	}
	writeJSON(w, 200, s.issue(g, g.scopes, refresh, ac.nonce))
}

// refreshToken answers grant_type=refresh_token. Called with s.mu held.
func (s *Server) refreshToken(w http.ResponseWriter, f url.Values) {
	rt := f.Get("refresh_token")
	if rt == "" {
		oauthError(w, 400, "invalid_request", "Missing required parameter: refresh_token")
		return
	}
	g := s.refresh[rt]
	if g == nil || g.revoked {
		oauthError(w, 400, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	scopes := g.scopes
	if sc := f.Get("scope"); sc != "" { // down-scoping
		scopes = canonicalScopes(strings.Fields(sc))
		if slices.ContainsFunc(scopes, func(x string) bool { return !slices.Contains(g.scopes, x) }) {
			oauthError(w, 400, "invalid_scope", "Bad Request")
			return
		}
	}
	next := ""
	if s.opts.RotateRefreshTokens {
		next = s.newSecret("1//0", 72)
		s.refresh[next] = g
	}
	writeJSON(w, 200, s.issue(g, scopes, next, ""))
}

// issue makes an access token (and an ID token when openid was granted).
// Called with s.mu held.
func (s *Server) issue(g *grant, scopes []string, refresh, nonce string) tokenResponse {
	now := s.now()
	at := s.newSecret("ya29.a0", 96)
	s.access[at] = &accessToken{g: g, scopes: scopes, expiry: now.Add(s.opts.AccessTokenTTL)}
	resp := tokenResponse{
		AccessToken: at, ExpiresIn: int(s.opts.AccessTokenTTL / time.Second), RefreshToken: refresh,
		Scope: strings.Join(scopes, " "), TokenType: "Bearer",
	}
	if slices.Contains(scopes, "openid") {
		resp.IDToken = s.idToken(g.user, scopes, nonce, now)
	}
	return resp
}

// idToken returns an unsigned (alg "none") JWT with Google's claims.
func (s *Server) idToken(u *user, scopes []string, nonce string, now time.Time) string {
	claims := map[string]any{
		"iss": issuer, "azp": s.opts.ClientID, "aud": s.opts.ClientID, "sub": u.sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if slices.Contains(scopes, scopeAliases["email"]) {
		claims["email"], claims["email_verified"] = u.email, true
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
	s.addSecret(tok)
	return tok
}

// handleRevoke is the revocation endpoint (oauth2.googleapis.com/revoke).
// Revoking any token removes the app's access for that user, as Google does:
// all of the user's tokens die.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	r.ParseForm()
	tok := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeReqs++
	if tok == "" {
		oauthError(w, 400, "invalid_request", "Bad Request")
		return
	}
	g := s.refresh[tok]
	if a := s.access[tok]; a != nil && s.now().Before(a.expiry) {
		g = a.g
	}
	if g == nil || g.revoked {
		oauthError(w, 400, "invalid_token", "Token expired or revoked")
		return
	}
	s.revokeUserLocked(g.user)
	writeJSON(w, 200, struct{}{})
}

// handleUserinfo is OpenID Connect's userinfo endpoint
// (openidconnect.googleapis.com/v1/userinfo).
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	email, scopes, ok := s.CheckAccess(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		oauthError(w, 401, "invalid_request", "Invalid Credentials")
		return
	}
	hasEmail := slices.Contains(scopes, scopeAliases["email"])
	if !hasEmail && !slices.Contains(scopes, "openid") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="openid email"`)
		oauthError(w, 403, "insufficient_scope", "Insufficient Permission")
		return
	}
	sub := s.Sub(email)
	info := map[string]any{"sub": sub, "picture": "https://lh3.googleusercontent.com/a/fake-" + sub}
	if hasEmail {
		info["email"], info["email_verified"] = email, true
	}
	if slices.Contains(scopes, scopeAliases["profile"]) {
		name, _, _ := strings.Cut(email, "@")
		info["name"], info["given_name"] = name, name
	}
	writeJSON(w, 200, info)
}

// handleDiscovery serves the OpenID Connect discovery document.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	base := s.URL()
	writeJSON(w, 200, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                base + "/o/oauth2/v2/auth",
		"token_endpoint":                        base + "/token",
		"userinfo_endpoint":                     base + "/v1/userinfo",
		"revocation_endpoint":                   base + "/revoke",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"none"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
	})
}
