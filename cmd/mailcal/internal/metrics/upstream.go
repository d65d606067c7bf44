package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailcal/mailcal/providers/httpretry"
)

// classes are the status-class label values; "error" is an attempt that
// got no answer (network error, timeout, cancelled).
var classes = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}

// endpoints are the endpoint label values: a provider's mail and calendar
// APIs, and its token endpoint.
var endpoints = []string{"api", "token"}

// Upstream wraps a provider's transport (providers.Registry.WrapTransport):
// every attempt, retries included, is counted by status class, a retry
// (httpretry.Attempt > 1) and a 429 are counted apart, and its time to the
// answer's headers is observed. Nothing of the request (URL, account,
// token) becomes a label.
func (m *Metrics) Upstream(provider string, next http.RoundTripper) http.RoundTripper {
	return m.counted(provider, "api", next)
}

func (m *Metrics) counted(provider, endpoint string, next http.RoundTripper) *upstream {
	p := m.provider(provider)
	u := &upstream{next: next, retries: m.retries.WithLabelValues(p, endpoint), throttled: m.throttled.WithLabelValues(p, endpoint),
		duration: m.upDuration.WithLabelValues(p, endpoint)}
	for i, cl := range classes {
		u.byClass[i] = m.upstream.WithLabelValues(p, endpoint, cl)
	}
	return u
}

// Token wraps the token endpoints' transport (shared by every provider):
// each attempt is counted as Upstream counts them, under endpoint "token"
// and the provider whose token endpoint the request is for (providerOf;
// "" or an unknown name: other).
func (m *Metrics) Token(providerOf func(*http.Request) string, next http.RoundTripper) http.RoundTripper {
	t := &tokenUpstream{providerOf: providerOf, next: next, byProvider: map[string]*upstream{}}
	for p := range m.providers {
		t.byProvider[p] = m.counted(p, "token", next)
	}
	t.other = m.counted(Other, "token", next)
	return t
}

type tokenUpstream struct {
	providerOf func(*http.Request) string
	next       http.RoundTripper
	byProvider map[string]*upstream // read only
	other      *upstream
}

func (t *tokenUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	u := t.byProvider[t.providerOf(r)]
	if u == nil {
		u = t.other
	}
	return u.RoundTrip(r)
}

// CloseIdleConnections closes the wrapped transport's idle connections.
func (t *tokenUpstream) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type upstream struct {
	next      http.RoundTripper
	byClass   [6]prometheus.Counter
	retries   prometheus.Counter
	throttled prometheus.Counter
	duration  prometheus.Observer
}

func (u *upstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if httpretry.Attempt(r.Context()) > 1 {
		u.retries.Inc()
	}
	start := time.Now()
	resp, err := u.next.RoundTrip(r)
	u.duration.Observe(time.Since(start).Seconds())
	i := 5
	if err == nil && resp.StatusCode >= 100 && resp.StatusCode < 600 {
		i = resp.StatusCode/100 - 1
	}
	u.byClass[i].Inc()
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		u.throttled.Inc()
	}
	return resp, err
}

// CloseIdleConnections closes the wrapped transport's idle connections.
func (u *upstream) CloseIdleConnections() {
	if c, ok := u.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
