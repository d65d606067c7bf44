package keyring

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// putClients registers clients created a week before oauthNow.
func putClients(t *testing.T, s *Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		c := store.OAuthClient{ID: id, Metadata: []byte(`{}`), CreatedAt: oauthNow.Add(-7 * 24 * time.Hour)}
		if err := s.PutOAuthClient(context.Background(), c); err != nil {
			t.Fatalf("PutOAuthClient %s: %v", id, err)
		}
	}
}

// clientKept reports whether a client is still registered.
func clientKept(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, err := s.GetOAuthClient(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOAuthClient %s: %v", id, err)
	}
	return err == nil
}

// A family's head names the digest of each client its tokens name, and
// only once.
func TestOAuthFamilyHeadClients(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	a := testToken("a1", store.OAuthAccess, "family-clients-0001", "x@y.com")
	a.Client = "mcc_aaaaaaaaaaaaaaaaaaaaaa"
	mustPutToken(t, s, a)
	a.Hash = tokenHash("a2")
	mustPutToken(t, s, a)
	b := testToken("b1", store.OAuthRefresh, "family-clients-0001", "x@y.com")
	b.Client = "mcc_bbbbbbbbbbbbbbbbbbbbbb"
	mustPutToken(t, s, b)
	f, err := s.getFamily(ctx, a.Family)
	if err != nil || f == nil {
		t.Fatalf("getFamily = %v, %v", f, err)
	}
	if want := []string{clientDigest(a.Client), clientDigest(b.Client)}; !slices.Equal(f.Clients, want) {
		t.Errorf("head's clients = %q, want %q", f.Clients, want)
	}
}

// A head written before heads named clients, and a damaged head: the
// family's tokens tell which clients are in use. Its new tokens do not
// make a legacy head look complete.
func TestOAuthPruneClientsLegacyAndDamagedHeads(t *testing.T) {
	ctx := context.Background()
	kv := NewMemory()
	s := New(kv)
	putClients(t, s, "mcc_legacy", "mcc_legacy-later", "mcc_damaged", "mcc_unused")
	legacy := testToken("legacy", store.OAuthRefresh, "family-legacy-00001", "x@y.com")
	legacy.Client = "mcc_legacy"
	mustPutToken(t, s, legacy)
	// Rewrite the head as an older mailcal wrote it: without clients.
	f, err := s.getFamily(ctx, legacy.Family)
	if err != nil || f == nil {
		t.Fatal(f, err)
	}
	f.Clients = nil
	data, err := encodeFamily(*f)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Set(ctx, oauthFamilyKey(legacy.Family), data); err != nil {
		t.Fatal(err)
	}
	later := testToken("legacy-later", store.OAuthAccess, legacy.Family, "x@y.com")
	later.Client = "mcc_legacy-later"
	mustPutToken(t, s, later)
	if f, _ := s.getFamily(ctx, legacy.Family); f == nil || f.Clients != nil {
		t.Fatalf("a legacy head after a new token = %+v; want it still without clients", f)
	}

	damagedTok := testToken("damaged", store.OAuthRefresh, "family-damaged-0001", "x@y.com")
	damagedTok.Client = "mcc_damaged"
	mustPutToken(t, s, damagedTok)
	if err := kv.Set(ctx, oauthFamilyKey(damagedTok.Family), []byte("{not json")); err != nil {
		t.Fatal(err)
	}

	n, err := s.PruneOAuthClients(ctx, oauthNow)
	if err != nil || n != 1 {
		t.Errorf("PruneOAuthClients = %d, %v; want 1 (the unused client)", n, err)
	}
	for id, want := range map[string]bool{"mcc_legacy": true, "mcc_legacy-later": true, "mcc_damaged": true, "mcc_unused": false} {
		if got := clientKept(t, s, id); got != want {
			t.Errorf("client %s kept = %v, want %v", id, got, want)
		}
	}
}

// A client whose first sign-in begins between the lock-free read of the
// heads and the delete is kept: the delete reads the heads of families
// begun since, under the store lock.
func TestOAuthPruneClientsFirstUseDuringPrune(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	putClients(t, s, "mcc_first-use", "mcc_unused")
	used, seen := map[string]bool{}, map[string]bool{}
	if err := s.clientsInUse(ctx, used, seen); err != nil {
		t.Fatal(err)
	}
	req := testToken("first-use", store.OAuthRequest, "family-first-use-01", "")
	req.Client = "mcc_first-use"
	mustPutToken(t, s, req)
	keys := []string{oauthClientKey("mcc_first-use"), oauthClientKey("mcc_unused")}
	n, err := s.pruneClients(ctx, keys, oauthNow, used, seen)
	if err != nil || n != 1 {
		t.Errorf("pruneClients = %d, %v; want 1", n, err)
	}
	if !clientKept(t, s, "mcc_first-use") || clientKept(t, s, "mcc_unused") {
		t.Errorf("after the prune: the client used meanwhile must stay, the unused one go")
	}
}

// More clients than one batch: all pruned, each batch under its own hold
// of the lock.
func TestOAuthPruneClientsBatches(t *testing.T) {
	s := New(NewMemory())
	var ids []string
	for i := range pruneClientBatch*2 + 3 {
		ids = append(ids, "mcc_batch-"+strconv.Itoa(i))
	}
	putClients(t, s, ids...)
	keep := testToken("batch", store.OAuthAccess, "family-batch-000001", "x@y.com")
	keep.Client = ids[pruneClientBatch+1]
	mustPutToken(t, s, keep)
	n, err := s.PruneOAuthClients(context.Background(), oauthNow)
	if err != nil || n != len(ids)-1 {
		t.Errorf("PruneOAuthClients = %d, %v; want %d", n, err, len(ids)-1)
	}
	if !clientKept(t, s, keep.Client) {
		t.Errorf("the used client was pruned")
	}
}
