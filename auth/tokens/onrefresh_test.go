package tokens

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOnRefreshOutcomes: each refresh is reported once, with its provider
// and its outcome: ok, transient (5xx after the retries), failed (the
// OAuth client refused) and needs_reauth (invalid_grant).
func TestOnRefreshOutcomes(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	h := newHarness(t, func(h *harness) func(http.ResponseWriter, string, int64) {
		ok := okHandler(&h.ep)
		return func(w http.ResponseWriter, rt string, n int64) {
			switch mode.Load() {
			case "5xx":
				writeErr(w, 503, "temporarily_unavailable", "")
			case "client":
				writeErr(w, 401, "invalid_client", "Unauthorized")
			case "grant":
				writeErr(w, 400, "invalid_grant", "Token has been expired or revoked.")
			default:
				ok(w, rt, n)
			}
		}
	})
	h.m.Close()
	var mu sync.Mutex
	var got []string
	cfg := h.cfg
	cfg.FailureBackoff, cfg.MaxBackoff = time.Nanosecond, time.Nanosecond
	cfg.OnRefresh = func(provider, outcome string) {
		mu.Lock()
		got = append(got, provider+":"+outcome)
		mu.Unlock()
	}
	h.m = New(cfg)
	for _, m := range []string{"ok", "5xx", "client", "grant"} {
		mode.Store(m)
		h.clk.Advance(2 * time.Hour) // expired: the next call refreshes
		time.Sleep(2 * time.Millisecond)
		_, _ = h.token(t)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{prov + ":ok", prov + ":transient", prov + ":failed", prov + ":needs_reauth"}
	if !slices.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
}
