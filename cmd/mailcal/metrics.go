package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/cmd/mailcal/internal/metrics"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/tools"
)

// parseMetrics reads MAILCAL_METRICS_TENANT_LABELS (1 or true: a tenant
// label on /metrics; 0, false or unset: none) and MAILCAL_METRICS_ADDR
// (HOST:PORT of a listener of its own for /metrics).
func parseMetrics(get func(string) string, c *config) error {
	switch v := strings.ToLower(strings.TrimSpace(get(envMetricsTenants))); v {
	case "", "0", "false", "off":
	case "1", "true", "on":
		c.metricsTenantLabels = true
	default:
		return fmt.Errorf("%s %q: use 1 (a tenant label on /metrics) or 0", envMetricsTenants, v)
	}
	c.metricsAddr = strings.TrimSpace(get(envMetricsAddr))
	if c.metricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.metricsAddr); err != nil || port == "" {
			return fmt.Errorf("%s %q: want HOST:PORT, such as 127.0.0.1:9464 (or :9464 on every interface)", envMetricsAddr, c.metricsAddr)
		}
	}
	return nil
}

// newMetrics makes the http server's metrics and hooks them into the app:
// each provider's upstream transport, token refreshes, grants from the
// listings in memory, and the session table. It must run before anything
// uses a provider's API or refreshes a token; the tools are hooked once
// their options are complete (metricsTools).
func newMetrics(c *config, a *app, sessions *sessionTable) *metrics.Metrics {
	var provNames []string
	for _, p := range a.providers.All() {
		provNames = append(provNames, p.Name)
	}
	m := metrics.New(metrics.Config{Version: buildVersion(), Providers: provNames, TenantLabels: c.metricsTenantLabels})
	a.providers.WrapTransport(m.Upstream)
	// Token requests are told apart by their URL: each provider's token
	// endpoint (scheme, host and path).
	tokenURLs := map[string]string{}
	for _, p := range a.providers.All() {
		if u, err := url.Parse(p.Config.TokenURL); err == nil && u.Host != "" {
			tokenURLs[endpointKey(u)] = p.Name
		}
	}
	a.tokenTransport.wrap(func(rt http.RoundTripper) http.RoundTripper {
		return m.Token(func(r *http.Request) string { return tokenURLs[endpointKey(r.URL)] }, rt)
	})
	a.onRefresh = m.ObserveRefresh
	a.onWebhook = m.ObserveWebhook
	a.onOAuth = m.ObserveOAuth
	m.Grants(func(fn func(tenant, provider, status string)) {
		a.grants.Cached(func(t string, gs []grants.Grant) {
			for _, g := range gs {
				fn(t, g.Provider, g.Status)
			}
		})
	})
	m.Sessions(sessions.open)
	return m
}

// endpointKey is a URL without its query: scheme://host/path, the host in
// lower case.
func endpointKey(u *url.URL) string {
	return u.Scheme + "://" + strings.ToLower(u.Host) + u.Path
}

// metricsTools has m count the calls of the tools opts serve: set it once
// opts are complete (the connector decides whether connect_account is
// served).
func metricsTools(m *metrics.Metrics, opts *tools.Options) error {
	defs, err := tools.Definitions(*opts)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(defs))
	for _, d := range defs {
		names = append(names, d.Tool.Name)
	}
	m.SetTools(names)
	opts.Calls = m
	return nil
}

// open counts the live sessions by transport (those whose initialize went
// through) and the open streams, for metrics.
func (t *sessionTable) open() (streamable, sse, streams int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		switch {
		case !s.registered || s.ending:
		case s.kind == sseSession:
			sse++
		default:
			streamable++
		}
	}
	for _, l := range t.tenants {
		streams += l.streams
	}
	return streamable, sse, streams
}

// metricsHandler is /metrics on the main listener, when no listener of its
// own is configured: it answers only requests that reached a loopback
// listener from a loopback peer and carry no proxy's forwarding header, so
// that neither the network nor a reverse proxy in front of mailcal exposes
// it. Anyone else is told to set MAILCAL_METRICS_ADDR.
func metricsHandler(m *metrics.Metrics) http.Handler {
	h := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded := r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-Ip") != ""
		if !providers.IsLoopbackHost(r.RemoteAddr) || forwarded {
			tenant.WriteError(w, http.StatusForbidden, "forbidden",
				"/metrics on this listener answers loopback clients only; set "+envMetricsAddr+" to serve it on a listener of its own for a scraper elsewhere")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveMetrics starts the listener of MAILCAL_METRICS_ADDR, when set:
// /metrics, /readyz and /healthz, unauthenticated (bind it where only the
// scraper reaches). The returned function stops it.
func serveMetrics(c serveConfig, a *app) (stop func(), err error) {
	if c.metrics == nil || c.metricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", c.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("%s: listening on %s: %w", envMetricsAddr, c.metricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.metrics.Handler())
	mux.Handle("GET /readyz", newReadiness(a.store))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","version":%q}`+"\n", buildVersion())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics listener stopped", "addr", c.metricsAddr, "err", err)
		}
	}()
	slog.Info("serving metrics", "addr", ln.Addr().String(), "metrics", "/metrics", "readyz", "/readyz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}
