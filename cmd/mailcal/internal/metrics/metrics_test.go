package metrics

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailcal/mailcal/providers/httpretry"
	"github.com/mailcal/mailcal/tools"
)

func newTest(t testing.TB, tenantLabels bool) *Metrics {
	t.Helper()
	return New(Config{Version: "test", Tools: []string{"list_messages", "send_email"}, Providers: []string{"google", "microsoft"}, TenantLabels: tenantLabels})
}

// value finds the sample of family name whose labels include want, and
// returns its counter or gauge value, or its histogram's count.
func value(t *testing.T, m *Metrics, name string, want map[string]string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if len(got) != len(want) {
				continue
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return s.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return s.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(s.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func must(t *testing.T, m *Metrics, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(t, m, name, labels)
	if !ok || got != want {
		t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, want)
	}
}

func TestToolCalls(t *testing.T) {
	m := newTest(t, false)
	m.ObserveCall(tools.CallInfo{Tool: "list_messages", Provider: "google", Tenant: "acme", Outcome: tools.CallOK, Duration: 20 * time.Millisecond})
	m.ObserveCall(tools.CallInfo{Tool: "list_messages", Provider: "google", Tenant: "acme", Outcome: tools.CallOK, Duration: 3 * time.Second})
	m.ObserveCall(tools.CallInfo{Tool: "send_email", Provider: "microsoft", Tenant: "acme", Outcome: tools.CallRefused})
	m.ObserveCall(tools.CallInfo{Tool: "made_up", Provider: "yahoo", Tenant: "acme", Outcome: "exploded"})
	m.ObserveCall(tools.CallInfo{Tool: "list_messages", Tenant: "acme", Outcome: tools.CallTimeout})
	must(t, m, "mailcal_tool_calls_total", map[string]string{"tool": "list_messages", "provider": "google", "outcome": "ok"}, 2)
	must(t, m, "mailcal_tool_calls_total", map[string]string{"tool": "send_email", "provider": "microsoft", "outcome": "refused"}, 1)
	must(t, m, "mailcal_tool_calls_total", map[string]string{"tool": "other", "provider": "other", "outcome": "other"}, 1)
	must(t, m, "mailcal_tool_calls_total", map[string]string{"tool": "list_messages", "provider": "none", "outcome": "timeout"}, 1)
	must(t, m, "mailcal_tool_call_duration_seconds", map[string]string{"tool": "list_messages", "provider": "google"}, 2)

	// The buckets: 20 ms lands in le=0.025, 3 s in le=5.
	fams, _ := m.Registry().Gather()
	for _, f := range fams {
		if f.GetName() != "mailcal_tool_call_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			if s.GetLabel()[1].GetValue() != "list_messages" || s.GetLabel()[0].GetValue() != "google" {
				continue
			}
			cum := map[float64]uint64{}
			for _, b := range s.GetHistogram().GetBucket() {
				cum[b.GetUpperBound()] = b.GetCumulativeCount()
			}
			if cum[0.01] != 0 || cum[0.025] != 1 || cum[2.5] != 1 || cum[5] != 2 || cum[60] != 2 {
				t.Errorf("buckets %v", cum)
			}
			if s.GetHistogram().GetSampleSum() < 3.02 {
				t.Errorf("sum %v", s.GetHistogram().GetSampleSum())
			}
		}
	}
}

func TestRefreshes(t *testing.T) {
	m := newTest(t, false)
	must(t, m, "mailcal_token_refreshes_total", map[string]string{"provider": "google", "outcome": "ok"}, 0)
	m.ObserveRefresh("google", "ok")
	m.ObserveRefresh("google", "ok")
	m.ObserveRefresh("microsoft", "needs_reauth")
	m.ObserveRefresh("google", "weird")
	must(t, m, "mailcal_token_refreshes_total", map[string]string{"provider": "google", "outcome": "ok"}, 2)
	must(t, m, "mailcal_token_refreshes_total", map[string]string{"provider": "microsoft", "outcome": "needs_reauth"}, 1)
	must(t, m, "mailcal_token_refreshes_total", map[string]string{"provider": "google", "outcome": "other"}, 1)
}

func TestOAuthEvents(t *testing.T) {
	m := newTest(t, false)
	must(t, m, "mailcal_oauth_events_total", map[string]string{"event": "token", "outcome": "reuse"}, 0)
	m.ObserveOAuth("signin", "ok")
	m.ObserveOAuth("signin", "refused")
	m.ObserveOAuth("token", "reuse")
	m.ObserveOAuth("token", "made-up")
	m.ObserveOAuth("unknown-event", "ok") // no series of its own
	must(t, m, "mailcal_oauth_events_total", map[string]string{"event": "signin", "outcome": "ok"}, 1)
	must(t, m, "mailcal_oauth_events_total", map[string]string{"event": "signin", "outcome": "refused"}, 1)
	must(t, m, "mailcal_oauth_events_total", map[string]string{"event": "token", "outcome": "reuse"}, 1)
	must(t, m, "mailcal_oauth_events_total", map[string]string{"event": "token", "outcome": "other"}, 1)
}

func TestGrantsAndSessions(t *testing.T) {
	m := newTest(t, false)
	must(t, m, "mailcal_grants", map[string]string{"provider": "google", "status": "active"}, 0)
	must(t, m, "mailcal_mcp_sessions", map[string]string{"transport": "sse"}, 0)
	m.Grants(func(fn func(tenant, provider, status string)) {
		fn("acme", "google", "active")
		fn("acme", "google", "active")
		fn("beta", "google", "active")
		fn("beta", "microsoft", "needs_reauth")
	})
	m.Sessions(func() (int, int, int) { return 7, 2, 3 })
	must(t, m, "mailcal_grants", map[string]string{"provider": "google", "status": "active"}, 3)
	must(t, m, "mailcal_grants", map[string]string{"provider": "microsoft", "status": "needs_reauth"}, 1)
	must(t, m, "mailcal_grants", map[string]string{"provider": "microsoft", "status": "revoked"}, 0)
	must(t, m, "mailcal_mcp_sessions", map[string]string{"transport": "streamable"}, 7)
	must(t, m, "mailcal_mcp_sessions", map[string]string{"transport": "sse"}, 2)
	must(t, m, "mailcal_mcp_streams", map[string]string{}, 3)

	mt := newTest(t, true)
	mt.Grants(func(fn func(tenant, provider, status string)) {
		fn("acme", "google", "active")
		fn("beta", "google", "active")
	})
	must(t, mt, "mailcal_grants", map[string]string{"provider": "google", "status": "active", "tenant": "acme"}, 1)
	must(t, mt, "mailcal_grants", map[string]string{"provider": "google", "status": "active", "tenant": "beta"}, 1)
}

// TestUpstream: every attempt under httpretry is counted by status class,
// its retries and 429s apart, with its duration.
func TestUpstream(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 4:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	m := newTest(t, false)
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	c := &http.Client{Transport: &httpretry.Transport{Next: m.Upstream("google", base), Backoff: func(int) time.Duration { return time.Millisecond }}}
	for range 2 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "4xx"}, 2)
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "5xx"}, 1)
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "2xx"}, 1)
	must(t, m, "mailcal_upstream_retries_total", map[string]string{"provider": "google", "endpoint": "api"}, 2)
	must(t, m, "mailcal_upstream_throttled_total", map[string]string{"provider": "google", "endpoint": "api"}, 1)
	must(t, m, "mailcal_upstream_request_duration_seconds", map[string]string{"provider": "google", "endpoint": "api"}, 4)

	// No answer at all: class error.
	dead := &http.Client{Transport: m.Upstream("microsoft", base), Timeout: 2 * time.Second}
	if _, err := dead.Get("http://127.0.0.1:1/"); err == nil {
		t.Fatal("port 1 answered")
	}
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "microsoft", "endpoint": "api", "class": "error"}, 1)
}

// TestNoTenantOrAccountLabels: with tenant labels off, no tenant name or
// account address appears anywhere in a scrape; with them on, tenant names
// do (as the tenant label only) and accounts still never.
func TestNoTenantOrAccountLabels(t *testing.T) {
	feed := func(m *Metrics) string {
		m.ObserveCall(tools.CallInfo{Tool: "list_messages", Provider: "google", Tenant: "acme-tenant", Outcome: tools.CallOK})
		m.ObserveCall(tools.CallInfo{Tool: "alice@example.com", Provider: "bob@example.com", Tenant: "acme-tenant", Outcome: "carol@example.com"})
		m.ObserveRefresh("alice@example.com", "ok")
		m.Grants(func(fn func(tenant, provider, status string)) {
			fn("acme-tenant", "alice@example.com", "dave@example.com")
		})
		up := m.Upstream("erin@example.com", roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
		}))
		req := httptest.NewRequest("GET", "https://api.example.com/users/frank@example.com/messages?q=acme-tenant", nil)
		if _, err := up.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	out := feed(newTest(t, false))
	for _, s := range []string{"acme-tenant", "@", "tenant="} {
		if strings.Contains(out, s) {
			t.Errorf("tenant labels off: the scrape holds %q", s)
		}
	}
	out = feed(newTest(t, true))
	if !strings.Contains(out, `tenant="acme-tenant"`) {
		t.Errorf("tenant labels on: no tenant label in the scrape")
	}
	if strings.Contains(out, "@") {
		t.Errorf("tenant labels on: an account address in the scrape")
	}
	// Bounded: the labels hold only known values and "other".
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	allowed := map[string]bool{"list_messages": true, "send_email": true, "google": true, "microsoft": true, "none": true, "other": true, "acme-tenant": true}
	for _, o := range append(append(tools.CallOutcomes, append(classes, endpoints...)...), append(refreshOutcomes, append(grantStatuses, webhookOutcomes...)...)...) {
		allowed[o] = true
	}
	for ev, outs := range oauthOutcomes {
		allowed[ev] = true
		for _, o := range outs {
			allowed[o] = true
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "mailcal_") || name == "mailcal_build_info" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() != "le" && l.GetName() != "transport" && !allowed[l.GetValue()] {
					t.Errorf("%s: label %s=%q outside the known values", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHandlerFormat: the handler answers the Prometheus text format with
// the runtime and process collectors in it.
func TestHandlerFormat(t *testing.T) {
	m := newTest(t, false)
	m.ObserveCall(tools.CallInfo{Tool: "send_email", Provider: "google", Outcome: tools.CallOK})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.Bytes()
	for _, s := range []string{"go_goroutines ", "process_resident_memory_bytes ", `mailcal_build_info{version="test"} 1`, "# TYPE mailcal_tool_call_duration_seconds histogram"} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("scrape lacks %q", s)
		}
	}
}

// TestTokenUpstream: token-endpoint attempts are counted under endpoint
// "token" and the provider the resolver names (other when it names none).
func TestTokenUpstream(t *testing.T) {
	m := newTest(t, false)
	ok := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	rt := m.Token(func(r *http.Request) string {
		return map[string]string{"login.example.com": "microsoft", "oauth.example.com": "google"}[r.URL.Host]
	}, ok)
	for _, u := range []string{"https://oauth.example.com/token", "https://oauth.example.com/token", "https://login.example.com/token", "https://elsewhere.example.com/token"} {
		if _, err := rt.RoundTrip(httptest.NewRequest("POST", u, nil)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "token", "class": "2xx"}, 2)
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "microsoft", "endpoint": "token", "class": "2xx"}, 1)
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "other", "endpoint": "token", "class": "2xx"}, 1)
	must(t, m, "mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "2xx"}, 0)
}
