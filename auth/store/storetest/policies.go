package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mailcal/mailcal/auth/store"
)

func policy(tenant string) store.Policy {
	return store.Policy{
		Tenant:             tenant,
		RecipientAllowlist: []string{"a@example.com", "*@example.org"},
		MaxSendsPerDay:     20,
		MaxRecipients:      5,
		DraftsOnly:         true,
		ConfirmSends:       "elicit",
		AllowedSignins:     []string{"*@example.com"},
		SharedAccounts:     true,
		UpdatedAt:          t0,
	}
}

func checkPolicy(t *testing.T, got, want store.Policy) {
	t.Helper()
	if got.Tenant != want.Tenant || got.Version != want.Version || !sameStrings(got.RecipientAllowlist, want.RecipientAllowlist) ||
		got.MaxSendsPerDay != want.MaxSendsPerDay || got.MaxRecipients != want.MaxRecipients || got.DraftsOnly != want.DraftsOnly ||
		got.ConfirmSends != want.ConfirmSends || !sameStrings(got.AllowedSignins, want.AllowedSignins) ||
		got.SharedAccounts != want.SharedAccounts {
		t.Errorf("policy read back = %+v, want %+v", got, want)
	}
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// testPolicies: versions and compare-and-set, records read back as written,
// one tenant's policy not another's, copies, delete.
func testPolicies(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	_, err := s.GetPolicy(ctx, "acme")
	checkIs(t, "GetPolicy of a tenant without one", err, store.ErrNotFound)

	p := policy("acme")
	v, err := s.PutPolicy(ctx, p)
	must(t, "PutPolicy", err)
	if v != 1 {
		t.Errorf("PutPolicy of a new policy = version %d, want 1", v)
	}
	p.RecipientAllowlist[0] = "changed@example.com" // the caller's slice, not the store's
	got, err := s.GetPolicy(ctx, "acme")
	must(t, "GetPolicy", err)
	want := policy("acme")
	want.Version = 1
	checkPolicy(t, got, want)
	got.AllowedSignins[0] = "changed@example.com"
	again, err := s.GetPolicy(ctx, "acme")
	must(t, "GetPolicy again", err)
	checkPolicy(t, again, want)

	_, err = s.PutPolicy(ctx, policy("acme"))
	checkIs(t, "PutPolicy at version 0 over a stored policy", err, store.ErrConflict)
	stale := want
	stale.Version = 7
	_, err = s.PutPolicy(ctx, stale)
	checkIs(t, "PutPolicy at a wrong version", err, store.ErrConflict)

	next := want
	next.RecipientAllowlist, next.AllowedSignins = nil, nil
	next.DraftsOnly, next.ConfirmSends, next.MaxSendsPerDay, next.SharedAccounts = false, "", 0, false
	v, err = s.PutPolicy(ctx, next)
	must(t, "PutPolicy at the stored version", err)
	if v != 2 {
		t.Errorf("PutPolicy = version %d, want 2", v)
	}
	next.Version = 2
	got, err = s.GetPolicy(ctx, "acme")
	must(t, "GetPolicy after an update", err)
	checkPolicy(t, got, next)

	_, err = s.GetPolicy(ctx, "acm")
	checkIs(t, "GetPolicy of a prefix of a tenant's name", err, store.ErrNotFound)
	_, err = s.GetPolicy(ctx, "acme-2")
	checkIs(t, "GetPolicy of a tenant whose name starts like another's", err, store.ErrNotFound)

	checkIs(t, "DeletePolicy of a tenant without one", s.DeletePolicy(ctx, "beta"), store.ErrNotFound)
	must(t, "DeletePolicy", s.DeletePolicy(ctx, "acme"))
	_, err = s.GetPolicy(ctx, "acme")
	checkIs(t, "GetPolicy after DeletePolicy", err, store.ErrNotFound)
	v, err = s.PutPolicy(ctx, policy("acme"))
	if err != nil || v != 1 {
		t.Errorf("PutPolicy at version 0 after a delete = %d, %v; want version 1", v, err)
	}
	checkBackend(t, s)
}

// testPolicyInvalid: what ValidPolicy refuses is refused, and nothing is
// written.
func testPolicyInvalid(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	long := make([]string, store.MaxPolicyEntries+1)
	for i := range long {
		long[i] = "x@y.z"
	}
	big := []string{}
	for range 6 {
		big = append(big, strings.Repeat("b", 240)+"@y.z")
	}
	for name, change := range map[string]func(*store.Policy){
		"invalid tenant":     func(p *store.Policy) { p.Tenant = "Acme" },
		"negative version":   func(p *store.Policy) { p.Version = -1 },
		"negative send cap":  func(p *store.Policy) { p.MaxSendsPerDay = -1 },
		"negative recipient": func(p *store.Policy) { p.MaxRecipients = -1 },
		"too many entries":   func(p *store.Policy) { p.RecipientAllowlist = long },
		"lists too long":     func(p *store.Policy) { p.RecipientAllowlist = big },
		"empty entry":        func(p *store.Policy) { p.AllowedSignins = []string{""} },
		"NUL in an entry":    func(p *store.Policy) { p.RecipientAllowlist = []string{"a\x00@b.c"} },
		"invalid UTF-8":      func(p *store.Policy) { p.ConfirmSends = "\xff" },
	} {
		p := policy("acme")
		change(&p)
		_, err := s.PutPolicy(ctx, p)
		checkRefused(t, "PutPolicy with "+name, err)
	}
	_, err := s.GetPolicy(ctx, "acme")
	checkIs(t, "GetPolicy after refused writes", err, store.ErrNotFound)
	_, err = s.GetPolicy(ctx, "../x")
	checkRefused(t, "GetPolicy of an invalid tenant name", err)
}

func counterKey(account, name string) store.CounterKey {
	return store.CounterKey{GrantKey: grant("acme", "exmail", account).GrantKey, Name: name}
}

// testCounters: counts up to the limit and no further, a new period starts
// from zero, counters of other accounts, names and tenants apart.
func testCounters(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := counterKey("a@y.com", "sends")
	n, err := s.GetCounter(ctx, k, "2026-11-28")
	if err != nil || n != 0 {
		t.Errorf("GetCounter of a new counter = %d, %v; want 0", n, err)
	}
	for i := int64(1); i <= 3; i++ {
		n, err := s.IncrementCounter(ctx, k, "2026-11-28", 3)
		if err != nil || n != i {
			t.Fatalf("IncrementCounter %d = %d, %v; want %d", i, n, err, i)
		}
	}
	n, err = s.IncrementCounter(ctx, k, "2026-11-28", 3)
	checkIs(t, "IncrementCounter at the limit", err, store.ErrLimit)
	if n != 3 {
		t.Errorf("IncrementCounter at the limit = %d, want the count 3", n)
	}
	if n, err := s.GetCounter(ctx, k, "2026-11-28"); err != nil || n != 3 {
		t.Errorf("GetCounter after a refused increment = %d, %v; want 3", n, err)
	}
	if n, err := s.IncrementCounter(ctx, k, "2026-11-28", 5); err != nil || n != 4 {
		t.Errorf("IncrementCounter under a higher limit = %d, %v; want 4", n, err)
	}
	_, err = s.IncrementCounter(ctx, k, "2026-11-28", 0)
	checkIs(t, "IncrementCounter with limit 0", err, store.ErrLimit)

	others := []store.CounterKey{
		counterKey("b@y.com", "sends"),
		counterKey("a@y.com", "drafts"),
		{GrantKey: store.GrantKey{Tenant: "acme-2", Provider: "exmail", Account: "a@y.com"}, Name: "sends"},
		{GrantKey: store.GrantKey{Tenant: "acme", Provider: "other", Account: "a@y.com"}, Name: "sends"},
		counterKey(strings.Repeat("l", 240)+"@y.com", "sends"), // too long for a plain keyring key
	}
	for _, o := range others {
		if n, err := s.IncrementCounter(ctx, o, "2026-11-28", 3); err != nil || n != 1 {
			t.Errorf("IncrementCounter of %s = %d, %v; want 1 (its own counter)", o, n, err)
		}
	}

	// The next period starts from zero; the earlier one is not kept.
	if n, err := s.IncrementCounter(ctx, k, "2026-11-29", 3); err != nil || n != 1 {
		t.Errorf("IncrementCounter in a new period = %d, %v; want 1", n, err)
	}
	if n, err := s.GetCounter(ctx, k, "2026-11-28"); err != nil || n != 0 {
		t.Errorf("GetCounter of the period before = %d, %v; want 0 (a counter keeps one period)", n, err)
	}

	for name, c := range map[string]struct {
		k      store.CounterKey
		period string
	}{
		"invalid name":   {counterKey("a@y.com", "Sends"), "p"},
		"empty period":   {k, ""},
		"long period":    {k, strings.Repeat("p", store.MaxPeriodLen+1)},
		"invalid tenant": {store.CounterKey{GrantKey: store.GrantKey{Tenant: "A", Provider: "exmail", Account: "a@y.com"}, Name: "sends"}, "p"},
	} {
		_, err := s.IncrementCounter(ctx, c.k, c.period, 10)
		checkRefused(t, "IncrementCounter with "+name, err)
		_, err = s.GetCounter(ctx, c.k, c.period)
		checkRefused(t, "GetCounter with "+name, err)
	}
}

// racingIncrements: callers (taking the stores in turn) race for the last
// slots of a counter: exactly limit of them count.
func racingIncrements(t *testing.T, stores []store.Store) {
	const callers, limit = 16, 5
	ctx := ctxFor(t)
	k := counterKey("race@y.com", "sends")
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = stores[i%len(stores)].IncrementCounter(ctx, k, "2026-11-28", limit)
		}()
	}
	wg.Wait()
	counted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			counted++
		case !errors.Is(err, store.ErrLimit):
			t.Errorf("caller %d: %v, want nil or ErrLimit", i, err)
		}
	}
	if counted != limit {
		t.Errorf("%d of %d racing callers counted under limit %d; want exactly %d", counted, callers, limit, limit)
	}
	for _, s := range stores {
		if n, err := s.GetCounter(ctx, k, "2026-11-28"); err != nil || n != limit {
			t.Errorf("GetCounter after the race = %d, %v; want %d", n, err, limit)
		}
	}
}

func testCounterRace(t *testing.T, s store.Store) { racingIncrements(t, []store.Store{s}) }

// sharedPolicy: a policy written through one value is read through the
// other, and a stale write through either is a conflict.
func sharedPolicy(t *testing.T, stores []store.Store) {
	ctx := ctxFor(t)
	a, b := stores[0], stores[1]
	_, err := a.PutPolicy(ctx, policy("acme"))
	must(t, "PutPolicy", err)
	got, err := b.GetPolicy(ctx, "acme")
	must(t, "GetPolicy through the other value", err)
	got.MaxRecipients = 9
	_, err = b.PutPolicy(ctx, got)
	must(t, "PutPolicy through the other value", err)
	stale := policy("acme")
	stale.Version = 1
	_, err = a.PutPolicy(ctx, stale)
	checkIs(t, "a stale PutPolicy through the first value", err, store.ErrConflict)
	if p, err := a.GetPolicy(ctx, "acme"); err != nil || p.MaxRecipients != 9 || p.Version != 2 {
		t.Errorf("GetPolicy = %+v, %v; want the other value's write at version 2", p, err)
	}
}
