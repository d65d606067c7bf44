// Package pgtest starts a throwaway PostgreSQL server for tests: initdb in a
// fresh temporary folder, the server on a free loopback port, one new
// database per caller, and pg_ctl stop when the last user is done.
//
// The server is shared by every test of a test binary, and on Linux by
// every test binary of one `go test` run (the first starts it, the others
// find it through a file named after the go command's process, under a
// lock; it stops when that process ends), or by every test binary when
// MAILCAL_TEST_POSTGRES_URL names one: URL creates a database on it for
// each caller. When PostgreSQL
// is not installed the caller is skipped with a message saying so, unless
// MAILCAL_REQUIRE_POSTGRES=1, which fails it instead (CI sets it).
//
// initdb and pg_ctl are looked up on the PATH, then in
// /usr/lib/postgresql/*/bin (Debian's layout). PostgreSQL refuses to run as
// root: as root the cluster is created and run as the user nobody, in a
// folder it owns.
//
// When the installation has pg_stat_statements, the server loads it: a
// test that counts the statements a program sends creates the extension in
// its database (StatementsAvailable).
//
// The server is stopped, and its folder removed, when its owner (the test
// binary, or the go command) ends however it ends (killed too): a watchdog
// child waits for that, then runs pg_ctl stop (immediate mode, a bounded
// wait). Each run uses a new temporary folder.
package pgtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL, when set, names a running server (a URL whose user may create
// databases) that every test binary uses instead of starting its own.
const EnvURL = "MAILCAL_TEST_POSTGRES_URL"

// EnvRequire makes a missing PostgreSQL a failure instead of a skip.
const EnvRequire = "MAILCAL_REQUIRE_POSTGRES"

type server struct {
	dir, bin, runAs string
	port            int
	adminURL        string
	stop            func()
}

var (
	mu      sync.Mutex
	started *server
	startEr error
)

// URL returns the URL of a new, empty database on the shared test server,
// dropped when t ends. It skips (or, with MAILCAL_REQUIRE_POSTGRES=1,
// fails) t when PostgreSQL is not installed.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		t.Fatalf("pgtest: connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: CREATE DATABASE: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.adminURL)
		if err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
		}
	})
	u, _ := url.Parse(s.adminURL)
	u.Path = "/" + name
	return u.String()
}

// StatementsAvailable reports whether the shared server loaded
// pg_stat_statements (false for a server named by MAILCAL_TEST_POSTGRES_URL
// that did not).
func StatementsAvailable(t testing.TB) bool {
	t.Helper()
	s := get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var libs string
	return conn.QueryRow(ctx, "SHOW shared_preload_libraries").Scan(&libs) == nil && strings.Contains(libs, "pg_stat_statements")
}

// Start starts a server of its own for a program that is not a test (a
// load run): it returns the URL of its postgres database for a user that
// may create databases, and stop, which stops the server and removes its
// folder. The server is stopped as well when this process ends, however it
// ends. It does not look at MAILCAL_TEST_POSTGRES_URL.
func Start() (adminURL string, stop func(), err error) {
	s, err := start(0)
	if err != nil {
		return "", nil, err
	}
	return s.adminURL, s.stop, nil
}

// ErrNotInstalled is Start's error (wrapped) when PostgreSQL is not installed.
var ErrNotInstalled = errNotInstalled

// Stop stops the shared server, if one was started. Call it from TestMain
// after m.Run.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if started != nil {
		started.stop()
		started = nil
	}
}

func get(t testing.TB) *server {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil && startEr == nil {
		if u := os.Getenv(EnvURL); u != "" {
			started = &server{adminURL: u, stop: func() {}}
		} else if sh, err, ok := shared(); ok {
			started, startEr = sh, err
		} else {
			started, startEr = start(0)
		}
	}
	if startEr != nil {
		if errors.Is(startEr, errNotInstalled) && os.Getenv(EnvRequire) != "1" {
			t.Skipf("pgtest: %v (set %s=1 to fail instead)", startEr, EnvRequire)
		}
		t.Fatalf("pgtest: %v", startEr)
	}
	return started
}

var errNotInstalled = errors.New("PostgreSQL is not installed: no initdb and pg_ctl on the PATH or in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)")

// findBin returns the folder holding initdb, pg_ctl and postgres.
func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dir := filepath.Dir(p)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(real)
		}
		if has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) float64 { // 15, 9.6
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(major(b), major(a)) }) // the newest first
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errNotInstalled
}

func has(dir string) bool {
	for _, n := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

// start starts a server. owner is 0 for a server of this test binary,
// stopped when it ends; else the process whose end stops it (the go
// command running several test binaries), and also is removed then.
func start(owner int, also ...string) (*server, error) {
	if runtime.GOOS == "windows" {
		return nil, fmt.Errorf("%w (not supported on Windows)", errNotInstalled)
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailcal-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		s.runAs = "nobody"
		u, err := user.Lookup(s.runAs)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, and no user nobody to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o700); err == nil {
			err = os.Chown(dir, uid, gid)
		}
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pw")
	password := randomHex(16)
	if err := s.writeFile(pwfile, password); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if out, err := s.run(2*time.Minute, "initdb", "-D", data, "-U", "mailcal", "--pwfile", pwfile,
		"-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	var port int
	for attempt := 0; ; attempt++ {
		port, err = freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB",
			port, dir)
		if _, err := os.Stat(filepath.Join(bin, "..", "lib", "pg_stat_statements.so")); err == nil {
			opts += " -c shared_preload_libraries=pg_stat_statements" // for tests that count round trips
		}
		out, err := s.run(time.Minute, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, tail(string(log)))
		}
	}
	s.port = port
	s.adminURL = fmt.Sprintf("postgres://mailcal:%s@127.0.0.1:%d/postgres?sslmode=disable", password, port)
	if owner != 0 {
		s.stop = func() {} // the owner's end stops it
		return s, s.watch(data, owner, nil, also)
	}
	done := make(chan struct{})
	if err := s.watch(data, 0, done, nil); err != nil {
		s.run(30*time.Second, "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "20", "stop")
		os.RemoveAll(dir)
		return nil, err
	}
	s.stop = sync.OnceFunc(func() {
		close(done)
		s.run(30*time.Second, "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "20", "stop")
		os.RemoveAll(dir)
	})
	return s, nil
}

// watch starts the watchdog that stops the server however its owner ends
// (killed too): a shell, immune to the terminal's signals, that waits for
// the owner process to vanish (owner != 0) or for its stdin, a pipe from
// this process, to close (done closed, or this process gone), then runs
// pg_ctl stop and removes the folder and the files in also. Its output goes
// nowhere, so that no one waits for it to close.
func (s *server) watch(data string, owner int, done <-chan struct{}, also []string) error {
	pgctl := fmt.Sprintf("%q -D %q -m immediate -w -t 20 stop", filepath.Join(s.bin, "pg_ctl"), data)
	if s.runAs != "" {
		pgctl = "runuser -u " + s.runAs + " -- " + pgctl
	}
	wait := "cat >/dev/null"
	if owner != 0 {
		wait = fmt.Sprintf("while [ -d /proc/%d ]; do sleep 1; done", owner)
	}
	script := fmt.Sprintf("trap '' INT HUP TERM QUIT; %s; %s >/dev/null 2>&1; rm -rf %q", wait, pgctl, s.dir)
	for _, f := range also {
		script += fmt.Sprintf(" %q", f)
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	var w io.WriteCloser
	if owner == 0 {
		var err error
		if w, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the watchdog: %w", err)
	}
	if owner != 0 {
		go cmd.Wait()
		return nil
	}
	go func() {
		<-done
		w.Close()
		cmd.Wait()
	}()
	return nil
}

func (s *server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.runAs != "" {
		return exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (s *server) run(limit time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := s.command(name, args...)
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), "LC_ALL=C")
	out, err := c.CombinedOutput()
	return tail(string(out)), err
}

func (s *server) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		return err
	}
	if s.runAs != "" {
		u, _ := user.Lookup(s.runAs)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return os.Chown(path, uid, gid)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
