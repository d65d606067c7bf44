package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// dataKeysOf returns s as store.DataKeys, or skips the case: the contract is
// optional (the keyring encrypts what it holds and has none).
func dataKeysOf(t *testing.T, s store.Store) store.DataKeys {
	t.Helper()
	dk, ok := s.(store.DataKeys)
	if !ok {
		t.Skipf("%T does not implement store.DataKeys", s)
	}
	return dk
}

func dataKey(tenant string, wrapped byte) store.DataKey {
	return store.DataKey{Tenant: tenant, MasterKeyID: "mk-1", Wrapped: bytes.Repeat([]byte{wrapped}, 60), CreatedAt: t0, UpdatedAt: t0}
}

func checkDataKey(t *testing.T, got, want store.DataKey) {
	t.Helper()
	if got.Tenant != want.Tenant || got.Version != want.Version || got.MasterKeyID != want.MasterKeyID || !bytes.Equal(got.Wrapped, want.Wrapped) {
		t.Errorf("data key read back = %+v, want %+v", got, want)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// testDataKeys: versions and compare-and-set, records read back as
// written, copies, the listing ordered by tenant, delete, invalid input.
func testDataKeys(t *testing.T, s store.Store) {
	dk := dataKeysOf(t, s)
	ctx := ctxFor(t)
	_, err := dk.GetDataKey(ctx, "acme")
	checkIs(t, "GetDataKey of a tenant without one", err, store.ErrNotFound)
	list, err := dk.ListDataKeys(ctx)
	must(t, "ListDataKeys of an empty store", err)
	if list == nil || len(list) != 0 {
		t.Errorf("ListDataKeys of an empty store = %#v, want an empty, non-nil slice", list)
	}

	k := dataKey("acme", 1)
	v, err := dk.PutDataKey(ctx, k)
	must(t, "PutDataKey", err)
	if v != 1 {
		t.Errorf("PutDataKey of a new key = version %d, want 1", v)
	}
	k.Wrapped[0] = 0xff // the caller's slice, not the store's
	got, err := dk.GetDataKey(ctx, "acme")
	must(t, "GetDataKey", err)
	want := dataKey("acme", 1)
	want.Version = 1
	checkDataKey(t, got, want)
	got.Wrapped[0] = 0xff
	got, err = dk.GetDataKey(ctx, "acme")
	must(t, "GetDataKey again", err)
	checkDataKey(t, got, want)

	_, err = dk.PutDataKey(ctx, dataKey("acme", 2))
	checkIs(t, "PutDataKey at version 0 over a stored key", err, store.ErrConflict)
	rewrapped := dataKey("acme", 3)
	rewrapped.MasterKeyID, rewrapped.Version, rewrapped.UpdatedAt = "mk-2", 1, t0.Add(time.Hour)
	v, err = dk.PutDataKey(ctx, rewrapped)
	must(t, "PutDataKey at the stored version (a re-wrap)", err)
	if v != 2 {
		t.Errorf("PutDataKey at version 1 = version %d, want 2", v)
	}
	_, err = dk.PutDataKey(ctx, rewrapped)
	checkIs(t, "PutDataKey at a stale version", err, store.ErrConflict)
	_, err = dk.PutDataKey(ctx, store.DataKey{Tenant: "other", Version: 3, MasterKeyID: "mk-1", Wrapped: []byte{1}})
	checkIs(t, "PutDataKey at version 3 of a key never stored", err, store.ErrConflict)
	rewrapped.Version = 2
	got, err = dk.GetDataKey(ctx, "acme")
	must(t, "GetDataKey after the re-wrap", err)
	checkDataKey(t, got, rewrapped)

	// The listing: every tenant's key, ordered by tenant, "acme" and
	// "acme2" apart.
	for _, name := range []string{"zeta", "acme2", "beta"} {
		_, err := dk.PutDataKey(ctx, dataKey(name, 4))
		must(t, "PutDataKey "+name, err)
	}
	list, err = dk.ListDataKeys(ctx)
	must(t, "ListDataKeys", err)
	var names []string
	for _, k := range list {
		names = append(names, k.Tenant)
	}
	if !sameStrings(names, []string{"acme", "acme2", "beta", "zeta"}) {
		t.Errorf("ListDataKeys = %v, want acme, acme2, beta, zeta", names)
	} else {
		checkDataKey(t, list[0], rewrapped)
	}

	must(t, "DeleteDataKey", dk.DeleteDataKey(ctx, "acme"))
	_, err = dk.GetDataKey(ctx, "acme")
	checkIs(t, "GetDataKey after DeleteDataKey", err, store.ErrNotFound)
	checkIs(t, "DeleteDataKey of a deleted key", dk.DeleteDataKey(ctx, "acme"), store.ErrNotFound)
	if _, err := dk.GetDataKey(ctx, "acme2"); err != nil {
		t.Errorf("GetDataKey acme2 after acme's delete: %v", err)
	}
	v, err = dk.PutDataKey(ctx, dataKey("acme", 5))
	if err != nil || v != 1 {
		t.Errorf("PutDataKey at version 0 after the delete = %d, %v; want version 1", v, err)
	}

	// Invalid input is refused for what it is.
	for what, bad := range map[string]store.DataKey{
		"an invalid tenant":    {Tenant: "Acme", MasterKeyID: "mk", Wrapped: []byte{1}},
		"a negative version":   {Tenant: "acme", Version: -1, MasterKeyID: "mk", Wrapped: []byte{1}},
		"no master key id":     {Tenant: "acme", Wrapped: []byte{1}},
		"no wrapped key":       {Tenant: "acme", MasterKeyID: "mk"},
		"a wrapped key of 2KB": {Tenant: "acme", MasterKeyID: "mk", Wrapped: make([]byte, 2048)},
	} {
		_, err := dk.PutDataKey(ctx, bad)
		checkRefused(t, "PutDataKey with "+what, err)
	}
	_, err = dk.GetDataKey(ctx, "../acme")
	checkRefused(t, "GetDataKey of an invalid tenant", err)
	checkRefused(t, "DeleteDataKey of an invalid tenant", dk.DeleteDataKey(ctx, ""))
}

// sharedDataKeyCreates: of 8 callers creating a tenant's first key at once
// (two processes serving its first connection), over the stores in turn,
// exactly one succeeds, the others get ErrConflict, and every store then
// reads the winner's key.
func sharedDataKeyCreates(t *testing.T, stores []store.Store) {
	const creators = 8
	ctx := ctxFor(t)
	keys := make([]store.DataKeys, len(stores))
	for i, s := range stores {
		keys[i] = dataKeysOf(t, s)
	}
	errs := make([]error, creators)
	var wg sync.WaitGroup
	for i := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = keys[i%len(keys)].PutDataKey(ctx, dataKey("acme", byte(i)))
		}()
	}
	wg.Wait()
	winner := oneWinner(t, errs, store.ErrConflict, "stored a first key")
	for _, dk := range keys {
		got, err := dk.GetDataKey(ctx, "acme")
		if err != nil || !bytes.Equal(got.Wrapped, dataKey("acme", byte(winner)).Wrapped) {
			t.Errorf("GetDataKey: %+v, %v; want creator %d's key", got, err, winner)
		}
	}
}
