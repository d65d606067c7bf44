package storetest_test

// The suite must be able to fail: each broken store below has one defect an
// implementation could plausibly have, and the suite, run on it in a
// subprocess, must fail the case that looks for that defect.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

const brokenEnv = "STORETEST_BROKEN"

// broken is a memory store with the defect named by mode.
type broken struct {
	*memory.Store
	mode string

	mu      sync.Mutex
	tenants map[string]bool
	passed  map[store.GrantKey]store.Grant // what callers passed to PutGrant
}

func (b *broken) PutGrant(ctx context.Context, g store.Grant) (int64, error) {
	b.mu.Lock()
	b.tenants[g.Tenant] = true
	b.passed[g.GrantKey] = g
	b.mu.Unlock()
	switch b.mode {
	case "put-ignores-version":
		cur, err := b.Store.GetGrant(ctx, g.GrantKey)
		if err == nil {
			g.Version = cur.Version
		}
	case "racy-compare-and-set":
		cur, _ := b.Store.GetGrant(ctx, g.GrantKey)
		if cur.Version != g.Version {
			return 0, store.ErrConflict
		}
		time.Sleep(2 * time.Millisecond) // another writer gets in here
		cur, _ = b.Store.GetGrant(ctx, g.GrantKey)
		g.Version = cur.Version
	}
	return b.Store.PutGrant(ctx, g)
}

func (b *broken) GetGrant(ctx context.Context, k store.GrantKey) (store.Grant, error) {
	if b.mode == "invalid-key-not-found" && store.ValidGrantKey(k) != nil {
		return store.Grant{}, store.ErrNotFound
	}
	g, err := b.Store.GetGrant(ctx, k)
	switch b.mode {
	case "shared-slices":
		b.mu.Lock()
		g.Secret, g.Scopes = b.passed[k].Secret, b.passed[k].Scopes
		b.mu.Unlock()
	case "local-time":
		g.ConnectedAt = g.ConnectedAt.In(time.FixedZone("UTC+1", 3600))
	case "minutes":
		g.ConnectedAt = g.ConnectedAt.Truncate(time.Minute)
	}
	return g, err
}

func (b *broken) ListGrants(ctx context.Context, tenant string) ([]store.Grant, error) {
	switch b.mode {
	case "list-by-name-prefix":
		b.mu.Lock()
		var ts []string
		for t := range b.tenants {
			if strings.HasPrefix(t, tenant) {
				ts = append(ts, t)
			}
		}
		b.mu.Unlock()
		var out []store.Grant
		for _, t := range ts {
			gs, err := b.Store.ListGrants(ctx, t)
			if err != nil {
				return nil, err
			}
			out = append(out, gs...)
		}
		return out, nil
	case "list-unsorted":
		gs, err := b.Store.ListGrants(ctx, tenant)
		slices.Reverse(gs)
		return gs, err
	}
	return b.Store.ListGrants(ctx, tenant)
}

func (b *broken) LockGrant(ctx context.Context, k store.GrantKey) (func(), error) {
	if b.mode == "lock-ignored" {
		return func() {}, store.ValidGrantKey(k)
	}
	return b.Store.LockGrant(ctx, k)
}

func (b *broken) TakeFlowState(ctx context.Context, id string) (store.FlowState, error) {
	f, err := b.Store.TakeFlowState(ctx, id)
	if err != nil {
		return f, err
	}
	switch b.mode {
	case "take-keeps":
		b.Store.PutFlowState(ctx, f)
	case "racy-take":
		// Checked, then deleted a little later: others see it meanwhile.
		b.Store.PutFlowState(ctx, f)
		time.Sleep(50 * time.Millisecond)
		b.Store.TakeFlowState(ctx, id)
	}
	return f, nil
}

func (b *broken) PutDataKey(ctx context.Context, k store.DataKey) (int64, error) {
	if b.mode == "data-key-put-ignores-version" {
		if cur, err := b.Store.GetDataKey(ctx, k.Tenant); err == nil {
			k.Version = cur.Version
		}
	}
	return b.Store.PutDataKey(ctx, k)
}

func (b *broken) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	ks, err := b.Store.ListDataKeys(ctx)
	if b.mode == "data-keys-unsorted" {
		slices.Reverse(ks)
	}
	return ks, err
}

func (b *broken) SpendOAuthToken(ctx context.Context, hash string, at time.Time) (store.OAuthToken, bool, error) {
	if b.mode == "racy-spend" {
		// Checked, then spent a little later: others see it unspent meanwhile.
		t, err := b.Store.GetOAuthToken(ctx, hash)
		if err != nil || !t.SpentAt.IsZero() {
			return b.Store.SpendOAuthToken(ctx, hash, at)
		}
		time.Sleep(20 * time.Millisecond)
		b.Store.SpendOAuthToken(ctx, hash, at)
		return t, true, nil
	}
	return b.Store.SpendOAuthToken(ctx, hash, at)
}

func (b *broken) PutOAuthToken(ctx context.Context, t store.OAuthToken) error {
	err := b.Store.PutOAuthToken(ctx, t)
	if b.mode == "put-ignores-revocation" && errors.Is(err, store.ErrConflict) {
		return nil // reported stored, never stored
	}
	return err
}

func (b *broken) GetOAuthToken(ctx context.Context, hash string) (store.OAuthToken, error) {
	t, err := b.Store.GetOAuthToken(ctx, hash)
	if b.mode == "oauth-milliseconds" {
		t.ExpiresAt = t.ExpiresAt.Truncate(time.Millisecond)
	}
	return t, err
}

func (b *broken) RevokeOAuthTenant(ctx context.Context, tenant string) (int, error) {
	if b.mode == "revoke-tenant-by-prefix" {
		n, err := b.Store.RevokeOAuthTenant(ctx, tenant)
		m, _ := b.Store.RevokeOAuthTenant(ctx, tenant+"2")
		return n + m, err
	}
	return b.Store.RevokeOAuthTenant(ctx, tenant)
}

func TestBrokenStoreInner(t *testing.T) {
	mode := os.Getenv(brokenEnv)
	if mode == "" {
		t.Skip("run by TestSuiteFailsBrokenStores")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return &broken{Store: memory.New(), mode: mode, tenants: map[string]bool{}, passed: map[store.GrantKey]store.Grant{}}
	})
}

func TestSuiteFailsBrokenStores(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for mode, want := range map[string][]string{
		"put-ignores-version":          {"--- FAIL: TestBrokenStoreInner/GrantVersions", "PutGrant at version 0 over a stored grant: got error <nil>, want changed since it was read"},
		"racy-compare-and-set":         {"--- FAIL: TestBrokenStoreInner/GrantConcurrentUpdates", "(an update was lost)"},
		"invalid-key-not-found":        {"--- FAIL: TestBrokenStoreInner/GrantInvalid", "want a validation error, not a store sentinel"},
		"shared-slices":                {"--- FAIL: TestBrokenStoreInner/GrantCopies", "grant acme/exmail/x@y.com: Scopes"},
		"local-time":                   {"--- FAIL: TestBrokenStoreInner/GrantRoundTrip", "not in UTC"},
		"minutes":                      {"--- FAIL: TestBrokenStoreInner/GrantRoundTrip", "ConnectedAt = 2026-11-28 20:02:00 +0000 UTC, want 2026-11-28 21:02:24.123456789 +0100 UTC+1"},
		"list-by-name-prefix":          {"--- FAIL: TestBrokenStoreInner/GrantList", `ListGrants("a") returned a grant of tenant "ab"`},
		"list-unsorted":                {"--- FAIL: TestBrokenStoreInner/GrantList", "(sorted by provider, then account)"},
		"take-keeps":                   {"--- FAIL: TestBrokenStoreInner/FlowStates", "TakeFlowState twice: got error <nil>, want not found"},
		"racy-take":                    {"--- FAIL: TestBrokenStoreInner/FlowStateConcurrentTakes", "of 16 concurrent takers got the flow state, want exactly 1"},
		"data-key-put-ignores-version": {"--- FAIL: TestBrokenStoreInner/DataKeys", "PutDataKey at version 0 over a stored key: got error <nil>, want changed since it was read"},
		"data-keys-unsorted":           {"--- FAIL: TestBrokenStoreInner/DataKeys", "want acme, acme2, beta, zeta"},
		"racy-spend":                   {"--- FAIL: TestBrokenStoreInner/OAuthSpend", "both spent the token first"},
		"put-ignores-revocation":       {"--- FAIL: TestBrokenStoreInner/OAuthRevokeFamily", "PutOAuthToken of family a: got error <nil>", "--- FAIL: TestBrokenStoreInner/OAuthRevokeRace", "the revocation deleted"},
		"oauth-milliseconds":           {"--- FAIL: TestBrokenStoreInner/OAuthTokens", "(to the microsecond)"},
		"revoke-tenant-by-prefix":      {"--- FAIL: TestBrokenStoreInner/OAuthRevokeAccount", "another tenant after RevokeOAuthTenant: GetOAuthToken f4-access"},
		"lock-ignored":                 {"--- FAIL: TestBrokenStoreInner/GrantLock", "want it to wait until the caller's deadline", "--- FAIL: TestBrokenStoreInner/GrantLockExcludes"},
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(exe, "-test.run=^TestBrokenStoreInner$", "-test.v", "-test.count=1", "-test.timeout=1m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with the defect %q:\n%s", mode, out)
			}
			for _, w := range want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the suite's output for %q does not contain %q:\n%s", mode, w, out)
				}
			}
		})
	}
}
