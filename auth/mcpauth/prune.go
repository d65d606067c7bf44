package mcpauth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// pruneEvery is how often Start prunes the store's expired tokens.
const pruneEvery = 10 * time.Minute

// Start prunes expired tokens and revocation marks in the background
// (every 10 minutes, each pass bounded to a minute; several replicas may
// prune at once, which only repeats deletes) and the verification cache's
// stale entries. stop ends it and waits for a pass under way.
func (s *Server) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		for {
			s.prune(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// prune runs one pass.
func (s *Server) prune(ctx context.Context) {
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	now := s.now()
	s.cache.sweep(now)
	if ctx.Err() != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := s.cfg.Store.PruneOAuth(pctx, now)
	if err != nil {
		if ctx.Err() == nil {
			slog.WarnContext(ctx, "pruning expired OAuth tokens failed", "err", err)
		}
		return
	}
	if n > 0 {
		slog.DebugContext(ctx, "pruned expired OAuth tokens", "records", n)
	}
}
