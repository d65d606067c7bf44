//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// report is a whole run.
type report struct {
	cfg     config
	fdLimit uint64
	levels  []levelReport
	failure string // the first failure mode, if a level had errors
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
	cfg.logf("seeding %d tenants into a file keyring", cfg.tenants)
	fg, env, accts, err := seed(ctx, dir, cfg.tenants, cfg.latency)
	if err != nil {
		return nil, err
	}
	defer fg.Close()
	bin := cfg.bin
	if bin == "" {
		cfg.logf("building mailcal with -tags storecount")
		if bin, err = buildServer(dir); err != nil {
			return nil, err
		}
	}
	srv, err := startServer(ctx, bin, dir, append(env, cfg.serverEnv...))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	defer func() { rep.logged = srv.logged() }()
	cfg.logf("mailcal serving at %s (pid %d); descriptor limit %d", srv.base, srv.cmd.Process.Pid, rep.fdLimit)

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
			s := &session{hc: hc, url: srv.base + "/mcp", acct: accts[started%len(accts)], timeout: cfg.callTimeout}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				loop(runCtx, s, i, col, initSem)
			}(started)
		}
		if err := sleep(ctx, cfg.warmup); err != nil {
			return rep, err
		}
		lv := levelReport{sessions: n}
		before, cpu0, self0, all0 := srv.storeReads(), srv.cpu(), selfCPU(), machineCPU()
		up0 := upstream(fg)
		profiling := cfg.cpuProfile != "" && n == cfg.levels[len(cfg.levels)-1] && srv.profile()
		t0 := time.Now()
		col.start()
		if err := sleep(ctx, cfg.duration); err != nil {
			return rep, err
		}
		lat, byTool, errs, samples := col.stop()
		up1 := upstream(fg)
		if profiling {
			if err := srv.profileTo(cfg.cpuProfile, cfg.memProfile); err != nil {
				cfg.logf("profiles: %v", err)
			}
		}
		lv.window = time.Since(t0)
		lv.cpu, lv.selfCPU = srv.cpu()-cpu0, selfCPU()-self0
		lv.otherCPU = max(machineCPU()-all0-lv.cpu-lv.selfCPU, 0)
		lv.byTool, lv.upstream = byTool, upstreamCounts{up1.gmail - up0.gmail, up1.calendar - up0.calendar}
		lv.rss, lv.hwm = srv.memory()
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
		select {
		case <-srv.exited:
			rep.failure = fmt.Sprintf("at %d sessions: mailcal exited: %s", n, strings.Join(srv.lastLines(), " | "))
			return rep, nil
		default:
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
	if lv.errors+lv.warmErrors > 0 {
		logf("      errors: %s", lv.topError())
	}
}

func (r *report) print(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "mailcal load: %d tenants, upstream latency %v, %v measured per level after %v warm-up, file keyring, descriptor limit %d\n",
		c.tenants, c.latency, c.duration, c.warmup, r.fdLimit)
	fmt.Fprintln(w, "(calls, latencies, errors: of the calls that ended in the window; warm: errors of the warm-up before it;")
	fmt.Fprintln(w, " reads/call: store reads a call waited for; bg reads/call: background refreshes, per call;")
	fmt.Fprintln(w, " up/list: Gmail round trips per list_messages; rss: the server's resident memory at the window's end;")
	fmt.Fprintln(w, " others: cores other processes of the machine used in the window, which makes the figures noisy)")
	fmt.Fprintf(w, "%8s %8s %9s %9s %9s %7s %6s %11s %11s %13s %7s %6s %6s %6s  %s\n",
		"sessions", "calls", "calls/s", "p50", "p99", "errors", "warm", "cpu ms/call", "reads/call", "bg reads/call", "up/list", "rss MB", "fds", "others", "load avg")
	for _, lv := range r.levels {
		rc, bg := "-", "-"
		if lv.reads != nil {
			rc, bg = fmt.Sprintf("%.4f", lv.perCall(lv.reads.sum(0))), fmt.Sprintf("%.4f", lv.perCall(lv.reads.sum(1)))
		}
		cpu := 0.0
		if lv.calls > 0 {
			cpu = float64(lv.cpu.Microseconds()) / 1000 / float64(lv.calls)
		}
		fmt.Fprintf(w, "%8d %8d %9.1f %9v %9v %7d %6d %11.3f %11s %13s %7.2f %6d %6d %6.2f  %s\n", lv.sessions, lv.calls,
			float64(lv.calls)/lv.window.Seconds(), lv.p50.Round(time.Millisecond), lv.p99.Round(time.Millisecond),
			lv.errors, lv.warmErrors, cpu, rc, bg, lv.perList(), lv.rss>>20, lv.serverFDs, lv.otherCPU.Seconds()/lv.window.Seconds(), lv.loadavg)
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
