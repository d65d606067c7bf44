package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store/keyring"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/auth/tokens"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google"
	"github.com/mailcal/mailcal/tools"
)

// app wires the parts every command shares.
type app struct {
	store     keyring.KV
	grants    *grants.Store
	flows     *oauth.Flows
	tokens    *tokens.Manager
	providers func(string) (*oauth.Provider, error)
	client    *http.Client // for provider calls outside the token endpoint
	// tenants lists the tenants the health check looks at.
	tenants func(ctx context.Context) ([]string, error)

	googleOnce sync.Once
	googleAPI  providers.Provider
	googleErr  error
}

// api returns the mail/calendar provider of a provider name.
func (a *app) api(name string) (providers.Provider, error) {
	switch name {
	case "google":
		a.googleOnce.Do(func() {
			p, err := a.providers("google")
			if err != nil {
				a.googleErr = err
				return
			}
			a.googleAPI = google.New(google.Options{APIURL: p.APIURL})
		})
		return a.googleAPI, a.googleErr
	}
	return nil, fmt.Errorf("mail and calendar of %s accounts are not supported yet", name)
}

func newApp(e env) (*app, error) {
	st, err := openStore(e)
	if err != nil {
		return nil, err
	}
	a := &app{store: st, grants: grants.New(st), providers: providerFunc(e), client: &http.Client{Timeout: 30 * time.Second}}
	a.tenants = func(ctx context.Context) ([]string, error) {
		ts, err := tenant.NewRegistry(st).List(ctx)
		names := []string{tenant.Default}
		for _, t := range ts {
			if t.Name != tenant.Default {
				names = append(names, t.Name)
			}
		}
		return names, err
	}
	a.tokens = tokens.New(tokens.Config{Grants: a.grants, Provider: a.providers, Tenants: a.checkedTenants})
	a.flows = oauth.NewFlows(oauth.FlowsConfig{Providers: a.providers, Grants: a.grants, OnConnected: a.forget})
	return a, nil
}

// checkedTenants lists the tenants whose grants the health check refreshes:
// none while nothing has opened the keyring yet, so that the check neither
// asks for a passphrase on the terminal at a random moment nor logs an
// error every pass on a machine where no keyring is set up.
func (a *app) checkedTenants(ctx context.Context) ([]string, error) {
	if a.store.Backend() == "" {
		return nil, nil
	}
	return a.tenants(ctx)
}

// close stops background work.
func (a *app) close() { a.tokens.Close() }

// forget drops whatever is cached for an account after it was connected
// again or disconnected.
func (a *app) forget(g grants.Grant) { a.tokens.Forget(g.Tenant, g.Provider, g.Account) }

// identity asks the provider which account a token belongs to.
func (a *app) identity(ctx context.Context, provider string, tok *oauth2.Token) (string, error) {
	p, err := a.providers(provider)
	if err != nil {
		return "", err
	}
	email, err := oauth.Identity(ctx, a.client, p, tok)
	if errors.Is(err, oauth.ErrUnauthorized) {
		return "", fmt.Errorf("%w: %v", tools.ErrTokenRefused, err)
	}
	return email, err
}

// connector starts connections for the connect_account tool and for the
// reconnect URLs in tool errors; redirect gives the redirect URI of the
// transport (loopback for stdio, the base URL's callback for http). A flow
// still waiting for the same tenant, account and scopes is handed out again
// rather than started anew, so that repeated failing calls do not pile up
// flows (and each answer's URL stays valid).
type connector struct {
	flows    *oauth.Flows
	redirect func() (string, error)

	mu     sync.Mutex
	recent map[string]*oauth.Flow
}

func (c *connector) Connect(ctx context.Context, tenantName, provider, scopes, loginHint string) (tools.ConnectLink, error) {
	name, limit, err := oauth.ResolveProvider(provider)
	if err != nil {
		return tools.ConnectLink{}, err
	}
	sc, err := oauth.ParseScopes(scopes, limit)
	if err != nil {
		return tools.ConnectLink{}, fmt.Errorf("scopes: %w", err)
	}
	key := strings.Join([]string{tenantName, provider, strings.ToLower(loginHint), strings.Join(sc, ",")}, "|")
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.recent[key]; f != nil && c.flows.Waiting(f.State, 2*time.Minute) {
		return tools.ConnectLink{URL: f.URL, ExpiresAt: f.Expires, Provider: name, Scopes: sc}, nil
	}
	uri, err := c.redirect()
	if err != nil {
		return tools.ConnectLink{}, err
	}
	flow, err := c.flows.Begin(ctx, oauth.Request{Tenant: tenantName, Provider: provider, Scopes: sc, LoginHint: loginHint, RedirectURI: uri})
	if err != nil {
		return tools.ConnectLink{}, err
	}
	if c.recent == nil || len(c.recent) > 1000 {
		c.recent = map[string]*oauth.Flow{}
	}
	c.recent[key] = flow
	return tools.ConnectLink{URL: flow.URL, ExpiresAt: flow.Expires, Provider: name, Scopes: sc}, nil
}
