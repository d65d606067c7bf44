package providers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"golang.org/x/oauth2"
)

// ErrNotConfigured is returned when a provider's OAuth client is missing.
var ErrNotConfigured = errors.New("OAuth client not configured")

// Provider is a configured provider: its spec and the configuration read
// from its settings.
type Provider struct {
	*Spec
	Config Config

	// wrap, when set (Registry.WrapTransport), wraps the transport of the
	// provider's API clients.
	wrap func(provider string, rt http.RoundTripper) http.RoundTripper

	apiOnce sync.Once
	api     API
	apiErr  error
}

// Configured reports whether the OAuth client is set, or says how to set it.
func (p *Provider) Configured() error {
	if p.Config.ClientID == "" || (p.Config.ClientSecret == "" && !p.SecretOptional) {
		return fmt.Errorf("%w for %s: %s", ErrNotConfigured, p.Title, p.SetupHelp)
	}
	return nil
}

// OAuth2 returns the oauth2 configuration asking for the given scope names
// (and the identity scopes), with the given redirect URI.
func (p *Provider) OAuth2(scopes []string, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.Config.ClientID,
		ClientSecret: p.Config.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.Config.AuthURL, TokenURL: p.Config.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  redirectURI,
		Scopes:       p.providerScopes(scopes),
	}
}

func (p *Provider) providerScopes(names []string) []string {
	out := slices.Clone(p.IdentityScopes)
	for _, n := range names {
		for _, s := range p.Scopes[n] {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// GrantedScopes maps the provider scopes a token answer granted (its
// space-separated "scope" field) back to scope names: a name counts as
// granted when all of its provider scopes are.
func (p *Provider) GrantedScopes(granted string) []string {
	key := p.ScopeKey
	if key == nil {
		key = func(s string) string { return s }
	}
	have := map[string]bool{}
	for _, s := range strings.Fields(granted) {
		have[key(s)] = true
	}
	var out []string
	for _, n := range AllScopes {
		ps := p.Scopes[n]
		if len(ps) == 0 {
			continue
		}
		all := true
		for _, s := range ps {
			all = all && have[key(s)]
		}
		if all {
			out = append(out, n)
		}
	}
	return out
}

// Missing returns the scope names of need that have does not grant,
// directly or through a broader scope.
func (p *Provider) Missing(have, need []string) []string {
	var out []string
	for _, n := range need {
		ok := slices.Contains(have, n)
		for _, h := range have {
			ok = ok || slices.Contains(p.Implies[h], n)
		}
		if !ok {
			out = append(out, n)
		}
	}
	return out
}

// API returns the provider's API clients, made once.
func (p *Provider) API() (API, error) {
	p.apiOnce.Do(func() {
		var hc *http.Client
		if p.wrap != nil {
			hc = &http.Client{Transport: p.wrap(p.Name, DefaultTransport(0))}
		}
		p.api, p.apiErr = p.NewAPI(p.Config, hc)
	})
	return p.api, p.apiErr
}

// WrapTransport has every provider's API clients send their requests
// (each attempt, under the retries) through wrap(provider name,
// DefaultTransport): metrics count them there. It must be called before any
// provider's API is used.
func (r *Registry) WrapTransport(wrap func(provider string, rt http.RoundTripper) http.RoundTripper) {
	for _, p := range r.list {
		p.wrap = wrap
	}
}

// Revocable reports whether grants can be revoked upstream.
func (p *Provider) Revocable() bool { return p.Revoke != nil && p.Config.RevokeURL != "" }

// Registry is the set of configured providers.
type Registry struct {
	list []*Provider
}

// NewRegistry configures each spec from the settings get returns.
func NewRegistry(specs []*Spec, get func(env string) string) (*Registry, error) {
	r := &Registry{}
	seen := map[string]bool{}
	for _, s := range specs {
		if err := s.check(); err != nil {
			return nil, err
		}
		for _, n := range append([]string{s.Name}, aliasNames(s)...) {
			if seen[n] {
				return nil, fmt.Errorf("provider name %q is used twice", n)
			}
			seen[n] = true
		}
		cfg, err := s.Configure(get)
		if err != nil {
			return nil, err
		}
		r.list = append(r.list, &Provider{Spec: s, Config: cfg})
	}
	return r, nil
}

func aliasNames(s *Spec) []string {
	var out []string
	for _, a := range s.Aliases {
		out = append(out, a.Name)
	}
	return out
}

// All returns the providers in the registry's order.
func (r *Registry) All() []*Provider { return r.list }

// Get returns the provider of a name (not an alias).
func (r *Registry) Get(name string) (*Provider, error) {
	for _, p := range r.list {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("unknown provider %q: use %s", name, r.Choices())
}

// Resolve turns a provider name or alias into the provider and the scope
// names it may ask for (nil: all).
func (r *Registry) Resolve(name string) (*Provider, []string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, p := range r.list {
		if p.Name == name {
			return p, nil, nil
		}
		for _, a := range p.Aliases {
			if a.Name == name {
				return p, a.Scopes, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("unknown provider %q: use %s", clipName(name), r.Choices())
}

// Names returns every name and alias, for a schema's enum.
func (r *Registry) Names() []string {
	var out []string
	for _, p := range r.list {
		out = append(out, p.Name)
		out = append(out, aliasNames(p.Spec)...)
	}
	return out
}

// Choices lists the names for an error message: "a, b or c".
func (r *Registry) Choices() string {
	n := r.Names()
	if len(n) < 2 {
		return strings.Join(n, "")
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// Help describes each name and alias in one line, for usage texts:
// "name (products), alias (what it is limited to), …".
func (r *Registry) Help() string {
	var parts []string
	for _, p := range r.list {
		parts = append(parts, fmt.Sprintf("%s (%s)", p.Name, p.Products))
		for _, a := range p.Aliases {
			parts = append(parts, fmt.Sprintf("%s (%s)", a.Name, a.What))
		}
	}
	return strings.Join(parts, ", ")
}

// Title returns a provider's title, or the name itself for an unknown one.
func (r *Registry) Title(name string) string {
	if p, err := r.Get(name); err == nil {
		return p.Title
	}
	return name
}

func clipName(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// MinIdleConnsPerHost is the fewest idle connections DefaultTransport
// keeps per host: a busy server (hundreds of calls a second, each fanning
// out to several requests) reuses its connections instead of opening, and
// closing, hundreds a second. (The load benchmark, over HTTP/1.1 with 200
// sessions, still dialled 7 % of its CPU time away with 64; an HTTP/2
// upstream such as Google's needs few connections whatever this says.)
const MinIdleConnsPerHost = 256

// DefaultTransport is a clone of http.DefaultTransport keeping at least
// MinIdleConnsPerHost idle connections per host, more if idlePerHost says
// so (the default keeps 2 per host and 100 in all).
func DefaultTransport(idlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(idlePerHost, MinIdleConnsPerHost)
	t.MaxIdleConns = 4 * t.MaxIdleConnsPerHost
	return t
}
