package mcpauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
)

// Lifetimes of what the server issues.
const (
	CodeTTL    = 60 * time.Second
	AccessTTL  = 15 * time.Minute
	RefreshTTL = 30 * 24 * time.Hour
	// FamilyTTL caps a sign-in: however often its refresh token rotates,
	// the person signs in again after 90 days.
	FamilyTTL = 90 * 24 * time.Hour
)

// Token prefixes: a token says what it is, and a secret scanner can find
// a leaked one.
const (
	AccessPrefix  = "mca_"
	RefreshPrefix = "mcr_"
	CodePrefix    = "mco_"
)

// Scope is the one scope of mailcal's OAuth server.
const Scope = "mcp"

// Policies reads a tenant's policy (*policy.Store).
type Policies interface {
	// Read reads a tenant's policy from the store, not from a cache: who
	// may sign in is decided on the policy as it is now (a person an
	// operator just added is let in, one just removed is not).
	Read(ctx context.Context, tenant string) (policy.Policy, error)
}

// Config configures the Server.
type Config struct {
	// BaseURL is the issuer: MAILCAL_BASE_URL without a trailing slash.
	BaseURL string
	Store   store.OAuthServer
	Clients ClientSource
	// Flows runs the upstream sign-in (auth/oauth).
	Flows     *oauth.Flows
	Providers *providers.Registry
	Policies  Policies
	// TenantExists says whether a tenant exists (the authenticator's
	// snapshot, say).
	TenantExists func(ctx context.Context, name string) (bool, error)
	// RedirectURI is the upstream provider's callback, {base}/oauth/callback.
	RedirectURI string
	// ReadOnly: `serve --read-only`, the provider is asked only for read
	// scopes.
	ReadOnly bool
	Now      func() time.Time
	// Observe, if set, hears each sign-in's outcome (event "signin": ok,
	// refused, denied, failed) and each token request's (event "token":
	// code, refresh, reuse, refused, unavailable), for metrics.
	Observe func(event, outcome string)
	// OnRevoke, if set, hears each family (sign-in) this server revoked:
	// a reused refresh token or code, /revoke. The serving side ends the
	// sign-in's sessions.
	OnRevoke func(family string)
}

// Server is mailcal's OAuth authorization server.
type Server struct {
	cfg   Config
	base  string
	now   func() time.Time
	cache *verifyCache
	// verifying: one store read per access token at a time (Verify).
	verifying singleflight.Group
	// signins limits the sign-ins each source address begins.
	signins *tenant.Limiter

	pruneMu sync.Mutex
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil || cfg.Clients == nil || cfg.Flows == nil || cfg.Providers == nil || cfg.Policies == nil || cfg.TenantExists == nil:
		return nil, errors.New("mcpauth: Store, Clients, Flows, Providers, Policies and TenantExists are required")
	case cfg.RedirectURI == "":
		return nil, errors.New("mcpauth: RedirectURI (the upstream callback, {base}/oauth/callback) is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mcpauth: base URL %q must be an http(s) origin like https://mail.example.com, without path, query or fragment", cfg.BaseURL)
	}
	if u.Scheme == "http" && !providers.IsLoopbackHost(u.Host) {
		return nil, fmt.Errorf("mcpauth: base URL %q must use https unless it is on a loopback host (OAuth 2.1 requires TLS)", cfg.BaseURL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, base: strings.TrimSuffix(cfg.BaseURL, "/"), now: cfg.Now, cache: newVerifyCache(maxVerified), signins: tenant.NewLimiter(signinBurst, signinEvery)}, nil
}

// Issuer is the server's issuer identifier (the base URL).
func (s *Server) Issuer() string { return s.base }

// Resource is the MCP endpoint of a tenant: the audience of its tokens.
func (s *Server) Resource(tenant string) string { return s.base + "/t/" + tenant + "/mcp" }

// ResourceMetadataURL is where a tenant's protected-resource metadata
// (RFC 9728) is served: the well-known path inserted before the resource's
// path.
func (s *Server) ResourceMetadataURL(tenant string) string {
	return s.base + "/.well-known/oauth-protected-resource/t/" + tenant + "/mcp"
}

// tenantOf returns the tenant whose Resource is exactly resource.
func (s *Server) tenantOf(resource string) (string, bool) {
	rest, ok := strings.CutPrefix(resource, s.base+"/t/")
	if !ok {
		return "", false
	}
	t, ok := strings.CutSuffix(rest, "/mcp")
	if !ok || store.ValidTenant(t) != nil || s.Resource(t) != resource {
		return "", false
	}
	return t, true
}

// Handler serves the metadata, /authorize, /token and /revoke (not
// /register: that is the ClientSource's RegisterHandler).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-authorization-server", cors(http.HandlerFunc(s.serveASMetadata)))
	mux.Handle("/.well-known/oauth-protected-resource/t/{tenant}/mcp", cors(http.HandlerFunc(s.servePRM)))
	mux.HandleFunc("/authorize", s.serveAuthorize)
	mux.Handle("/token", cors(http.HandlerFunc(s.serveToken)))
	mux.Handle("/revoke", cors(http.HandlerFunc(s.serveRevoke)))
	return mux
}

// cors lets browser-based clients (the MCP Inspector) read the answers:
// no cookie is ever used, so any origin may.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hashToken is how a token is stored: hex SHA-256.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// fam is what a log says about a family: its last 8 (random) characters,
// not its start, which every family of the same second shares.
func fam(family string) string {
	if len(family) > 8 {
		return family[len(family)-8:]
	}
	return family
}

// randomString is n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newToken returns prefix + 43 characters (32 random bytes).
func newToken(prefix string) string { return prefix + randomString(32) }

// wellFormed reports whether tok is prefix + 43 base64url characters.
func wellFormed(tok, prefix string) bool {
	r, ok := strings.CutPrefix(tok, prefix)
	if !ok || len(r) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(r)
	return err == nil
}

// newFamily names a new sign-in: 8 hex digits of its start (Unix seconds)
// then 22 random characters. The start is in the name because a family's
// tokens must stop at FamilyTTL after it, and the family never leaves the
// server, so nobody can forge it.
func newFamily(now time.Time) string {
	return fmt.Sprintf("%08x", uint32(now.Unix())) + randomString(16)
}

// familyStart reads a family's start; false for a family this server did
// not name.
func familyStart(family string) (time.Time, bool) {
	if len(family) != 30 {
		return time.Time{}, false
	}
	sec, err := strconv.ParseUint(family[:8], 16, 32)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}

// familyEnd is when every token of a family has expired: its start plus
// FamilyTTL (now plus FamilyTTL for a family of unknown start).
func (s *Server) familyEnd(family string) time.Time {
	if start, ok := familyStart(family); ok {
		return start.Add(FamilyTTL)
	}
	return s.now().Add(FamilyTTL)
}

// revokeFamily revokes a family in the store and drops it from this
// process's cache at once.
func (s *Server) revokeFamily(ctx context.Context, family string) error {
	s.cache.dropFamily(family)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.cfg.Store.RevokeOAuthFamily(ctx, family, s.familyEnd(family).Add(time.Minute))
	s.cache.dropFamily(family)
	if err == nil && s.cfg.OnRevoke != nil {
		s.cfg.OnRevoke(family)
	}
	return err
}

// observe reports an outcome to Config.Observe.
func (s *Server) observe(event, outcome string) {
	if s.cfg.Observe != nil {
		s.cfg.Observe(event, outcome)
	}
}
