package providers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Spec says everything mailcal needs to know about one provider: its names,
// OAuth endpoints and the environment variables that set them, how
// mailcal's scope names map to its scopes, how the account's identity is
// read, how a grant is revoked, how its API clients are made, its limits,
// the words tool descriptions use for it, and what to advise when one of its
// grants dies. Each provider package exports one; package registry lists
// them. Nothing outside a provider's package names the provider.
type Spec struct {
	Name     string // the name in commands, URLs and the store, in lower case
	Title    string // the name as people write it
	Products string // what connecting it gives, e.g. "Example Mail and Example Calendar"
	// Aliases are other names for the provider limited to some scopes (a
	// mail-only name, say).
	Aliases []Alias

	// Settings are the environment variables the provider reads, all read
	// once at start; Configure turns their values into a Config.
	Settings  []Setting
	Configure func(get func(env string) string) (Config, error)
	// SetupHelp says how to create an OAuth client and which variables to
	// set; it ends an error about a missing client.
	SetupHelp string
	// SecretOptional: a public client (no secret) can connect and refresh.
	SecretOptional bool

	// Scopes maps each scope name (MailRead…) to the provider's scopes;
	// Implies lists, for a scope name, the names it also grants.
	Scopes  map[string][]string
	Implies map[string][]string
	// IdentityScopes are asked for on every connection (who the account is;
	// a refresh token).
	IdentityScopes []string
	// AuthParams are added to every authorization URL.
	AuthParams []oauth2.AuthCodeOption
	// ScopeKey, when set, is how scopes are compared when a token answer
	// says what was granted (GrantedScopes): both the scopes asked for and
	// those answered pass through it. For providers whose answers spell a
	// scope otherwise than it was asked for (another case, a resource
	// prefix). Nil: compared as they are.
	ScopeKey func(scope string) string
	// LoopbackHost is the host name a loopback redirect URI must carry for
	// this provider. Empty: the listener's address as it is (127.0.0.1, as
	// RFC 8252 recommends). "localhost": for a provider whose app
	// registration cannot take an http://127.0.0.1 redirect URI but matches
	// http://localhost on any port; the flow then sends the same port and
	// path under that name.
	LoopbackHost string

	// NewAPI makes the provider's API clients; hc supplies the transport
	// and timeouts of each attempt.
	NewAPI func(cfg Config, hc *http.Client) (API, error)
	// Revoke revokes a refresh token upstream; nil when the provider has no
	// revocation endpoint. RevokeHelp says where a person removes the app's
	// access by hand.
	Revoke     func(ctx context.Context, hc *http.Client, cfg Config, refreshToken string) error
	RevokeHelp string
	// DeadGrantAdvice returns advice on a grant the provider refused ("" for
	// none), e.g. a provider's expiry of grants of apps in a testing status.
	DeadGrantAdvice func(d DeadGrant) string

	Limits Limits
	Words  Words
}

// Alias is another name for a provider, limited to some scopes.
type Alias struct {
	Name   string
	Scopes []string
	What   string // what it is limited to, e.g. "Example Mail only"
}

// Setting is an environment variable a provider reads.
type Setting struct {
	Env     string
	Default string
	Help    string
	Secret  bool // never shown
}

// Config is a provider's configuration, read from its Settings at start.
type Config struct {
	ClientID, ClientSecret string
	AuthURL, TokenURL      string
	RevokeURL              string
	// APIURL is the base URL of the provider's APIs; empty: the default.
	APIURL string
	// Extra holds provider-specific values by variable name.
	Extra map[string]string
}

// Limits are what the provider accepts in one message.
type Limits struct {
	MaxMessageBytes int // a sent message, headers and encoded attachments included
	MaxRecipients   int // to, cc and bcc together
}

// Words are what tool descriptions and answers say about a provider.
type Words struct {
	Mail, Calendar string // the products' names
	// SearchSyntax names the search syntax with an example query.
	SearchSyntax string
	// Labels lists the folders or labels a listing can be limited to.
	Labels string
	// Invitations says who sends the invitation emails of a new event.
	Invitations string
	// Tags says what modify_messages' add_labels and remove_labels put on
	// messages and take off them.
	Tags string
	// ForwardPrefix starts a forward's subject, as the provider writes it
	// ("Fwd:"); empty: "Fwd:".
	ForwardPrefix string
	// Conference says which online meeting an event can get (the
	// conference argument's value).
	Conference string
	// Reminders says how many reminders an event may have.
	Reminders string
}

// DeadGrant is a grant the provider refused, for DeadGrantAdvice.
type DeadGrant struct {
	Code, Description     string // the OAuth error, sanitised
	ConnectedAt, FailedAt time.Time
}

// API makes an account's clients from its token source.
type API interface {
	// Identity asks the provider which account the tokens belong to and
	// returns its email address.
	Identity(ctx context.Context, src TokenSource) (string, error)
	// Mail is the account's mailbox; account is its address (the From of
	// sent mail).
	Mail(src TokenSource, account string) (Mail, error)
	Calendar(src TokenSource) (Calendar, error)
}

// TokenSource gives an account's access tokens. Invalidate drops a token
// the provider refused (HTTP 401), so that the next Token refreshes.
type TokenSource interface {
	Token(ctx context.Context) (*oauth2.Token, error)
	Invalidate(accessToken string)
}

// StaticSource is a TokenSource of one token, for the identity check right
// after a code exchange.
func StaticSource(tok *oauth2.Token) TokenSource { return staticSource{tok} }

type staticSource struct{ tok *oauth2.Token }

func (s staticSource) Token(context.Context) (*oauth2.Token, error) { return s.tok, nil }
func (staticSource) Invalidate(string)                              {}

// check reports what is missing from a spec; Registry refuses such specs.
func (s *Spec) check() error {
	switch {
	case s.Name == "" || s.Title == "" || s.Products == "":
		return fmt.Errorf("provider spec %q: Name, Title and Products are required", s.Name)
	case s.Configure == nil || s.NewAPI == nil:
		return fmt.Errorf("provider spec %s: Configure and NewAPI are required", s.Name)
	case len(s.Scopes) == 0:
		return fmt.Errorf("provider spec %s: no scopes", s.Name)
	case s.Limits.MaxMessageBytes <= 0 || s.Limits.MaxRecipients <= 0:
		return fmt.Errorf("provider spec %s: limits are required", s.Name)
	}
	if s.LoopbackHost != "" && s.LoopbackHost != "localhost" {
		return fmt.Errorf("provider spec %s: LoopbackHost is \"\" or \"localhost\", not %q", s.Name, s.LoopbackHost)
	}
	for name := range s.Scopes {
		if !validScope(name) {
			return fmt.Errorf("provider spec %s: unknown scope name %q", s.Name, name)
		}
	}
	return nil
}
