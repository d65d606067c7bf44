//go:build unix

package e2e

import (
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// scrape GETs base+/metrics and parses it as Prometheus text.
func scrape(t *testing.T, base string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q %v\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), err, tail(string(body), 500))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams, string(body)
}

// sample is the value of the series of family name with exactly labels
// (a histogram's count); 0 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func readyz(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestE2EMetrics: tool calls through a real MCP client against the Google
// fake (one answered 429 first, one refused by policy, one tool error, one
// after the access token expired), then a scrape of /metrics through the
// binary: the counters and histograms say what happened, and neither the
// tenant nor the account appears.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	fx.fg.LoadFixtures(alice)
	key, s, c := fx.connectAlice(t, provScopes)
	if code := readyz(t, s.base); code != http.StatusOK {
		t.Fatalf("/readyz with a working keyring: %d", code)
	}
	before, _ := scrape(t, s.base)
	refreshes := fx.refreshes()

	fx.fg.FailAPI("/gmail/v1/users/me/messages", 1, http.StatusTooManyRequests, "rateLimitExceeded", 0)
	for range 3 {
		fx.callOK(t, c, "list_messages", map[string]any{"max_results": 5}, nil)
	}
	fx.callFails(t, c, "get_message", map[string]any{"id": "18c0ffee0000dead"})
	r := fx.do(t, s, "PUT", "/api/policy", strings.NewReader(`{"recipient_allowlist":["*@example.com"]}`), "Authorization", "Bearer "+key)
	if r.status != 200 {
		t.Fatalf("PUT /api/policy: %d %s", r.status, r.body)
	}
	fx.callFails(t, c, "send_email", map[string]any{"to": []any{"eve@evil.example"}, "subject": "x", "body": "y"}, "recipient allowlist")
	fx.callOK(t, c, "connect_account", map[string]any{"provider": "google"}, nil)
	expired := fx.refreshes()
	fx.fg.ExpireAccessTokens()
	fx.callOK(t, c, "list_calendars", nil, nil)
	if n := fx.refreshes() - expired; n != 1 {
		t.Fatalf("%d refreshes after expiry, want 1", n)
	}
	// Sessions: mcp-go's client speaks the sessionless revision; a
	// 2025-11-25 initialize opens a streamable session, and a legacy SSE
	// client a session with a stream.
	openSession(t, s, key)
	mcpgoHTTP(t, s, "/sse", "Authorization", "Bearer "+key, true)

	after, text := scrape(t, s.base)
	delta := func(name string, labels map[string]string) float64 {
		return sample(after, name, labels) - sample(before, name, labels)
	}
	for _, w := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mailcal_tool_calls_total", map[string]string{"tool": "list_messages", "provider": "google", "outcome": "ok"}, 3},
		{"mailcal_tool_calls_total", map[string]string{"tool": "get_message", "provider": "google", "outcome": "tool_error"}, 1},
		{"mailcal_tool_calls_total", map[string]string{"tool": "send_email", "provider": "google", "outcome": "refused"}, 1},
		{"mailcal_tool_calls_total", map[string]string{"tool": "list_calendars", "provider": "google", "outcome": "ok"}, 1},
		{"mailcal_tool_calls_total", map[string]string{"tool": "connect_account", "provider": "none", "outcome": "ok"}, 1},
		{"mailcal_tool_call_duration_seconds", map[string]string{"tool": "list_messages", "provider": "google"}, 3},
		{"mailcal_upstream_throttled_total", map[string]string{"provider": "google", "endpoint": "api"}, 1},
		{"mailcal_upstream_retries_total", map[string]string{"provider": "google", "endpoint": "api"}, 1},
		{"mailcal_token_refreshes_total", map[string]string{"provider": "google", "outcome": "ok"}, float64(fx.refreshes() - refreshes)},
		{"mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "token", "class": "2xx"}, float64(fx.refreshes() - refreshes)},
	} {
		if got := delta(w.name, w.labels); got != w.want {
			t.Errorf("%s%v rose by %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	// Upstream: a 429 and a 404 (4xx), the rest answered (2xx); the 2xx
	// attempts are at least one per call that reached Google.
	if got := delta("mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "4xx"}); got < 2 {
		t.Errorf("upstream 4xx rose by %v, want at least 2 (the 429 and the 404)", got)
	}
	if got := delta("mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "2xx"}); got < 4 {
		t.Errorf("upstream 2xx rose by %v, want at least 4", got)
	}
	if got := sample(after, "mailcal_grants", map[string]string{"provider": "google", "status": "active"}); got != 1 {
		t.Errorf("mailcal_grants{google,active} = %v, want 1", got)
	}
	for _, w := range []struct {
		name   string
		labels map[string]string
	}{{"mailcal_mcp_sessions", map[string]string{"transport": "streamable"}}, {"mailcal_mcp_sessions", map[string]string{"transport": "sse"}}, {"mailcal_mcp_streams", nil}} {
		if got := sample(after, w.name, w.labels); got != 1 {
			t.Errorf("%s%v = %v, want 1", w.name, w.labels, got)
		}
	}
	for _, fam := range []string{"go_goroutines", "process_resident_memory_bytes", "mailcal_build_info"} {
		if after[fam] == nil {
			t.Errorf("no %s in the scrape", fam)
		}
	}
	// The histogram's buckets run from 5 ms to 60 s.
	if h := after["mailcal_tool_call_duration_seconds"]; h != nil {
		b := h.GetMetric()[0].GetHistogram().GetBucket()
		if n := len(b); n > 0 && math.IsInf(b[n-1].GetUpperBound(), 1) {
			b = b[:n-1] // the text parser keeps +Inf as a bucket
		}
		if len(b) == 0 || b[0].GetUpperBound() != 0.005 || b[len(b)-1].GetUpperBound() != 60 {
			t.Errorf("buckets %v", b)
		}
	}
	if strings.Contains(text, "@") || strings.Contains(text, "tenant=") {
		t.Errorf("the scrape names an account or a tenant:\n%s", tail(text, 2000))
	}
	t.Logf("one scrape: %d bytes", len(text))

	// Through a proxy (a forwarding header): refused.
	r = fx.do(t, s, "GET", "/metrics", nil, "X-Forwarded-For", "203.0.113.9")
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "MAILCAL_METRICS_ADDR") {
		t.Errorf("/metrics through a proxy: %d %s", r.status, r.body)
	}
}

// TestE2EMetricsListener: MAILCAL_METRICS_ADDR serves /metrics (with the
// tenant label when MAILCAL_METRICS_TENANT_LABELS=1, and still no
// account) and /readyz on a listener of its own, and the main listener no
// longer serves /metrics; /readyz answers 503 once the keyring's folder is
// gone, and 200 again once it is back.
func TestE2EMetricsListener(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{}, "MAILCAL_METRICS_ADDR=127.0.0.1:0", "MAILCAL_METRICS_TENANT_LABELS=1")
	fx.fg.LoadFixtures(alice)
	_, s, c := fx.connectAlice(t, provScopes)
	rec := s.logs.wait(t, 10*time.Second, "serving metrics")
	addr, _ := rec["addr"].(string)
	if addr == "" {
		t.Fatalf("the metrics log record has no addr: %v", rec)
	}
	mbase := "http://" + addr
	fx.callOK(t, c, "list_messages", map[string]any{"max_results": 5}, nil)

	fams, text := scrape(t, mbase)
	if got := sample(fams, "mailcal_tool_calls_total", map[string]string{"tool": "list_messages", "provider": "google", "outcome": "ok", "tenant": "a"}); got != 1 {
		t.Errorf("list_messages calls of tenant a: %v, want 1", got)
	}
	if got := sample(fams, "mailcal_grants", map[string]string{"provider": "google", "status": "active", "tenant": "a"}); got != 1 {
		t.Errorf("tenant a's active google grants: %v, want 1", got)
	}
	if strings.Contains(text, "@") {
		t.Errorf("the scrape names an account")
	}
	if r := fx.do(t, s, "GET", "/metrics", nil); r.status != http.StatusNotFound {
		t.Errorf("/metrics on the main listener with MAILCAL_METRICS_ADDR set: %d", r.status)
	}

	for _, base := range []string{s.base, mbase} {
		if code := readyz(t, base); code != http.StatusOK {
			t.Fatalf("%s/readyz with a working keyring: %d", base, code)
		}
	}
	// The keyring's folder replaced by a file (root reads a folder whatever
	// its mode): the store no longer answers.
	dir := fx.k.dir
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitReady := func(base string, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			code := readyz(t, base)
			if code == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/readyz: %d, want %d", base, code, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitReady(s.base, http.StatusServiceUnavailable)
	waitReady(mbase, http.StatusServiceUnavailable)
	if r := fx.do(t, s, "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Errorf("/healthz (liveness) with a broken store: %d", r.status)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	waitReady(s.base, http.StatusOK)
}

// TestE2EMetricsMicrosoft: calls on an Outlook account are counted under
// provider microsoft, and its Graph requests under it too.
func TestE2EMetricsMicrosoft(t *testing.T) {
	t.Parallel()
	a := microsoftAccount(t)
	before, _ := scrape(t, a.s.base)
	for range 2 {
		a.callOK(t, a.c, "list_messages", map[string]any{"max_results": 5}, nil)
	}
	a.callOK(t, a.c, "list_events", nil, nil)
	after, text := scrape(t, a.s.base)
	delta := func(name string, labels map[string]string) float64 {
		return sample(after, name, labels) - sample(before, name, labels)
	}
	if got := delta("mailcal_tool_calls_total", map[string]string{"tool": "list_messages", "provider": "microsoft", "outcome": "ok"}); got != 2 {
		t.Errorf("list_messages on microsoft rose by %v, want 2", got)
	}
	if got := delta("mailcal_tool_calls_total", map[string]string{"tool": "list_events", "provider": "microsoft", "outcome": "ok"}); got != 1 {
		t.Errorf("list_events on microsoft rose by %v, want 1", got)
	}
	if got := delta("mailcal_upstream_requests_total", map[string]string{"provider": "microsoft", "endpoint": "api", "class": "2xx"}); got < 3 {
		t.Errorf("Graph 2xx attempts rose by %v, want at least 3", got)
	}
	if got := sample(after, "mailcal_upstream_requests_total", map[string]string{"provider": "google", "endpoint": "api", "class": "2xx"}); got != 0 {
		t.Errorf("google 2xx = %v on a Microsoft-only server", got)
	}
	if got := sample(after, "mailcal_grants", map[string]string{"provider": "microsoft", "status": "active"}); got != 1 {
		t.Errorf("mailcal_grants{microsoft,active} = %v, want 1", got)
	}
	if strings.Contains(text, "@") {
		t.Errorf("the scrape names an account")
	}
}
