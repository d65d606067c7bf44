package keyring

// Processes sharing one file keyring: the test binary runs itself as
// several children at once on one folder (TestCrossProcessChild), each
// racing the others through compare-and-set updates, grant locks, flow
// state takes, counter increments under a limit and a tenant creation.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

const (
	xprocDirEnv = "MAILCAL_KEYRING_XPROC_DIR"
	// xprocNewEnv names the tenant a child creates in a new keyring
	// (TestCrossProcessNewKeyring), instead of the races of TestCrossProcess.
	xprocNewEnv                                          = "MAILCAL_KEYRING_XPROC_NEW"
	xprocChildren, xprocUpdates, xprocLocked, xprocFlows = 4, 8, 4, 6
	// Each child tries xprocSends increments of one counter limited to
	// xprocSendLimit, fewer than all of them together.
	xprocSends, xprocSendLimit = 5, 11
)

// xprocResult is what a child reports on stdout.
type xprocResult struct {
	Took    []string `json:"took"`    // flow state IDs it took
	Created bool     `json:"created"` // it created tenant "race"
	Counted int      `json:"counted"` // its sends counted under xprocSendLimit
	Err     string   `json:"err,omitempty"`
}

var (
	xprocCounter = store.GrantKey{Tenant: "acme", Provider: "google", Account: "counter@example.com"}
	xprocLockedK = store.GrantKey{Tenant: "acme", Provider: "google", Account: "locked@example.com"}
	xprocSendsK  = store.CounterKey{GrantKey: xprocCounter, Name: "sends"}
)

func xprocFlowID(i int) string { return store.FlowID("xproc-" + strconv.Itoa(i)) }

// TestCrossProcessChild is one child; it does nothing unless run by
// TestCrossProcess.
func TestCrossProcessChild(t *testing.T) {
	dir := os.Getenv(xprocDirEnv)
	if dir == "" {
		t.Skip("run by TestCrossProcess")
	}
	var res xprocResult
	if name := os.Getenv(xprocNewEnv); name != "" {
		s := LazyStore(Config{Backend: "file", Dir: dir, Password: "pw", Timeout: time.Minute}, nil)
		if err := s.CreateTenant(context.Background(), store.Tenant{Name: name, KeyHash: "h", CreatedAt: time.Now()}); err != nil {
			res.Err = err.Error()
		}
	} else {
		res = xprocChild(dir)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

// childResult is what a child reports on the first line of its stdout.
type childResult interface{ childErr() string }

func (r xprocResult) childErr() string { return r.Err }

// runChildren runs n children at once, each the test binary running only
// the test named child, with its own extra environment, and returns what
// they report.
func runChildren[R childResult](t *testing.T, child string, n int, env func(i int) []string) []R {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	results := make([]R, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^"+child+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), env(i)...)
			out, err := cmd.Output()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if err != nil || json.Unmarshal([]byte(lines[0]), &results[i]) != nil {
				t.Errorf("child %d: %v\n%s", i, err, out)
			}
			if e := results[i].childErr(); e != "" {
				t.Errorf("child %d: %s", i, e)
			}
		}()
	}
	wg.Wait()
	return results
}

// runXprocChildren runs n children of TestCrossProcessChild on dir.
func runXprocChildren(t *testing.T, dir string, n int, env func(i int) []string) []xprocResult {
	t.Helper()
	return runChildren[xprocResult](t, "TestCrossProcessChild", n, func(i int) []string {
		return append([]string{xprocDirEnv + "=" + dir}, env(i)...)
	})
}

// Processes opening a new keyring at once agree on its header: each one's
// item reads back with the key of the others.
func TestCrossProcessNewKeyring(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped in -short mode")
	}
	noTTY(t)
	dir := filepath.Join(t.TempDir(), "keyring")
	runXprocChildren(t, dir, xprocChildren, func(i int) []string { return []string{xprocNewEnv + "=child-" + strconv.Itoa(i)} })
	s := LazyStore(Config{Backend: "file", Dir: dir, Password: "pw"}, nil)
	ts, err := s.ListTenants(context.Background())
	if err != nil || len(ts) != xprocChildren {
		t.Errorf("ListTenants = %d tenants, %v; want the %d the processes created", len(ts), err, xprocChildren)
	}
}

func xprocChild(dir string) (res xprocResult) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := LazyStore(Config{Backend: "file", Dir: dir, Password: "pw", Timeout: time.Minute}, nil)
	fail := func(err error) xprocResult { res.Err = err.Error(); return res }
	// Compare-and-set updates, retried on conflict.
	for range xprocUpdates {
		for {
			err := xprocIncrement(ctx, s, xprocCounter)
			if err == nil {
				break
			}
			if !errors.Is(err, store.ErrConflict) {
				return fail(err)
			}
		}
	}
	// Updates under the grant lock: never a conflict.
	for range xprocLocked {
		unlock, err := s.LockGrant(ctx, xprocLockedK)
		if err != nil {
			return fail(err)
		}
		err = xprocIncrement(ctx, s, xprocLockedK)
		unlock()
		if err != nil {
			return fail(fmt.Errorf("an update under the grant lock: %w", err))
		}
	}
	for i := range xprocFlows {
		f, err := s.TakeFlowState(ctx, xprocFlowID(i))
		switch {
		case err == nil:
			res.Took = append(res.Took, f.ID)
		case !errors.Is(err, store.ErrNotFound):
			return fail(err)
		}
	}
	for range xprocSends {
		_, err := s.IncrementCounter(ctx, xprocSendsK, "2026-11-28", xprocSendLimit)
		switch {
		case err == nil:
			res.Counted++
		case !errors.Is(err, store.ErrLimit):
			return fail(err)
		}
	}
	err := s.CreateTenant(ctx, store.Tenant{Name: "race", KeyHash: strings.Repeat("ab", 32), CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fail(err)
	}
	res.Created = err == nil
	return res
}

func xprocIncrement(ctx context.Context, s *Store, k store.GrantKey) error {
	g, err := s.GetGrant(ctx, k)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(g.StatusReason)
	g.StatusReason = strconv.Itoa(n + 1)
	_, err = s.PutGrant(ctx, g)
	return err
}

func TestCrossProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped in -short mode")
	}
	noTTY(t)
	dir := filepath.Join(t.TempDir(), "keyring")
	ctx := context.Background()
	s := LazyStore(Config{Backend: "file", Dir: dir, Password: "pw"}, nil)
	for _, k := range []store.GrantKey{xprocCounter, xprocLockedK} {
		g := testGrant(k.Account)
		g.StatusReason = "0"
		if _, err := s.PutGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for i := range xprocFlows {
		now := time.Now()
		f := store.FlowState{ID: xprocFlowID(i), Tenant: "acme", Provider: "google", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := s.PutFlowState(ctx, f); err != nil {
			t.Fatal(err)
		}
	}

	results := runXprocChildren(t, dir, xprocChildren, func(int) []string { return nil })
	took, created, counted := map[string]int{}, 0, 0
	for _, r := range results {
		counted += r.Counted
		for _, id := range r.Took {
			took[id]++
		}
		if r.Created {
			created++
		}
	}
	for _, c := range []struct {
		k    store.GrantKey
		want int
	}{{xprocCounter, xprocChildren * xprocUpdates}, {xprocLockedK, xprocChildren * xprocLocked}} {
		g, err := s.GetGrant(ctx, c.k)
		if err != nil || g.StatusReason != strconv.Itoa(c.want) || g.Version != int64(c.want)+1 {
			t.Errorf("%s after %d updates by %d processes: counter %q at version %d (%v); an update was lost",
				c.k.Account, c.want, xprocChildren, g.StatusReason, g.Version, err)
		}
	}
	for i := range xprocFlows {
		if n := took[xprocFlowID(i)]; n != 1 {
			t.Errorf("flow state %d was taken by %d processes, want 1", i, n)
		}
	}
	if n, err := s.GetCounter(ctx, xprocSendsK, "2026-11-28"); counted != xprocSendLimit || n != xprocSendLimit || err != nil {
		t.Errorf("%d processes trying %d sends each under a limit of %d: %d counted, the counter reads %d (%v)",
			xprocChildren, xprocSends, xprocSendLimit, counted, n, err)
	}
	if created != 1 {
		t.Errorf("%d processes created the same tenant, want 1", created)
	}
}
