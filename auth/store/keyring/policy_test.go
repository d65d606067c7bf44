package keyring

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// SharedAccounts round-trips, is left out of the item when false (as older
// releases wrote it), and an item from before the field reads as false.
func TestPolicySharedAccounts(t *testing.T) {
	ctx := context.Background()
	kv := NewMemory()
	s := New(kv)
	// An item as a release before shared_accounts wrote it.
	old := []byte(`{"tenant":"acme","version":3,"allowed_signins":["*@acme.com"],"updated_at":"2026-11-28T20:02:24Z"}`)
	if err := kv.Set(ctx, policyKey("acme"), old); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetPolicy(ctx, "acme")
	if err != nil || p.SharedAccounts || p.Version != 3 || len(p.AllowedSignins) != 1 {
		t.Fatalf("old item: %+v, %v; want version 3, SharedAccounts false", p, err)
	}
	p.SharedAccounts = true
	p.UpdatedAt = time.Date(2026, 11, 29, 1, 2, 3, 0, time.UTC)
	v, err := s.PutPolicy(ctx, p)
	if err != nil || v != 4 {
		t.Fatalf("PutPolicy: %d, %v", v, err)
	}
	data, _ := kv.Get(ctx, policyKey("acme"))
	if !bytes.Contains(data, []byte(`"shared_accounts":true`)) {
		t.Errorf("item %s does not hold shared_accounts", data)
	}
	if got, err := s.GetPolicy(ctx, "acme"); err != nil || !got.SharedAccounts || got.Version != 4 {
		t.Errorf("after PutPolicy: %+v, %v; want SharedAccounts true at version 4", got, err)
	}
	p.Version, p.SharedAccounts = 4, false
	if _, err := s.PutPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	data, _ = kv.Get(ctx, policyKey("acme"))
	if bytes.Contains(data, []byte("shared_accounts")) {
		t.Errorf("a policy that shares nothing wrote %s; want the field left out", data)
	}
	if got, err := s.GetPolicy(ctx, "acme"); err != nil || got.SharedAccounts {
		t.Errorf("after sharing off: %+v, %v", got, err)
	}
	var _ store.Policies = s
}
