package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	grantsDesc = prometheus.NewDesc("mailcal_grants",
		"Connected accounts by provider and status (active, needs_reauth, revoked), as this process holds them in memory: the tenants it served lately.",
		[]string{"provider", "status"}, nil)
	grantsTenantDesc = prometheus.NewDesc("mailcal_grants",
		"Connected accounts by provider, status (active, needs_reauth, revoked) and tenant, as this process holds them in memory: the tenants it served lately.",
		[]string{"provider", "status", "tenant"}, nil)
	sessionsDesc = prometheus.NewDesc("mailcal_mcp_sessions",
		"Live MCP sessions on this process, by transport (streamable, sse).", []string{"transport"}, nil)
	streamsDesc = prometheus.NewDesc("mailcal_mcp_streams",
		"Open MCP streams on this process (GET /sse, GET /mcp).", nil, nil)
)

var grantStatuses = []string{"active", "needs_reauth", "revoked"}

// grantCollector counts grants at scrape time from the listings in memory.
type grantCollector struct{ m *Metrics }

func (c grantCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.m.tenantLabels {
		ch <- grantsTenantDesc
	} else {
		ch <- grantsDesc
	}
}

func (c grantCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	list := c.m.grants
	c.m.mu.Unlock()
	type key struct{ provider, status, tenant string }
	counts := map[key]int{}
	if !c.m.tenantLabels {
		// Every provider and status, at 0 when none.
		for p := range c.m.providers {
			for _, s := range grantStatuses {
				counts[key{p, s, ""}] = 0
			}
		}
	}
	if list != nil {
		list(func(tenant, provider, status string) {
			k := key{provider: c.m.provider(provider), status: status}
			if !slices.Contains(grantStatuses, status) {
				k.status = Other
			}
			if c.m.tenantLabels {
				k.tenant = tenant
			}
			counts[k]++
		})
	}
	for k, n := range counts {
		if c.m.tenantLabels {
			ch <- prometheus.MustNewConstMetric(grantsTenantDesc, prometheus.GaugeValue, float64(n), k.provider, k.status, k.tenant)
		} else {
			ch <- prometheus.MustNewConstMetric(grantsDesc, prometheus.GaugeValue, float64(n), k.provider, k.status)
		}
	}
}

// sessionCollector reads the session table at scrape time.
type sessionCollector struct{ m *Metrics }

func (c sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sessionsDesc
	ch <- streamsDesc
}

func (c sessionCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	open := c.m.sessions
	c.m.mu.Unlock()
	var streamable, sse, streams int
	if open != nil {
		streamable, sse, streams = open()
	}
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(streamable), "streamable")
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(sse), "sse")
	ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(streams))
}
