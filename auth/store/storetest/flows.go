package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// flow returns a valid flow state for state value n of a tenant, created at.
func flow(tenant string, n int, created time.Time) store.FlowState {
	return store.FlowState{
		ID:          store.FlowID(fmt.Sprintf("state-%s-%d", tenant, n)),
		Tenant:      tenant,
		Provider:    "exmail",
		Scopes:      []string{"openid", "https://mail.example/read"},
		Verifier:    strings.Repeat("v", 43) + fmt.Sprint(n),
		RedirectURI: "http://127.0.0.1:8765/callback",
		LoginHint:   "x@y.com",
		CreatedAt:   created,
		ExpiresAt:   created.Add(10 * time.Minute),
	}
}

func checkFlow(t *testing.T, got, want store.FlowState) {
	t.Helper()
	id := want.ID[:8] + "…"
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Provider != want.Provider || got.Verifier != want.Verifier ||
		got.RedirectURI != want.RedirectURI || got.LoginHint != want.LoginHint || !sameStrings(got.Scopes, want.Scopes) {
		t.Errorf("flow state %s read back as %+v, want %+v", id, got, want)
	}
	checkTime(t, "flow state "+id+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "flow state "+id+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// checkFlowList checks a listing against want, in order.
func checkFlowList(t *testing.T, got, want []store.FlowState) {
	t.Helper()
	ids := func(fs []store.FlowState) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID[:8])
		}
		return out
	}
	if !sameStrings(ids(got), ids(want)) {
		t.Fatalf("ListFlowStates = %q, want %q (oldest first)", ids(got), ids(want))
	}
	for i := range got {
		checkFlow(t, got[i], want[i])
	}
}

func testFlowStates(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	list, err := s.ListFlowStates(ctx, "a")
	must(t, "ListFlowStates on an empty store", err)
	if len(list) != 0 {
		t.Fatalf("ListFlowStates on an empty store = %d flow states", len(list))
	}
	checkBackend(t, s)

	// Put out of order; one of them expired long ago (expiry is the caller's to check).
	newest, oldest, middle := flow("a", 1, t0.Add(2*time.Minute)), flow("a", 2, t0.Add(-24*time.Hour)), flow("a", 3, t0)
	newest.LoginHint, newest.Scopes = "", nil
	for _, f := range []store.FlowState{newest, oldest, middle, flow("ab", 1, t0), flow("a-b", 1, t0), flow("b", 1, t0)} {
		must(t, "PutFlowState "+f.Tenant, s.PutFlowState(ctx, f))
	}
	list, err = s.ListFlowStates(ctx, "a")
	must(t, "ListFlowStates", err)
	checkFlowList(t, list, []store.FlowState{oldest, middle, newest})
	list, err = s.ListFlowStates(ctx, "ab")
	must(t, "ListFlowStates", err)
	checkFlowList(t, list, []store.FlowState{flow("ab", 1, t0)})
	list, err = s.ListFlowStates(ctx, "nobody")
	must(t, "ListFlowStates of a tenant with none", err)
	checkFlowList(t, list, nil)

	// An ID is taken once stored, whatever the tenant; the stored state stays.
	dup := middle
	dup.Verifier = "another verifier"
	checkIs(t, "PutFlowState of an existing ID", s.PutFlowState(ctx, dup), store.ErrExists)
	dup.Tenant = "b"
	checkIs(t, "PutFlowState of an existing ID for another tenant", s.PutFlowState(ctx, dup), store.ErrExists)

	// A slice handed out is not the store's (checked by the listing below).
	list, err = s.ListFlowStates(ctx, "ab")
	must(t, "ListFlowStates", err)
	if len(list) != 1 || len(list[0].Scopes) == 0 {
		t.Fatalf("ListFlowStates(ab) = %+v", list)
	}
	list[0].Scopes[0] = "changed after ListFlowStates"

	got, err := s.TakeFlowState(ctx, middle.ID)
	must(t, "TakeFlowState", err)
	checkFlow(t, got, middle)
	_, err = s.TakeFlowState(ctx, middle.ID)
	checkIs(t, "TakeFlowState twice", err, store.ErrNotFound)

	got, err = s.TakeFlowState(ctx, oldest.ID)
	must(t, "TakeFlowState of an expired flow state", err)
	checkFlow(t, got, oldest)

	list, err = s.ListFlowStates(ctx, "a")
	must(t, "ListFlowStates after takes", err)
	checkFlowList(t, list, []store.FlowState{newest})
	list, err = s.ListFlowStates(ctx, "ab")
	must(t, "ListFlowStates after takes", err)
	checkFlowList(t, list, []store.FlowState{flow("ab", 1, t0)})

	// Nor is a slice passed in.
	in := flow("c", 1, t0)
	must(t, "PutFlowState", s.PutFlowState(ctx, in))
	in.Scopes[0] = "changed after PutFlowState"
	list, err = s.ListFlowStates(ctx, "c")
	must(t, "ListFlowStates", err)
	checkFlowList(t, list, []store.FlowState{flow("c", 1, t0)})

	_, err = s.TakeFlowState(ctx, store.FlowID("never stored"))
	checkIs(t, "TakeFlowState of an ID never stored", err, store.ErrNotFound)

	// A taken ID can be stored again.
	must(t, "PutFlowState of a taken ID", s.PutFlowState(ctx, middle))
	got, err = s.TakeFlowState(ctx, middle.ID)
	must(t, "TakeFlowState", err)
	checkFlow(t, got, middle)
}

func testFlowStateConcurrentTakes(t *testing.T, s store.Store) {
	concurrentTakes(t, []store.Store{s})
}

// concurrentTakes: of callers taking the same ID at once (taking the stores
// in turn), exactly one gets the flow state. Three rounds, each of 16
// takers.
func concurrentTakes(t *testing.T, stores []store.Store) {
	const rounds, takers = 3, 16
	ctx := ctxFor(t)
	s := stores[0]
	other := flow("acme", 0, t0)
	must(t, "PutFlowState", s.PutFlowState(ctx, other))
	for r := 1; r <= rounds; r++ {
		f := flow("acme", r, t0)
		must(t, "PutFlowState", s.PutFlowState(ctx, f))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, takers)
		for i := range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var got store.FlowState
				got, errs[i] = stores[i%len(stores)].TakeFlowState(ctx, f.ID)
				if errs[i] == nil {
					checkFlow(t, got, f)
				}
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("round %d, taker %d: %v, want ErrNotFound", r, i, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of %d concurrent takers got the flow state, want exactly 1", r, won, takers)
		}
	}
	list, err := s.ListFlowStates(ctx, "acme")
	must(t, "ListFlowStates", err)
	checkFlowList(t, list, []store.FlowState{other})
}

func testFlowStatesInvalid(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	ok := flow("acme", 1, t0)
	bad := map[string]func(f *store.FlowState){
		"short ID":              func(f *store.FlowState) { f.ID = f.ID[:63] },
		"upper-case ID":         func(f *store.FlowState) { f.ID = strings.ToUpper(f.ID) },
		"ID with a slash":       func(f *store.FlowState) { f.ID = "../" + f.ID[3:] },
		"empty ID":              func(f *store.FlowState) { f.ID = "" },
		"invalid tenant":        func(f *store.FlowState) { f.Tenant = "Acme" },
		"empty tenant":          func(f *store.FlowState) { f.Tenant = "" },
		"invalid provider":      func(f *store.FlowState) { f.Provider = "Exmail" },
		"too many scopes":       func(f *store.FlowState) { f.Scopes = make([]string, store.MaxScopes+1) },
		"verifier too long":     func(f *store.FlowState) { f.Verifier = strings.Repeat("v", 129) },
		"redirect URI too long": func(f *store.FlowState) { f.RedirectURI = "http://x/" + strings.Repeat("p", 510) },
		"login hint too long":   func(f *store.FlowState) { f.LoginHint = strings.Repeat("a", store.MaxAccountLen+1) },
		"no expiry":             func(f *store.FlowState) { f.ExpiresAt = time.Time{} },
		"expiry before created": func(f *store.FlowState) { f.ExpiresAt = f.CreatedAt.Add(-time.Second) },
		"verifier not UTF-8":    func(f *store.FlowState) { f.Verifier = "v\xff" },
		"login hint with a NUL": func(f *store.FlowState) { f.LoginHint = "x@y.com\x00" },
		"scope not UTF-8":       func(f *store.FlowState) { f.Scopes = []string{"\xfe"} },
	}
	for what, edit := range bad {
		f := ok
		edit(&f)
		checkRefused(t, "PutFlowState of a flow state with "+what, s.PutFlowState(ctx, f))
		if store.ValidFlowID(f.ID) != nil {
			_, err := s.TakeFlowState(ctx, f.ID)
			checkRefused(t, "TakeFlowState of a flow state with "+what, err)
		}
	}
	for _, tenant := range []string{"", "Acme", "a/b"} {
		_, err := s.ListFlowStates(ctx, tenant)
		checkRefused(t, fmt.Sprintf("ListFlowStates(%q)", tenant), err)
	}
	list, err := s.ListFlowStates(ctx, "acme")
	must(t, "ListFlowStates", err)
	checkFlowList(t, list, nil)
}
