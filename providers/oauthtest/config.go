package oauthtest

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Config describes the authorization server a fake reproduces. Every field
// is optional: the zero Config is a plain OAuth 2.0 / OpenID Connect server
// (RFC 6749, RFC 7636, OpenID Connect Core) at /authorize and /token, with
// a discovery document, no revocation and no identity endpoint, and the
// RFCs' error codes with short generic descriptions. A provider's fake
// fills in what its provider documents.
//
// The functions in a Config may be called with the server's lock held:
// they must not call the Server's methods.
type Config struct {
	// Name starts the server's own error messages and panics (the provider
	// fake's package name). Default "oauthtest".
	Name string
	// ClientID and ClientSecret are the one registered client's
	// credentials. Defaults DefaultClientID, DefaultClientSecret.
	ClientID, ClientSecret string
	// RedirectURIs, if set, are the client's registered redirect URIs:
	// redirect_uri must equal one of them, except that a loopback one may
	// use any port (RFC 8252 7.3). Empty accepts any absolute http(s) URL.
	RedirectURIs []string
	// AccessTokenTTL is the access tokens' lifetime (expires_in). Default 1h.
	AccessTokenTTL time.Duration
	// CodeTTL is the authorization codes' lifetime. Default 10 minutes.
	CodeTTL time.Duration
	// Now, if set, is the server's clock; Advance moves it on. Default
	// time.Now.
	Now func() time.Time
	// Issuer is the iss claim of ID tokens and the discovery document's
	// issuer. Default the server's URL.
	Issuer string
	// Realm is the realm of the WWW-Authenticate challenges the server
	// sends (RFC 6750 3); empty leaves it out.
	Realm string
	// Subject makes a new user's stable subject id (the sub claim) from
	// the email address given to AddUser. Default: 24 hex digits of its
	// SHA-256.
	Subject func(email string) string
	// DiscoveryPath is where the OpenID Connect discovery document is
	// served. Default "/.well-known/openid-configuration".
	DiscoveryPath string
	// NoDiscovery serves no discovery document.
	NoDiscovery bool

	Scopes     Scopes
	Authorize  Authorize
	Tokens     Tokens
	ClientAuth ClientAuth
	Revocation Revocation
	Identity   Identity
	// Tenants, if set, makes the server multi-tenant: the authorization and
	// token endpoints' paths carry a {tenant} segment that says who may sign
	// in there (Microsoft's /{tenant}/oauth2/v2.0/…).
	Tenants *Tenants

	// Errors are the provider's answers to each failure; a failure it does
	// not list is answered with the RFC's error code and a generic
	// description.
	Errors map[Failure]Error
	// WriteError writes an error answer of the token and revocation
	// endpoints (and of the identity endpoint unless it has its own).
	// Default: RFC 6749 5.2's JSON, {"error","error_description"}.
	WriteError func(w http.ResponseWriter, e Error)
}

// Scopes is how the server reads the scope parameter.
type Scopes struct {
	// Aliases are short names and the scopes they stand for ("email" for
	// a provider's ".../auth/userinfo.email"); the server works with the full
	// scopes.
	Aliases map[string]string
	// Basic scopes are granted without a consent checkbox: GrantOnly never
	// takes them away. Aliases may be used.
	Basic []string
	// Valid reports whether the server knows a scope (after aliases); an
	// unknown one fails the authorization with AuthInvalidScope. Nil
	// accepts every scope.
	Valid func(scope string) bool
	// Supported is the discovery document's scopes_supported.
	Supported []string
	// Normalize, if set, rewrites a scope as written before aliases are
	// looked up (a provider whose scope names are case-insensitive, or
	// that takes a scope with or without its resource's prefix).
	Normalize func(scope string) string
}

// Authorize is the authorization endpoint's behaviour.
type Authorize struct {
	// Paths are served for GET (net/http patterns without the method; a
	// {name} wildcard is allowed). The first is advertised. Default
	// {"/authorize"}.
	Paths []string
	// PKCEOptional accepts requests without code_challenge; by default
	// PKCE with S256 is required (OAuth 2.1).
	PKCEOptional bool
	// PKCEMethods are the code_challenge_method values accepted. Default
	// {"S256"}. With "plain" among them, a challenge without a method is
	// plain, as RFC 7636 4.3 says.
	PKCEMethods []string
	// Prompts are the prompt values the endpoint accepts ("none" must stand
	// alone). Default none, login, consent, select_account.
	Prompts []string
	// CheckParams checks the provider's own parameters after the standard
	// ones; a non-nil Error fails the request.
	CheckParams func(q url.Values) *Error
	// RedirectErrors sends the failures found once the client and its
	// redirect_uri are known back to the client (RFC 6749 4.1.2.1: error,
	// error_description, state). By default they are shown as an error
	// page, as some providers do.
	RedirectErrors bool
	// ErrorPage writes the page a failure shows the person. Default a
	// plain HTML page with the error code and description.
	ErrorPage func(w http.ResponseWriter, e Error)
	// IncludeGranted reports whether the code carries every scope the
	// person has granted the client so far, not only the ones asked for
	// (incremental authorization). Default never.
	IncludeGranted func(q url.Values) bool
	// RefreshToken reports whether the code's exchange answers a refresh
	// token. Default always.
	RefreshToken func(c Consent) bool
	// Redirect lists the parameters of the successful redirect to the
	// client, in order, as key, value, key, value… (a state that is
	// empty is left out). Default "code", code, "state", state.
	Redirect func(c Consent, code string) []string
}

// Consent is an authorization the person approved.
type Consent struct {
	Request url.Values // the authorization request's query
	User    User
	Asked   []string // the scopes asked for, as written
	Granted []string // the scopes the code carries (full names, sorted)
	Shown   bool     // a consent screen was shown (a first consent, prompt=consent)
}

// Tokens is the token endpoint's behaviour and what it issues.
type Tokens struct {
	// Path is served for POST. Default "/token".
	Path string
	// Code, Access and Refresh are the formats of the values issued.
	Code, Access, Refresh TokenFormat
	// Rotation is what a refresh does to the refresh token.
	Rotation Rotation
	// Answer makes the JSON answer of a successful request, for a
	// provider whose fields or order differ. Default the TokenResponse.
	Answer func(t TokenResponse) any
	// IDClaims adds the provider's claims to an ID token (issued when
	// openid is granted); iss, aud, sub, iat, exp and nonce are set.
	IDClaims func(u User, scopes []string, claims map[string]any)
	// RefreshTTL, if positive, is each refresh token's lifetime from its
	// issue: past it a refresh fails with ExpiredRefreshToken (Microsoft's
	// 90 days of inactivity, every rotated token with its own). Default:
	// refresh tokens do not expire.
	RefreshTTL time.Duration
}

// TokenFormat is how an issued value looks: Prefix, then Bytes random
// bytes in unpadded base64url.
type TokenFormat struct {
	Prefix string
	Bytes  int // default 32
	// Shape, for codes, is the prefix every well-formed code has: an
	// unknown code without it is MalformedCode, with it UnknownCode.
	// Default Prefix.
	Shape string
}

// Rotation is what a refresh does to the refresh token it was given.
type Rotation int

const (
	// NoRotation answers no refresh_token; the one used stays valid
	// (as some providers do).
	NoRotation Rotation = iota
	// RotateKeepOld answers a new refresh token every time; the one used
	// keeps working until its grant is revoked or it expires (Microsoft).
	RotateKeepOld
	// RotateRetireOld answers a new refresh token every time; the one
	// used is dead from then on (OAuth 2.1's rotation for public
	// clients).
	RotateRetireOld
)

// ClientAuth is how the client authenticates at the token endpoint, and
// optionally at the revocation endpoint.
type ClientAuth struct {
	// Methods are the accepted methods: "client_secret_basic" (HTTP Basic
	// with form-encoded parts, RFC 6749 2.3.1) and "client_secret_post"
	// (client_id and client_secret in the body). Default both.
	Methods []string
	// Public is a client without a secret: client_id alone identifies it
	// (PKCE protects the code); a secret that is sent must still be right,
	// unless RefuseSecret.
	Public bool
	// RefuseSecret makes a public client that sends a secret fail with
	// PublicClientSecret (Microsoft: a public client must not present one).
	RefuseSecret bool
}

// Tenants are the authorities of a multi-tenant server, named by the
// {tenant} path segment of its endpoints. A code must be redeemed at the
// tenant it was issued at; a refresh at a tenant that accepts the user.
type Tenants struct {
	// Exists reports whether a tenant segment names a tenant; a request at
	// another fails with UnknownTenant (detail: the segment).
	Exists func(tenant string) bool
	// Accepts reports whether the user may sign in at the tenant; if not,
	// TenantRejectsUser (detail: the user's email).
	Accepts func(tenant string, u User) bool
}

// Revocation is the revocation endpoint (RFC 7009), if any.
type Revocation struct {
	// Path serves revocation; empty: the provider has none (404).
	Path string
	// Methods accepted. Default {"POST"}.
	Methods []string
	// RequireClientAuth fails a request without valid client credentials
	// (RFC 7009 2.1 for a confidential client). Otherwise credentials are
	// optional, but checked when sent; RevokeRequestsAuthenticated counts
	// the requests that carried valid ones.
	RequireClientAuth bool
	// RevokeUser: revoking any token removes all of the user's grants for
	// the client and their consent, as some providers do. Otherwise only the
	// token's grant (its refresh token and access tokens) dies.
	RevokeUser bool
}

// Identity is the endpoint that tells who a token belongs to (OpenID
// Connect's userinfo, or a provider's /me).
type Identity struct {
	// Paths serve the endpoint; the first is advertised as
	// userinfo_endpoint. None: no identity endpoint.
	Paths []string
	// Methods accepted. Default GET and POST (OpenID Connect Core 5.3).
	Methods []string
	// AnyScope: a token needs one of these scopes (aliases allowed), or the
	// answer is InsufficientScope. Empty: any valid token.
	AnyScope []string
	// Claims makes the JSON answer. Default {"sub", "email"}.
	Claims func(u User, scopes []string) any
	// WriteError writes its errors. Default Config.WriteError.
	WriteError func(w http.ResponseWriter, e Error)
}

// User is an account of the fake.
type User struct {
	Email string // as given to AddUser
	Sub   string // stable subject id
}

// Defaults of Config.
const (
	DefaultClientID     = "oauthtest-client"
	DefaultClientSecret = "oauthtest-secret"
)

// withDefaults fills in the defaults of the zero fields.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "oauthtest"
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = time.Hour
	}
	if c.CodeTTL <= 0 {
		c.CodeTTL = 10 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Scopes.Normalize == nil {
		c.Scopes.Normalize = func(sc string) string { return sc }
	}
	if c.Subject == nil {
		c.Subject = func(email string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(email)))[:24] }
	}
	if c.DiscoveryPath == "" && !c.NoDiscovery {
		c.DiscoveryPath = "/.well-known/openid-configuration"
	}
	if c.WriteError == nil {
		c.WriteError = WriteOAuthError
	}
	a := &c.Authorize
	if len(a.Paths) == 0 {
		a.Paths = []string{"/authorize"}
	}
	if len(a.PKCEMethods) == 0 {
		a.PKCEMethods = []string{"S256"}
	}
	if a.Prompts == nil {
		a.Prompts = []string{"none", "login", "consent", "select_account"}
	}
	if a.ErrorPage == nil {
		a.ErrorPage = writeErrorPage
	}
	if a.IncludeGranted == nil {
		a.IncludeGranted = func(url.Values) bool { return false }
	}
	if a.RefreshToken == nil {
		a.RefreshToken = func(Consent) bool { return true }
	}
	if a.Redirect == nil {
		a.Redirect = func(c Consent, code string) []string {
			return []string{"code", code, "state", c.Request.Get("state")}
		}
	}
	t := &c.Tokens
	if t.Path == "" {
		t.Path = "/token"
	}
	for _, f := range []*TokenFormat{&t.Code, &t.Access, &t.Refresh} {
		if f.Bytes <= 0 {
			f.Bytes = 32
		}
		if f.Shape == "" {
			f.Shape = f.Prefix
		}
	}
	if t.Answer == nil {
		t.Answer = func(r TokenResponse) any { return r }
	}
	if len(c.ClientAuth.Methods) == 0 {
		c.ClientAuth.Methods = []string{"client_secret_post", "client_secret_basic"}
	}
	if len(c.Revocation.Methods) == 0 {
		c.Revocation.Methods = []string{http.MethodPost}
	}
	id := &c.Identity
	if len(id.Methods) == 0 {
		id.Methods = []string{http.MethodGet, http.MethodPost}
	}
	if id.Claims == nil {
		id.Claims = func(u User, _ []string) any { return map[string]string{"sub": u.Sub, "email": u.Email} }
	}
	if id.WriteError == nil {
		id.WriteError = c.WriteError
	}
	return c
}
