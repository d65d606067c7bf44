// Package googletest is a fake of Google for tests, served on 127.0.0.1
// like net/http/httptest's servers: Google's OAuth 2.0 and OpenID Connect
// endpoints and the Gmail and Google Calendar REST APIs, on one mux.
//
// The OAuth side is providers/oauthtest configured as Google's OAuth 2.0
// documentation for web server and installed applications, its OpenID
// Connect page and its token-revocation section describe (oauth.go): the
// same paths (/o/oauth2/auth, /token, /revoke, /v1/userinfo), parameters
// (access_type, prompt, include_granted_scopes, login_hint), redirects and
// error pages, status codes and error bodies; single-use PKCE-bound codes,
// a refresh token only when consent was shown to an offline request, no
// new refresh token on refresh, invalid_grant "Token has been expired or
// revoked." once access is removed, and a revocation that removes every
// token the user gave the client.
//
// The APIs answer as the Gmail API and Google Calendar API references
// describe them: the methods' paths, parameters, paging, partial responses
// and Google's JSON errors, with request checking against the discovery
// documents shipped in google.golang.org/api (discovery.go), failure
// injection, latency and request counts (api.go), and realistic fixtures
// (LoadFixtures). Other API handlers can be added with Handle, authorize
// their requests with CheckAccess or Authorize, and answer errors with
// WriteAPIError.
package googletest

import (
	"time"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// Options configure a Server. The zero value is Google's behaviour with a
// fake client.
type Options struct {
	ClientID, ClientSecret string        // defaults DefaultClientID, DefaultClientSecret
	AccessTokenTTL         time.Duration // default 1h (expires_in)
	// RotateRefreshTokens false is Google: a refresh answer has no
	// refresh_token. True issues a new one on every refresh; the old one keeps
	// working (Microsoft's behaviour).
	RotateRefreshTokens bool
	// RetireOldRefreshTokens, with RotateRefreshTokens, makes the refresh
	// token a refresh used die at once (OAuth 2.1's rotation for public
	// clients): two clients spending the same one get invalid_grant for the
	// second spend.
	RetireOldRefreshTokens bool
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
)

// Server is a running fake. All its methods are safe for concurrent use;
// the OAuth ones (AddUser, Approve, TokenRequests, Secrets, CheckAccess…)
// are oauthtest.Server's.
type Server struct {
	*oauthtest.Server
	opts Options
	api  *apiState // the Gmail and Calendar APIs (api.go)
}

// New starts a Server on 127.0.0.1 on a random port.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	s := &Server{Server: oauthtest.New(oauthConfig(opts)), opts: opts}
	s.initAPI()
	return s
}

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
