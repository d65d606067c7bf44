package mcpauth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// pruneEvery is how often Start prunes the store's expired tokens.
const pruneEvery = 10 * time.Minute

// UnusedClientTTL is how long a registered client (DCR) that no token
// names is kept: anyone may register, so unused registrations must not
// pile up. A week leaves a client that registered and waits to be used
// plenty of time; one pruned meanwhile is answered invalid_client, on
// which the official SDKs register again.
const UnusedClientTTL = 7 * 24 * time.Hour

// Start prunes expired tokens and revocation marks in the background
// (every 10 minutes, each pass bounded to a minute; several replicas may
// prune at once, which only repeats deletes), then registered clients
// older than UnusedClientTTL that no token names (the Clients cache may
// still serve one for up to a minute), and the verification cache's stale
// entries. stop ends it and waits for a pass under way.
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

// prune runs one pass: the expired tokens first, so that a client whose
// last token just expired is unused; the clients even if the tokens
// failed (a client kept for a token not pruned yet is only kept longer).
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
	switch {
	case err != nil && ctx.Err() == nil:
		slog.WarnContext(ctx, "pruning expired OAuth tokens failed", "err", err)
	case n > 0:
		slog.DebugContext(ctx, "pruned expired OAuth tokens", "records", n)
	}
	if pctx.Err() != nil {
		return
	}
	n, err = s.cfg.Store.PruneOAuthClients(pctx, now.Add(-UnusedClientTTL))
	switch {
	case err != nil && ctx.Err() == nil:
		slog.WarnContext(ctx, "pruning unused OAuth clients failed", "err", err)
	case n > 0:
		slog.InfoContext(ctx, "pruned unused OAuth client registrations", "clients", n, "older_than", UnusedClientTTL.String())
	}
}
