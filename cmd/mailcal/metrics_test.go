package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/cmd/mailcal/internal/metrics"
)

func TestParseMetrics(t *testing.T) {
	for _, c := range []struct {
		tenants, addr string
		labels        bool
		bad           string
	}{
		{"", "", false, ""},
		{"1", "127.0.0.1:9464", true, ""},
		{"true", ":9464", true, ""},
		{"0", "", false, ""},
		{"yes", "", false, envMetricsTenants},
		{"", "9464", false, envMetricsAddr},
	} {
		var cfg config
		err := parseMetrics(func(k string) string {
			return map[string]string{envMetricsTenants: c.tenants, envMetricsAddr: c.addr}[k]
		}, &cfg)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q %q: err %v, want one naming %s", c.tenants, c.addr, err, c.bad)
			}
			continue
		}
		if err != nil || cfg.metricsTenantLabels != c.labels || cfg.metricsAddr != c.addr {
			t.Errorf("%q %q: %v %v %q", c.tenants, c.addr, err, cfg.metricsTenantLabels, cfg.metricsAddr)
		}
	}
}

// TestMetricsHandlerLoopbackOnly: on the main listener, /metrics answers a
// loopback peer, and refuses other peers and anything a proxy forwarded.
func TestMetricsHandlerLoopbackOnly(t *testing.T) {
	h := metricsHandler(metrics.New(metrics.Config{Version: "t"}))
	for _, c := range []struct {
		remote, header string
		want           int
	}{
		{"127.0.0.1:5000", "", 200},
		{"[::1]:5000", "", 200},
		{"10.0.0.7:5000", "", 403},
		{"127.0.0.1:5000", "X-Forwarded-For", 403},
		{"127.0.0.1:5000", "Forwarded", 403},
		{"127.0.0.1:5000", "X-Real-Ip", 403},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = c.remote
		if c.header != "" {
			r.Header.Set(c.header, "203.0.113.9")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.remote, c.header, w.Code, c.want)
		}
		if c.want == 403 && !strings.Contains(w.Body.String(), envMetricsAddr) {
			t.Errorf("refusal does not name %s: %s", envMetricsAddr, w.Body)
		}
	}
}

// TestReadiness: 200 while the ping answers, 503 once it fails or runs
// past its deadline, without the store's error in the answer; concurrent
// probes share one ping, and an answer serves for readyFor.
func TestReadiness(t *testing.T) {
	var pings atomic.Int32
	var fail atomic.Value
	fail.Store("")
	clock := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	r := &readiness{now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }}
	r.ping = func(ctx context.Context) error {
		pings.Add(1)
		switch fail.Load() {
		case "error":
			return errors.New("open /secret/path/keyring: permission denied")
		case "hang":
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	advance := func() { mu.Lock(); clock = clock.Add(readyFor); mu.Unlock() }
	probe := func() (int, string) {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code, w.Body.String()
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if code, body := probe(); code != http.StatusOK {
				t.Errorf("working store: %d %s", code, body)
			}
		})
	}
	wg.Wait()
	if n := pings.Load(); n != 1 {
		t.Errorf("50 probes within %s pinged %d times, want 1", readyFor, n)
	}
	fail.Store("error")
	if code, _ := probe(); code != http.StatusOK {
		t.Errorf("within %s of a good answer: %d", readyFor, code)
	}
	advance()
	code, body := probe()
	if code != http.StatusServiceUnavailable || strings.Contains(body, "secret") {
		t.Errorf("failing store: %d %s", code, body)
	}
	fail.Store("hang")
	advance()
	start := time.Now()
	if code, _ := probe(); code != http.StatusServiceUnavailable || time.Since(start) > readyTimeout+time.Second {
		t.Errorf("hanging store: %d after %s", code, time.Since(start))
	}
	fail.Store("")
	advance()
	if code, _ := probe(); code != http.StatusOK {
		t.Errorf("store back: %d", code)
	}
}
