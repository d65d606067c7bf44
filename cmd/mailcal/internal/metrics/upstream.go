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

// Upstream wraps a provider's transport (providers.Registry.WrapTransport):
// every attempt, retries included, is counted by status class, a retry
// (httpretry.Attempt > 1) and a 429 are counted apart, and its time to the
// answer's headers is observed. Nothing of the request (URL, account,
// token) becomes a label.
func (m *Metrics) Upstream(provider string, next http.RoundTripper) http.RoundTripper {
	p := m.provider(provider)
	u := &upstream{next: next, retries: m.retries.WithLabelValues(p), throttled: m.throttled.WithLabelValues(p),
		duration: m.upDuration.WithLabelValues(p)}
	for i, cl := range classes {
		u.byClass[i] = m.upstream.WithLabelValues(p, cl)
	}
	return u
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
