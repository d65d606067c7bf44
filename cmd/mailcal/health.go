package main

import (
	"context"
	"time"
)

// leaderStore is a store shared by replicas that elects a leader among
// them (the PostgreSQL store: an advisory lock).
type leaderStore interface {
	Lead(ctx context.Context, name string, retry time.Duration, fn func(ctx context.Context))
}

// healthLeaderRetry is how often a replica that does not run the health
// check tries to take it over, and how often the one that does checks its
// hold: a replica that exits or is killed is replaced within it.
const healthLeaderRetry = 2 * time.Second

// runHealth runs the health check every interval until ctx ends: on a
// store shared by replicas, on one replica at a time (the others stand by
// and one takes over when it goes); else in this process.
func (a *app) runHealth(ctx context.Context, interval time.Duration) {
	if a.leader == nil {
		a.tokens.Run(ctx, interval)
		return
	}
	a.leader.Lead(ctx, "health check", healthLeaderRetry, func(ctx context.Context) { a.tokens.Run(ctx, interval) })
}
