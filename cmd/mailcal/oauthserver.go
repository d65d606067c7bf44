package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mailcal/mailcal/auth/mcpauth"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// envOAuthPrivateClients lets mailcal's OAuth server fetch client metadata
// documents from loopback and private addresses: for tests and for a
// client on the deployment's own network; off, only public addresses.
const envOAuthPrivateClients = "MAILCAL_OAUTH_ALLOW_PRIVATE_CLIENTS"

func parseOAuthPrivateClients(get func(string) string, c *config) error {
	switch v := strings.ToLower(strings.TrimSpace(get(envOAuthPrivateClients))); v {
	case "", "0", "false", "off":
	case "1", "true", "on":
		c.oauthPrivateClients = true
	default:
		return fmt.Errorf("%s %q: use 1 (client metadata documents may be on private addresses) or 0", envOAuthPrivateClients, v)
	}
	return nil
}

// oauthEndpoints is mailcal's OAuth server as the http mode serves it.
type oauthEndpoints struct {
	server  *mcpauth.Server
	clients *mcpauth.Clients
}

// newOAuthEndpoints makes mailcal's OAuth server for the tenant endpoints,
// or nil when it cannot run here: the store keeps no OAuth records (a
// build that wraps the store), or the base URL has a path (the issuer must
// be an origin). The reason is logged; API keys keep working either way.
func newOAuthEndpoints(c serveConfig, a *app, redirect string, onRevoke func(family string)) (*oauthEndpoints, error) {
	if c.baseURL == "" {
		return nil, nil // not serving (in-process tests): no public address to issue from
	}
	st, ok := a.store.(store.OAuthServer)
	if !ok {
		slog.Warn("mailcal's OAuth server is off: this store keeps no OAuth records; the tenant endpoints take API keys only", "store", a.store.Backend())
		return nil, nil
	}
	if u := strings.TrimSuffix(c.baseURL, "/"); strings.Count(u, "/") > 2 {
		slog.Warn("mailcal's OAuth server is off: MAILCAL_BASE_URL has a path, and the OAuth issuer must be an origin (https://host); the tenant endpoints take API keys only", "base_url", c.baseURL)
		return nil, nil
	}
	clients := mcpauth.NewClients(mcpauth.ClientsConfig{Store: st, AllowPrivate: a.cfg.oauthPrivateClients})
	srv, err := mcpauth.New(mcpauth.Config{
		BaseURL:   strings.TrimSuffix(c.baseURL, "/"),
		Store:     st,
		Clients:   clients,
		Flows:     a.flows,
		Providers: a.providers,
		Policies:  a.policies,
		TenantExists: func(ctx context.Context, name string) (bool, error) {
			_, err := a.tenants.Get(ctx, name)
			if errors.Is(err, tenant.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		},
		RedirectURI: redirect,
		ReadOnly:    c.readOnly,
		Observe:     a.onOAuth,
		OnRevoke:    onRevoke,
	})
	if err != nil {
		return nil, err
	}
	return &oauthEndpoints{server: srv, clients: clients}, nil
}

// bearer is the tenant endpoints' view of the server (tenantendpoint.go).
func (o *oauthEndpoints) bearer() *oauthBearer {
	if o == nil {
		return nil
	}
	return &oauthBearer{verifier: o.server, invalid: mcpauth.ErrInvalidToken}
}

// mount serves the OAuth server's endpoints on mux: the metadata, /authorize,
// /token, /revoke and /register, each under the Host guard and a body
// limit; the provider's callback goes through the server first, which
// finishes sign-ins and hands every other flow to next.
func (o *oauthEndpoints) mount(mux *http.ServeMux, guard func(http.Handler) http.Handler, callback http.Handler) http.Handler {
	if o == nil {
		return callback
	}
	h := o.server.Handler()
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/", "/authorize", "/token", "/revoke"} {
		mux.Handle(p, guard(limitBody(16<<10, h)))
	}
	mux.Handle("/register", guard(limitBody(16<<10, o.clients.RegisterHandler())))
	return o.server.Callback(callback)
}

// start runs the server's background work (pruning expired tokens).
func (o *oauthEndpoints) start(ctx context.Context) (stop func()) {
	if o == nil {
		return func() {}
	}
	return o.server.Start(ctx)
}
