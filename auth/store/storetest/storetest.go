// Package storetest is the conformance suite of the store contracts: every
// implementation of store.Store runs it from its own tests, in the way
// rclone's backends run fstest/fstests.Run.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
//	}
//
// The suite checks what package store promises and nothing an implementation
// may choose: errors by errors.Is against store.ErrNotFound, ErrExists and
// ErrConflict, and input the contract's Valid* functions refuse refused with
// another error; versions and compare-and-set, with concurrent writers;
// single-use takes of flow states, with concurrent takers; policies
// compare-and-set like grants; counters that never pass their limit, with
// racing callers; grant locks that
// exclude, wait until the caller's deadline and leave other keys alone;
// records read back
// as written (times to the second, in UTC); listings sorted and limited to
// one tenant, also when another tenant's name starts with the same letters;
// slices a caller passes in or gets back not shared with the store.
//
// DataKeys, Webhooks and OAuth cases run when the store implements
// store.DataKeys, store.Webhooks or store.OAuthServer (optional contracts),
// and are skipped, saying so, when it does not. The OAuth cases check times
// to the microsecond, single-use spends with racing spenders, and puts of a
// family racing with its revocation (none left behind).
//
// RunShared checks the same promises between two values over one store, as
// two processes sharing it see them.
//
// It is bounded in time for slow real keyrings: a few hundred calls in all,
// the concurrent cases small (8 writers of up to 10 updates each, fewer where
// a call takes tens of milliseconds; 16 takers). On memory it takes a few
// hundredths of a second, on the file keyring or pass about 10 s under the
// race detector.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Run runs the suite. open must return a new, empty store on each call (a
// fresh keyring service name, a new folder…); it may use t.Cleanup to remove
// what the store leaves behind. Each case runs as a subtest on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"TenantNamesInvalid", testTenantNamesInvalid},
		{"GrantVersions", testGrantVersions},
		{"GrantRoundTrip", testGrantRoundTrip},
		{"GrantCopies", testGrantCopies},
		{"GrantInvalid", testGrantInvalid},
		{"GrantList", testGrantList},
		{"GrantDelete", testGrantDelete},
		{"GrantConcurrentUpdates", testGrantConcurrentUpdates},
		{"GrantConcurrentCreates", testGrantConcurrentCreates},
		{"GrantLock", testGrantLock},
		{"GrantLockExcludes", testGrantLockExcludes},
		{"FlowStates", testFlowStates},
		{"FlowStateConcurrentTakes", testFlowStateConcurrentTakes},
		{"FlowStatesInvalid", testFlowStatesInvalid},
		{"Policies", testPolicies},
		{"PolicyInvalid", testPolicyInvalid},
		{"Counters", testCounters},
		{"CounterRace", testCounterRace},
		{"DataKeys", testDataKeys},
		{"Webhooks", testWebhooks},
		{"Deliveries", testDeliveries},
		{"OAuthClients", testOAuthClients},
		{"OAuthTokens", testOAuthTokens},
		{"OAuthSpend", testOAuthSpend},
		{"OAuthRevokeFamily", testOAuthRevokeFamily},
		{"OAuthRevokeAccount", testOAuthRevokeAccount},
		{"OAuthPrune", testOAuthPrune},
		{"OAuthPruneClients", testOAuthPruneClients},
		{"OAuthRevokeRace", testOAuthRevokeRace},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			c.fn(t, s)
		})
	}
}

// ctxFor is the context of one case: ended when the case ends, and at most
// two minutes (a real keyring that hangs fails the case instead of the run).
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// t0 is the suite's clock: a time with nanoseconds, in a zone that is not
// UTC, so that stores show they keep the instant and hand it back in UTC.
var t0 = time.Date(2026, 11, 28, 21, 2, 24, 123456789, time.FixedZone("UTC+1", 3600))

// checkTime fails unless got is want to the second (the least the contract
// asks), in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d <= -time.Second || d >= time.Second {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %s: not in UTC", what, got)
	}
}

// checkIs fails unless errors.Is(err, want).
func checkIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// checkRefused fails unless err is an error that is none of the contract's
// sentinels: invalid input is refused for what it is, not reported missing,
// taken or changed.
func checkRefused(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: accepted, want it refused", what)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrConflict):
		t.Errorf("%s: %v; want a validation error, not a store sentinel", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// checkBackend fails if a store that has been used names no backend.
func checkBackend(t *testing.T, s store.Store) {
	t.Helper()
	if s.Backend() == "" {
		t.Error(`Backend() = "" after the store was used`)
	}
}

// sameStrings compares string slices, a nil slice equal to an empty one.
func sameStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b))
}

func keyHash(i int) string { return fmt.Sprintf("%064x", i+0xabc0) }
