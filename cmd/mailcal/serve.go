package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/cmd/mailcal/internal/metrics"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/registry"
	"github.com/mailcal/mailcal/tools"
	"github.com/mailcal/mailcal/tools/audit"
)

const serveHelp = `
Usage: mailcal serve [--transport stdio|http] [--addr 127.0.0.1:8080] [--tenant NAME] [--read-only]

Serve MCP.

  stdio (default)  MCP over stdin/stdout for one tenant ("default" unless
                   --tenant), as Claude Desktop, Cursor or VS Code launch it.
                   Nothing but protocol is written to stdout; logs go to stderr.
  http             one listener on --addr serving
                     /mcp              MCP streamable HTTP
                     /sse, /message    MCP HTTP+SSE (legacy clients)
                     /healthz          liveness, no authentication
                     /readyz           readiness: 200 while the store answers
                     /metrics          Prometheus metrics: loopback clients
                                       only, or on MAILCAL_METRICS_ADDR
                   Every request but those three needs a tenant's API key
                   (mailcal tenant add NAME) as "Authorization: Bearer KEY" or
                   "X-API-Key: KEY". --transport sse is an alias of http.

SIGINT or SIGTERM stops the server: new calls are refused, running ones get
--shutdown-timeout to finish.
`

type serveConfig struct {
	transport       string
	addr            string
	tenant          string
	readOnly        bool
	logLevel        string
	logFormat       string
	shutdownTimeout time.Duration
	maxRequestBytes int64
	sessionIdleTTL  time.Duration
	keepAlive       time.Duration
	readTimeout     time.Duration
	maxSessions     int
	maxStreams      int
	baseURL         string
	// trustedProxies: whose X-Forwarded-For is believed (realip.go).
	trustedProxies []netip.Prefix
	allowedOrigins string
	// metrics, in http mode, served at /metrics on the main listener or,
	// when metricsAddr is set, on a listener of their own there.
	metrics     *metrics.Metrics
	metricsAddr string
	// oauth, in http mode, is mailcal's OAuth server as the tenant
	// endpoints (/t/{tenant}/mcp) see it; nil: they take API keys only.
	oauth *oauthBearer
}

func cmdServe(ctx context.Context, args []string, e env, cfg *config) error {
	var c serveConfig
	fs := newFlags("serve", serveHelp, e)
	fs.StringVar(&c.transport, "transport", "stdio", "stdio, or http (alias: sse)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "http: address to listen on, HOST:PORT")
	fs.StringVar(&c.tenant, "tenant", tenant.Default, "stdio: the tenant whose accounts to serve")
	fs.BoolVar(&c.readOnly, "read-only", false, "serve only tools that change nothing")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error (default: $MAILCAL_LOG_LEVEL, else info)")
	fs.StringVar(&c.logFormat, "log-format", "", "text or json (default: $MAILCAL_LOG_FORMAT, else text)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long running calls get to finish on SIGINT/SIGTERM")
	fs.Int64Var(&c.maxRequestBytes, "max-request-bytes", defaultMaxRequestBytes(registry.Specs()),
		"http: largest accepted MCP request body, in bytes (default: the largest message a provider accepts, "+largestMessage(registry.Specs())+
			", base64-encoded as send_email's attachments are, plus 16 MiB for the rest of the call)")
	fs.DurationVar(&c.sessionIdleTTL, "session-idle-ttl", 30*time.Minute, "http: streamable HTTP sessions idle this long are closed")
	fs.DurationVar(&c.keepAlive, "keep-alive", 25*time.Second, "http: interval of keep-alive pings on SSE streams")
	fs.DurationVar(&c.readTimeout, "read-timeout", 10*time.Second, "http: a request body must arrive within this, plus 1s per 128 KiB; slower ones are cut (408)")
	fs.IntVar(&c.maxSessions, "max-sessions-per-tenant", 256, "http: live MCP sessions (streamable and SSE) one tenant may have; more get 429")
	fs.IntVar(&c.maxStreams, "max-streams-per-tenant", 128, "http: open MCP streams (GET /sse, GET /mcp) one tenant may have; more get 429")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("serve", pos); err != nil {
		return err
	}
	if err := tenant.ValidateName(c.tenant); err != nil {
		return fmt.Errorf("%w: --tenant: %v", errUsage, err)
	}
	if c.shutdownTimeout <= 0 || c.maxRequestBytes < 1024 || c.sessionIdleTTL <= 0 || c.keepAlive <= 0 || c.readTimeout <= 0 {
		return fmt.Errorf("%w: --shutdown-timeout, --session-idle-ttl, --keep-alive and --read-timeout must be positive, --max-request-bytes at least 1024", errUsage)
	}
	if c.maxSessions < 1 || c.maxStreams < 1 {
		return fmt.Errorf("%w: --max-sessions-per-tenant and --max-streams-per-tenant must be at least 1", errUsage)
	}
	switch c.transport {
	case "stdio", "http", "sse", "streamable-http":
	default:
		return fmt.Errorf("%w: --transport %q: use stdio or http", errUsage, c.transport)
	}
	c.baseURL, c.allowedOrigins, c.trustedProxies = cfg.baseURL, cfg.allowedOrigins, cfg.trustedProxies

	logger, err := newLogger(e, cfg, c.logLevel, c.logFormat, slog.LevelInfo)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	cfg.warnUnknown()

	a, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	if c.transport == "stdio" {
		a.checked = func(context.Context) ([]string, error) { return []string{c.tenant}, nil }
	}
	var auditLog tools.AuditLog
	if cfg.auditLog != "" {
		l, err := audit.Open(cfg.auditLog, e.stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", envAuditLog, err)
		}
		defer l.Close()
		auditLog = l
	}
	track := newInflight()
	sessions := newSessionTable(c.maxSessions, c.maxStreams, c.sessionIdleTTL)
	opts := tools.Options{
		Version:       buildVersion(),
		ReadOnly:      c.readOnly,
		Accounts:      a.grants,
		Sources:       a.tokens,
		Providers:     a.providers,
		Policies:      a.policies,
		Audit:         auditLog,
		CallTimeout:   cfg.callTimeout,
		Hooks:         sessions.hooks(),
		ServerOptions: []server.ServerOption{server.WithToolHandlerMiddleware(track.middleware)},
	}
	if c.transport == "stdio" && (cfg.metricsAddr != "" || cfg.metricsTenantLabels) {
		slog.Warn("metrics are served in http mode only; " + envMetricsAddr + " and " + envMetricsTenants + " are ignored over stdio")
	}
	if c.transport != "stdio" {
		// Before anything refreshes a token or calls a provider.
		c.metrics = newMetrics(cfg, a, sessions)
		c.metricsAddr = cfg.metricsAddr
		// Before the health check or a connection writes a grant.
		defer a.startWebhooks(ctx)()
	}
	if cfg.health > 0 {
		healthCtx, stopHealth := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stopHealth(); <-done }() // before the store closes
		go func() {
			defer close(done)
			a.runHealth(healthCtx, cfg.health)
		}()
	}

	switch c.transport {
	case "stdio":
		lb := &oauth.Loopback{Flows: a.flows}
		defer lb.Close()
		opts.Connector = &connector{flows: a.flows, providers: a.providers, redirect: lb.RedirectURI, readOnly: c.readOnly}
		mcpSrv, err := tools.New(opts)
		if err != nil {
			return err
		}
		return serveStdio(ctx, c, mcpSrv, track, e)
	case "http", "sse", "streamable-http":
		if e.setGC != nil {
			e.setGC(httpGC(cfg.gogcSet, cfg.memLimitSet, availableMemory()))
		}
		ln, err := net.Listen("tcp", c.addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", c.addr, err)
		}
		if c.baseURL == "" {
			c.baseURL = "http://" + ln.Addr().String()
		}
		redirect := strings.TrimSuffix(c.baseURL, "/") + oauth.CallbackPath
		a.setPublicBase(c.baseURL)
		opts.Connector = &connector{flows: a.flows, providers: a.providers, redirect: func() (string, error) { return redirect, nil }, readOnly: c.readOnly}
		if err := metricsTools(c.metrics, &opts); err != nil {
			ln.Close()
			return err
		}
		mcpSrv, err := tools.New(opts)
		if err != nil {
			ln.Close()
			return err
		}
		return serveHTTP(ctx, c, ln, a, mcpSrv, track, sessions, redirect)
	default:
		return fmt.Errorf("%w: --transport %q: use stdio or http", errUsage, c.transport)
	}
}

// The stdio server's tool-call workers and queue (mcp-go reads requests
// while the queue has room, and answers a call in its reading loop when it
// is full).
const (
	stdioWorkers = 32
	stdioQueue   = 1000
)

// defaultMaxRequestBytes is the default of --max-request-bytes: the largest
// message a served provider accepts, base64-encoded as a tool call carries
// its attachments (4/3 of it), plus 16 MiB for the bodies and the rest of
// the JSON. (A 31 MB attachment is 41 MB in JSON: the former default of
// 40 MiB cut it off with a 413 before send_email could say why it cannot
// go.)
func defaultMaxRequestBytes(specs []*providers.Spec) int64 {
	largest := 0
	for _, p := range specs {
		largest = max(largest, p.Limits.MaxMessageBytes)
	}
	return int64(largest+2)/3*4 + 16<<20
}

// largestMessage names the largest message a provider accepts, and the
// provider.
func largestMessage(specs []*providers.Spec) string {
	var best *providers.Spec
	for _, p := range specs {
		if best == nil || p.Limits.MaxMessageBytes > best.Limits.MaxMessageBytes {
			best = p
		}
	}
	if best == nil {
		return "none"
	}
	return fmt.Sprintf("%d MiB for %s", best.Limits.MaxMessageBytes>>20, best.Title)
}

func serveStdio(ctx context.Context, c serveConfig, mcpSrv *server.MCPServer, track *inflight, e env) error {
	// stdout belongs to the protocol: anything else that prints to os.Stdout
	// (a library, a stray debug line) goes to stderr instead.
	proto := e.stdout
	if e.stdout == io.Writer(os.Stdout) {
		os.Stdout = os.Stderr
		defer func() { os.Stdout = proto.(*os.File) }()
	}
	stdio := server.NewStdioServer(mcpSrv)
	// Tool calls run on this many workers. A call holds its worker until it
	// answers, at most its deadline (MAILCAL_CALL_TIMEOUT), even when its
	// handler is stuck; an account runs at most 4 calls at once and its
	// other calls wait for a slot, holding their workers: with 32 workers,
	// calls hung on one or two accounts leave the rest served.
	server.WithWorkerPoolSize(stdioWorkers)(stdio)
	server.WithQueueSize(stdioQueue)(stdio)
	stdio.SetErrorLogger(slog.NewLogLogger(slog.Default().Handler(), slog.LevelError))
	stdio.SetContextFunc(func(ctx context.Context) context.Context { return tenant.WithName(ctx, c.tenant) })

	// Listen gets a context of its own: on a signal, running calls get the
	// grace period before it is cancelled.
	listenCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	stdin := finishOnEOF{r: e.stdin, track: track, grace: c.shutdownTimeout}
	go func() { done <- stdio.Listen(listenCtx, stdin, proto) }()
	slog.Info("mailcal serving MCP on stdio", "version", buildVersion(), "tenant", c.tenant, "read_only", c.readOnly)

	select {
	case err := <-done:
		track.drain()
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
			return err
		}
		slog.Info("stdin closed; stopped")
		return nil
	case <-ctx.Done():
	}
	slog.Info("shutting down", "grace", c.shutdownTimeout)
	graceCtx, graceCancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer graceCancel()
	if !track.wait(graceCtx) {
		slog.Warn("running tool calls did not finish in time; cancelling them")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	slog.Info("stopped")
	return nil
}
