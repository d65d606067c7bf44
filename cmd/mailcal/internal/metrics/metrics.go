// Package metrics is mailcal's Prometheus instrumentation: tool calls,
// upstream requests, token refreshes, grants by status, open MCP sessions
// and streams, and the Go runtime and process, in a registry of its own
// (never the global one).
//
// Label values come from closed sets: tools and providers are the ones the
// server was built with (anything else is "other"), outcomes and status
// classes are fixed lists. Tenants appear only when TenantLabels is set,
// and accounts never.
package metrics

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailcal/mailcal/tools"
)

// Other is the label value of anything outside a label's known values.
const Other = "other"

// NoProvider is the provider label of a call that used no account.
const NoProvider = "none"

// DurationBuckets are the histograms' buckets, in seconds: from a cached
// answer (5 ms) to the default call deadline (60 s).
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Config says what the metrics know of the server.
type Config struct {
	Version string
	// Tools and Providers are the names label values may take.
	Tools, Providers []string
	// TenantLabels adds a tenant label to the tool-call counter and the
	// grants gauge (MAILCAL_METRICS_TENANT_LABELS=1).
	TenantLabels bool
}

// Metrics holds the registry and the instruments. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	tools        atomic.Pointer[map[string]bool]
	providers    map[string]bool
	tenantLabels bool

	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	upstream     *prometheus.CounterVec
	upDuration   *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	refreshes    *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	oauth        *prometheus.CounterVec

	mu       sync.Mutex
	grants   func(fn func(tenant, provider, status string))
	sessions func() (streamable, sse, streams int)
}

// New makes the metrics and registers every family.
func New(c Config) *Metrics {
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		providers:    set(c.Providers),
		tenantLabels: c.TenantLabels,
	}
	m.SetTools(c.Tools)
	callLabels := []string{"tool", "provider", "outcome"}
	if c.TenantLabels {
		callLabels = append(callLabels, "tenant")
	}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_tool_calls_total",
		Help: "Tool calls answered, by tool, provider of the account used (none: no account) and outcome (ok, tool_error, refused, timeout, cancelled, needs_input).",
	}, callLabels)
	m.callDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mailcal_tool_call_duration_seconds",
		Help:    "Time from a tool call's start to its answer, by tool and provider.",
		Buckets: DurationBuckets,
	}, []string{"tool", "provider"})
	m.upstream = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_upstream_requests_total",
		Help: "HTTP attempts at a provider (each retry counts), by provider, endpoint (api: mail and calendar; token: the token endpoint) and status class (2xx…5xx; error: no answer).",
	}, []string{"provider", "endpoint", "class"})
	m.upDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mailcal_upstream_request_duration_seconds",
		Help:    "Time from sending an attempt at a provider to its answer's headers (or its failure), by provider and endpoint.",
		Buckets: DurationBuckets,
	}, []string{"provider", "endpoint"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_upstream_retries_total",
		Help: "Attempts at a provider that repeated an earlier one (after a 429, a 5xx, a timeout or a network error), by provider and endpoint.",
	}, []string{"provider", "endpoint"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_upstream_throttled_total",
		Help: "429 Too Many Requests answers from a provider, by provider and endpoint.",
	}, []string{"provider", "endpoint"})
	m.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_token_refreshes_total",
		Help: "Access-token refreshes, by provider and outcome (ok, needs_reauth, transient, failed; shared: no token request, another replica's new token taken from the database).",
	}, []string{"provider", "outcome"})

	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_webhook_deliveries_total",
		Help: "Webhook delivery attempts made by this process, by outcome (delivered, retried: failed and due again, dropped: given up).",
	}, []string{"outcome"})
	for _, o := range webhookOutcomes {
		m.webhooks.WithLabelValues(o)
	}
	m.oauth = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailcal_oauth_events_total",
		Help: "mailcal's own OAuth server: sign-ins by outcome (ok, refused: outside allowed_signins, denied at the provider, failed) and token requests by outcome (code, refresh, reuse: a refresh token used twice, its sign-in revoked; refused, unavailable).",
	}, []string{"event", "outcome"})
	for ev, outs := range oauthOutcomes {
		for _, o := range outs {
			m.oauth.WithLabelValues(ev, o)
		}
	}
	m.reg.MustRegister(m.calls, m.callDuration, m.upstream, m.upDuration, m.retries, m.throttled, m.refreshes, m.webhooks, m.oauth,
		grantCollector{m}, sessionCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailcal_build_info", Help: "Always 1; the version is a label.",
			ConstLabels: prometheus.Labels{"version": c.Version},
		}, func() float64 { return 1 }),
	)
	// Series every deployment has from the start, so that rates and
	// alerts do not wait for a first event.
	for _, p := range c.Providers {
		for _, e := range endpoints {
			for _, cl := range classes {
				m.upstream.WithLabelValues(p, e, cl)
			}
			m.retries.WithLabelValues(p, e)
			m.throttled.WithLabelValues(p, e)
		}
		for _, o := range refreshOutcomes {
			m.refreshes.WithLabelValues(p, o)
		}
	}
	return m
}

func set(names []string) map[string]bool {
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out
}

// Registry is the private registry (tests gather it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, as the scraper asks), gathering at most once at a time.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
		EnableOpenMetrics:   true,
	})
}

// SetTools sets the tool names the tool label may take (the server's
// tools, known once it is configured); any other is "other".
func (m *Metrics) SetTools(names []string) {
	t := set(names)
	m.tools.Store(&t)
}

func (m *Metrics) tool(name string) string {
	if (*m.tools.Load())[name] {
		return name
	}
	return Other
}

func (m *Metrics) provider(name string) string {
	switch {
	case name == "":
		return NoProvider
	case m.providers[name]:
		return name
	}
	return Other
}

var callOutcomes = set(tools.CallOutcomes)

// ObserveCall counts a tool call (tools.CallObserver).
func (m *Metrics) ObserveCall(c tools.CallInfo) {
	tool, prov, outcome := m.tool(c.Tool), m.provider(c.Provider), c.Outcome
	if !callOutcomes[outcome] {
		outcome = Other
	}
	if m.tenantLabels {
		m.calls.WithLabelValues(tool, prov, outcome, c.Tenant).Inc()
	} else {
		m.calls.WithLabelValues(tool, prov, outcome).Inc()
	}
	m.callDuration.WithLabelValues(tool, prov).Observe(c.Duration.Seconds())
}

var refreshOutcomes = []string{"ok", "needs_reauth", "transient", "failed", "shared"}

// ObserveRefresh counts a token refresh (tokens.Config.OnRefresh).
func (m *Metrics) ObserveRefresh(provider, outcome string) {
	if !slices.Contains(refreshOutcomes, outcome) {
		outcome = Other
	}
	m.refreshes.WithLabelValues(m.provider(provider), outcome).Inc()
}

var webhookOutcomes = []string{"delivered", "retried", "dropped"}

// ObserveWebhook counts a webhook delivery attempt's outcome
// (webhook.Outbox.Observe).
func (m *Metrics) ObserveWebhook(outcome string) {
	if !slices.Contains(webhookOutcomes, outcome) {
		outcome = Other
	}
	m.webhooks.WithLabelValues(outcome).Inc()
}

var oauthOutcomes = map[string][]string{
	"signin": {"ok", "refused", "denied", "failed"},
	"token":  {"code", "refresh", "reuse", "refused", "unavailable"},
}

// ObserveOAuth counts an event of mailcal's OAuth server (mcpauth.Config.Observe).
func (m *Metrics) ObserveOAuth(event, outcome string) {
	outs, ok := oauthOutcomes[event]
	if !ok {
		return
	}
	if !slices.Contains(outs, outcome) {
		outcome = Other
	}
	m.oauth.WithLabelValues(event, outcome).Inc()
}

// Grants sets where the grants gauge comes from: list calls fn once per
// grant held in memory (grants.Store.Cached), reading no store.
func (m *Metrics) Grants(list func(fn func(tenant, provider, status string))) {
	m.mu.Lock()
	m.grants = list
	m.mu.Unlock()
}

// Sessions sets where the sessions and streams gauges come from.
func (m *Metrics) Sessions(open func() (streamable, sse, streams int)) {
	m.mu.Lock()
	m.sessions = open
	m.mu.Unlock()
}
