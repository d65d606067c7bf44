package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/integrations"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
)

// httpHandler is the whole HTTP surface of `serve --transport http`.
type httpHandler struct {
	http.Handler
	streamable *server.StreamableHTTPServer
	sse        *server.SSEServer
	// stop ends the idle sweep and the removed-tenant check.
	stop func()
}

func newHTTPHandler(c serveConfig, a *app, mcpSrv *server.MCPServer, sessions *sessionTable, redirect string) (*httpHandler, error) {
	auth := tenant.NewAuthenticator(a.tenants)
	allowed, err := allowedHosts(c.baseURL)
	if err != nil {
		return nil, err
	}
	// Our own Host check runs first (so a rebinding attempt gets 403 before
	// any authentication) and knows MAILCAL_BASE_URL's host: mcp-go's own
	// check, which allows only loopback names, is turned off when a public
	// host is configured in front of a loopback listener.
	public := len(allowed) > 0
	streamable := server.NewStreamableHTTPServer(mcpSrv,
		server.WithEndpointPath("/mcp"),
		server.WithHeartbeatInterval(c.keepAlive),
		// Our own session ids, valid until the session ends (404 after);
		// the idle sweep is ours too (sweep.go), and never ends a
		// session with a call running.
		server.WithSessionIdManagerResolver(sessions),
		server.WithStreamableHTTPLogger(slog.Default()),
		server.WithDisableLocalhostProtection(public),
		server.WithHTTPContextFunc(carrySession),
	)
	sse := server.NewSSEServer(mcpSrv,
		server.WithSSEEndpoint("/sse"),
		server.WithMessageEndpoint("/message"),
		server.WithUseFullURLForMessageEndpoint(false),
		server.WithKeepAlive(true),
		server.WithKeepAliveInterval(c.keepAlive),
		server.WithSSEDisableLocalhostProtection(public),
		server.WithSSEContextFunc(carryTenant),
	)
	origins, err := allowedOrigins(c.baseURL, c.allowedOrigins)
	if err != nil {
		return nil, err
	}
	var oe *oauthEndpoints
	if c.oauth == nil { // tests may plug in their own verifier
		if oe, err = newOAuthEndpoints(c, a, redirect, sessions.endSignin); err != nil {
			return nil, err
		}
		c.oauth = oe.bearer()
	}
	if err := c.oauth.check(); err != nil {
		return nil, err
	}
	sessions.end = func(id string) { endStreamable(streamable, id) }
	protect := func(limit int64, h http.Handler) http.Handler {
		return hostGuard(allowed, originGuard(origins, tenant.Require(auth, limitBody(limit, h))))
	}
	api := &integrations.API{Flows: a.flows, Grants: a.grants, Providers: a.providers, RedirectURI: redirect, ReadOnly: c.readOnly}
	mux := http.NewServeMux()
	mux.Handle("/mcp", protect(c.maxRequestBytes, sessions.admit(wholeAnswers(streamable))))
	// A tenant's own endpoint: the same server and sessions, its tenant's
	// API key or an OAuth access token for it (tenantendpoint.go).
	mux.Handle(tenantPathPattern, hostGuard(allowed, originGuard(origins,
		tenantEndpoint(auth, c.oauth, limitBody(c.maxRequestBytes, sessions.admit(wholeAnswers(streamable)))))))
	mux.Handle("/sse", protect(c.maxRequestBytes, sessions.admit(sse.SSEHandler())))
	mux.Handle("/message", protect(c.maxRequestBytes, sessions.admit(sse.MessageHandler())))
	mux.Handle("/api/", protect(64<<10, api.Handler()))
	mux.Handle("/api/policy", protect(64<<10, (&policy.API{Store: a.policies}).Handler()))
	mux.Handle("/api/webhook", protect(64<<10, a.webhookAPI().Handler()))
	// The provider sends the person's browser here: no API key, the state
	// names the tenant.
	// mailcal's own OAuth server (oauthserver.go): its endpoints, and the
	// sign-ins' side of the callback.
	guard := func(h http.Handler) http.Handler { return hostGuard(allowed, h) }
	callback := oe.mount(mux, guard, oauth.CallbackHandler(a.flows))
	mux.Handle(oauth.CallbackPath, hostGuard(allowed, limitBody(1024, callback)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","version":%q}`+"\n", buildVersion())
	})
	mux.Handle("GET /readyz", newReadiness(a.store))
	if c.metrics != nil && c.metricsAddr == "" {
		mux.Handle("GET /metrics", hostGuard(allowed, metricsHandler(c.metrics)))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		tenant.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint: MCP is served at /mcp (streamable HTTP), /t/TENANT/mcp (a tenant's own endpoint) and /sse (legacy SSE)")
	})
	sessions.removed = a.forgetTenant
	stopSessions := sessions.start(a.tenants, tenantRecheck)
	stopOAuth := oe.start(context.Background())
	stop := func() { stopOAuth(); stopSessions() }
	return &httpHandler{Handler: realIP(c.trustedProxies, readDeadline(c.readTimeout, cleanPath(mux))), streamable: streamable, sse: sse, stop: stop}, nil
}

// cleanPath answers 400 to a path with dot or empty segments
// ("/api/integrations/google/../../tenant/acme"), which ServeMux would
// redirect, before authentication, to the path they resolve to: no route
// takes one, and a redirect is no answer to a DELETE.
func cleanPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		c := path.Clean(p)
		if strings.HasSuffix(p, "/") && c != "/" {
			c += "/"
		}
		if p != "" && p != c {
			tenant.WriteError(w, http.StatusBadRequest, "invalid_path", "the path must not hold '.', '..' or empty segments")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// carryTenant copies the tenant that tenant.Require (or tenantEndpoint) put
// on the HTTP request into the context mcp-go gives the tool handlers, and
// the OAuth sign-in if there is one: the tools act for the signed-in
// account by default.
func carryTenant(ctx context.Context, r *http.Request) context.Context {
	if name, ok := tenant.FromContext(r.Context()); ok {
		ctx = tenant.WithName(ctx, name)
	}
	if s, ok := tenant.SigninFrom(r.Context()); ok {
		ctx = tenant.WithSignin(ctx, s)
	}
	return ctx
}

// checkBaseURL refuses a base URL that would send OAuth codes over plain
// HTTP across a network.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("MAILCAL_BASE_URL %q: want an absolute http(s) URL such as https://mail.example.com", raw)
	}
	if u.Scheme == "http" && !providers.IsLoopbackHost(u.Host) {
		return fmt.Errorf("MAILCAL_BASE_URL %q: use https; plain http is allowed only on a loopback host (127.0.0.1, localhost)", raw)
	}
	return nil
}

// allowedHosts returns the non-loopback host names requests may carry: the
// host of MAILCAL_BASE_URL, if it has one.
func allowedHosts(baseURL string) ([]string, error) {
	if baseURL == "" {
		return nil, nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("MAILCAL_BASE_URL %q: want an absolute http(s) URL such as https://mail.example.com", baseURL)
	}
	if providers.IsLoopbackHost(u.Host) {
		return nil, nil
	}
	return []string{strings.ToLower(u.Hostname())}, nil
}

// hostGuard is DNS-rebinding protection: a request that reached a loopback
// listener must name a loopback host (or the configured public host), or a
// web page could rebind its own domain to 127.0.0.1 and talk to us.
func hostGuard(allowed []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if local != nil && providers.IsLoopbackHost(local.String()) && !providers.IsLoopbackHost(r.Host) {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			ok := false
			for _, a := range allowed {
				ok = ok || strings.EqualFold(host, a)
			}
			if !ok {
				tenant.WriteError(w, http.StatusForbidden, "invalid_host", "invalid Host header; set MAILCAL_BASE_URL to serve under a public host name")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// allowedOrigins returns the browser origins (scheme://host[:port]) allowed
// besides loopback ones and the request's own: MAILCAL_BASE_URL's, and
// those listed in MAILCAL_ALLOWED_ORIGINS.
func allowedOrigins(baseURL, list string) (map[string]bool, error) {
	out := map[string]bool{}
	if baseURL != "" {
		u, _ := url.Parse(baseURL)
		out[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("MAILCAL_ALLOWED_ORIGINS: %q is not an origin like https://app.example.com", o)
		}
		out[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return out, nil
}

// originGuard refuses requests that a web page made from an origin we do not
// know (the MCP transport spec asks servers to check Origin, against DNS
// rebinding and cross-site use). Requests without Origin, as every
// non-browser client sends them, pass.
func originGuard(allowed map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			ok := err == nil && u.Host != "" &&
				(providers.IsLoopbackHost(u.Host) || strings.EqualFold(u.Host, r.Host) || allowed[strings.ToLower(u.Scheme+"://"+u.Host)])
			if !ok {
				tenant.WriteError(w, http.StatusForbidden, "invalid_origin", "requests from this web origin are not allowed; list it in MAILCAL_ALLOWED_ORIGINS")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sseFlush is how long shutdown lets answers already queued to SSE streams
// reach their clients before it closes the streams.
const sseFlush = time.Second

func serveHTTP(ctx context.Context, c serveConfig, ln net.Listener, a *app, mcpSrv *server.MCPServer, track *inflight, sessions *sessionTable, redirect string) error {
	h, err := newHTTPHandler(c, a, mcpSrv, sessions, redirect)
	if err != nil {
		ln.Close()
		return err
	}
	defer h.stop()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	stopMetrics, err := serveMetrics(c, a)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	ln, maxConns := limitConns(ln)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	slog.Info("mailcal serving MCP over HTTP", "version", buildVersion(), "addr", ln.Addr().String(),
		"mcp", "/mcp", "sse", "/sse", "redirect_uri", redirect, "read_only", c.readOnly, "max_connections", maxConns)

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	slog.Info("shutting down", "grace", c.shutdownTimeout)
	graceCtx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	// Stop accepting, let running calls finish, then end the long-lived
	// streams so that Shutdown can complete.
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(graceCtx) }()
	if !track.wait(graceCtx) {
		slog.Warn("running tool calls did not finish in time")
	}
	// A tool call counts as finished when its handler returns, but mcp-go
	// queues the answer to an SSE stream after that: closing the streams at
	// once lost answers under load (caught by TestE2EShutdownFinishesRunningCalls).
	// mcp-go does not say when its queues are empty, so give them a moment.
	select {
	case <-time.After(sseFlush):
	case <-graceCtx.Done():
	}
	h.sse.CloseSessions()
	_ = h.streamable.Shutdown(graceCtx)
	if err := <-shut; err != nil {
		slog.Warn("connections still open at the deadline; closing them", "err", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	slog.Info("stopped")
	return nil
}
