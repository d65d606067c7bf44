package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/auth/tokens"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/tools"
)

// app wires the parts every command shares.
type app struct {
	cfg       *config
	store     store.Store
	providers *providers.Registry
	tenants   *tenant.Registry
	grants    *grants.Store
	sealer    grants.Sealer
	// publicBase is the http server's base URL, once known (webhooks.go).
	publicBase atomic.Pointer[string]
	flows      *oauth.Flows
	tokens     *tokens.Manager
	policies   *policy.Store
	// checked lists the tenants the health check looks at.
	checked func(ctx context.Context) ([]string, error)
	// onRefresh hears each token refresh's outcome (metrics); set before
	// anything refreshes.
	onRefresh func(provider, outcome string)
	// onWebhook hears each webhook attempt's outcome (metrics); set before
	// startWebhooks.
	onWebhook func(outcome string)
	// onOAuth hears the OAuth server's sign-ins and token requests
	// (metrics); set before the http handler is made.
	onOAuth func(event, outcome string)
	// tokenTransport carries the token endpoints' requests; metrics wrap it.
	tokenTransport *lateTransport
	// closeStore closes the store (a database's pool).
	closeStore func()
	// leader, for a store shared by replicas, elects the one that runs the
	// health check (health.go); nil: this process runs it.
	leader leaderStore
}

// lateTransport is a RoundTripper whose transport can be wrapped after it
// was handed out (the token manager is made before metrics are): set
// before any request goes through it.
type lateTransport struct {
	rt atomic.Pointer[http.RoundTripper]
}

func newLateTransport(rt http.RoundTripper) *lateTransport {
	t := &lateTransport{}
	t.rt.Store(&rt)
	return t
}

func (t *lateTransport) wrap(fn func(http.RoundTripper) http.RoundTripper) {
	rt := fn(*t.rt.Load())
	t.rt.Store(&rt)
}

func (t *lateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return (*t.rt.Load()).RoundTrip(r)
}

// CloseIdleConnections closes the current transport's idle connections.
func (t *lateTransport) CloseIdleConnections() {
	if c, ok := (*t.rt.Load()).(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// newApp opens the store the configuration selects (database.go) and wires
// the app over it.
func newApp(ctx context.Context, c *config) (*app, error) {
	st, sealer, closeStore, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	a := newAppSealed(c, wrapStore(st), sealer)
	a.closeStore = closeStore
	if l, ok := st.(leaderStore); ok {
		a.leader = l
	}
	a.queueWebhooks()
	return a, nil
}

// wrapStore wraps the store every command opens: the identity, except in a
// build with the storecount tag (storecount.go), which counts reads for the
// load benchmark (cmd/mailcal/e2e/load).
var wrapStore = func(s store.Store) store.Store { return s }

// newAppWith wires the app over a store that encrypts what it holds (tests
// pass a memory store).
func newAppWith(c *config, st store.Store) *app { return newAppSealed(c, st, grants.Plain) }

// newAppSealed wires the app over a store whose grants' refresh tokens
// sealer protects.
func newAppSealed(c *config, st store.Store, sealer grants.Sealer) *app {
	a := &app{cfg: c, store: st, providers: c.providers, tenants: tenant.NewRegistry(st), grants: grants.New(st, sealer), sealer: sealer, closeStore: func() {}}
	a.checked = a.tenantNames
	a.policies = policy.New(st, nil)
	a.tokenTransport = newLateTransport(http.DefaultTransport)
	a.tokens = tokens.New(tokens.Config{Grants: a.grants, Providers: a.providers, Tenants: a.checkedTenants,
		HTTPClient: &http.Client{Timeout: tokens.DefaultHTTPTimeout, Transport: a.tokenTransport},
		// Replicas on a database share each new access token through it:
		// one refresh per expiry across them all.
		ShareAccessTokens: c.databaseURL != "",
		OnRefresh: func(provider, outcome string) {
			if a.onRefresh != nil {
				a.onRefresh(provider, outcome)
			}
		}})
	a.flows = oauth.NewFlows(oauth.FlowsConfig{
		Providers: a.providers, Grants: a.grants, States: st, Tenants: a.tenantNames,
		OnChanged: func(t, p, acc string) { a.tokens.Forget(t, p, acc) },
	})
	return a
}

// tenantNames lists every tenant, the default one (of stdio servers) first.
func (a *app) tenantNames(ctx context.Context) ([]string, error) {
	ts, err := a.tenants.List(ctx)
	names := []string{tenant.Default}
	for _, t := range ts {
		if t.Name != tenant.Default {
			names = append(names, t.Name)
		}
	}
	return names, err
}

// checkedTenants lists the tenants whose grants the health check refreshes:
// none while nothing has opened the keyring yet, so that the check neither
// asks for a passphrase on the terminal at a random moment nor logs an
// error every pass on a machine where no keyring is set up.
func (a *app) checkedTenants(ctx context.Context) ([]string, error) {
	if a.store.Backend() == "" {
		return nil, nil
	}
	return a.checked(ctx)
}

// close stops background work and closes the store.
func (a *app) close() {
	a.tokens.Close()
	a.closeStore()
}

// connector starts connections for the connect_account tool and for the
// reconnect URLs in tool errors; redirect gives the redirect URI of the
// transport (loopback for stdio, the base URL's callback for http). A flow
// still waiting for the same tenant, account and scopes is handed out again
// rather than started anew, so that repeated failing calls do not pile up
// flows (and each answer's URL stays valid).
type connector struct {
	flows     *oauth.Flows
	providers *providers.Registry
	redirect  func() (string, error)
	readOnly  bool

	mu     sync.Mutex
	recent map[string]*oauth.Flow
}

func (c *connector) Connect(ctx context.Context, tenantName, provider, scopes, loginHint string) (tools.ConnectLink, error) {
	p, limit, err := c.providers.Resolve(provider)
	if err != nil {
		return tools.ConnectLink{}, err
	}
	sc, err := providers.ParseScopes(scopes, limit, c.readOnly)
	if err != nil {
		return tools.ConnectLink{}, fmt.Errorf("scopes: %w", err)
	}
	key := strings.Join([]string{tenantName, provider, strings.ToLower(loginHint), strings.Join(sc, ",")}, "|")
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.recent[key]; f != nil && c.flows.Waiting(ctx, tenantName, f.State, 2*time.Minute) {
		return tools.ConnectLink{URL: f.URL, ExpiresAt: f.Expires, Provider: p.Name, Scopes: sc}, nil
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
	return tools.ConnectLink{URL: flow.URL, ExpiresAt: flow.Expires, Provider: p.Name, Scopes: sc}, nil
}

// forgetTenant drops from memory what this process holds of a tenant
// another process removed: its cached access tokens and its data key.
func (a *app) forgetTenant(name string) {
	a.tokens.ForgetTenant(name)
	if f, ok := a.sealer.(interface{ Forget(tenant string) }); ok {
		f.Forget(name)
	}
}
