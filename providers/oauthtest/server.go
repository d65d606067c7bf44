package oauthtest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a running fake authorization server. All its methods are safe
// for concurrent use.
type Server struct {
	cfg    Config
	srv    *httptest.Server
	mux    *http.ServeMux
	offset atomic.Int64 // Advance: added to the clock

	mu           sync.Mutex
	users        map[string]*user // by lower-case email
	defaultUser  *user
	codes        map[string]*authCode
	grants       []*grant
	refresh      map[string]*grant    // live refresh tokens
	issued       map[string]*grant    // every refresh token issued
	rtExpiry     map[string]time.Time // with Tokens.RefreshTTL
	access       map[string]*accessToken
	secrets      []string
	secretSet    map[string]bool
	denyNext     bool
	grantOnly    []string // nil: grant everything asked
	failN        int
	failStatus   int
	tokenDelay   time.Duration
	tokenReqs    map[string]int
	revokeReqs   int
	revokeAuthed int
	authReqs     []url.Values
}

type user struct {
	User
	consented map[string]bool // scopes the user has granted the client so far
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
	tenant                 string // the tenant segment it was issued at (Config.Tenants)
	redirectURI, challenge string
	plain                  bool // the challenge is the verifier itself (PKCE "plain")
	scopes                 []string
	nonce                  string
	refresh                bool // the exchange answers a refresh_token
	expiry                 time.Time
	exchanged              *grant // set once used
}

// New starts a Server on 127.0.0.1 on a random port.
func New(cfg Config) *Server {
	s := &Server{
		cfg:       cfg.withDefaults(),
		mux:       http.NewServeMux(),
		users:     map[string]*user{},
		codes:     map[string]*authCode{},
		refresh:   map[string]*grant{},
		issued:    map[string]*grant{},
		rtExpiry:  map[string]time.Time{},
		access:    map[string]*accessToken{},
		secretSet: map[string]bool{},
		tokenReqs: map[string]int{},
	}
	s.addSecret(s.cfg.ClientSecret)
	s.routes()
	s.srv = httptest.NewUnstartedServer(s.mux)
	if s.cfg.Issuer == "" {
		s.cfg.Issuer = "http://" + s.srv.Listener.Addr().String()
	}
	s.srv.Start()
	return s
}

func (s *Server) routes() {
	c := &s.cfg
	for _, p := range c.Authorize.Paths {
		s.mux.HandleFunc("GET "+p, s.handleAuthorize)
	}
	s.mux.HandleFunc("POST "+c.Tokens.Path, s.handleToken)
	if c.Revocation.Path != "" {
		s.mux.HandleFunc(c.Revocation.Path, s.handleRevoke)
	}
	for _, p := range c.Identity.Paths {
		s.mux.HandleFunc(p, s.handleIdentity)
	}
	if c.DiscoveryPath != "" {
		s.mux.HandleFunc("GET "+c.DiscoveryPath, s.handleDiscovery)
	}
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Handle registers another handler on the server's mux (net/http
// patterns), such as the provider's APIs, which authorize their requests
// with CheckAccess.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddUser adds an account that can approve authorizations. The first one
// added is the default; login_hint picks another. Adding an existing
// account does nothing.
func (s *Server) AddUser(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(email)
	if s.users[key] != nil {
		return
	}
	u := &user{User: User{Email: email, Sub: s.cfg.Subject(key)}, consented: map[string]bool{}}
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
		return u.Sub
	}
	return ""
}

// DenyNext makes the next authorization answer error=access_denied (the
// person clicked Cancel).
func (s *Server) DenyNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyNext = true
}

// GrantOnly makes the following authorizations that show a consent screen
// grant only these of the asked scopes, as when the person unticks boxes on
// a granular consent screen (the Basic scopes are always granted).
// GrantOnly() with no scope grants everything again.
func (s *Server) GrantOnly(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grantOnly = nil
	if len(scopes) > 0 {
		s.grantOnly = s.canonicalScopes(scopes)
	}
}

// RevokeUser simulates the person removing the app's access in their
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

// RefreshTokenLive reports whether a refresh request with rt would succeed
// now: issued, not retired by a rotation nor expired, its grant not
// revoked.
func (s *Server) RefreshTokenLive(rt string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshFailure(rt) == ""
}

// refreshFailure is why a refresh with rt fails, "" if it would not. Call
// with s.mu held.
func (s *Server) refreshFailure(rt string) Failure {
	g := s.issued[rt]
	switch exp, expires := s.rtExpiry[rt]; {
	case g == nil:
		return InvalidRefreshToken
	case g.revoked:
		return RevokedRefreshToken
	case s.refresh[rt] == nil:
		return RetiredRefreshToken
	case expires && !s.Now().Before(exp):
		return ExpiredRefreshToken
	}
	return ""
}

// newRefreshToken issues a refresh token of g. Call with s.mu held.
func (s *Server) newRefreshToken(g *grant) string {
	rt := s.newSecret(s.cfg.Tokens.Refresh)
	s.refresh[rt] = g
	s.issued[rt] = g
	if ttl := s.cfg.Tokens.RefreshTTL; ttl > 0 {
		s.rtExpiry[rt] = s.Now().Add(ttl)
	}
	return rt
}

// SameGrant reports whether two refresh tokens come from the same code
// exchange (one of them a rotation of the other, or both of the same
// first), live or not.
func (s *Server) SameGrant(rt1, rt2 string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.issued[rt1]
	return g != nil && g == s.issued[rt2]
}

// ExpireAccessTokens makes every access token issued so far expired.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.Now().Add(-time.Second)
	for _, a := range s.access {
		a.expiry = past
	}
}

// Advance moves the server's clock forward by d: codes and access tokens
// expire as if d had passed.
func (s *Server) Advance(d time.Duration) { s.offset.Add(int64(d)) }

// Now is the server's clock: Config.Now moved on by Advance.
func (s *Server) Now() time.Time { return s.cfg.Now().Add(time.Duration(s.offset.Load())) }

// FailTokenRequests makes the next n requests to the token endpoint answer
// status with the provider's TokenBackendError body.
func (s *Server) FailTokenRequests(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetTokenDelay makes every token request wait d before answering (or
// until the request is cancelled).
func (s *Server) SetTokenDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenDelay = d
}

// TokenRequests counts the token requests with this grant_type
// ("authorization_code", "refresh_token"), failed ones included.
func (s *Server) TokenRequests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs[grantType]
}

// RevokeRequests counts the requests to the revocation endpoint, failed
// ones included.
func (s *Server) RevokeRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokeReqs
}

// RevokeRequestsAuthenticated counts the revocation requests that carried
// valid client authentication (client_id and client_secret in the body, or
// HTTP Basic), as RFC 7009 2.1 asks of a confidential client.
func (s *Server) RevokeRequestsAuthenticated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokeAuthed
}

// AuthRequests returns the query of every authorization request received,
// in order (to check what the client asked for: scopes, prompt…).
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

// Granted returns the scopes the user has granted the client so far
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

// Secrets returns every secret value the server has issued or seen: the
// client secret, codes, access, refresh and ID tokens, and PKCE verifiers.
// Tests assert that none of them appears in logs or outputs.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.secrets)
}

// RecordSecret adds a secret value the provider's fake issued itself (an
// upload URL's token, say) to Secrets.
func (s *Server) RecordSecret(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addSecret(v)
}

func (s *Server) addSecret(v string) {
	if v != "" && !s.secretSet[v] {
		s.secretSet[v] = true
		s.secrets = append(s.secrets, v)
	}
}

// newSecret returns a fresh random value in format f and records it. Call
// with s.mu held.
func (s *Server) newSecret(f TokenFormat) string {
	b := make([]byte, f.Bytes)
	rand.Read(b)
	v := f.Prefix + base64.RawURLEncoding.EncodeToString(b)
	s.addSecret(v)
	return v
}

// canonicalScopes maps aliases to full scopes, removes duplicates and
// sorts.
func (s *Server) canonicalScopes(scopes []string) []string {
	set := map[string]bool{}
	for _, sc := range scopes {
		set[s.canonical(sc)] = true
	}
	return setToList(set)
}

func (s *Server) canonical(sc string) string {
	sc = s.cfg.Scopes.Normalize(sc)
	if full, ok := s.cfg.Scopes.Aliases[sc]; ok {
		return full
	}
	return sc
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
