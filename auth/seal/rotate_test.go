package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// crashingKeys fails every write after the first n: a rotation killed
// half way (nothing after the nth write reaches the store).
type crashingKeys struct {
	store.DataKeys
	left atomic.Int64
}

func (c *crashingKeys) PutDataKey(ctx context.Context, k store.DataKey) (int64, error) {
	if c.left.Add(-1) < 0 {
		return 0, errors.New("connection lost")
	}
	return c.DataKeys.PutDataKey(ctx, k)
}

// sealTenants seals one token for each of n tenants, returning the keys
// and the sealed tokens.
func sealTenants(t *testing.T, s *Sealer, n int) ([]store.GrantKey, [][]byte) {
	t.Helper()
	var ks []store.GrantKey
	var sealed [][]byte
	for i := range n {
		k := store.GrantKey{Tenant: fmt.Sprintf("t%02d", i), Provider: "microsoft", Account: "a@example.com"}
		b, err := s.Seal(t.Context(), k, []byte(k.String()))
		if err != nil {
			t.Fatal(err)
		}
		ks, sealed = append(ks, k), append(sealed, b)
	}
	return ks, sealed
}

func checkOpens(t *testing.T, who string, s *Sealer, ks []store.GrantKey, sealed [][]byte) {
	t.Helper()
	for i, k := range ks {
		if got, err := s.Open(t.Context(), k, sealed[i]); err != nil || string(got) != k.String() {
			t.Fatalf("%s: open %s: %q, %v", who, k, got, err)
		}
	}
}

func TestRotate(t *testing.T) {
	ctx := t.Context()
	oldKey, _ := newKey(t)
	newK, _ := newKey(t)
	st := memory.New()
	before := newSealer(t, st, MasterKeys{Current: oldKey}, Options{})
	ks, sealed := sealTenants(t, before, 5)
	recs0, _ := st.ListDataKeys(ctx)

	r, err := Rotate(ctx, st, MasterKeys{Current: oldKey}, newK)
	if err != nil || r.Rewrapped != 5 || r.Skipped != 0 || len(r.Failed) != 0 {
		t.Fatalf("Rotate = %+v, %v", r, err)
	}
	recs, _ := st.ListDataKeys(ctx)
	for i, rec := range recs {
		if rec.MasterKeyID != newK.ID() || rec.Version != 2 || bytes.Equal(rec.Wrapped, recs0[i].Wrapped) {
			t.Errorf("%s after the rotation: %+v", rec.Tenant, rec)
		}
		if id0, _ := wrappedID(recs0[i].Wrapped); id0 != [idSize]byte(rec.Wrapped[1:1+idSize]) {
			t.Errorf("%s: the data key changed, not only its wrapping", rec.Tenant)
		}
	}
	// The tokens were not touched, and open under the new key alone, in a
	// process started after the rotation…
	checkOpens(t, "new key only", newSealer(t, st, MasterKeys{Current: newK}, Options{}), ks, sealed)
	// …in a process holding both, and in one with the old key whose cache
	// is warm.
	checkOpens(t, "both keys", newSealer(t, st, MasterKeys{Current: newK, Old: oldKey}, Options{}), ks, sealed)
	checkOpens(t, "old key, warm", before, ks, sealed)
	// The old key alone, cold, is refused clearly.
	if _, err := newSealer(t, st, MasterKeys{Current: oldKey}, Options{}).Open(ctx, ks[0], sealed[0]); !errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("old key after the rotation: %v", err)
	}
	// Run again: nothing left to do.
	if r, err := Rotate(ctx, st, MasterKeys{Current: oldKey}, newK); err != nil || r.Skipped != 5 || r.Rewrapped != 0 {
		t.Errorf("second Rotate = %+v, %v", r, err)
	}
}

// A rotation killed after 3 of 7 keys is finished by running it again.
func TestRotateResumes(t *testing.T) {
	ctx := t.Context()
	oldKey, _ := newKey(t)
	newK, _ := newKey(t)
	st := memory.New()
	ks, sealed := sealTenants(t, newSealer(t, st, MasterKeys{Current: oldKey}, Options{}), 7)
	crash := &crashingKeys{DataKeys: st}
	crash.left.Store(3)
	r, err := Rotate(ctx, crash, MasterKeys{Current: oldKey}, newK)
	if err == nil || r.Rewrapped != 3 {
		t.Fatalf("interrupted Rotate = %+v, %v; want an error after 3", r, err)
	}
	// Meanwhile the fleet serves with both keys: every token opens.
	both := MasterKeys{Current: newK, Old: oldKey}
	checkOpens(t, "both keys, half rotated", newSealer(t, st, both, Options{}), ks, sealed)
	// The operator runs it again with the new key as current and the old
	// as old, as the servers have them now.
	r, err = Rotate(ctx, st, both, newK)
	if err != nil || r.Rewrapped != 4 || r.Skipped != 3 {
		t.Fatalf("resumed Rotate = %+v, %v; want 4 re-wrapped, 3 skipped", r, err)
	}
	checkOpens(t, "new key only", newSealer(t, st, MasterKeys{Current: newK}, Options{}), ks, sealed)
}

// A key changed or removed while the rotation runs is read again, not
// overwritten; a key under an unknown master key is reported and the
// rest rotated.
func TestRotateConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	oldKey, _ := newKey(t)
	newK, _ := newKey(t)
	stranger, _ := newKey(t)
	st := memory.New()
	ks, sealed := sealTenants(t, newSealer(t, st, MasterKeys{Current: oldKey}, Options{}), 3)
	// t03 was made by a process with some other master key.
	newSealer(t, st, MasterKeys{Current: stranger}, Options{}).Seal(ctx, store.GrantKey{Tenant: "t03", Provider: "google", Account: "x@example.com"}, token)
	racing := &racingKeys{DataKeys: st, race: map[string]func(){
		// Another rotation moved t00 first.
		"t00": func() { Rotate(ctx, onlyTenant{st, "t00"}, MasterKeys{Current: oldKey}, newK) },
		// t01's tenant was removed.
		"t01": func() { st.DeleteDataKey(ctx, "t01") },
	}}
	r, err := Rotate(ctx, racing, MasterKeys{Current: oldKey}, newK)
	if err != nil || r.Rewrapped != 1 || r.Skipped != 1 || r.Gone != 1 || len(r.Failed) != 1 || r.Failed[0].Tenant != "t03" {
		t.Fatalf("Rotate = %+v, %v", r, err)
	}
	if !errors.Is(r.Failed[0].Err, ErrWrongMasterKey) || !strings.Contains(r.Failed[0].Err.Error(), stranger.ID()) {
		t.Errorf("t03's failure: %v", r.Failed[0].Err)
	}
	s := newSealer(t, st, MasterKeys{Current: newK}, Options{})
	checkOpens(t, "t00", s, ks[:1], sealed[:1])
	checkOpens(t, "t02", s, ks[2:], sealed[2:])
	if rec, _ := st.GetDataKey(ctx, "t00"); rec.Version != 2 {
		t.Errorf("t00 written %d times, want once (by the other rotation)", rec.Version-1)
	}
}

// racingKeys runs race[tenant] once, just before that tenant's first write.
type racingKeys struct {
	store.DataKeys
	race map[string]func()
}

func (r *racingKeys) PutDataKey(ctx context.Context, k store.DataKey) (int64, error) {
	if f := r.race[k.Tenant]; f != nil {
		delete(r.race, k.Tenant)
		f()
	}
	return r.DataKeys.PutDataKey(ctx, k)
}

// onlyTenant lists one tenant's key.
type onlyTenant struct {
	store.DataKeys
	tenant string
}

func (o onlyTenant) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	k, err := o.GetDataKey(ctx, o.tenant)
	return []store.DataKey{k}, err
}

// Servers holding both keys seal and open for many tenants, some of them
// new, while the rotation runs: nothing fails, and afterwards every key is
// under the new master key and every token opens with it alone.
func TestRotateWhileServing(t *testing.T) {
	ctx := t.Context()
	oldKey, _ := newKey(t)
	newK, _ := newKey(t)
	st := memory.New()
	ks, sealed := sealTenants(t, newSealer(t, st, MasterKeys{Current: oldKey}, Options{}), 12)
	both := MasterKeys{Current: newK, Old: oldKey}
	servers := []*Sealer{newSealer(t, st, both, Options{}), newSealer(t, st, both, Options{Recheck: time.Nanosecond})}

	var mu sync.Mutex
	var newKs []store.GrantKey // the servers' new tenants, and their tokens
	var newSealed [][]byte
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i, s := range servers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				j := n % len(ks)
				if got, err := s.Open(ctx, ks[j], sealed[j]); err != nil || string(got) != ks[j].String() {
					t.Errorf("server %d, open %s during the rotation: %q, %v", i, ks[j], got, err)
					return
				}
				// A new tenant's first key, made under the new master key.
				k := store.GrantKey{Tenant: fmt.Sprintf("new%d-%d", i, n%5), Provider: "google", Account: "a@example.com"}
				b, err := s.Seal(ctx, k, []byte(k.String()))
				if err != nil {
					t.Errorf("server %d, seal %s during the rotation: %v", i, k, err)
					return
				}
				if n < 5 {
					mu.Lock()
					newKs, newSealed = append(newKs, k), append(newSealed, b)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond) // the servers at work
	r, err := Rotate(ctx, slowKeys{st}, MasterKeys{Current: oldKey}, newK)
	close(done)
	wg.Wait()
	if err != nil || len(r.Failed) != 0 || r.Rewrapped != 12 {
		t.Fatalf("Rotate = %+v, %v; want the 12 old keys re-wrapped", r, err)
	}
	recs, _ := st.ListDataKeys(ctx)
	for _, rec := range recs {
		if rec.MasterKeyID != newK.ID() {
			t.Errorf("%s still under %s", rec.Tenant, rec.MasterKeyID)
		}
	}
	checkOpens(t, "new key only", newSealer(t, st, MasterKeys{Current: newK}, Options{}), append(ks, newKs...), append(sealed, newSealed...))
}

// slowKeys takes a millisecond a write, so that a rotation lasts while
// others work.
type slowKeys struct{ store.DataKeys }

func (s slowKeys) PutDataKey(ctx context.Context, k store.DataKey) (int64, error) {
	time.Sleep(time.Millisecond)
	return s.DataKeys.PutDataKey(ctx, k)
}
