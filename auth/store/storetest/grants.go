package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// grant returns a valid grant never stored (Version 0).
func grant(tenant, provider, account string) store.Grant {
	return store.Grant{
		GrantKey:    store.GrantKey{Tenant: tenant, Provider: provider, Account: account},
		Secret:      []byte("1//0g-refresh-" + account),
		Scopes:      []string{"openid", "email", "https://mail.example/read"},
		ConnectedAt: t0,
		Status:      store.StatusActive,
	}
}

// checkGrant fails unless got is want as stored with version.
func checkGrant(t *testing.T, got, want store.Grant, version int64) {
	t.Helper()
	k := want.GrantKey.String()
	if got.GrantKey != want.GrantKey {
		t.Errorf("grant %s read back with key %s", k, got.GrantKey)
	}
	if got.Version != version {
		t.Errorf("grant %s: Version %d, want %d", k, got.Version, version)
	}
	if !bytes.Equal(got.Secret, want.Secret) {
		t.Errorf("grant %s: Secret of %d bytes differs from the %d bytes written", k, len(got.Secret), len(want.Secret))
	}
	if !sameStrings(got.Scopes, want.Scopes) {
		t.Errorf("grant %s: Scopes %q, want %q", k, got.Scopes, want.Scopes)
	}
	if got.Status != want.Status || got.StatusReason != want.StatusReason {
		t.Errorf("grant %s: Status %q (%q), want %q (%q)", k, got.Status, got.StatusReason, want.Status, want.StatusReason)
	}
	checkTime(t, "grant "+k+" ConnectedAt", got.ConnectedAt, want.ConnectedAt)
	checkTime(t, "grant "+k+" StatusAt", got.StatusAt, want.StatusAt)
	if want.StatusAt.IsZero() && !got.StatusAt.IsZero() {
		t.Errorf("grant %s: StatusAt %s, want the zero time", k, got.StatusAt)
	}
}

// put writes g and fails the test unless it stores version want.
func put(t *testing.T, s store.Store, g store.Grant, want int64) store.Grant {
	t.Helper()
	v, err := s.PutGrant(ctxFor(t), g)
	if err != nil {
		t.Fatalf("PutGrant %s at version %d: %v", g.GrantKey, g.Version, err)
	}
	if v != want {
		t.Fatalf("PutGrant %s at version %d returned version %d, want %d", g.GrantKey, g.Version, v, want)
	}
	g.Version = v
	return g
}

// get reads a grant and fails the test if it cannot.
func get(t *testing.T, s store.Store, k store.GrantKey) store.Grant {
	t.Helper()
	g, err := s.GetGrant(ctxFor(t), k)
	if err != nil {
		t.Fatalf("GetGrant %s: %v", k, err)
	}
	return g
}

func testGrantVersions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	g := grant("acme", "exmail", "x@y.com")
	g1 := put(t, s, g, 1)
	checkBackend(t, s)
	checkGrant(t, get(t, s, g.GrantKey), g, 1)

	// Version 0 means "no grant may be stored".
	again := g
	again.Secret = []byte("other")
	_, err := s.PutGrant(ctx, again)
	checkIs(t, "PutGrant at version 0 over a stored grant", err, store.ErrConflict)
	checkGrant(t, get(t, s, g.GrantKey), g, 1)

	// The stored version: written, version+1.
	g2 := g1
	g2.Status, g2.StatusReason, g2.StatusAt = store.StatusNeedsReauth, "invalid_grant", t0.Add(time.Minute)
	g2 = put(t, s, g2, 2)
	checkGrant(t, get(t, s, g.GrantKey), g2, 2)

	// A stale version, or one from the future: ErrConflict, nothing written.
	for _, v := range []int64{1, 3, 1 << 40} {
		stale := g1
		stale.Version = v
		stale.Secret = []byte("stale write")
		_, err := s.PutGrant(ctx, stale)
		checkIs(t, fmt.Sprintf("PutGrant at version %d over version 2", v), err, store.ErrConflict)
		checkGrant(t, get(t, s, g.GrantKey), g2, 2)
	}

	// A version other than 0 for a grant never stored: ErrConflict, nothing created.
	missing := grant("acme", "exmail", "missing@y.com")
	missing.Version = 1
	_, err = s.PutGrant(ctx, missing)
	checkIs(t, "PutGrant at version 1 of a missing grant", err, store.ErrConflict)
	_, err = s.GetGrant(ctx, missing.GrantKey)
	checkIs(t, "GetGrant after a refused PutGrant", err, store.ErrNotFound)

	g3 := g2
	g3.Status, g3.StatusReason, g3.StatusAt = store.StatusActive, "", time.Time{}
	g3 = put(t, s, g3, 3)
	checkGrant(t, get(t, s, g.GrantKey), g3, 3)
}

func testGrantRoundTrip(t *testing.T, s store.Store) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	maxSecret := make([]byte, store.MaxSecretLen)
	rand.Read(maxSecret)
	scopes := make([]string, store.MaxScopes)
	for i := range scopes {
		scopes[i] = fmt.Sprintf("Scope%02d.ReadWrite", store.MaxScopes-i) // not sorted: order is kept
	}
	long := strings.Repeat("a", store.MaxAccountLen-len("@example.com")) + "@example.com"

	var gs []store.Grant
	add := func(account string, edit func(g *store.Grant)) {
		g := grant("acme", "exmail", account)
		edit(&g)
		gs = append(gs, g)
	}
	add("binary@example.com", func(g *store.Grant) { g.Secret = allBytes })
	add("max@example.com", func(g *store.Grant) { g.Secret, g.Scopes = maxSecret, scopes })
	add("text@example.com", func(g *store.Grant) {
		g.Secret = []byte("1//0gLvZ-ÀÉ~token_with.text+only")
		g.Status, g.StatusReason, g.StatusAt = store.StatusNeedsReauth, `invalid_grant: "Token has been expired or revoked." «é» <&>`, t0.Add(90*time.Minute)
	})
	add("empty@example.com", func(g *store.Grant) { g.Secret, g.Scopes = nil, nil })
	add("newline@example.com", func(g *store.Grant) { g.Secret = []byte("line one\nline two\x00\x7f") })
	add("quote@example.com", func(g *store.Grant) { g.Secret = []byte(`a"b\c` + "\u2028") })
	add("invalid-utf8@example.com", func(g *store.Grant) { g.Secret = []byte{'o', 'k', 0xff, 0xfe, 'x'} })
	add("revoked@example.com", func(g *store.Grant) {
		g.Status, g.StatusAt, g.ConnectedAt = store.StatusRevoked, t0.Add(time.Hour).UTC(), time.Time{}
	})
	add(`o'brien+tag!#$%&*=?^_{|}~"q"@example.com`, func(g *store.Grant) {})
	add(long, func(g *store.Grant) {})
	add("...", func(g *store.Grant) {})

	for _, g := range gs {
		put(t, s, g, 1)
	}
	for _, g := range gs {
		checkGrant(t, get(t, s, g.GrantKey), g, 1)
	}
	// And once more through an update.
	for _, g := range gs {
		g.Version = 1
		g.Scopes = append(g.Scopes[:len(g.Scopes):len(g.Scopes)], "extra")
		if len(g.Scopes) > store.MaxScopes {
			g.Scopes = g.Scopes[1:]
		}
		put(t, s, g, 2)
		checkGrant(t, get(t, s, g.GrantKey), g, 2)
	}
}

func testGrantCopies(t *testing.T, s store.Store) {
	g := grant("acme", "exmail", "x@y.com")
	secret, scopes := []byte("secret"), []string{"a", "b"}
	g.Secret, g.Scopes = secret, scopes
	put(t, s, g, 1)
	secret[0], scopes[0] = 'X', "changed after PutGrant"

	got := get(t, s, g.GrantKey)
	want := grant("acme", "exmail", "x@y.com")
	want.Secret, want.Scopes = []byte("secret"), []string{"a", "b"}
	checkGrant(t, got, want, 1)

	got.Secret[0], got.Scopes[0] = 'Y', "changed after GetGrant"
	list, err := s.ListGrants(ctxFor(t), "acme")
	must(t, "ListGrants", err)
	if len(list) != 1 {
		t.Fatalf("ListGrants = %d grants, want 1", len(list))
	}
	checkGrant(t, list[0], want, 1)
	list[0].Secret[0], list[0].Scopes[0] = 'Z', "changed after ListGrants"
	checkGrant(t, get(t, s, g.GrantKey), want, 1)
}

func testGrantInvalid(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	ok := grant("acme", "exmail", "x@y.com")
	bad := map[string]func(g *store.Grant){
		"tenant with upper case":      func(g *store.Grant) { g.Tenant = "Acme" },
		"empty tenant":                func(g *store.Grant) { g.Tenant = "" },
		"tenant with a slash":         func(g *store.Grant) { g.Tenant = "acme/exmail" },
		"provider with upper case":    func(g *store.Grant) { g.Provider = "Exmail" },
		"empty provider":              func(g *store.Grant) { g.Provider = "" },
		"provider with a slash":       func(g *store.Grant) { g.Provider = "exmail/x" },
		"account with upper case":     func(g *store.Grant) { g.Account = "X@y.com" },
		"empty account":               func(g *store.Grant) { g.Account = "" },
		"account with a slash":        func(g *store.Grant) { g.Account = "x/y@z.com" },
		"account with a backslash":    func(g *store.Grant) { g.Account = `x\y@z.com` },
		"account with a space":        func(g *store.Grant) { g.Account = "x y@z.com" },
		"account ..":                  func(g *store.Grant) { g.Account = ".." },
		"account with a control byte": func(g *store.Grant) { g.Account = "x\ny@z.com" },
		"account not ASCII":           func(g *store.Grant) { g.Account = "é@z.com" },
		"account too long":            func(g *store.Grant) { g.Account = strings.Repeat("a", store.MaxAccountLen+1) },
		"secret too long":             func(g *store.Grant) { g.Secret = make([]byte, store.MaxSecretLen+1) },
		"too many scopes":             func(g *store.Grant) { g.Scopes = make([]string, store.MaxScopes+1) },
		"empty status":                func(g *store.Grant) { g.Status = "" },
		"unknown status":              func(g *store.Grant) { g.Status = "paused" },
		"negative version":            func(g *store.Grant) { g.Version = -1 },
		"scope not UTF-8":             func(g *store.Grant) { g.Scopes = []string{"openid", "a\xffb"} },
		"scope with a NUL":            func(g *store.Grant) { g.Scopes = []string{"a\x00b"} },
		"status reason not UTF-8":     func(g *store.Grant) { g.StatusReason = "invalid_grant \xc3" },
	}
	for what, edit := range bad {
		g := ok
		edit(&g)
		_, err := s.PutGrant(ctx, g)
		checkRefused(t, "PutGrant of a grant with "+what, err)
		if g.Version >= 0 && store.ValidGrantKey(g.GrantKey) != nil {
			_, err := s.GetGrant(ctx, g.GrantKey)
			checkRefused(t, "GetGrant of a grant with "+what, err)
			checkRefused(t, "DeleteGrant of a grant with "+what, s.DeleteGrant(ctx, g.GrantKey, 0))
		}
	}
	for _, tenant := range []string{"", "Acme", "a/b"} {
		_, err := s.ListGrants(ctx, tenant)
		checkRefused(t, fmt.Sprintf("ListGrants(%q)", tenant), err)
	}
	// Nothing was written, not even under a valid key.
	list, err := s.ListGrants(ctx, "acme")
	must(t, "ListGrants", err)
	if len(list) != 0 {
		t.Errorf("ListGrants after refused writes = %d grants", len(list))
	}
	// A negative version is refused by DeleteGrant too, before anything is deleted.
	put(t, s, ok, 1)
	checkRefused(t, "DeleteGrant at version -1", s.DeleteGrant(ctx, ok.GrantKey, -1))
	get(t, s, ok.GrantKey)
}

func testGrantList(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	// Tenants whose names start like "a", each with grants: "a" must see only its own.
	byTenant := map[string][]string{
		"a":   {"microsoft/b@x.com", "exmail/b@x.com", "exmail/a.b@x.com", "exmail2/a@x.com", "exmail/a-b@x.com", "exmail/a@x.com", `exmail/o'brien!@x.com`, "exmail/" + strings.Repeat("z", 200) + "@x.com"},
		"ab":  {"exmail/a@x.com", "exmail/ab@x.com"},
		"a-b": {"exmail/a@x.com"},
		"a_b": {"microsoft/a@x.com"},
		"b":   {"exmail/a@x.com"},
	}
	want := map[string][]string{
		"a":   {"exmail/a-b@x.com", "exmail/a.b@x.com", "exmail/a@x.com", "exmail/b@x.com", `exmail/o'brien!@x.com`, "exmail/" + strings.Repeat("z", 200) + "@x.com", "exmail2/a@x.com", "microsoft/b@x.com"},
		"ab":  {"exmail/a@x.com", "exmail/ab@x.com"},
		"a-b": {"exmail/a@x.com"},
		"a_b": {"microsoft/a@x.com"},
		"b":   {"exmail/a@x.com"},
	}
	for tenant, keys := range byTenant {
		for i, pk := range keys {
			provider, account, _ := strings.Cut(pk, "/")
			g := grant(tenant, provider, account)
			g.StatusReason = strconv.Itoa(i) // tells the grants apart
			put(t, s, g, 1)
		}
	}
	for tenant, keys := range want {
		list, err := s.ListGrants(ctx, tenant)
		must(t, "ListGrants "+tenant, err)
		var got []string
		for _, g := range list {
			got = append(got, g.Provider+"/"+g.Account)
			if g.Tenant != tenant {
				t.Errorf("ListGrants(%q) returned a grant of tenant %q", tenant, g.Tenant)
			}
			w := grant(g.Tenant, g.Provider, g.Account)
			w.StatusReason = g.StatusReason
			checkGrant(t, g, w, 1)
		}
		if !sameStrings(got, keys) {
			t.Errorf("ListGrants(%q) = %q, want %q (sorted by provider, then account)", tenant, got, keys)
		}
	}
	list, err := s.ListGrants(ctx, "nobody")
	must(t, "ListGrants of a tenant with no grants", err)
	if len(list) != 0 {
		t.Errorf("ListGrants of a tenant with no grants = %d grants", len(list))
	}
	// Grants and tenants are independent records.
	if _, err := s.GetTenant(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTenant of a tenant that only has grants: %v, want ErrNotFound", err)
	}
}

func testGrantDelete(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	g := grant("a", "exmail", "x@y.com")
	k := g.GrantKey
	checkIs(t, "DeleteGrant of a missing grant", s.DeleteGrant(ctx, k, 0), store.ErrNotFound)
	checkIs(t, "DeleteGrant at version 1 of a missing grant", s.DeleteGrant(ctx, k, 1), store.ErrNotFound)

	other := grant("ab", "exmail", "x@y.com") // same provider and account, tenant "a" + "b"
	put(t, s, other, 1)
	g1 := put(t, s, g, 1)
	g2 := put(t, s, g1, 2)

	checkIs(t, "DeleteGrant at a stale version", s.DeleteGrant(ctx, k, 1), store.ErrConflict)
	checkIs(t, "DeleteGrant at a future version", s.DeleteGrant(ctx, k, 3), store.ErrConflict)
	checkGrant(t, get(t, s, k), g2, 2)

	must(t, "DeleteGrant at the stored version", s.DeleteGrant(ctx, k, 2))
	_, err := s.GetGrant(ctx, k)
	checkIs(t, "GetGrant after DeleteGrant", err, store.ErrNotFound)
	checkIs(t, "DeleteGrant twice", s.DeleteGrant(ctx, k, 0), store.ErrNotFound)
	checkGrant(t, get(t, s, other.GrantKey), other, 1)

	// Created again, it starts over at version 1; version 0 deletes whatever is stored.
	g.Secret = []byte("new")
	put(t, s, g, 1)
	checkGrant(t, get(t, s, k), g, 1)
	must(t, "DeleteGrant at version 0", s.DeleteGrant(ctx, k, 0))
	list, err := s.ListGrants(ctx, "a")
	must(t, "ListGrants", err)
	if len(list) != 0 {
		t.Errorf("ListGrants after DeleteGrant = %d grants", len(list))
	}
	checkGrant(t, get(t, s, other.GrantKey), other, 1)
}

// updateBudget bounds testGrantConcurrentUpdates on slow stores: once it has
// passed, a writer that made an update starts no other.
const updateBudget = 3 * time.Second

func testGrantConcurrentUpdates(t *testing.T, s store.Store) {
	concurrentUpdates(t, []store.Store{s})
}

// concurrentUpdates: writers that read, change and compare-and-set in a
// retry loop lose no update. Each of 8 writers (taking the stores in turn)
// makes up to 10 updates of a counter; on a store where a call costs tens of
// milliseconds (pass runs gpg for each) they stop early, after updateBudget
// and at least one update each, so the case stays bounded. What is checked
// does not depend on how many updates were made: the counter must be the
// number of writes that succeeded, and the version one more.
func concurrentUpdates(t *testing.T, stores []store.Store) {
	const writers, maxUpdates = 8, 10
	ctx := ctxFor(t)
	g := grant("acme", "exmail", "counter@example.com")
	g.StatusReason = "0"
	put(t, stores[0], g, 1)

	// update adds 1 to the counter, retrying on ErrConflict; false on failure.
	update := func(w int, s store.Store) (conflicts int, ok bool) {
		for attempt := 0; attempt < 1000; attempt++ {
			err := increment(ctx, s, g.GrantKey)
			if err == nil {
				return conflicts, true
			}
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("writer %d: %v", w, err)
				return conflicts, false
			}
			conflicts++
		}
		t.Errorf("writer %d: no update after 1000 attempts", w)
		return conflicts, false
	}

	start := time.Now()
	var wg sync.WaitGroup
	made, conflicts := make([]int, writers), make([]int, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for made[w] < maxUpdates && (made[w] == 0 || time.Since(start) < updateBudget) {
				c, ok := update(w, stores[w%len(stores)])
				conflicts[w] += c
				if !ok {
					return
				}
				made[w]++
			}
		}()
	}
	wg.Wait()
	total, retried := 0, 0
	for w := range writers {
		total += made[w]
		retried += conflicts[w]
	}
	got := get(t, stores[0], g.GrantKey)
	if got.StatusReason != strconv.Itoa(total) || got.Version != int64(total)+1 {
		t.Errorf("after %d updates: counter %s at version %d, want %d at version %d (an update was lost)",
			total, got.StatusReason, got.Version, total, total+1)
	}
	t.Logf("%d updates by %d writers over %d store value(s) in %s (at most %d each), %d conflicts retried",
		total, writers, len(stores), time.Since(start).Round(time.Millisecond), maxUpdates, retried)
}

func testGrantConcurrentCreates(t *testing.T, s store.Store) {
	concurrentCreates(t, []store.Store{s})
}

// concurrentCreates: of writers creating the same grant at once (version
// 0), taking the stores in turn, exactly one succeeds.
func concurrentCreates(t *testing.T, stores []store.Store) {
	const writers = 8
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := grant("acme", "exmail", "new@example.com")
			g.StatusReason = strconv.Itoa(w)
			_, errs[w] = stores[w%len(stores)].PutGrant(ctx, g)
		}()
	}
	wg.Wait()
	winner := -1
	for w, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both created the grant", winner, w)
		case err == nil:
			winner = w
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("writer %d: %v, want ErrConflict", w, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the grant")
	}
	got := get(t, stores[0], store.GrantKey{Tenant: "acme", Provider: "exmail", Account: "new@example.com"})
	if got.Version != 1 || got.StatusReason != strconv.Itoa(winner) {
		t.Errorf("stored: version %d, written by writer %s; want version 1 by writer %d", got.Version, got.StatusReason, winner)
	}
}
