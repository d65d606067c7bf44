package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/mcpauth"
	"github.com/mailcal/mailcal/auth/tenant"
)

// A tenant's own MCP endpoint, /t/{tenant}/mcp: the same streamable server
// and session table as /mcp, authenticated either by the tenant's API key or
// by an access token of mailcal's OAuth server (auth/mcpauth) issued for
// this endpoint. An OAuth-capable MCP client that is given this URL and no
// key gets a 401 naming the protected-resource metadata (RFC 9728), and
// signs the person in from there.

// tenantPathPattern is the ServeMux pattern of the tenant endpoints.
const tenantPathPattern = "/t/{tenant}/mcp"

// oauthTokenPrefix starts every access token of mailcal's OAuth server;
// anything else in `Authorization: Bearer` is taken for an API key.
const oauthTokenPrefix = mcpauth.AccessPrefix

// verifyTimeout bounds one token's verification (a store read at most).
const verifyTimeout = 10 * time.Second

// bearerVerifier is what the tenant endpoints need of mailcal's OAuth
// server (auth/mcpauth.Server).
type bearerVerifier interface {
	// Verify returns the sign-in an access token stands for, if it is a
	// live token issued for tenantName's endpoint.
	Verify(ctx context.Context, token, tenantName string) (tenant.Signin, error)
	// ResourceMetadataURL is the RFC 9728 metadata URL of tenantName's
	// endpoint, named in the 401's WWW-Authenticate.
	ResourceMetadataURL(tenantName string) string
}

// oauthBearer plugs mailcal's OAuth server into the tenant endpoints
// (serveConfig.oauth; nil when the OAuth server is off, and the endpoints
// then take API keys only). Both fields are required (check).
type oauthBearer struct {
	verifier bearerVerifier
	// invalid is the error Verify wraps for a token that is not good
	// (unknown, expired, revoked, another tenant's or endpoint's):
	// mcpauth.ErrInvalidToken. Any other error means the tokens could not
	// be checked now (503), which must not send a client to sign in again.
	invalid error
}

// check refuses a half-configured oauthBearer.
func (ob *oauthBearer) check() error {
	if ob != nil && (ob.verifier == nil || ob.invalid == nil) {
		return errors.New("the OAuth server of the tenant endpoints needs both its verifier and its invalid-token error")
	}
	return nil
}

// tenantEndpoint authenticates a request to /t/{tenant}/mcp and puts the
// tenant (and, for an OAuth token, the sign-in) in its context. A request
// whose credentials are not the path's tenant's gets 401 exactly as one
// with an unknown key, so that the answer says nothing about other tenants.
func tenantEndpoint(auth *tenant.Authenticator, ob *oauthBearer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("tenant")
		if tenant.ValidateName(name) != nil {
			tenant.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint: a tenant's MCP endpoint is /t/TENANT/mcp, with TENANT a tenant name (`mailcal tenant list`)")
			return
		}
		e := endpointAuth{w: w, r: r, tenant: name, auth: auth, ob: ob}
		token := tenant.KeyFromRequest(r)
		switch {
		case token == "":
			e.challenge("", "this endpoint needs credentials: an MCP client that supports OAuth signs the person in by itself (from the metadata WWW-Authenticate names); any other client sends the tenant's API key as `Authorization: Bearer KEY` or `X-API-Key: KEY`")
		case ob != nil && strings.HasPrefix(token, oauthTokenPrefix):
			if ctx, ok := e.oauth(token); ok {
				next.ServeHTTP(w, r.WithContext(ctx))
			}
		default:
			if ctx, ok := e.apiKey(token); ok {
				next.ServeHTTP(w, r.WithContext(ctx))
			}
		}
	})
}

// endpointAuth is one request's authentication at a tenant endpoint.
type endpointAuth struct {
	w      http.ResponseWriter
	r      *http.Request
	tenant string
	auth   *tenant.Authenticator
	ob     *oauthBearer
}

// oauth verifies an access token for the path's tenant.
func (e endpointAuth) oauth(token string) (context.Context, bool) {
	ctx, cancel := context.WithTimeout(e.r.Context(), verifyTimeout)
	s, err := e.ob.verifier.Verify(ctx, token, e.tenant)
	cancel()
	switch {
	case err != nil && errors.Is(err, e.ob.invalid): // never nil (check)
		e.refused("the access token is unknown, expired, revoked or not for this endpoint; sign in again")
		return nil, false
	case err != nil:
		slog.ErrorContext(e.r.Context(), "OAuth access token could not be verified", "tenant", e.tenant, "err", err)
		tenant.WriteError(e.w, http.StatusServiceUnavailable, "oauth_unavailable", "the access token could not be checked right now; try again in a little while")
		return nil, false
	case s.Account == "" || s.Family == "" || (s.Tenant != "" && s.Tenant != e.tenant):
		// The verifier promised a sign-in of this tenant: anything else is
		// a bug there, refused rather than trusted.
		slog.ErrorContext(e.r.Context(), "OAuth verifier returned an incomplete sign-in or another tenant's; refused", "tenant", e.tenant, "signin_tenant", s.Tenant)
		tenant.WriteError(e.w, http.StatusServiceUnavailable, "oauth_unavailable", "the access token could not be checked right now; try again in a little while")
		return nil, false
	}
	s.Tenant = e.tenant
	return tenant.WithSignin(tenant.WithName(e.r.Context(), e.tenant), s), true
}

// apiKey authenticates an API key, which must be the path's tenant's.
func (e endpointAuth) apiKey(key string) (context.Context, bool) {
	source := tenant.Source(e.r)
	got, ok, err := e.auth.AuthenticateFrom(e.r.Context(), key, source)
	var limited *tenant.RateLimitError
	switch {
	case errors.As(err, &limited):
		e.tooMany(limited)
		return nil, false
	case err != nil:
		tenant.WriteError(e.w, http.StatusServiceUnavailable, "keyring_unavailable", "the tenant store cannot be read right now; see the server log")
		return nil, false
	case ok && got == e.tenant:
		return tenant.WithName(e.r.Context(), e.tenant), true
	case ok:
		// Another tenant's key: counted as a wrong key (AuthenticateFrom
		// did not count it), answered as one.
		if err := e.auth.Refused(source); errors.As(err, &limited) {
			e.tooMany(limited)
			return nil, false
		}
	}
	slog.InfoContext(e.r.Context(), "rejected request with an unknown API key", "path", e.r.URL.Path, "remote", e.r.RemoteAddr)
	e.challenge("invalid API key", "invalid API key for this endpoint")
	return nil, false
}

// refused answers a token that did not verify, after counting it against
// the source's budget of wrong credentials.
func (e endpointAuth) refused(description string) {
	var limited *tenant.RateLimitError
	if err := e.auth.Refused(tenant.Source(e.r)); errors.As(err, &limited) {
		e.tooMany(limited)
		return
	}
	slog.InfoContext(e.r.Context(), "rejected request with an invalid OAuth access token", "path", e.r.URL.Path, "remote", e.r.RemoteAddr)
	e.challenge(description, "invalid access token: "+description)
}

// challenge answers 401 with the RFC 6750 challenge: with
// error="invalid_token" when credentials were sent (description says what
// was wrong with them), and naming the resource metadata and the scope
// when the OAuth server is on.
func (e endpointAuth) challenge(description, message string) {
	var params []string
	if description != "" {
		params = append(params, `error="invalid_token"`, "error_description="+quoteParam(description))
	}
	if e.ob != nil {
		// The scope too when a token was refused: a client whose token
		// expired or was revoked signs in again from this challenge, and
		// the MCP authorization spec has the 401 name the scope it needs.
		params = append(params, "resource_metadata="+quoteParam(e.ob.verifier.ResourceMetadataURL(e.tenant)), `scope="mcp"`)
	} else {
		params = append([]string{`realm="mailcal"`}, params...)
	}
	e.w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	tenant.WriteError(e.w, http.StatusUnauthorized, "unauthorized", message)
}

func (e endpointAuth) tooMany(limited *tenant.RateLimitError) {
	e.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(limited.RetryAfter.Seconds()))))
	tenant.WriteError(e.w, http.StatusTooManyRequests, "too_many_wrong_keys", fmt.Sprintf(
		"too many requests with wrong credentials from this address; try again in %s", limited.RetryAfter.Round(time.Second)))
}

// quoteParam quotes an auth-param value (RFC 9110 quoted-string).
func quoteParam(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// sessionBinding is what a session opened by r is bound to (admit.go,
// sessionids.go): the hash of its API key, or, for a request signed in
// through OAuth, a hash of its sign-in's token family, which every access
// token refreshed from that sign-in shares and nobody else has. signin
// tells the removed-key check (sweep.go) that the key does not matter.
func sessionBinding(r *http.Request) (binding string, signin bool) {
	if s, ok := tenant.SigninFrom(r.Context()); ok && s.Family != "" {
		return signinBinding(s.Family), true
	}
	return tenant.HashKey(tenant.KeyFromRequest(r)), false
}

// signinBinding is what a sign-in's sessions are bound to: a hash of its
// token family, which its refreshed tokens keep.
func signinBinding(family string) string {
	sum := sha256.Sum256([]byte("oauth\x00" + family))
	return hex.EncodeToString(sum[:])
}
