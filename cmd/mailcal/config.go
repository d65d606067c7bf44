package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/seal"
	"github.com/mailcal/mailcal/auth/store/keyring"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/registry"
	"github.com/mailcal/mailcal/tools"
)

// config is everything mailcal reads from its environment. It is read once,
// at the start of a command, here and nowhere else: the rest of the program
// gets its values from it.
type config struct {
	logLevel, logFormat string
	keyring             keyring.Config
	// databaseURL selects the PostgreSQL store (database.go); "": the
	// keyring.
	databaseURL string
	// baseURL is the public base URL of an http deployment (the redirect
	// URI is baseURL + /oauth/callback); allowedOrigins lists more browser
	// origins allowed to call it.
	baseURL, allowedOrigins string
	// health is how often every grant is refreshed to notice revoked ones
	// before a person does; 0: off.
	health time.Duration
	// callTimeout is the deadline of one tool call, every upstream attempt
	// and every wait included.
	callTimeout time.Duration
	// auditLog is where state-changing calls are recorded: a file, "-" for
	// stderr, "" for nowhere.
	auditLog  string
	providers *providers.Registry
	// masterKeys wrap the tenants' data keys of a store that does not
	// encrypt refresh tokens itself (sealer.go).
	masterKeys seal.MasterKeys
	// unknown lists MAILCAL_* variables that nothing reads (typos).
	unknown []string
	// gogcSet and memLimitSet: GOGC and GOMEMLIMIT are set, so the
	// runtime's settings stand in http mode too (gc.go).
	gogcSet, memLimitSet bool
	// metricsTenantLabels adds a tenant label to /metrics; metricsAddr is
	// the listener of /metrics when it is not the main one (metrics.go).
	metricsTenantLabels bool
	metricsAddr         string
	// webhookLoopback allows loopback webhook URLs (webhooks.go).
	webhookLoopback bool
	// oauthPrivateClients lets the OAuth server fetch client metadata
	// documents from private addresses (oauthserver.go).
	oauthPrivateClients bool
	// trustedProxies are the proxies whose X-Forwarded-For is believed
	// (realip.go).
	trustedProxies []netip.Prefix
}

// Variables read here (the providers' come from their specs).
const (
	envLogLevel       = "MAILCAL_LOG_LEVEL"
	envLogFormat      = "MAILCAL_LOG_FORMAT"
	envBaseURL        = "MAILCAL_BASE_URL"
	envAllowedOrigins = "MAILCAL_ALLOWED_ORIGINS"
	envHealthInterval = "MAILCAL_HEALTH_INTERVAL"
	envCallTimeout    = "MAILCAL_CALL_TIMEOUT"
	envAuditLog       = "MAILCAL_AUDIT_LOG"
	envMetricsTenants = "MAILCAL_METRICS_TENANT_LABELS"
	envMetricsAddr    = "MAILCAL_METRICS_ADDR"
)

// knownVars are the variables config reads besides the providers'.
var knownVars = []string{
	envLogLevel, envLogFormat, envBaseURL, envAllowedOrigins, envHealthInterval, envCallTimeout, envAuditLog, envDatabaseURL,
	envMetricsTenants, envMetricsAddr, envWebhookLoopback, envOAuthPrivateClients, envTrustedProxies,
	keyring.EnvBackend, keyring.EnvService, keyring.EnvDir, keyring.EnvPassDir,
	keyring.EnvPassword, keyring.EnvPasswordFile, keyring.EnvTimeout,
	seal.EnvKey, seal.EnvKeyFile, seal.EnvKeyOld, seal.EnvKeyOldFile,
}

// loadConfig reads the environment. Errors name the variable and what it
// accepts.
func loadConfig(e env) (*config, error) {
	get := func(name string) string { return e.getenv(name) }
	c := &config{
		logLevel:       strings.TrimSpace(get(envLogLevel)),
		logFormat:      strings.TrimSpace(get(envLogFormat)),
		baseURL:        strings.TrimSpace(get(envBaseURL)),
		allowedOrigins: get(envAllowedOrigins),
		gogcSet:        strings.TrimSpace(get("GOGC")) != "",
		memLimitSet:    strings.TrimSpace(get("GOMEMLIMIT")) != "",
		auditLog:       strings.TrimSpace(get(envAuditLog)),
		databaseURL:    strings.TrimSpace(get(envDatabaseURL)),
	}
	var err error
	if c.keyring, err = keyring.ConfigFromEnv(get); err != nil {
		return nil, err
	}
	if c.databaseURL != "" {
		if err := checkDatabaseURL(c.databaseURL); err != nil {
			return nil, err
		}
	}
	if c.masterKeys, err = seal.MasterKeysFromEnv(get); err != nil {
		return nil, err
	}
	if c.baseURL != "" {
		if err := checkBaseURL(c.baseURL); err != nil {
			return nil, err
		}
	}
	if _, err := allowedOrigins(c.baseURL, c.allowedOrigins); err != nil {
		return nil, err
	}
	if c.health, err = parseHealth(get(envHealthInterval)); err != nil {
		return nil, err
	}
	if c.callTimeout, err = parseCallTimeout(get(envCallTimeout)); err != nil {
		return nil, err
	}
	if err := parseMetrics(get, c); err != nil {
		return nil, err
	}
	if err := parseOAuthPrivateClients(get, c); err != nil {
		return nil, err
	}
	if err := parseTrustedProxies(get, c); err != nil {
		return nil, err
	}
	if err := parseWebhookLoopback(get, c); err != nil {
		return nil, err
	}
	if c.providers, err = providers.NewRegistry(registry.Specs(), get); err != nil {
		return nil, err
	}
	c.unknown = unknownVars(e, c.providers)
	return c, nil
}

// parseHealth reads MAILCAL_HEALTH_INTERVAL: a duration of at least 1s, or
// "off"; default 1h.
func parseHealth(v string) (time.Duration, error) {
	switch v = strings.TrimSpace(v); v {
	case "":
		return time.Hour, nil
	case "off", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("%s %q: want a duration of at least 1s (e.g. 1h, 30m) or off", envHealthInterval, v)
	}
	return d, nil
}

// parseCallTimeout reads MAILCAL_CALL_TIMEOUT: a Go duration from 1s to
// 1h; default tools.DefaultCallTimeout (60s).
func parseCallTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return tools.DefaultCallTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > time.Hour {
		return 0, fmt.Errorf("%s %q: want a duration from 1s to 1h, such as 60s or 2m (the longest one tool call may take)", envCallTimeout, v)
	}
	return d, nil
}

// unknownVars returns the MAILCAL_* variables set in the environment that
// nothing reads.
func unknownVars(e env, reg *providers.Registry) []string {
	if e.environ == nil {
		return nil
	}
	known := slices.Clone(knownVars)
	for _, p := range reg.All() {
		for _, s := range p.Settings {
			known = append(known, s.Env)
		}
	}
	var out []string
	for _, kv := range e.environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MAILCAL_") && !slices.Contains(known, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// warnUnknown logs the variables nothing reads, once the logger is set up.
func (c *config) warnUnknown() {
	for _, name := range c.unknown {
		slog.Warn("environment variable not used by mailcal (misspelt?)", "variable", name)
	}
}
