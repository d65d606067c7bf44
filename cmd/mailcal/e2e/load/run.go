//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// report is a whole run.
type report struct {
	cfg     config
	fdLimit uint64
	levels  []levelReport
	failure string // the first failure mode, if a level had errors
	idleRSS int64  // the replicas' resident memory before any session, summed
	logged  []string
}

// levelReport is one measured level.
type levelReport struct {
	sessions   int
	calls      int
	errors     int // in the window
	warmErrors int // in the warm-up before it
	window     time.Duration
	p50, p99   time.Duration
	max        time.Duration
	cpu        time.Duration // the server's CPU time in the window
	selfCPU    time.Duration // this process's (clients and fake Google) in the window
	otherCPU   time.Duration // every other process's on the machine in the window (a noisy neighbour)
	reads      readCounts    // store reads in the window; nil: not counted
	errorKinds map[string]int
	samples    map[string]string
	serverFDs  int
	rss, hwm   int64  // the server's resident memory at the window's end, and its peak so far (bytes)
	loadavg    string // the machine's load averages at the window's end
	byTool     map[string]int
	upstream   upstreamCounts // HTTP requests the fake Google received in the window

	replicas      int
	idleRSS       int64   // the replicas' resident memory before any session, summed
	rssEach       []int64 // each replica's resident memory at the window's end
	tokenRequests int     // refresh-token requests the fake Google received in the window
	expired       bool    // every access token was expired once, mid-window
	commits       int64   // transactions the database committed in the window; -1: not counted
}

// perSession is the resident memory an open session costs: the replicas'
// growth since they were idle, per session.
func (lv levelReport) perSession() float64 {
	return float64(lv.rss-lv.idleRSS) / float64(lv.sessions)
}

// upstreamCounts are round trips to the fake Google: Gmail (batches
// included) and Calendar.
type upstreamCounts struct{ gmail, calendar int }

// perList is the Gmail round trips of one list_messages: the window's
// Gmail requests less the one of each get_message, per list_messages call.
func (lv levelReport) perList() float64 {
	if lv.byTool["list_messages"] == 0 {
		return 0
	}
	return float64(lv.upstream.gmail-lv.byTool["get_message"]) / float64(lv.byTool["list_messages"])
}

// collector gathers the calls that complete in the current window, and
// every error since the last window ended (a session that fails to start,
// or a call that fails, during a level's warm-up counts for that level).
type collector struct {
	mu        sync.Mutex
	measuring bool
	lat       []time.Duration
	tools     map[string]int // calls that ended in the window, by tool
	errs      map[string]int // by kind; "warm-up: " starts those outside the window
	samples   map[string]string
}

// add records a call of tool (or a failure to start a session: what says
// which) that took d.
func (c *collector) add(d time.Duration, err error, what, tool string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.measuring {
		c.lat = append(c.lat, d)
		if tool != "" {
			c.tools[tool]++
		}
	}
	if err != nil {
		k := kind(err)
		if what != "" {
			k = what + ": " + k
		}
		if !c.measuring {
			k = "warm-up: " + k
		}
		c.errs[k]++
		if _, ok := c.samples[k]; !ok {
			c.samples[k] = clip(err.Error(), 300)
		}
	}
}

func newCollector() *collector {
	return &collector{errs: map[string]int{}, samples: map[string]string{}}
}

func (c *collector) start() {
	c.mu.Lock()
	c.measuring, c.lat, c.tools = true, nil, map[string]int{}
	c.mu.Unlock()
}

func (c *collector) stop() (lat []time.Duration, tools, errs map[string]int, samples map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lat, tools, errs, samples = c.lat, c.tools, c.errs, c.samples
	c.measuring, c.lat, c.tools, c.errs, c.samples = false, nil, nil, map[string]int{}, map[string]string{}
	return lat, tools, errs, samples
}

func run(ctx context.Context, cfg config) (*report, error) {
	rep := &report{cfg: cfg, fdLimit: raiseFileLimit()}
	dir, err := os.MkdirTemp("", "mailcal-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := cfg.bin
	if bin == "" {
		cfg.logf("building mailcal with -tags storecount")
		if bin, err = buildServer(dir); err != nil {
			return nil, err
		}
	}
	var (
		fg    *googletest.Server
		env   []string
		accts []account
		db    *database
	)
	if cfg.database {
		cfg.logf("starting PostgreSQL and migrating it")
		if db, err = startDatabase(ctx, bin, dir); err != nil {
			return nil, err
		}
		defer db.stop()
		cfg.logf("seeding %d tenants into the database", cfg.tenants)
		fg, env, accts, err = db.seed(ctx, cfg.tenants, cfg.latency)
	} else {
		cfg.logf("seeding %d tenants into a file keyring", cfg.tenants)
		fg, env, accts, err = seed(ctx, dir, cfg.tenants, cfg.latency)
	}
	if err != nil {
		return nil, err
	}
	defer fg.Close()
	var srv fleet
	defer func() { srv.stop() }()
	defer func() { rep.logged = srv.logged() }()
	var backends []*url.URL
	for range max(cfg.replicas, 1) {
		s, err := startServer(ctx, bin, dir, append(env, cfg.serverEnv...))
		if err != nil {
			return nil, err
		}
		srv = append(srv, s)
		u, _ := url.Parse(s.base)
		backends = append(backends, u)
	}
	base := srv[0].base
	if cfg.database {
		rr, err := startRoundRobin(backends)
		if err != nil {
			return nil, err
		}
		defer rr.close()
		base = rr.base
	}
	cfg.logf("mailcal serving at %s (%d replica(s), pids %v); descriptor limit %d", base, len(srv), srv.pids(), rep.fdLimit)
	time.Sleep(time.Second) // the replicas settle before their idle memory is read
	rep.idleRSS, _, _ = srv.memory()

	hc := newClient(cfg.levels[len(cfg.levels)-1])
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
	}()
	col := newCollector()
	started := 0
	for _, n := range cfg.levels {
		cfg.logf("level %d sessions: starting %d more", n, n-started)
		initSem := make(chan struct{}, 64) // sessions initializing at once
		for ; started < n; started++ {
			s := &session{hc: hc, url: base + "/mcp", acct: accts[started%len(accts)], timeout: cfg.callTimeout}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				loop(runCtx, s, i, col, initSem)
			}(started)
		}
		if err := sleep(ctx, cfg.warmup); err != nil {
			return rep, err
		}
		lv := levelReport{sessions: n, commits: -1}
		before, cpu0, self0, all0 := srv.storeReads(), srv.cpu(), selfCPU(), machineCPU()
		up0, tok0, commits0 := upstream(fg), fg.TokenRequests("refresh_token"), int64(-1)
		if db != nil {
			commits0 = db.commits(ctx)
		}
		profiling := cfg.cpuProfile != "" && n == cfg.levels[len(cfg.levels)-1] && srv[0].profile()
		t0 := time.Now()
		col.start()
		if cfg.expire {
			// Every access token expires once, mid-window: the replicas
			// should ask for one new token per account between them.
			if err := sleep(ctx, cfg.duration/2); err != nil {
				return rep, err
			}
			fg.ExpireAccessTokens()
			lv.expired = true
			if err := sleep(ctx, cfg.duration-cfg.duration/2); err != nil {
				return rep, err
			}
		} else if err := sleep(ctx, cfg.duration); err != nil {
			return rep, err
		}
		lat, byTool, errs, samples := col.stop()
		up1 := upstream(fg)
		lv.tokenRequests = fg.TokenRequests("refresh_token") - tok0
		if profiling {
			if err := srv[0].profileTo(cfg.cpuProfile, cfg.memProfile); err != nil {
				cfg.logf("profiles: %v", err)
			}
		}
		lv.window = time.Since(t0)
		if db != nil && commits0 >= 0 {
			// Busy backends flush their statistics about once a second:
			// both ends of the window lag alike.
			if c := db.commits(ctx); c >= 0 {
				lv.commits = c - commits0
			}
		}
		lv.cpu, lv.selfCPU = time.Duration(srv.cpu()-cpu0), selfCPU()-self0
		lv.otherCPU = max(machineCPU()-all0-lv.cpu-lv.selfCPU, 0)
		lv.byTool, lv.upstream = byTool, upstreamCounts{up1.gmail - up0.gmail, up1.calendar - up0.calendar}
		lv.rss, lv.hwm, lv.rssEach = srv.memory()
		lv.replicas, lv.idleRSS = len(srv), rep.idleRSS
		if after := srv.storeReads(); before != nil && after != nil {
			lv.reads = readCounts{}
			for op, v := range after {
				lv.reads[op] = [2]int64{v[0] - before[op][0], v[1] - before[op][1]}
			}
		}
		lv.serverFDs = srv.fds()
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			lv.loadavg = strings.Join(strings.Fields(string(b))[:3], " ")
		}
		lv.calls, lv.errorKinds, lv.samples = len(lat), errs, samples
		for k, n := range errs {
			if strings.HasPrefix(k, "warm-up: ") {
				lv.warmErrors += n
			} else {
				lv.errors += n
			}
		}
		slices.Sort(lat)
		lv.p50, lv.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
		if len(lat) > 0 {
			lv.max = lat[len(lat)-1]
		}
		rep.levels = append(rep.levels, lv)
		lv.print(cfg.logf)
		if which, gone := srv.exited(); gone {
			rep.failure = fmt.Sprintf("at %d sessions: mailcal exited: %s", n, which)
			return rep, nil
		}
		if lv.errors+lv.warmErrors > 0 && rep.failure == "" {
			rep.failure = fmt.Sprintf("at %d sessions: %s", n, lv.topError())
			if !cfg.keepGoing {
				break
			}
		}
	}
	return rep, nil
}

// loop initializes the session and calls until ctx ends.
func loop(ctx context.Context, s *session, i int, col *collector, initSem chan struct{}) {
	select {
	case initSem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	t := time.Now()
	err := s.initialize(ctx)
	<-initSem
	if err != nil {
		if ctx.Err() == nil {
			col.add(time.Since(t), err, "starting the session", "")
		}
		return
	}
	for j := i; ctx.Err() == nil; j++ {
		t := time.Now()
		tool, err := s.call(ctx, j)
		if ctx.Err() != nil {
			return
		}
		col.add(time.Since(t), err, "", tool)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func (lv levelReport) perCall(n int64) float64 {
	if lv.calls == 0 {
		return 0
	}
	return float64(n) / float64(lv.calls)
}

func (lv levelReport) topError() string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range lv.errorKinds {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	var parts []string
	for _, e := range all[:min(len(all), 3)] {
		parts = append(parts, fmt.Sprintf("%d× %s (e.g. %s)", e.n, e.k, lv.samples[e.k]))
	}
	return strings.Join(parts, "; ")
}

func (lv levelReport) print(logf func(string, ...any)) {
	cpuPerCall := 0.0
	if lv.calls > 0 {
		cpuPerCall = float64(lv.cpu.Microseconds()) / 1000 / float64(lv.calls)
	}
	reads := "not counted (build without -tags storecount)"
	if lv.reads != nil {
		var ops []string
		for op, v := range lv.reads {
			if v[0]+v[1] > 0 {
				ops = append(ops, fmt.Sprintf("%s %d+%d", op, v[0], v[1]))
			}
		}
		sort.Strings(ops)
		reads = fmt.Sprintf("%.4f a call waited for, %.4f in the background (%s)",
			lv.perCall(lv.reads.sum(0)), lv.perCall(lv.reads.sum(1)), strings.Join(ops, ", "))
	}
	logf("%5d sessions: %6d calls in %.1fs = %7.1f calls/s; p50 %v p99 %v max %v; errors %d (warm-up %d); "+
		"server CPU %.3f ms/call (%.2f cores; clients and fake Google %.2f cores; other processes %.2f cores; machine load %s); store reads per call: %s; "+
		"upstream round trips: Gmail %d, Calendar %d (%.2f per list_messages); server fds %d, resident %d MB (peak %d MB)",
		lv.sessions, lv.calls, lv.window.Seconds(), float64(lv.calls)/lv.window.Seconds(),
		lv.p50.Round(time.Millisecond), lv.p99.Round(time.Millisecond), lv.max.Round(time.Millisecond), lv.errors, lv.warmErrors,
		cpuPerCall, lv.cpu.Seconds()/lv.window.Seconds(), lv.selfCPU.Seconds()/lv.window.Seconds(), lv.otherCPU.Seconds()/lv.window.Seconds(), lv.loadavg, reads,
		lv.upstream.gmail, lv.upstream.calendar, lv.perList(), lv.serverFDs, lv.rss>>20, lv.hwm>>20)
	logf("      %d replica(s): resident %v MB each, idle %d MB in all, %.1f KB per open session; token requests %d%s; database commits per call %s",
		lv.replicas, mb(lv.rssEach), lv.idleRSS>>20, lv.perSession()/1024, lv.tokenRequests, map[bool]string{true: " (every access token expired once mid-window)"}[lv.expired], lv.commitsPerCall())
	if lv.errors+lv.warmErrors > 0 {
		logf("      errors: %s", lv.topError())
	}
}

func mb(each []int64) []int64 {
	out := make([]int64, len(each))
	for i, v := range each {
		out[i] = v >> 20
	}
	return out
}

func (lv levelReport) commitsPerCall() string {
	if lv.commits < 0 || lv.calls == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(lv.commits)/float64(lv.calls))
}

func (r *report) print(w io.Writer) {
	c := r.cfg
	storeName := "file keyring"
	if c.database {
		storeName = fmt.Sprintf("PostgreSQL, %d replica(s) behind a round-robin proxy", c.replicas)
	}
	fmt.Fprintf(w, "mailcal load: %d tenants, upstream latency %v, %v measured per level after %v warm-up, %s, descriptor limit %d\n",
		c.tenants, c.latency, c.duration, c.warmup, storeName, r.fdLimit)
	fmt.Fprintln(w, "(calls, latencies, errors: of the calls that ended in the window; warm: errors of the warm-up before it;")
	fmt.Fprintln(w, " reads/call: store reads a call waited for; bg reads/call: background refreshes, per call;")
	fmt.Fprintln(w, " up/list: Gmail round trips per list_messages; rss: the server's resident memory at the window's end;")
	fmt.Fprintln(w, " others: cores other processes of the machine used in the window, which makes the figures noisy;")
	fmt.Fprintln(w, " cpu, rss, fds: summed over the replicas; KB/sess: (rss − rss idle) / sessions; tokens: refresh-token requests")
	fmt.Fprintln(w, " at the fake Google in the window (with -expire every access token expired once in it); db/call: transactions committed per call)")
	fmt.Fprintf(w, "%8s %8s %9s %9s %9s %7s %6s %11s %11s %13s %7s %6s %8s %6s %7s %6s %6s  %s\n",
		"sessions", "calls", "calls/s", "p50", "p99", "errors", "warm", "cpu ms/call", "reads/call", "bg reads/call", "up/list", "rss MB", "KB/sess", "tokens", "db/call", "fds", "others", "load avg")
	for _, lv := range r.levels {
		rc, bg := "-", "-"
		if lv.reads != nil {
			rc, bg = fmt.Sprintf("%.4f", lv.perCall(lv.reads.sum(0))), fmt.Sprintf("%.4f", lv.perCall(lv.reads.sum(1)))
		}
		cpu := 0.0
		if lv.calls > 0 {
			cpu = float64(lv.cpu.Microseconds()) / 1000 / float64(lv.calls)
		}
		fmt.Fprintf(w, "%8d %8d %9.1f %9v %9v %7d %6d %11.3f %11s %13s %7.2f %6d %8.1f %6d %7s %6d %6.2f  %s\n", lv.sessions, lv.calls,
			float64(lv.calls)/lv.window.Seconds(), lv.p50.Round(time.Millisecond), lv.p99.Round(time.Millisecond),
			lv.errors, lv.warmErrors, cpu, rc, bg, lv.perList(), lv.rss>>20, lv.perSession()/1024, lv.tokenRequests, lv.commitsPerCall(), lv.serverFDs, lv.otherCPU.Seconds()/lv.window.Seconds(), lv.loadavg)
	}
	if r.failure != "" {
		fmt.Fprintf(w, "first failure: %s\n", r.failure)
	} else {
		fmt.Fprintln(w, "no level had errors")
	}
	if len(r.logged) > 0 {
		fmt.Fprintln(w, "server warnings and errors:")
		for _, l := range r.logged[:min(len(r.logged), 8)] {
			fmt.Fprintln(w, "  "+l)
		}
	}
}
