package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// start runs the idle sweep until the returned stop is called; stop waits
// for it to end.
func (t *sessionTable) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	every := func(d time.Duration, f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					f(ctx)
				}
			}
		}()
	}
	every(min(max(t.idleTTL/4, 50*time.Millisecond), 30*time.Second), func(context.Context) { t.sweep() })
	return func() { cancel(); wg.Wait() }
}

// sweep ends the streamable sessions idle for the idle TTL: no request on
// them running (no call, no stream) and none finished for that long. A
// session chosen is marked ending under the lock that admits requests, so
// no call can start on it after it was chosen.
func (t *sessionTable) sweep() {
	t.mu.Lock()
	now := t.now()
	var idle []string
	for id, s := range t.sessions {
		if s.kind == streamableSession && s.registered && !s.ending && s.busy == 0 && now.Sub(s.lastUsed) >= t.idleTTL {
			s.ending = true
			idle = append(idle, id)
		}
	}
	t.mu.Unlock()
	for _, id := range idle {
		slog.Debug("closing an idle session", "idle_ttl", t.idleTTL)
		t.end(id)
	}
}

// endStreamable ends a streamable session through the streamable server's
// own DELETE, so that mcp-go forgets it as it does for a client's DELETE.
func endStreamable(h http.Handler, id string) {
	r, err := http.NewRequest(http.MethodDelete, "/mcp", nil)
	if err != nil {
		return
	}
	r.Header.Set("Mcp-Session-Id", id)
	h.ServeHTTP(discardResponse{http.Header{}}, r)
}

// discardResponse is a ResponseWriter that keeps nothing.
type discardResponse struct{ h http.Header }

func (d discardResponse) Header() http.Header         { return d.h }
func (d discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d discardResponse) WriteHeader(int)             {}
