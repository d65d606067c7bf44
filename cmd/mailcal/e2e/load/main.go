//go:build linux

// Command load is mailcal's load benchmark for http mode. It runs
// everything on loopback: a fake Google (googletest) with added latency on
// every Gmail and Calendar request, a file keyring seeded with M tenants of
// one connected account each, and `mailcal serve --transport http` built
// with the storecount tag (it counts store reads). Then it opens N MCP
// sessions (streamable HTTP, /mcp) spread over the tenants, each calling
// list_messages (max_results 10), list_events and get_message in turn, with
// no pause, for T seconds, and reports calls per second, latency
// percentiles, errors, mailcal's CPU time per call (from /proc/PID/stat)
// and store reads per call, a request waited for apart from background
// refreshes.
//
// With several session counts (-sessions 50,100,1000,5000) it ramps: each
// level adds sessions to the running ones, warms up, measures, and the run
// stops at the first level with errors and names that failure mode.
//
//	go run ./cmd/mailcal/e2e/load                                   # a short run: 50 sessions, 10 tenants, 10 s
//	go run ./cmd/mailcal/e2e/load -sessions 1000 -tenants 100 -duration 60s
//	go run ./cmd/mailcal/e2e/load -sessions 50,100,200,500,1000,2000,5000 -tenants 100 -duration 20s
//	go run ./cmd/mailcal/e2e/load -database -replicas 3 -sessions 1000 -tenants 100 -duration 20s
//
// With -database the store is a throwaway PostgreSQL on loopback (migrated
// with `mailcal migrate`, tenants' refresh tokens sealed under a random
// master key), and -replicas N servers share it behind a round-robin
// reverse proxy without session affinity; the figures are summed over the
// replicas, with the database's committed transactions per call. With
// -expire (the default) every access token expires once mid-window, and
// the token requests the fake Google received in the window are reported:
// one per account is one per expiry across replicas.
//
// Linux only. It raises its descriptor limit to the hard limit (the server
// inherits it) and says so when descriptors run out.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is one run.
type config struct {
	levels      []int         // session counts, ramped in order
	tenants     int           // tenants, one connected account each
	duration    time.Duration // measured time per level
	warmup      time.Duration // unmeasured time after each level's sessions started
	latency     time.Duration // added to every upstream API request
	callTimeout time.Duration // one call's client-side timeout
	bin         string        // mailcal binary; "": built with -tags storecount
	keepGoing   bool          // ramp on after a level with errors
	cpuProfile  string        // where to copy the server's CPU profile of the last level's window
	memProfile  string        // where to copy the server's allocation profiles (with cpuProfile)
	serverEnv   []string      // more K=V for the server (GOGC=200, MAILCAL_KEYRING_TIMEOUT=30s…)
	database    bool          // a throwaway PostgreSQL instead of the file keyring
	replicas    int           // servers on the database, behind a round-robin proxy
	expire      bool          // expire every access token once, mid-window
	logf        func(format string, args ...any)
}

func main() {
	var c config
	var levels string
	flag.StringVar(&levels, "sessions", "50", "MCP sessions; a comma-separated list ramps through them in order")
	flag.IntVar(&c.tenants, "tenants", 10, "tenants the sessions are spread over, one connected account each")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per level")
	flag.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured time after a level's sessions started")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "latency added to every upstream API request")
	flag.DurationVar(&c.callTimeout, "call-timeout", 60*time.Second, "client-side timeout of one call")
	flag.StringVar(&c.bin, "bin", "", "mailcal binary to run (default: build ./cmd/mailcal with -tags storecount; "+
		"without that tag no store reads are counted)")
	flag.BoolVar(&c.keepGoing, "keep-going", false, "ramp on after a level with errors")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write the server's CPU profile of the last level's measured window to this file")
	flag.StringVar(&c.memProfile, "memprofile", "", "with -cpuprofile: write the server's allocation profile at the end of that window to this file, "+
		"and the one at its start to this file + .base (go tool pprof -sample_index=alloc_space -base FILE.base FILE)")
	flag.Func("server-env", "K=V added to the server's environment (repeatable), e.g. GOGC=200", func(kv string) error {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("%q: want K=V", kv)
		}
		c.serverEnv = append(c.serverEnv, kv)
		return nil
	})
	flag.BoolVar(&c.database, "database", false, "store on a throwaway PostgreSQL on loopback (initdb and pg_ctl on the PATH or in "+
		"/usr/lib/postgresql/*/bin) instead of the file keyring, the sessions going through a round-robin proxy")
	flag.IntVar(&c.replicas, "replicas", 1, "with -database: mailcal servers on the database, behind the proxy")
	flag.BoolVar(&c.expire, "expire", true, "expire every access token at the fake Google once, mid-window, and count the token requests that follow")
	flag.Parse()
	var err error
	if c.levels, err = parseLevels(levels); err != nil || c.tenants < 1 || c.duration <= 0 || c.warmup < 0 ||
		c.replicas < 1 || c.replicas > 16 || (c.replicas > 1 && !c.database) {
		fmt.Fprintln(os.Stderr, "load: -sessions wants positive counts, -tenants ≥ 1, -duration > 0, -replicas 1 to 16 (above 1 only with -database):", err)
		os.Exit(2)
	}
	c.logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, c)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("session count %q", f)
		}
		if len(out) > 0 && n < out[len(out)-1] {
			return nil, fmt.Errorf("session counts must grow: %s", s)
		}
		out = append(out, n)
	}
	return out, nil
}
