package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/mailcal/mailcal/auth/store"
)

// RunShared runs the cases that several processes sharing a store depend
// on, over two values of one store: open must return two new values that
// see the same, empty store (two opens of one keyring folder, two
// connections to one database). Compare-and-set, creation, take and grant
// locks must hold between them as they do within one value. An
// implementation that several processes can open should also run these
// cases across real processes (store/keyring does).
func RunShared(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, stores []store.Store)
	}{
		{"SharedGrantUpdates", concurrentUpdates},
		{"SharedGrantCreates", concurrentCreates},
		{"SharedFlowStateTakes", concurrentTakes},
		{"SharedTenantCreates", concurrentTenantCreates},
		{"SharedGrantLock", sharedGrantLock},
		{"SharedPolicy", sharedPolicy},
		{"SharedCounterRace", racingIncrements},
		{"SharedDataKeyCreates", sharedDataKeyCreates},
		{"SharedDeliveryClaims", sharedDeliveryClaims},
		{"SharedOAuthSpend", sharedOAuthSpend},
		{"SharedOAuthRevokeRace", racingRevocation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := open(t)
			if a == nil || b == nil {
				t.Fatal("open returned a nil store")
			}
			c.fn(t, []store.Store{a, b})
		})
	}
}

// concurrentTenantCreates: of 8 callers creating the same tenant at once,
// taking the stores in turn, exactly one succeeds.
func concurrentTenantCreates(t *testing.T, stores []store.Store) {
	const creators = 8
	ctx := ctxFor(t)
	errs := make([]error, creators)
	var wg sync.WaitGroup
	for i := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stores[i%len(stores)].CreateTenant(ctx, store.Tenant{Name: "acme", KeyHash: keyHash(i), CreatedAt: t0})
		}()
	}
	wg.Wait()
	winner := oneWinner(t, errs, store.ErrExists, "created the tenant")
	for _, s := range stores {
		if got, err := s.GetTenant(ctx, "acme"); err != nil || got.KeyHash != keyHash(winner) {
			t.Errorf("GetTenant: %+v, %v; want creator %d's record", got, err, winner)
		}
	}
}

// sharedGrantLock: a grant lock held through one value is held for the
// other, and holders over both exclude each other.
func sharedGrantLock(t *testing.T, stores []store.Store) {
	a, b := stores[0], stores[1]
	k := grant("acme", "exmail", "a@y.com").GrantKey
	unlock, err := a.LockGrant(ctxFor(t), k)
	must(t, "LockGrant", err)
	checkHeld(t, "held through the other value", b, k)
	unlock()
	must(t, "LockGrant through the other value after unlock", tryLock(t, b, k))
	lockExcludes(t, stores)
}

// oneWinner checks the outcome of creators racing for one record: exactly
// one succeeded (its index is returned), every other failed with loser.
func oneWinner(t *testing.T, errs []error, loser error, what string) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("creators %d and %d both %s", winner, i, what)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("creator %d: %v, want %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("no creator succeeded (%s)", what)
	}
	return winner
}
