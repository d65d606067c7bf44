package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// webhooksOf returns s as store.Webhooks, or skips the case: the contract
// is optional (the keyring has none).
func webhooksOf(t *testing.T, s store.Store) store.Webhooks {
	t.Helper()
	w, ok := s.(store.Webhooks)
	if !ok {
		t.Skipf("%T does not implement store.Webhooks", s)
	}
	return w
}

func delivery(tenant string, i int, next time.Time) store.Delivery {
	return store.Delivery{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Tenant: tenant, Key: fmt.Sprintf("a@example.com/%d", i),
		Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: t0, NextAt: next}
}

// testWebhooks: registrations read back, replaced, deleted with their
// pending deliveries; invalid input refused; copies.
func testWebhooks(t *testing.T, s store.Store) {
	wh := webhooksOf(t, s)
	ctx := ctxFor(t)
	_, err := wh.GetWebhook(ctx, "acme")
	checkIs(t, "GetWebhook of a tenant without one", err, store.ErrNotFound)
	checkIs(t, "DeleteWebhook of a tenant without one", wh.DeleteWebhook(ctx, "acme"), store.ErrNotFound)
	w := store.Webhook{Tenant: "acme", URL: "https://hooks.example.com/a?b=«é»", Secret: bytes.Repeat([]byte{7}, 80), CreatedAt: t0}
	must(t, "PutWebhook", wh.PutWebhook(ctx, w))
	w.Secret[0] = 9 // the caller's slice is not the store's
	got, err := wh.GetWebhook(ctx, "acme")
	must(t, "GetWebhook", err)
	if got.Tenant != "acme" || got.URL != w.URL || !bytes.Equal(got.Secret, bytes.Repeat([]byte{7}, 80)) {
		t.Errorf("webhook read back = %+v", got)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, t0)
	got.Secret[1] = 9
	if again, _ := wh.GetWebhook(ctx, "acme"); again.Secret[1] != 7 {
		t.Error("the slice GetWebhook returned is the store's")
	}
	w2 := store.Webhook{Tenant: "acme", URL: "https://other.example.com/", Secret: []byte{1}, CreatedAt: t0.Add(time.Hour)}
	must(t, "PutWebhook replacing", wh.PutWebhook(ctx, w2))
	if got, _ := wh.GetWebhook(ctx, "acme"); got.URL != w2.URL || !bytes.Equal(got.Secret, []byte{1}) {
		t.Errorf("replaced webhook read back = %+v", got)
	}
	// The secret it replaced, kept until a time, read back; and cleared.
	w3 := w2
	w3.Secret, w3.PreviousSecret, w3.PreviousUntil = []byte{3}, bytes.Repeat([]byte{4}, store.MaxSecretLen), t0.Add(25*time.Hour)
	must(t, "PutWebhook with a previous secret", wh.PutWebhook(ctx, w3))
	w3.PreviousSecret[0] = 9 // the caller's slice is not the store's
	got, err = wh.GetWebhook(ctx, "acme")
	must(t, "GetWebhook with a previous secret", err)
	if !bytes.Equal(got.Secret, []byte{3}) || !bytes.Equal(got.PreviousSecret, bytes.Repeat([]byte{4}, store.MaxSecretLen)) {
		t.Errorf("webhook with a previous secret read back = %+v", got)
	}
	checkTime(t, "PreviousUntil", got.PreviousUntil, t0.Add(25*time.Hour))
	got.PreviousSecret[1] = 9
	if again, _ := wh.GetWebhook(ctx, "acme"); again.PreviousSecret[1] != 4 {
		t.Error("the previous secret's slice GetWebhook returned is the store's")
	}
	must(t, "PutWebhook without a previous secret", wh.PutWebhook(ctx, w2))
	if got, _ := wh.GetWebhook(ctx, "acme"); len(got.PreviousSecret) != 0 || !got.PreviousUntil.IsZero() {
		t.Errorf("a previous secret survived its replacement by none: %+v", got)
	}
	if _, err := wh.GetWebhook(ctx, "acm"); err == nil {
		t.Error("another tenant's webhook found by a prefix")
	}
	for name, bad := range map[string]store.Webhook{
		"bad tenant": {Tenant: "Acme", URL: "https://x.example.com/", Secret: []byte{1}},
		"no URL":     {Tenant: "acme", Secret: []byte{1}},
		"long URL":   {Tenant: "acme", URL: "https://x.example.com/" + strings.Repeat("a", store.MaxWebhookURLLen), Secret: []byte{1}},
		"NUL in URL": {Tenant: "acme", URL: "https://x.example.com/\x00", Secret: []byte{1}},
		"no secret":  {Tenant: "acme", URL: "https://x.example.com/"},
		"long previous secret": {Tenant: "acme", URL: "https://x.example.com/", Secret: []byte{1},
			PreviousSecret: make([]byte, store.MaxSecretLen+1), PreviousUntil: t0},
		"previous secret without its end":  {Tenant: "acme", URL: "https://x.example.com/", Secret: []byte{1}, PreviousSecret: []byte{2}},
		"an end without a previous secret": {Tenant: "acme", URL: "https://x.example.com/", Secret: []byte{1}, PreviousUntil: t0},
	} {
		checkRefused(t, "PutWebhook, "+name, wh.PutWebhook(ctx, bad))
	}

	// Deleting the webhook drops its pending deliveries, not another tenant's.
	must(t, "PutWebhook globex", wh.PutWebhook(ctx, store.Webhook{Tenant: "globex", URL: "https://g.example.com/", Secret: []byte{2}, CreatedAt: t0}))
	must(t, "AddDelivery", wh.AddDelivery(ctx, delivery("acme", 1, t0)))
	must(t, "AddDelivery", wh.AddDelivery(ctx, delivery("globex", 1, t0)))
	must(t, "DeleteWebhook", wh.DeleteWebhook(ctx, "acme"))
	_, err = wh.GetWebhook(ctx, "acme")
	checkIs(t, "GetWebhook after delete", err, store.ErrNotFound)
	claimed, err := wh.ClaimDeliveries(ctx, t0.Add(time.Minute), time.Minute, 10)
	must(t, "ClaimDeliveries", err)
	if len(claimed) != 1 || claimed[0].Tenant != "globex" {
		t.Errorf("after acme's webhook was deleted, claimed %+v; want globex's only", claimed)
	}
}

// testDeliveries: the outbox's contract: one delivery per key, claims due
// and unleased only, oldest due first, leases, retries, completion, prune.
func testDeliveries(t *testing.T, s store.Store) {
	wh := webhooksOf(t, s)
	ctx := ctxFor(t)
	list, err := wh.ClaimDeliveries(ctx, t0, time.Minute, 5)
	must(t, "ClaimDeliveries of an empty outbox", err)
	if len(list) != 0 {
		t.Errorf("claimed %d of an empty outbox", len(list))
	}
	d1, d2, d3 := delivery("acme", 1, t0.Add(2*time.Second)), delivery("acme", 2, t0), delivery("acme", 3, t0.Add(time.Hour))
	d1.Body = []byte(`{"text":"«é» <&>"}`)
	for _, d := range []store.Delivery{d1, d2, d3} {
		must(t, "AddDelivery "+d.ID, wh.AddDelivery(ctx, d))
	}
	dupKey := delivery("acme", 9, t0)
	dupKey.Key = d1.Key
	checkIs(t, "AddDelivery of a key already queued", wh.AddDelivery(ctx, dupKey), store.ErrExists)
	dupID := delivery("acme", 9, t0)
	dupID.ID = d1.ID
	checkIs(t, "AddDelivery of an id already queued", wh.AddDelivery(ctx, dupID), store.ErrExists)
	otherTenant := delivery("globex", 9, t0.Add(time.Hour))
	otherTenant.Key = d1.Key
	must(t, "AddDelivery of another tenant's same key", wh.AddDelivery(ctx, otherTenant))

	got, err := wh.ClaimDeliveries(ctx, t0.Add(10*time.Second), time.Minute, 5)
	must(t, "ClaimDeliveries", err)
	if len(got) != 2 || got[0].ID != d2.ID || got[1].ID != d1.ID {
		t.Fatalf("claimed %+v; want %s then %s (due, oldest first)", got, d2.ID, d1.ID)
	}
	if !bytes.Equal(got[1].Body, d1.Body) || got[1].Key != d1.Key || got[1].Tenant != "acme" || got[1].Attempts != 0 || got[1].Lease == "" || got[0].Lease == got[1].Lease {
		t.Errorf("claimed delivery read back = %+v", got[1])
	}
	checkTime(t, "CreatedAt", got[1].CreatedAt, t0)
	checkTime(t, "NextAt", got[1].NextAt, d1.NextAt)
	if again, _ := wh.ClaimDeliveries(ctx, t0.Add(20*time.Second), time.Minute, 5); len(again) != 0 {
		t.Errorf("claimed again while leased: %+v", again)
	}

	// A retry counts the attempt, keeps the error and releases until next.
	must(t, "RetryDelivery", wh.RetryDelivery(ctx, d1.ID, got[1].Lease, t0.Add(5*time.Minute), "answered 503"))
	checkIs(t, "RetryDelivery with the spent lease", wh.RetryDelivery(ctx, d1.ID, got[1].Lease, t0, "x"), store.ErrConflict)
	checkIs(t, "CompleteDelivery with a wrong lease", wh.CompleteDelivery(ctx, d2.ID, "not-the-lease"), store.ErrConflict)
	checkIs(t, "CompleteDelivery of no delivery", wh.CompleteDelivery(ctx, "evt_none", "lease"), store.ErrNotFound)
	must(t, "CompleteDelivery", wh.CompleteDelivery(ctx, d2.ID, got[0].Lease))
	checkIs(t, "CompleteDelivery twice", wh.CompleteDelivery(ctx, d2.ID, got[0].Lease), store.ErrConflict)
	checkIs(t, "AddDelivery of a delivered key", wh.AddDelivery(ctx, delivery("acme", 2, t0)), store.ErrExists)

	if early, _ := wh.ClaimDeliveries(ctx, t0.Add(4*time.Minute), time.Minute, 5); len(early) != 0 {
		t.Errorf("claimed before its retry was due: %+v", early)
	}
	late, err := wh.ClaimDeliveries(ctx, t0.Add(5*time.Minute), time.Minute, 5)
	must(t, "ClaimDeliveries after the retry's time", err)
	if len(late) != 1 || late[0].ID != d1.ID || late[0].Attempts != 1 || late[0].LastError != "answered 503" {
		t.Fatalf("claimed %+v; want %s after 1 attempt", late, d1.ID)
	}
	// A claimant that died: its lease passes and another claims it.
	stolen, err := wh.ClaimDeliveries(ctx, t0.Add(7*time.Minute), time.Minute, 5)
	must(t, "ClaimDeliveries after the lease passed", err)
	if len(stolen) != 1 || stolen[0].ID != d1.ID || stolen[0].Lease == late[0].Lease {
		t.Fatalf("claimed %+v after the lease passed", stolen)
	}
	checkIs(t, "CompleteDelivery by the first claimant", wh.CompleteDelivery(ctx, d1.ID, late[0].Lease), store.ErrConflict)
	must(t, "CompleteDelivery by the second", wh.CompleteDelivery(ctx, d1.ID, stolen[0].Lease))

	// max bounds a claim; the rest stay for the next.
	lots, err := wh.ClaimDeliveries(ctx, t0.Add(2*time.Hour), time.Minute, 1)
	must(t, "ClaimDeliveries of 1", err)
	if len(lots) != 1 {
		t.Errorf("claimed %d with max 1", len(lots))
	}

	long := delivery("acme", 7, t0)
	long.LastError = strings.Repeat("é", store.MaxDeliveryError)
	for name, bad := range map[string]store.Delivery{
		"bad tenant":  {ID: "evt_x", Tenant: "", Key: "k", Body: []byte("{}")},
		"no id":       {Tenant: "acme", Key: "k", Body: []byte("{}")},
		"space in id": {ID: "evt x", Tenant: "acme", Key: "k", Body: []byte("{}")},
		"no key":      {ID: "evt_x", Tenant: "acme", Body: []byte("{}")},
		"no body":     {ID: "evt_x", Tenant: "acme", Key: "k"},
		"huge body":   {ID: "evt_x", Tenant: "acme", Key: "k", Body: make([]byte, store.MaxDeliveryBodyLen+1)},
		"long error":  long,
	} {
		checkRefused(t, "AddDelivery, "+name, wh.AddDelivery(ctx, bad))
	}
	_, err = wh.ClaimDeliveries(ctx, t0, 0, 1)
	checkRefused(t, "ClaimDeliveries without a lease", err)

	n, err := wh.PruneDeliveries(ctx, t0.Add(time.Second))
	must(t, "PruneDeliveries", err)
	if n != 4 {
		t.Errorf("pruned %d; want the 4 created at t0", n)
	}
	must(t, "AddDelivery of a pruned key", wh.AddDelivery(ctx, delivery("acme", 2, t0)))
}

// sharedDeliveryClaims: 8 claimants over two values of one store, 40 due
// deliveries: each is claimed by exactly one.
func sharedDeliveryClaims(t *testing.T, stores []store.Store) {
	const claimants, deliveries = 8, 40
	ctx := ctxFor(t)
	whs := make([]store.Webhooks, len(stores))
	for i, s := range stores {
		whs[i] = webhooksOf(t, s)
	}
	for i := range deliveries {
		must(t, "AddDelivery", whs[i%2].AddDelivery(ctx, delivery("acme", i, t0)))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := range claimants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := whs[i%2].ClaimDeliveries(ctx, t0.Add(time.Minute), time.Hour, 3)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != deliveries {
		t.Errorf("%d deliveries claimed of %d", len(seen), deliveries)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	// The same key added through both values at once: one wins.
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := delivery("acme", 100, t0)
			d.ID = fmt.Sprintf("evt_race_%d", i)
			errs[i] = whs[i].AddDelivery(ctx, d)
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("two adds of one key: %v, %v; want exactly one to succeed", errs[0], errs[1])
	}
}
