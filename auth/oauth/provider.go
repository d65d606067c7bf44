// Package oauth runs mailcal's OAuth 2.0 authorization-code flow (PKCE, state)
// and knows each provider's endpoints and scopes.
package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"golang.org/x/oauth2"
)

// Scope names, the same for every provider.
const (
	MailRead      = "mail.read"
	MailSend      = "mail.send"
	MailModify    = "mail.modify"
	CalendarRead  = "calendar.read"
	CalendarWrite = "calendar.write"
)

// AllScopes lists the scope names in a stable order.
var AllScopes = []string{MailRead, MailSend, MailModify, CalendarRead, CalendarWrite}

// DefaultScopes are asked for when a connection names none: every read and
// send scope.
var DefaultScopes = []string{MailRead, MailSend, CalendarRead}

// ErrNotConfigured is returned when a provider's OAuth client is missing.
var ErrNotConfigured = errors.New("OAuth client not configured")

// Provider is one OAuth provider as mailcal uses it.
type Provider struct {
	Name         string // "google", "microsoft"
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	RevokeURL    string
	UserinfoURL  string
	APIURL       string // base URL of the provider's APIs; empty: the client libraries' defaults
	// Scopes maps each scope name to the provider's scopes.
	Scopes map[string][]string
	// Identity is asked for on every connection (who the account is).
	Identity []string
	// AuthParams are added to every authorization URL.
	AuthParams []oauth2.AuthCodeOption
	// setupHelp says how to create an OAuth client.
	setupHelp string
}

// Configured reports whether the OAuth client is set, or says how to set it.
func (p *Provider) Configured() error {
	if p.ClientID == "" || p.ClientSecret == "" {
		return fmt.Errorf("%w for %s: %s", ErrNotConfigured, p.Name, p.setupHelp)
	}
	return nil
}

// Config returns the oauth2 configuration for the given scope names and
// redirect URI.
func (p *Provider) Config(scopes []string, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  redirectURI,
		Scopes:       p.providerScopes(scopes),
	}
}

func (p *Provider) providerScopes(names []string) []string {
	out := slices.Clone(p.Identity)
	for _, n := range names {
		for _, s := range p.Scopes[n] {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// GrantedScopes maps the provider scopes a token answer granted (the
// space-separated "scope" field) back to scope names: a name counts as
// granted when all of its provider scopes are.
func (p *Provider) GrantedScopes(granted string) []string {
	have := map[string]bool{}
	for _, s := range strings.Fields(granted) {
		have[s] = true
	}
	var out []string
	for _, n := range AllScopes {
		ps, ok := p.Scopes[n]
		if !ok || len(ps) == 0 {
			continue
		}
		all := true
		for _, s := range ps {
			all = all && have[s]
		}
		if all {
			out = append(out, n)
		}
	}
	return out
}

// ParseScopes parses a comma-separated scope LIST. Empty means the default.
// limit, if not empty, restricts the names allowed (the gmail and calendar
// aliases).
func ParseScopes(list string, limit []string) ([]string, error) {
	allowed := AllScopes
	if len(limit) > 0 {
		allowed = limit
	}
	if strings.TrimSpace(list) == "" {
		var out []string
		for _, s := range DefaultScopes {
			if slices.Contains(allowed, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allowed, s) {
			return nil, fmt.Errorf("unknown scope %q: use a comma-separated list of %s", s, strings.Join(allowed, ", "))
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scope given: use a comma-separated list of %s", strings.Join(allowed, ", "))
	}
	sort.Slice(out, func(i, j int) bool { return slices.Index(AllScopes, out[i]) < slices.Index(AllScopes, out[j]) })
	return out, nil
}

// Google scopes.
const (
	gmailReadonly     = "https://www.googleapis.com/auth/gmail.readonly"
	gmailSend         = "https://www.googleapis.com/auth/gmail.send"
	gmailModify       = "https://www.googleapis.com/auth/gmail.modify"
	calendarReadonly  = "https://www.googleapis.com/auth/calendar.readonly"
	calendarEvents    = "https://www.googleapis.com/auth/calendar.events"
	googleSetupHelp   = "create an OAuth client at https://console.cloud.google.com/apis/credentials (Create credentials → OAuth client ID; type \"Desktop app\" for `mailcal connect`, \"Web application\" with redirect URI MAILCAL_BASE_URL/oauth/callback for http mode), enable the Gmail API and the Google Calendar API for its project, then set MAILCAL_GOOGLE_CLIENT_ID and MAILCAL_GOOGLE_CLIENT_SECRET"
	defaultGoogleAuth = "https://accounts.google.com/o/oauth2/auth"
)

// Google returns the Google provider configured from the environment
// (MAILCAL_GOOGLE_*). A missing client is reported by Configured, so that
// everything that needs no client (listing accounts) still works.
func Google(getenv func(string) string) (*Provider, error) {
	p := &Provider{
		Name:         "google",
		ClientID:     strings.TrimSpace(getenv("MAILCAL_GOOGLE_CLIENT_ID")),
		ClientSecret: strings.TrimSpace(getenv("MAILCAL_GOOGLE_CLIENT_SECRET")),
		AuthURL:      envOr(getenv, "MAILCAL_GOOGLE_AUTH_URL", defaultGoogleAuth),
		TokenURL:     envOr(getenv, "MAILCAL_GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
		RevokeURL:    envOr(getenv, "MAILCAL_GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke"),
		UserinfoURL:  envOr(getenv, "MAILCAL_GOOGLE_USERINFO_URL", "https://openidconnect.googleapis.com/v1/userinfo"),
		APIURL:       strings.TrimSpace(getenv("MAILCAL_GOOGLE_API_URL")),
		Scopes: map[string][]string{
			MailRead:      {gmailReadonly},
			MailSend:      {gmailSend},
			MailModify:    {gmailModify},
			CalendarRead:  {calendarReadonly},
			CalendarWrite: {calendarEvents},
		},
		Identity: []string{"openid", "email"},
		AuthParams: []oauth2.AuthCodeOption{
			oauth2.AccessTypeOffline,
			oauth2.ApprovalForce, // prompt=consent: Google sends a refresh token only on consent
			oauth2.SetAuthURLParam("include_granted_scopes", "true"),
		},
		setupHelp: googleSetupHelp,
	}
	for name, v := range map[string]string{
		"MAILCAL_GOOGLE_AUTH_URL": p.AuthURL, "MAILCAL_GOOGLE_TOKEN_URL": p.TokenURL,
		"MAILCAL_GOOGLE_REVOKE_URL": p.RevokeURL, "MAILCAL_GOOGLE_USERINFO_URL": p.UserinfoURL,
		"MAILCAL_GOOGLE_API_URL": p.APIURL,
	} {
		if v == "" && name == "MAILCAL_GOOGLE_API_URL" {
			continue
		}
		if err := checkURL(v); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	return p, nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v
	}
	return def
}

// checkURL accepts absolute https URLs, and http ones on loopback (fakes and
// local proxies).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopbackHost(u.Host):
		return nil
	default:
		return fmt.Errorf("%q: use https (http only on a loopback host)", s)
	}
}
