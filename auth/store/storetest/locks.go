package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// lockWait is how long a case waits for a lock it expects to stay held;
// freeWait for one it expects free: long enough for a store that opens a
// connection for it on a loaded machine (PostgreSQL's lock pool took more
// than 100 ms once in CI).
const (
	lockWait = 100 * time.Millisecond
	freeWait = 5 * time.Second
)

// tryLock asks for k's lock for at most freeWait: nil if it was taken (and
// released again).
func tryLock(t *testing.T, s store.Store, k store.GrantKey) error {
	t.Helper()
	return tryLockFor(t, s, k, freeWait)
}

// tryLockFor asks for k's lock for at most wait.
func tryLockFor(t *testing.T, s store.Store, k store.GrantKey, wait time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxFor(t), wait)
	defer cancel()
	unlock, err := s.LockGrant(ctx, k)
	if err == nil {
		unlock()
	}
	return err
}

// checkHeld fails unless k's lock is held by someone else: asking for it
// ends with the asker's deadline.
func checkHeld(t *testing.T, what string, s store.Store, k store.GrantKey) {
	t.Helper()
	if err := tryLockFor(t, s, k, lockWait); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s: LockGrant %s: %v, want it to wait until the caller's deadline (context.DeadlineExceeded)", what, k, err)
	}
}

func testGrantLock(t *testing.T, s store.Store) {
	a := grant("acme", "exmail", "a@y.com")
	checkRefused(t, "LockGrant of an invalid key", func() error {
		_, err := s.LockGrant(ctxFor(t), store.GrantKey{Tenant: "Acme", Provider: "exmail", Account: "a@y.com"})
		return err
	}())

	unlock, err := s.LockGrant(ctxFor(t), a.GrantKey) // a key never stored
	must(t, "LockGrant", err)
	checkHeld(t, "while it is held", s, a.GrantKey)
	// Other keys, also those sharing a prefix, are free.
	for _, k := range []store.GrantKey{
		{Tenant: "acme", Provider: "exmail", Account: "b@y.com"},
		{Tenant: "acme", Provider: "exmail2", Account: "a@y.com"},
		{Tenant: "acme2", Provider: "exmail", Account: "a@y.com"},
	} {
		if err := tryLock(t, s, k); err != nil {
			t.Errorf("LockGrant %s while %s is held: %v", k, a.GrantKey, err)
		}
	}
	// The lock is advisory: reads and writes of the grant go on.
	put(t, s, a, 1)
	checkGrant(t, get(t, s, a.GrantKey), a, 1)
	unlock()
	must(t, "LockGrant after unlock", tryLock(t, s, a.GrantKey))

	// A second unlock does not release the next holder's lock.
	unlock2, err := s.LockGrant(ctxFor(t), a.GrantKey)
	must(t, "LockGrant", err)
	unlock()
	checkHeld(t, "after the first holder called unlock twice", s, a.GrantKey)
	unlock2()

	// A waiter gets the lock when the holder lets it go.
	unlock, err = s.LockGrant(ctxFor(t), a.GrantKey)
	must(t, "LockGrant", err)
	time.AfterFunc(lockWait/2, unlock)
	start := time.Now()
	unlock, err = s.LockGrant(ctxFor(t), a.GrantKey)
	must(t, "LockGrant behind a holder that lets go", err)
	unlock()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the waiter got the lock %s after it was let go", d)
	}
}

// testGrantLockExcludes: of 8 holders of the same lock that each read,
// change and write a grant without compare-and-set retries, none loses an
// update, because none is inside at the same time.
func testGrantLockExcludes(t *testing.T, s store.Store) {
	lockExcludes(t, []store.Store{s})
}

// lockExcludes runs testGrantLockExcludes over stores, taken in turn.
func lockExcludes(t *testing.T, stores []store.Store) {
	const holders, rounds = 8, 3
	ctx := ctxFor(t)
	g := grant("acme", "exmail", "locked@example.com")
	g.StatusReason = "0"
	s := stores[0]
	put(t, s, g, 1)
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for h := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[h%len(stores)]
			for range rounds {
				unlock, err := s.LockGrant(ctx, g.GrantKey)
				if err != nil {
					t.Errorf("holder %d: LockGrant: %v", h, err)
					return
				}
				if n := inside.Add(1); n > most.Load() {
					most.Store(n)
				}
				err = incrementSlowly(ctx, s, g.GrantKey)
				inside.Add(-1)
				unlock()
				if err != nil {
					t.Errorf("holder %d: %v", h, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders of one grant lock at once, want 1", most.Load())
	}
	if got := get(t, s, g.GrantKey); got.StatusReason != strconv.Itoa(holders*rounds) {
		t.Errorf("counter %s after %d locked updates (an update was lost)", got.StatusReason, holders*rounds)
	}
}

// increment adds 1 to the counter in a grant's StatusReason: one read, one
// write at the version read, no retry.
func increment(ctx context.Context, s store.Store, k store.GrantKey) error {
	return incr(ctx, s, k, 0)
}

// incrementSlowly is increment with a millisecond between the read and the
// write, so that holders a lock fails to exclude overlap on a fast store.
func incrementSlowly(ctx context.Context, s store.Store, k store.GrantKey) error {
	return incr(ctx, s, k, time.Millisecond)
}

func incr(ctx context.Context, s store.Store, k store.GrantKey, pause time.Duration) error {
	cur, err := s.GetGrant(ctx, k)
	if err != nil {
		return err
	}
	time.Sleep(pause)
	n, err := strconv.Atoi(cur.StatusReason)
	if err != nil {
		return fmt.Errorf("the counter reads %q", cur.StatusReason)
	}
	cur.StatusReason = strconv.Itoa(n + 1)
	_, err = s.PutGrant(ctx, cur)
	return err
}
