// Package googletest is a fake of Google's OAuth 2.0 / OpenID Connect
// endpoints (accounts.google.com, oauth2.googleapis.com,
// openidconnect.googleapis.com), served on 127.0.0.1, for tests. It answers
// as Google does: the same paths, parameters, redirects, status codes and
// error bodies, single-use PKCE-bound codes, refresh tokens only on consent,
// no new refresh token on refresh, invalid_grant "Token has been expired or
// revoked." once access is removed.
//
// One Server serves everything on one mux, fakes of the Gmail and Calendar
// REST APIs included (gmail.go, calendar.go; fixtures.go, failure injection
// and request counts in api.go, checking against Google's discovery
// documents in discovery.go). Other API handlers can be added with Handle,
// authorize their requests with CheckAccess or Authorize, and answer errors
// with WriteAPIError.
package googletest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is Google's behaviour with a
// fake client.
type Options struct {
	ClientID, ClientSecret string        // defaults "fake-client-id.apps.googleusercontent.com", "fake-secret"
	AccessTokenTTL         time.Duration // default 1h (expires_in)
	// RotateRefreshTokens false is Google: a refresh answer has no
	// refresh_token. True issues a new one on every refresh; the old one keeps
	// working (Microsoft's behaviour).
	RotateRefreshTokens bool
	// RedirectURIs, if set, are the client's registered redirect URIs (a "Web
	// application" client): redirect_uri must equal one of them, except that a
	// loopback IP redirect may use any port (as for "Desktop app" clients).
	// Empty accepts any absolute http(s) URL.
	RedirectURIs []string
	// Now, if set, is the server's clock (token expiry, fixtures, Gmail's
	// newer_than:); Advance moves it on. Default time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultClientID     = "fake-client-id.apps.googleusercontent.com"
	DefaultClientSecret = "fake-secret"
	codeTTL             = 10 * time.Minute
	issuer              = "https://accounts.google.com"
)

// Server is a running fake. All its methods are safe for concurrent use.
type Server struct {
	opts   Options
	srv    *httptest.Server
	mux    *http.ServeMux
	offset atomic.Int64 // Advance: added to the wall clock

	mu          sync.Mutex
	users       map[string]*user // by lower-case email
	defaultUser *user
	codes       map[string]*authCode
	grants      []*grant
	refresh     map[string]*grant
	access      map[string]*accessToken
	secrets     []string
	secretSet   map[string]bool
	denyNext    bool
	grantOnly   []string // nil: grant everything asked
	failN       int
	failStatus  int
	tokenDelay  time.Duration
	tokenReqs   map[string]int
	revokeReqs  int
	authReqs    []url.Values

	api *apiState // the Gmail and Calendar APIs (api.go)
}

type user struct {
	email, sub string
	consented  map[string]bool // scopes the user has granted the client so far
}

// grant is what one code exchange gave: a refresh-token family and its
// access tokens. Revoking it kills them all.
type grant struct {
	user    *user
	scopes  []string
	revoked bool
}

type accessToken struct {
	g      *grant
	scopes []string
	expiry time.Time
}

type authCode struct {
	user                   *user
	redirectURI, challenge string
	scopes                 []string
	nonce                  string
	refresh                bool // the exchange answers a refresh_token
	expiry                 time.Time
	exchanged              *grant // set once used
}

// New starts a Server on 127.0.0.1 on a random port.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	s := &Server{
		opts:      opts,
		mux:       http.NewServeMux(),
		users:     map[string]*user{},
		codes:     map[string]*authCode{},
		refresh:   map[string]*grant{},
		access:    map[string]*accessToken{},
		secretSet: map[string]bool{},
		tokenReqs: map[string]int{},
	}
	s.addSecret(opts.ClientSecret)
	s.routes()
	s.initAPI()
	s.srv = httptest.NewServer(s.mux)
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Handle registers an API handler on the server's mux (net/http patterns,
// e.g. "GET /gmail/v1/users/{userId}/messages").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Env returns the mailcal environment pointing at this server, as "K=V".
func (s *Server) Env() []string {
	u := s.URL()
	return []string{
		"MAILCAL_GOOGLE_CLIENT_ID=" + s.opts.ClientID,
		"MAILCAL_GOOGLE_CLIENT_SECRET=" + s.opts.ClientSecret,
		"MAILCAL_GOOGLE_AUTH_URL=" + u + "/o/oauth2/auth",
		"MAILCAL_GOOGLE_TOKEN_URL=" + u + "/token",
		"MAILCAL_GOOGLE_REVOKE_URL=" + u + "/revoke",
		"MAILCAL_GOOGLE_USERINFO_URL=" + u + "/v1/userinfo",
		"MAILCAL_GOOGLE_API_URL=" + u,
	}
}

// AddUser adds a Google account that can approve authorizations. The first
// one added is the default. Adding an existing account does nothing.
func (s *Server) AddUser(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(email)
	if s.users[key] != nil {
		return
	}
	sum := sha256.Sum256([]byte(key))
	sub := fmt.Sprintf("1%020d", binary.BigEndian.Uint64(sum[:8])) // 21 digits, like Google's
	u := &user{email: email, sub: sub, consented: map[string]bool{}}
	s.users[key] = u
	if s.defaultUser == nil {
		s.defaultUser = u
	}
}

// Sub returns the stable subject id ("sub") of a user, "" if unknown.
func (s *Server) Sub(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(email)]; u != nil {
		return u.sub
	}
	return ""
}

// Approve simulates the person's browser: it GETs authURL without following
// redirects and returns where the browser would be sent (the redirect_uri
// with code and state, or with error=access_denied). An error page (no
// redirect) is returned as an error carrying the page's message.
func (s *Server) Approve(ctx context.Context, authURL string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusFound {
		text := strings.Join(strings.Fields(tagRE.ReplaceAllString(string(body), " ")), " ")
		return nil, fmt.Errorf("googletest: authorization page answered %d: %s", resp.StatusCode, text)
	}
	return url.Parse(resp.Header.Get("Location"))
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// ApproveAndFollow is Approve followed by the browser's GET of the redirect
// (to mailcal's callback). The caller closes the response body.
func (s *Server) ApproveAndFollow(ctx context.Context, authURL string) (*http.Response, error) {
	loc, err := s.Approve(ctx, authURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// DenyNext makes the next authorization answer error=access_denied (the
// person clicked Cancel).
func (s *Server) DenyNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyNext = true
}

// GrantOnly makes the following authorizations grant only these of the
// asked Google scopes, as when the person unticks boxes on the granular
// consent screen (openid, email and profile are always granted). GrantOnly()
// with no scope grants everything again.
func (s *Server) GrantOnly(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grantOnly = nil
	if len(scopes) > 0 {
		s.grantOnly = canonicalScopes(scopes)
	}
}

// RevokeUser simulates the person removing the app's access in their Google
// account: every code, refresh token and access token of that user dies and
// the next authorization is a first consent again.
func (s *Server) RevokeUser(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(email)]; u != nil {
		s.revokeUserLocked(u)
	}
}

func (s *Server) revokeUserLocked(u *user) {
	for _, g := range s.grants {
		if g.user == u {
			g.revoked = true
		}
	}
	for c, ac := range s.codes {
		if ac.user == u {
			delete(s.codes, c)
		}
	}
	clear(u.consented)
}

// ExpireAccessTokens makes every access token issued so far expired.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for _, a := range s.access {
		a.expiry = past
	}
}

// Advance moves the server's clock forward by d: codes (10 minutes) and
// access tokens expire as if d had passed.
func (s *Server) Advance(d time.Duration) { s.offset.Add(int64(d)) }

func (s *Server) now() time.Time {
	now := time.Now
	if s.opts.Now != nil {
		now = s.opts.Now
	}
	return now().Add(time.Duration(s.offset.Load()))
}

// FailTokenRequests makes the next n POSTs to /token answer status (500 or
// 503) with Google's backend-error body.
func (s *Server) FailTokenRequests(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetTokenDelay makes every /token request wait d before answering (or
// until the request is cancelled).
func (s *Server) SetTokenDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenDelay = d
}

// TokenRequests counts the /token requests with this grant_type
// ("authorization_code", "refresh_token"), failed ones included.
func (s *Server) TokenRequests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs[grantType]
}

// RevokeRequests counts the requests to /revoke, failed ones included.
func (s *Server) RevokeRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokeReqs
}

// AuthRequests returns the query of every authorization request received,
// in order (to check what mailcal asked for: scopes, access_type, prompt…).
func (s *Server) AuthRequests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.authReqs))
	for i, q := range s.authReqs {
		out[i] = cloneValues(q)
	}
	return out
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

// Granted returns the Google scopes the user has granted the client so far
// (nothing after a revocation).
func (s *Server) Granted(email string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.ToLower(email)]
	if u == nil {
		return nil
	}
	return setToList(u.consented)
}

// CheckAccess validates an API request's bearer token (Authorization:
// Bearer). It returns the user and the Google scopes of the token; ok is
// false for a missing, unknown, expired or revoked token.
func (s *Server) CheckAccess(r *http.Request) (email string, scopes []string, ok bool) {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return "", nil, false
	}
	return s.checkToken(strings.TrimSpace(tok))
}

func (s *Server) checkToken(tok string) (string, []string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.access[tok]
	if a == nil || a.g.revoked || !s.now().Before(a.expiry) {
		return "", nil, false
	}
	return a.g.user.email, slices.Clone(a.scopes), true
}

// Authorize is CheckAccess for API handlers: it answers the request itself
// with Google's API errors, 401 UNAUTHENTICATED for a bad token and 403
// PERMISSION_DENIED when the token has none of anyOf (the scopes that
// authorize the method, as listed in the discovery document).
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request, anyOf ...string) (email string, ok bool) {
	email, scopes, ok := s.CheckAccess(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		WriteAPIError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "authError")
		return "", false
	}
	if len(anyOf) > 0 && !slices.ContainsFunc(anyOf, func(sc string) bool { return slices.Contains(scopes, sc) }) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="%s"`, strings.Join(anyOf, " ")))
		WriteAPIError(w, http.StatusForbidden, "Request had insufficient authentication scopes.", "insufficientPermissions")
		return "", false
	}
	return email, true
}

// WriteAPIError answers with Google's JSON API error:
// {"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}.
func WriteAPIError(w http.ResponseWriter, code int, message, reason string) {
	status := map[int]string{
		400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
		409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
	}[code]
	if status == "" {
		status = "UNKNOWN"
	}
	type item struct {
		Message      string `json:"message"`
		Domain       string `json:"domain"`
		Reason       string `json:"reason"`
		Location     string `json:"location,omitempty"`
		LocationType string `json:"locationType,omitempty"`
	}
	it := item{Message: message, Domain: "global", Reason: reason}
	if code == http.StatusUnauthorized {
		it.Message, it.Location, it.LocationType = "Invalid Credentials", "Authorization", "header"
	}
	if code == http.StatusForbidden && reason == "insufficientPermissions" {
		it.Message = "Insufficient Permission"
	}
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": code, "message": message, "errors": []item{it}, "status": status,
	}})
}

// Secrets returns every secret value the server has issued or seen: the
// client secret, codes, access, refresh and ID tokens, and PKCE verifiers.
// Tests assert that none of them appears in logs or outputs.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.secrets)
}

func (s *Server) addSecret(v string) {
	if v != "" && !s.secretSet[v] {
		s.secretSet[v] = true
		s.secrets = append(s.secrets, v)
	}
}

// newSecret returns a fresh random value with Google's prefix ("ya29." for
// access tokens, "1//0" for refresh tokens, "4/0A" for codes) and records it.
// Call with s.mu held.
func (s *Server) newSecret(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	v := prefix + base64.RawURLEncoding.EncodeToString(b)
	s.addSecret(v)
	return v
}

// Google's short scope names and the scopes they stand for.
var scopeAliases = map[string]string{
	"email":   "https://www.googleapis.com/auth/userinfo.email",
	"profile": "https://www.googleapis.com/auth/userinfo.profile",
}

// canonicalScopes maps aliases to full scopes, removes duplicates and sorts.
func canonicalScopes(scopes []string) []string {
	set := map[string]bool{}
	for _, sc := range scopes {
		if full, ok := scopeAliases[sc]; ok {
			sc = full
		}
		set[sc] = true
	}
	return setToList(set)
}

func setToList(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k, v := range set {
		if v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// basicScope reports whether a scope is granted without a consent checkbox.
func basicScope(sc string) bool {
	return sc == "openid" || sc == scopeAliases["email"] || sc == scopeAliases["profile"]
}

func validScope(sc string) bool {
	return sc == "openid" || scopeAliases[sc] != "" || sc == "https://mail.google.com/" ||
		strings.HasPrefix(sc, "https://www.googleapis.com/auth/")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
