package tokens

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/seal"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// Two processes whose store does not encrypt (a database) seal refresh
// tokens per tenant, each with its own sealer and key cache over the same
// data keys, and refresh one grant whose refresh tokens rotate and die at
// first use: every rotated token is sealed before it is stored, the other
// process opens it, no refresh token is spent twice, and nothing of a token
// reaches the store or the log in the clear.
func TestSealedRotatingGrantAcrossProcesses(t *testing.T) {
	h := newHarness(t, retiringHandler())
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	mk, err := seal.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	keys := memory.New() // the data keys, beside the grants
	var managers []*Manager
	var stores []*grants.Store
	for range 2 {
		s, err := seal.New(keys, seal.MasterKeys{Current: mk}, seal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := h.cfg
		cfg.Grants = grants.New(h.st, s)
		m := New(cfg)
		t.Cleanup(m.Close)
		managers, stores = append(managers, m), append(stores, cfg.Grants)
	}
	// Connected through the first process: sealed from the start.
	if err := stores[0].Put(context.Background(), h.grant); err != nil {
		t.Fatal(err)
	}

	const rounds = 10
	for r := 1; r <= rounds; r++ {
		h.clk.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, len(managers))
		for i, m := range managers {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, errs[i] = m.Token(ctx, tenant, prov, account)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, process %d: %v", r, i+1, err)
			}
		}
	}
	if n := h.ep.count.Load(); n != 2*rounds {
		t.Errorf("%d token requests for %d rounds of two processes, want %d", n, rounds, 2*rounds)
	}
	rec, err := h.st.GetGrant(context.Background(), store.GrantKey{Tenant: tenant, Provider: prov, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	last := h.ep.lastIssuedRefresh()
	if len(rec.Secret) == 0 || rec.Secret[0] != 0x01 || bytes.Contains(rec.Secret, []byte(last)) || bytes.Contains(rec.Secret, []byte("SHOULD-NOT-LEAK")) {
		t.Errorf("the stored secret is not sealed: %q", rec.Secret)
	}
	for i, gs := range stores {
		g, err := gs.Get(context.Background(), tenant, prov, account)
		if err != nil || g.RefreshToken != last || g.Status != grants.StatusActive {
			t.Errorf("process %d reads %q (%s), %v; want the newest refresh token, active", i+1, g.RefreshToken, g.Status, err)
		}
	}
	h.assertNoLeak(t, h.logs.String(), "log")
}
