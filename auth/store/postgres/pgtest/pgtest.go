// Package pgtest starts a throwaway PostgreSQL server for tests: initdb in a
// fresh temporary folder, the server on a free loopback port, one new
// database per caller, and pg_ctl stop when the last user is done.
//
// The server is shared by every test of a test binary (one per package
// run), or by every test binary when MAILCAL_TEST_POSTGRES_URL names one:
// URL creates a database on it for each caller. When PostgreSQL
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
// The server is stopped, and its folder removed, when the test binary ends
// however it ends (killed too): a watchdog child waits for a pipe from the
// test process to close, then runs pg_ctl stop (immediate mode, a bounded
// wait). Each run uses a new temporary folder.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
		} else {
			started, startEr = start()
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
	slices.Reverse(dirs) // the newest first
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

func start() (*server, error) {
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
	done := make(chan struct{})
	s.stop = sync.OnceFunc(func() {
		close(done)
		s.run(30*time.Second, "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "20", "stop")
		os.RemoveAll(dir)
	})
	go s.watch(data, done)
	return s, nil
}

// watch stops the server if this process is killed: a child shell that
// waits for its stdin (a pipe from this process) to close, which happens
// however the process ends, then runs pg_ctl stop.
func (s *server) watch(data string, done <-chan struct{}) {
	script := fmt.Sprintf("cat >/dev/null; %q -D %q -m immediate -w -t 20 stop >/dev/null 2>&1; rm -rf %q",
		filepath.Join(s.bin, "pg_ctl"), data, s.dir)
	cmd := exec.Command("/bin/sh", "-c", script)
	if s.runAs != "" {
		cmd = exec.Command("runuser", "-u", s.runAs, "--", "/bin/sh", "-c", script)
	}
	w, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	if cmd.Start() != nil {
		return
	}
	<-done
	w.Close()
	cmd.Wait()
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
