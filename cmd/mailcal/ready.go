package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Readiness: /readyz answers 200 while the store answers a ping within
// readyTimeout. However many probes arrive, one ping runs at a time and its
// answer serves for readyFor: an unauthenticated endpoint must not let
// anyone load the store.
const (
	readyTimeout = 2 * time.Second
	readyFor     = time.Second
)

type readiness struct {
	ping func(ctx context.Context) error
	now  func() time.Time

	mu   sync.Mutex // held during a ping: later probes wait for its answer
	at   time.Time
	err  error
	done bool
}

func newReadiness(s store.Store) *readiness {
	return &readiness{ping: func(ctx context.Context) error { return store.Ping(ctx, s) }, now: time.Now}
}

// check returns the store's answer, at most readyFor old.
func (r *readiness) check(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done && r.now().Sub(r.at) < readyFor {
		return r.err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	err := r.ping(pctx)
	if err != nil && r.err == nil {
		slog.Warn("not ready: the store does not answer", "err", err)
	} else if err == nil && r.err != nil {
		slog.Info("ready: the store answers again")
	}
	r.at, r.err, r.done = r.now(), err, true
	return err
}

// ServeHTTP is /readyz. The store's error goes to the log, not to an
// unauthenticated caller.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := r.check(req.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","error":"the store does not answer"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}
