//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
)

// smokeLevel runs one brief level (8 sessions over 4 tenants, a 1.5 s
// warm-up, 20 ms upstream latency) for the window, with mode changing the
// configuration, and fails the test unless it made at least 20 calls and
// none failed. It skips when PostgreSQL is needed and not installed (unless
// pgtest.EnvRequire says it must be).
func smokeLevel(t *testing.T, window time.Duration, mode func(*config)) levelReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := config{
		levels: []int{8}, tenants: 4, duration: window, warmup: 1500 * time.Millisecond,
		latency: 20 * time.Millisecond, callTimeout: 30 * time.Second, logf: t.Logf,
	}
	if mode != nil {
		mode(&cfg)
	}
	rep, err := run(ctx, cfg)
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv(pgtest.EnvRequire) != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.levels) != 1 {
		t.Fatalf("%d levels measured, want 1", len(rep.levels))
	}
	lv := rep.levels[0]
	if lv.calls < 20 || lv.errors+lv.warmErrors > 0 || rep.failure != "" {
		t.Fatalf("%d calls, %d errors (%d in the warm-up: %s); want at least 20 and none", lv.calls, lv.errors+lv.warmErrors, lv.warmErrors, rep.failure)
	}
	return lv
}

// TestLoadSmoke runs the benchmark briefly (8 sessions over 4 tenants, 2 s
// measured): every call succeeds, and the warm calls wait for no store read.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs mailcal: skipped with -short")
	}
	lv := smokeLevel(t, 2*time.Second, nil)
	if lv.reads == nil {
		t.Fatal("the storecount build reported no store reads")
	}
	// 0 is what happens; the slack is for keep-warm timers that a loaded
	// machine fires late.
	if n := lv.reads.sum(0); n > 2 {
		t.Fatalf("warm calls waited for %d store reads (%v), want none", n, lv.reads)
	}
	if lv.cpu <= 0 {
		t.Error("no server CPU time measured")
	}
	if lv.rss <= 0 || lv.hwm < lv.rss {
		t.Errorf("server memory: resident %d, peak %d", lv.rss, lv.hwm)
	}
	// A list_messages makes a list request and at least one more for the
	// rows (the fixture mailbox has 30 messages; the call asks for 10);
	// calls cut by the window's ends blur the count a little.
	if n, up := lv.byTool["list_messages"], lv.perList(); n == 0 || up < 1.5 || up > 12 {
		t.Errorf("%d list_messages calls, %.2f Gmail round trips each; want some, between 2 and 11", n, up)
	}
}

// TestLoadDatabaseReplicas runs the database mode briefly: two replicas on
// one PostgreSQL behind the round-robin proxy, 8 sessions over 4 tenants,
// every access token expired once mid-window. Every call succeeds, the
// replicas ask for one or two new tokens per account between them, and the
// database is counted.
func TestLoadDatabaseReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs mailcal on PostgreSQL: skipped with -short")
	}
	lv := smokeLevel(t, 3*time.Second, func(c *config) {
		c.database, c.replicas, c.expire = true, 2, true
	})
	if lv.replicas != 2 || len(lv.rssEach) != 2 || lv.rssEach[0] <= 0 || lv.rssEach[1] <= 0 {
		t.Errorf("replicas %d, resident memory each %v; want 2, both measured", lv.replicas, lv.rssEach)
	}
	// One token request per account per expiry, across the replicas.
	if !lv.expired || lv.tokenRequests != 4 {
		t.Errorf("token requests after every access token expired once: %d, want 4 (one per account across replicas)", lv.tokenRequests)
	}
	if lv.commits <= 0 {
		t.Errorf("database commits in the window: %d, want some", lv.commits)
	}
}
