// Package microsofttest is a fake of Microsoft for tests, served on
// 127.0.0.1 like net/http/httptest's servers: the Microsoft identity
// platform's v2.0 endpoints and the Microsoft Graph v1.0 mail and calendar
// APIs, on one mux.
//
// The identity platform is providers/oauthtest configured as Microsoft's
// "OAuth 2.0 authorization code flow" and AADSTS error-code pages describe it
// (oauth.go): endpoints under a tenant (/{tenant}/oauth2/v2.0/authorize and
// /token; common, organizations, consumers, a tenant id or domain, each
// taking the accounts it takes), scopes as Graph permissions with or without
// their resource, .default, a refresh token only with offline_access, a new
// refresh token on every refresh (the old one kept until its 90 days of
// inactivity are over, or retired at once), public clients with PKCE and
// confidential ones with a secret, ID tokens with oid, tid and
// preferred_username, AADSTS error bodies, and no revocation endpoint.
//
// Graph (graph.go and the mail_* and calendar_* files) answers as the Graph
// v1.0 reference describes /me, messages, mail folders, sendMail, drafts,
// replies and forwards, attachments and upload sessions, calendars,
// calendarView and events: OData query options and their errors (odata.go,
// filter.go, search.go), paging with @odata.nextLink, the Prefer headers
// (time zone, body content type, immutable ids), Graph's JSON errors, the
// permission each method needs, Outlook's limit of 4 concurrent requests per
// mailbox, and realistic fixtures (LoadFixtures). Tests inject latency and
// failures and read what was sent and invited.
package microsofttest

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// Options configure a Server. The zero value is a confidential client of a
// multi-tenant app signing in at "common".
type Options struct {
	// ClientID is the app's Application (client) ID. Default
	// DefaultClientID.
	ClientID string
	// ClientSecret is the confidential client's secret. Default
	// DefaultClientSecret; ignored with Public.
	ClientSecret string
	// Public makes the app a public client (desktop app): no secret, which
	// the token endpoint refuses (AADSTS700025), and PKCE required.
	Public bool
	// Tenant is the tenant segment mailcal is configured with
	// (MAILCAL_MICROSOFT_TENANT). Default "common".
	Tenant string
	// AccessTokenTTL is expires_in. Default 1h.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long a refresh token works without being used
	// (AADSTS700082 after). Default 90 days.
	RefreshTokenTTL time.Duration
	// RetireOldRefreshTokens makes a refresh token die once it has been
	// used (a reuse fails with AADSTS70000), where Microsoft keeps it
	// working until it expires.
	RetireOldRefreshTokens bool
	// RedirectURIs, if set, are the app's registered redirect URIs; a
	// loopback one takes any port. Empty accepts any absolute http(s) URL.
	RedirectURIs []string
	// AppPermissions are the Graph permissions of the app registration,
	// which the .default scope grants. Default User.Read, Mail.ReadWrite,
	// Mail.Send, Calendars.ReadWrite, MailboxSettings.Read.
	AppPermissions []string
	// Now, if set, is the server's clock; Advance moves it on. Default
	// time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultClientID     = "11112222-bbbb-3333-cccc-4444dddd5555"
	DefaultClientSecret = "fake~secret.Qw8Q~abcdefghijklmnopqrstuvwxyz012"
)

// Server is a running fake. All its methods are safe for concurrent use;
// the OAuth ones (AddUser, Approve, TokenRequests, Secrets, RevokeUser,
// ExpireAccessTokens, Advance, Now…) are oauthtest.Server's.
type Server struct {
	*oauthtest.Server
	opts     Options
	accounts *accounts
	graph    *graphState
	graphSrv *httptest.Server // Graph's host
}

// New starts a Server on 127.0.0.1 on a random port.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Public {
		opts.ClientSecret = ""
	} else if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Tenant == "" {
		opts.Tenant = "common"
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = 90 * 24 * time.Hour
	}
	if len(opts.AppPermissions) == 0 {
		opts.AppPermissions = []string{"User.Read", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite", "MailboxSettings.Read"}
	}
	s := &Server{opts: opts, accounts: newAccounts()}
	s.Server = oauthtest.New(s.oauthConfig())
	s.initGraph()
	return s
}

// Env returns the mailcal environment pointing at this server, as "K=V":
// the endpoints of Options.Tenant, and Graph's base including /v1.0.
func (s *Server) Env() []string {
	u, t := s.URL(), url.PathEscape(s.opts.Tenant)
	env := []string{
		"MAILCAL_MICROSOFT_CLIENT_ID=" + s.opts.ClientID,
		"MAILCAL_MICROSOFT_TENANT=" + s.opts.Tenant,
		"MAILCAL_MICROSOFT_AUTH_URL=" + u + "/" + t + "/oauth2/v2.0/authorize",
		"MAILCAL_MICROSOFT_TOKEN_URL=" + u + "/" + t + "/oauth2/v2.0/token",
		"MAILCAL_MICROSOFT_GRAPH_URL=" + s.GraphURL(),
	}
	if s.opts.ClientSecret != "" {
		env = append(env, "MAILCAL_MICROSOFT_CLIENT_SECRET="+s.opts.ClientSecret)
	}
	return env
}

// GraphURL is Graph's base URL, ending in /v1.0. Graph is served on a host
// of its own, as graph.microsoft.com is not the identity platform's.
func (s *Server) GraphURL() string { return s.graphSrv.URL + "/v1.0" }

// Close shuts the server down.
func (s *Server) Close() {
	s.graphSrv.Close()
	s.Server.Close()
}

// AuthURL and TokenURL are the identity platform's endpoints at a tenant
// ("common", "organizations", "consumers", a tenant id or domain).
func (s *Server) AuthURL(tenant string) string {
	return s.URL() + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/authorize"
}

// TokenURL: see AuthURL.
func (s *Server) TokenURL(tenant string) string {
	return s.URL() + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// ClientID and ClientSecret are the app's credentials ("" secret for a
// public client).
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret: see ClientID.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// lowerKey is the map key of an address or sign-in name.
func lowerKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
