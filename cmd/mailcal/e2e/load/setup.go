//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/keyring"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// mailcalPackage is the server under load.
const mailcalPackage = "github.com/mailcal/mailcal/cmd/mailcal"

// account is one tenant's API key and what its calls ask for.
type account struct {
	tenant, key, email, messageID string
}

// seed starts the fake Google and fills a file keyring in dir with n
// tenants, each with one connected account holding a refresh token the
// fake issued. It returns the fake, the keyring's environment and the
// accounts.
func seed(ctx context.Context, dir string, n int, latency time.Duration) (*googletest.Server, []string, []account, error) {
	pw := make([]byte, 16)
	rand.Read(pw)
	kcfg := keyring.Config{Backend: "file", Dir: filepath.Join(dir, "keyring"), Password: hex.EncodeToString(pw)}
	env := []string{
		"MAILCAL_KEYRING_BACKEND=file", "MAILCAL_KEYRING_DIR=" + kcfg.Dir, "MAILCAL_KEYRING_PASSWORD=" + kcfg.Password,
	}
	st, err := keyring.OpenStore(ctx, kcfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the file keyring: %w", err)
	}
	fg, accts, err := seedStore(ctx, st, grants.Plain, n, latency)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("seeding the keyring: %w", err)
	}
	return fg, append(env, fg.Env()...), accts, nil
}

// seedStore starts the fake Google and adds n tenants to st, each with one
// connected account holding a refresh token the fake issued, sealed by
// sealer; then it sets the fake's latency.
func seedStore(ctx context.Context, st store.Store, sealer grants.Sealer, n int, latency time.Duration) (*googletest.Server, []account, error) {
	fg := googletest.New(googletest.Options{})
	reg, gs := tenant.NewRegistry(st), grants.New(st, sealer)
	accts := make([]account, n)
	var err error
	for i := range accts {
		a := account{tenant: fmt.Sprintf("t%04d", i), email: fmt.Sprintf("user%04d@load.example.com", i)}
		fg.AddUser(a.email)
		a.messageID = fg.LoadFixtures(a.email).Messages["welcome"]
		if a.key, err = reg.Add(ctx, a.tenant); err != nil {
			break
		}
		t, terr := fg.Token(ctx, a.email,
			"https://www.googleapis.com/auth/gmail.readonly", "https://www.googleapis.com/auth/calendar.readonly")
		if err = terr; err != nil {
			break
		}
		err = gs.Put(ctx, grants.Grant{
			Tenant: a.tenant, Provider: "google", Account: a.email, RefreshToken: t.RefreshToken,
			Scopes: []string{"mail.read", "calendar.read"}, Status: grants.StatusActive, ConnectedAt: time.Now().UTC().Truncate(time.Second),
		})
		if err != nil {
			break
		}
		accts[i] = a
	}
	if err != nil {
		fg.Close()
		return nil, nil, err
	}
	fg.SetAPILatency(latency)
	return fg, accts, nil
}

// buildServer builds mailcal with the storecount tag into dir.
func buildServer(dir string) (string, error) {
	bin := filepath.Join(dir, "mailcal")
	cmd := exec.Command("go", "build", "-tags", "storecount", "-o", bin, mailcalPackage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build -tags storecount %s: %v\n%s", mailcalPackage, err, out.String())
	}
	return bin, nil
}

// server is the running `mailcal serve --transport http`.
type server struct {
	cmd      *exec.Cmd
	base     string
	counting bool // the binary counts store reads
	profiled bool // the binary wrote its CPU profile
	exited   chan struct{}

	mu      sync.Mutex
	reads   chan readCounts
	levels  map[string]int // warnings and errors logged, by message
	samples map[string]string
	tail    []string // the last lines that were not JSON records
}

// readCounts are the storecount build's counters: [0] reads a request
// waited for, [1] background refreshes, by operation.
type readCounts map[string][2]int64

func (r readCounts) sum(bg int) int64 {
	var n int64
	for _, v := range r {
		n += v[bg]
	}
	return n
}

// baseEnv is the environment every mailcal command of a run starts from.
func baseEnv(dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:", "MAILCAL_LOG_FORMAT=json", "MAILCAL_LOG_LEVEL=info",
		"MAILCAL_HEALTH_INTERVAL=off",
	}
}

func startServer(ctx context.Context, bin, dir string, env []string) (*server, error) {
	cmd := exec.Command(bin, "serve", "--transport", "http", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(baseEnv(dir), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan struct{}), reads: make(chan readCounts, 16), levels: map[string]int{}, samples: map[string]string{}}
	addr := make(chan string, 1)
	go func() {
		s.scan(stderr, addr)
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("mailcal exited before serving:\n%s", strings.Join(s.lastLines(), "\n"))
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, errors.New("mailcal did not start serving within 30 s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

func (s *server) scan(r interface{ Read([]byte) (int, error) }, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			s.mu.Lock()
			s.tail = append(s.tail, sc.Text())
			if len(s.tail) > 20 {
				s.tail = s.tail[1:]
			}
			s.mu.Unlock()
			continue
		}
		msg, _ := rec["msg"].(string)
		switch msg {
		case "mailcal serving MCP over HTTP":
			a, _ := rec["addr"].(string)
			addr <- a
		case "store read counting on: SIGUSR1 logs the counts":
			s.mu.Lock()
			s.counting = true
			s.mu.Unlock()
		case "cpu profile written":
			s.mu.Lock()
			s.profiled = true
			s.mu.Unlock()
		case "store reads":
			rc := readCounts{}
			for k, v := range rec {
				f, ok := v.(float64)
				if !ok {
					continue
				}
				op, bg := strings.CutPrefix(k, "bg_")
				c := rc[op]
				if bg {
					c[1] = int64(f)
				} else {
					c[0] = int64(f)
				}
				rc[op] = c
			}
			s.reads <- rc
		}
		if lv, _ := rec["level"].(string); lv == "WARN" || lv == "ERROR" {
			s.mu.Lock()
			s.levels[lv+" "+msg]++
			if _, ok := s.samples[lv+" "+msg]; !ok {
				b, _ := json.Marshal(rec)
				s.samples[lv+" "+msg] = clip(string(b), 300)
			}
			s.mu.Unlock()
		}
	}
}

func (s *server) lastLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tail...)
}

// storeReads asks the server for its counters (SIGUSR1); nil when the
// binary does not count them.
func (s *server) storeReads() readCounts {
	s.mu.Lock()
	counting := s.counting
	s.mu.Unlock()
	if !counting {
		return nil
	}
	for len(s.reads) > 0 {
		<-s.reads
	}
	if s.cmd.Process.Signal(syscall.SIGUSR1) != nil {
		return nil
	}
	select {
	case rc := <-s.reads:
		return rc
	case <-time.After(5 * time.Second):
		return nil
	}
}

// profile starts the server's CPU profile; false if it cannot make one.
func (s *server) profile() bool {
	s.mu.Lock()
	counting := s.counting
	s.mu.Unlock()
	return counting && s.cmd.Process.Signal(syscall.SIGUSR2) == nil
}

// profileTo ends the server's CPU profile and copies it to path; with
// memPath, it copies the server's allocation profiles too: memPath as the
// profile ended, memPath.base as it started (go tool pprof -base).
func (s *server) profileTo(path, memPath string) error {
	if err := s.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	src := filepath.Join(s.cmd.Dir, "cpu.pprof")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s.mu.Lock()
		done := s.profiled
		s.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the server wrote no profile within 10 s")
		}
	}
	copies := [][2]string{{src, path}}
	if memPath != "" {
		copies = append(copies, [2]string{filepath.Join(s.cmd.Dir, "allocs.pprof"), memPath},
			[2]string{filepath.Join(s.cmd.Dir, "allocs0.pprof"), memPath + ".base"})
	}
	for _, c := range copies {
		b, err := os.ReadFile(c[0])
		if err != nil {
			return err
		}
		if err := os.WriteFile(c[1], b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// memory is the server's resident memory and its peak so far, in bytes
// (VmRSS and VmHWM); 0 when unknown.
func (s *server) memory() (rss, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return rss, peak
}

// upstream counts the round trips the fake Google received so far.
func upstream(fg *googletest.Server) upstreamCounts {
	return upstreamCounts{gmail: fg.HTTPRequests("/gmail/") + fg.HTTPRequests("/batch/gmail/"), calendar: fg.HTTPRequests("/calendar/")}
}

// cpu is the server's user and system CPU time so far.
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: split after its ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// selfCPU is this process's user and system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the CPU time every process of the machine used so far
// (busy time of all CPUs, from /proc/stat).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // user nice system (idle iowait) irq softirq steal; guest time is in user already
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// fds counts the server's open descriptors.
func (s *server) fds() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	return len(ents)
}

// logged returns the warnings and errors the server logged, most frequent first.
func (s *server) logged() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, n := range s.levels {
		out = append(out, fmt.Sprintf("%6d× %s  e.g. %s", n, k, s.samples[k]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// raiseFileLimit raises the descriptor limit to the hard limit and returns it.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	l.Cur = l.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
