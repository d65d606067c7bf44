package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/postgres"
	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, _, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.URL(t)) })
}

// Two pools on one database: two replicas.
func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.URL(t)
		return open(t, url), open(t, url)
	})
}

func TestMigrate(t *testing.T) {
	url := pgtest.URL(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// Replicas starting at once: each migration applied once in all.
	results := make(chan []postgres.Migration, 4)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			applied, err := postgres.Migrate(ctx, url)
			results <- applied
			errs <- err
		}()
	}
	total := 0
	for range 4 {
		total += len(<-results)
		if err := <-errs; err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
	if total != postgres.SchemaVersion() {
		t.Errorf("4 concurrent Migrate calls applied %d migrations in all, want %d", total, postgres.SchemaVersion())
	}
	applied, err := postgres.Migrate(ctx, url)
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate of a migrated database = %v, %v; want nothing applied", applied, err)
	}

	// A database migrated by a newer binary is refused, by Open and Migrate.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')", postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, url); !errors.Is(err, postgres.ErrSchemaNewer) {
		t.Errorf("Migrate of a newer schema: %v, want ErrSchemaNewer", err)
	}
	if _, _, err := postgres.Open(ctx, url, postgres.Options{NoMigrate: true}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want it refused", err)
	}
}

// Without migrations and with NoMigrate, Open asks for `mailcal migrate`.
func TestOpenNoMigrate(t *testing.T) {
	url := pgtest.URL(t)
	_, _, err := postgres.Open(t.Context(), url, postgres.Options{NoMigrate: true})
	if err == nil || !strings.Contains(err.Error(), "mailcal migrate") {
		t.Errorf("Open of an empty database with NoMigrate: %v, want it to ask for mailcal migrate", err)
	}
}

// Setup errors say what is wrong and never show the password.
func TestOpenErrors(t *testing.T) {
	url := pgtest.URL(t)
	const secret = "s3cret-pw"
	wrongPW := strings.Replace(url, "@", "x@", 1) // a password one letter longer
	i, j := strings.Index(wrongPW, "://mailcal:")+len("://mailcal:"), strings.Index(wrongPW, "@")
	realPW := url[i:strings.Index(url, "@")]
	wrongPW = wrongPW[:i] + secret + wrongPW[j:]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, c := range []struct{ name, url, want string }{
		{"wrong password", wrongPW, "authentication failed"},
		{"no such database", strings.Replace(url, "/t_", "/nosuch_", 1), "does not exist"},
		{"unreachable", "postgres://mailcal:" + secret + "@127.0.0.1:1/x?connect_timeout=2", "unreachable"},
		{"not a URL", "postgres://mailcal:" + secret + "@127.0.0.1:notaport/x", "database URL"},
	} {
		_, _, err := postgres.Open(ctx, c.url, postgres.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), realPW)) {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db?sslmode=require": "postgres://u:xxxxx@h:5432/db?sslmode=require",
		"postgres://u@h/db":                         "postgres://u@h/db",
		"postgres://h/db?password=pw&user=u":        "postgres://h/db?password=xxxxx&user=u",
	} {
		if got := postgres.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A lock holder whose connection is lost (its backend terminated) loses
// the lock on the server: another replica gets it at once.
func TestGrantLockLostConnection(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	k := store.GrantKey{Tenant: "acme", Provider: "google", Account: "a@example.com"}
	unlock, err := a.LockGrant(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock() // after the loss: must neither hang nor panic
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	unlockB, err := b.LockGrant(wctx, k)
	if err != nil {
		t.Fatalf("LockGrant after the holder's connection was lost: %v", err)
	}
	unlockB()
}

const holderEnv = "MAILCAL_PGTEST_LOCK_HOLDER"

// TestLockHolderProcess is the other process of TestGrantLockKilledHolder:
// it takes the lock, says so, and waits to be killed.
func TestLockHolderProcess(t *testing.T) {
	url := os.Getenv(holderEnv)
	if url == "" {
		t.Skip("run by TestGrantLockKilledHolder")
	}
	s := open(t, url)
	if _, err := s.LockGrant(t.Context(), lockKey); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
}

var lockKey = store.GrantKey{Tenant: "acme", Provider: "google", Account: "killed@example.com"}

// A replica killed (kill -9) while it holds a grant lock loses it: another
// gets it at once.
func TestGrantLockKilledHolder(t *testing.T) {
	url := pgtest.URL(t)
	s := open(t, url)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestLockHolderProcess$", "-test.v")
	cmd.Env = append(os.Environ(), holderEnv+"="+url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	locked := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "locked" {
				locked <- true
			}
		}
		close(locked)
	}()
	select {
	case ok := <-locked:
		if !ok {
			t.Fatal("the holder process ended without taking the lock")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the holder process took no lock in 30 s")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	if _, err := s.LockGrant(ctx, lockKey); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockGrant while the other process holds it: %v, want it to wait", err)
	}
	cancel()
	cmd.Process.Signal(syscall.SIGKILL)
	start := time.Now()
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	unlock, err := s.LockGrant(ctx, lockKey)
	if err != nil {
		t.Fatalf("LockGrant after the holder was killed: %v", err)
	}
	unlock()
	t.Logf("the lock was free %s after the kill", time.Since(start).Round(time.Millisecond))
}

// Close releases the grant locks still held, at once; their unlock then
// does nothing.
func TestCloseReleasesHeldLocks(t *testing.T) {
	url := pgtest.URL(t)
	a, _, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, url)
	unlock, err := a.LockGrant(t.Context(), lockKey)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { a.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a held grant lock")
	}
	unlock()
	if _, err := a.LockGrant(t.Context(), lockKey); err == nil {
		t.Error("LockGrant on a closed store succeeded")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	unlockB, err := b.LockGrant(ctx, lockKey)
	if err != nil {
		t.Fatalf("LockGrant after the holder's store was closed: %v", err)
	}
	unlockB()
}

// Ping answers while the server does, and fails (bounded by the context)
// once the store is closed.
func TestPing(t *testing.T) {
	s := open(t, pgtest.URL(t))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := store.Ping(ctx, s); err != nil {
		t.Fatalf("Ping of a working store: %v", err)
	}
	s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping of a closed store answered nil")
	}
}
