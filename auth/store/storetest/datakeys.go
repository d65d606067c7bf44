package storetest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// RunDataKeys runs the suite of store.DataKeys, for the stores that keep
// tenants' data keys (a database store; memory). open must return a new,
// empty store on each call.
func RunDataKeys(t *testing.T, open func(t *testing.T) store.DataKeys) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.DataKeys)
	}{
		{"RoundTrip", testDataKeyRoundTrip},
		{"Versions", testDataKeyVersions},
		{"ConcurrentFirstKey", testDataKeyConcurrentFirst},
		{"Delete", testDataKeyDelete},
		{"List", testDataKeyList},
		{"Invalid", testDataKeyInvalid},
	}
	for _, c := range cases {
		t.Run("DataKeys/"+c.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			c.fn(t, s)
		})
	}
}

func dataKey(tenant string, version int64, master string, fill byte) store.DataKey {
	return store.DataKey{
		Tenant: tenant, Version: version, MasterKeyID: master,
		Wrapped: bytes.Repeat([]byte{fill}, 69), CreatedAt: t0, UpdatedAt: t0,
	}
}

func testDataKeyRoundTrip(t *testing.T, s store.DataKeys) {
	ctx := ctxFor(t)
	_, err := s.GetDataKey(ctx, "acme")
	checkIs(t, "GetDataKey of a tenant without one", err, store.ErrNotFound)
	in := dataKey("acme", 0, "mk1-0011223344556677", 0xa5)
	in.Wrapped[0], in.Wrapped[68] = 0, 0xff // every byte value kept
	v, err := s.PutDataKey(ctx, in)
	must(t, "PutDataKey", err)
	if v != 1 {
		t.Errorf("first PutDataKey returned version %d, want 1", v)
	}
	in.Wrapped[1] = 0 // the caller's slice is not the stored one
	got, err := s.GetDataKey(ctx, "acme")
	must(t, "GetDataKey", err)
	want := dataKey("acme", 1, "mk1-0011223344556677", 0xa5)
	want.Wrapped[0], want.Wrapped[68] = 0, 0xff
	if got.Tenant != "acme" || got.Version != 1 || got.MasterKeyID != want.MasterKeyID || !bytes.Equal(got.Wrapped, want.Wrapped) {
		t.Errorf("GetDataKey = %+v, want %+v", got, want)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, t0)
	checkTime(t, "UpdatedAt", got.UpdatedAt, t0)
	got.Wrapped[2] = 0 // nor is the one handed out
	again, err := s.GetDataKey(ctx, "acme")
	must(t, "GetDataKey", err)
	if !bytes.Equal(again.Wrapped, want.Wrapped) {
		t.Error("changing the Wrapped slice GetDataKey returned changed the stored key")
	}
}

func testDataKeyVersions(t *testing.T, s store.DataKeys) {
	ctx := ctxFor(t)
	_, err := s.PutDataKey(ctx, dataKey("acme", 0, "mk1-a", 1))
	must(t, "PutDataKey at 0", err)
	_, err = s.PutDataKey(ctx, dataKey("acme", 0, "mk1-a", 2))
	checkIs(t, "PutDataKey at 0 over a stored key", err, store.ErrConflict)
	_, err = s.PutDataKey(ctx, dataKey("acme", 2, "mk1-b", 2))
	checkIs(t, "PutDataKey at a version never stored", err, store.ErrConflict)
	upd := dataKey("acme", 1, "mk1-b", 3)
	upd.UpdatedAt = t0.Add(time.Hour)
	v, err := s.PutDataKey(ctx, upd)
	must(t, "PutDataKey at the stored version", err)
	if v != 2 {
		t.Errorf("second PutDataKey returned version %d, want 2", v)
	}
	_, err = s.PutDataKey(ctx, dataKey("acme", 1, "mk1-c", 4))
	checkIs(t, "PutDataKey at a stale version", err, store.ErrConflict)
	got, err := s.GetDataKey(ctx, "acme")
	must(t, "GetDataKey", err)
	if got.Version != 2 || got.MasterKeyID != "mk1-b" || got.Wrapped[0] != 3 {
		t.Errorf("after a compare-and-set and two refused writes: %+v, want version 2 under mk1-b", got)
	}
	checkTime(t, "UpdatedAt after the re-wrap", got.UpdatedAt, t0.Add(time.Hour))
}

// Eight processes create a tenant's first key at once: one is kept, the
// others are told so.
func testDataKeyConcurrentFirst(t *testing.T, s store.DataKeys) {
	ctx := ctxFor(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.PutDataKey(ctx, dataKey("acme", 0, "mk1-a", byte(i+1))) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both created the first key", won, i)
		case err == nil:
			won = i
		default:
			checkIs(t, "a losing first write", err, store.ErrConflict)
		}
	}
	if won < 0 {
		t.Fatal("no writer created the first key")
	}
	got, err := s.GetDataKey(ctx, "acme")
	must(t, "GetDataKey", err)
	if got.Wrapped[0] != byte(won+1) || got.Version != 1 {
		t.Errorf("stored key is writer %d's at version %d, want writer %d's at 1", got.Wrapped[0]-1, got.Version, won)
	}
}

func testDataKeyDelete(t *testing.T, s store.DataKeys) {
	ctx := ctxFor(t)
	checkIs(t, "DeleteDataKey of a tenant without one", s.DeleteDataKey(ctx, "acme"), store.ErrNotFound)
	_, err := s.PutDataKey(ctx, dataKey("acme", 0, "mk1-a", 1))
	must(t, "PutDataKey", err)
	_, err = s.PutDataKey(ctx, dataKey("acme-2", 0, "mk1-a", 2))
	must(t, "PutDataKey", err)
	must(t, "DeleteDataKey", s.DeleteDataKey(ctx, "acme"))
	_, err = s.GetDataKey(ctx, "acme")
	checkIs(t, "GetDataKey after DeleteDataKey", err, store.ErrNotFound)
	if _, err := s.GetDataKey(ctx, "acme-2"); err != nil {
		t.Errorf("deleting acme's key touched acme-2's: %v", err)
	}
	// A tenant added again starts at version 0: a key of its own.
	v, err := s.PutDataKey(ctx, dataKey("acme", 0, "mk1-a", 9))
	must(t, "PutDataKey at 0 after DeleteDataKey", err)
	if v != 1 {
		t.Errorf("PutDataKey after DeleteDataKey returned version %d, want 1", v)
	}
}

func testDataKeyList(t *testing.T, s store.DataKeys) {
	ctx := ctxFor(t)
	ks, err := s.ListDataKeys(ctx)
	must(t, "ListDataKeys of an empty store", err)
	if len(ks) != 0 {
		t.Errorf("ListDataKeys of an empty store = %d keys", len(ks))
	}
	names := []string{"zeta", "acme", "acme-2", "b"}
	for i, n := range names {
		_, err := s.PutDataKey(ctx, dataKey(n, 0, "mk1-a", byte(i+1)))
		must(t, "PutDataKey", err)
	}
	ks, err = s.ListDataKeys(ctx)
	must(t, "ListDataKeys", err)
	var got []string
	for _, k := range ks {
		got = append(got, k.Tenant)
		if k.Version != 1 || len(k.Wrapped) != 69 || k.MasterKeyID != "mk1-a" {
			t.Errorf("listed %+v, want it as stored", k)
		}
	}
	if strings.Join(got, ",") != "acme,acme-2,b,zeta" {
		t.Errorf("ListDataKeys = %v, want ordered by tenant", got)
	}
}

func testDataKeyInvalid(t *testing.T, s store.DataKeys) {
	ctx := ctxFor(t)
	for _, c := range []struct {
		what string
		k    store.DataKey
	}{
		{"a bad tenant name", dataKey("Bad Name", 0, "mk1-a", 1)},
		{"an empty tenant", dataKey("", 0, "mk1-a", 1)},
		{"a negative version", dataKey("acme", -1, "mk1-a", 1)},
		{"no master key id", dataKey("acme", 0, "", 1)},
		{"a master key id of 129 bytes", dataKey("acme", 0, strings.Repeat("m", 129), 1)},
		{"no wrapped key", store.DataKey{Tenant: "acme", MasterKeyID: "mk1-a"}},
		{"a wrapped key of 1025 bytes", store.DataKey{Tenant: "acme", MasterKeyID: "mk1-a", Wrapped: make([]byte, 1025)}},
	} {
		_, err := s.PutDataKey(ctx, c.k)
		checkRefused(t, "PutDataKey with "+c.what, err)
	}
	_, err := s.GetDataKey(ctx, "Bad Name")
	checkRefused(t, "GetDataKey of a bad tenant name", err)
	checkRefused(t, "DeleteDataKey of a bad tenant name", s.DeleteDataKey(ctx, "../x"))
	if ks, err := s.ListDataKeys(ctx); err != nil || len(ks) != 0 {
		t.Errorf("after refused writes: ListDataKeys = %d keys, %v; want none", len(ks), err)
	}
}
