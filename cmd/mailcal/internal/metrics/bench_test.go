package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mailcal/mailcal/tools"
)

// BenchmarkObserveCall is what metrics add to one tool call: a counter and
// a histogram observation.
func BenchmarkObserveCall(b *testing.B) {
	for _, tenants := range []bool{false, true} {
		b.Run(fmt.Sprintf("tenant_labels=%v", tenants), func(b *testing.B) {
			m := newTest(b, tenants)
			c := tools.CallInfo{Tool: "list_messages", Provider: "google", Tenant: "acme", Outcome: tools.CallOK, Duration: 20 * time.Millisecond}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.ObserveCall(c)
				}
			})
		})
	}
}

type nopTransport struct{ resp *http.Response }

func (t nopTransport) RoundTrip(*http.Request) (*http.Response, error) { return t.resp, nil }

// BenchmarkUpstream is what metrics add to one upstream attempt.
func BenchmarkUpstream(b *testing.B) {
	m := newTest(b, false)
	next := nopTransport{&http.Response{StatusCode: 200, Body: http.NoBody}}
	req := httptest.NewRequest("GET", "https://gmail.googleapis.com/gmail/v1/users/me/messages", nil)
	for name, rt := range map[string]http.RoundTripper{"bare": next, "counted": m.Upstream("google", next)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = rt.RoundTrip(req)
			}
		})
	}
}

// BenchmarkScrape gathers and encodes a registry in which every tool has
// been called on both providers with three outcomes, and 1,000 grants are
// in memory; it reports the bytes of one scrape.
func BenchmarkScrape(b *testing.B) {
	names := make([]string, 30)
	for i := range names {
		names[i] = fmt.Sprintf("tool_%02d", i)
	}
	m := New(Config{Version: "bench", Tools: names, Providers: []string{"google", "microsoft"}})
	for _, tool := range names {
		for _, p := range []string{"google", "microsoft"} {
			for _, o := range []string{tools.CallOK, tools.CallError, tools.CallRefused} {
				m.ObserveCall(tools.CallInfo{Tool: tool, Provider: p, Outcome: o, Duration: 30 * time.Millisecond})
			}
		}
	}
	m.Grants(func(fn func(tenant, provider, status string)) {
		for i := range 1000 {
			fn(fmt.Sprint("t", i%100), "google", "active")
		}
	})
	h := m.Handler()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		size = w.Body.Len()
		_, _ = io.Copy(io.Discard, w.Body)
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
