package keyring

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

var oauthNow = time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)

func tokenHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testToken(name, kind, family, account string) store.OAuthToken {
	t := store.OAuthToken{
		Hash: tokenHash(name), Kind: kind, Family: family, Tenant: "acme", Provider: "google", Account: account,
		Client: "https://client.example/metadata.json", Resource: "https://mail.example/t/acme/mcp", Scopes: []string{"mcp"},
		CreatedAt: oauthNow, ExpiresAt: oauthNow.Add(15 * time.Minute),
	}
	if kind == store.OAuthRequest {
		t.Account = ""
	}
	if kind == store.OAuthRequest || kind == store.OAuthCode {
		t.RedirectURI, t.Challenge, t.State = "http://127.0.0.1:3334/cb", strings.Repeat("c", 43), "st<&>\"ate"
	}
	return t
}

func mustPutToken(t *testing.T, s *Store, tok store.OAuthToken) {
	t.Helper()
	if err := s.PutOAuthToken(context.Background(), tok); err != nil {
		t.Fatalf("PutOAuthToken %s: %v", tok.Kind, err)
	}
}

func TestOAuthClients(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	for _, c := range []store.OAuthClient{
		{ID: "mcc_aaaaaaaaaaaaaaaaaaaaaa", SecretHash: tokenHash("secret"), Metadata: []byte(`{"client_name":"A <b>","redirect_uris":["https://x/cb"]}`), CreatedAt: oauthNow},
		{ID: "mcc_bbbbbbbbbbbbbbbbbbbbbb", Metadata: []byte("{\n  \"client_name\": \"indented\"\n}"), CreatedAt: oauthNow},
		{ID: "https://client.example/meta?x=\"q\"", Metadata: []byte("not json \u2028"), CreatedAt: oauthNow},
		{ID: "mcc_cccccccccccccccccccccc", CreatedAt: oauthNow},
	} {
		if err := s.PutOAuthClient(ctx, c); err != nil {
			t.Fatalf("PutOAuthClient %s: %v", c.ID, err)
		}
		got, err := s.GetOAuthClient(ctx, c.ID)
		if err != nil || got.ID != c.ID || got.SecretHash != c.SecretHash || !bytes.Equal(got.Metadata, c.Metadata) ||
			(got.Metadata == nil) != (c.Metadata == nil) || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("GetOAuthClient %s = %+v, %v; want %+v", c.ID, got, err, c)
		}
		if err := s.PutOAuthClient(ctx, c); !errors.Is(err, store.ErrExists) {
			t.Errorf("second PutOAuthClient %s: %v, want ErrExists", c.ID, err)
		}
	}
	if _, err := s.GetOAuthClient(ctx, "mcc_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOAuthClient of no client: %v", err)
	}
	if _, err := s.GetOAuthClient(ctx, "bad id"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOAuthClient of an invalid id: %v", err)
	}
	big := store.OAuthClient{ID: "mcc_big", Metadata: []byte(`{"client_name":"` + strings.Repeat("x", 2000) + `"}`)}
	if err := s.PutOAuthClient(ctx, big); err == nil || !strings.Contains(err.Error(), "at most 2048") {
		t.Errorf("PutOAuthClient of %d bytes of metadata: %v; want a refusal naming the limit", len(big.Metadata), err)
	}
	if _, err := s.GetOAuthClient(ctx, big.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused client was written: %v", err)
	}
}

// An item copied under another client's key is not trusted.
func TestOAuthClientCopiedItem(t *testing.T) {
	ctx := context.Background()
	kv := NewMemory()
	s := New(kv)
	if err := s.PutOAuthClient(ctx, store.OAuthClient{ID: "mcc_a", CreatedAt: oauthNow}); err != nil {
		t.Fatal(err)
	}
	data, _ := kv.Get(ctx, oauthClientKey("mcc_a"))
	kv.Set(ctx, oauthClientKey("mcc_b"), data)
	if _, err := s.GetOAuthClient(ctx, "mcc_b"); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("a copied item: %v, want ErrDamaged", err)
	}
}

func TestOAuthTokens(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	fam := "family-aaaaaaaaaaaaaaaa"
	req := testToken("req", store.OAuthRequest, fam, "")
	req.Scopes = nil
	code := testToken("code", store.OAuthCode, fam, "x@acme.com")
	code.Scopes = []string{}
	for _, tok := range []store.OAuthToken{req, code} {
		mustPutToken(t, s, tok)
		got, err := s.GetOAuthToken(ctx, tok.Hash)
		if err != nil || got.Kind != tok.Kind || got.State != tok.State || got.Account != tok.Account ||
			(got.Scopes == nil) != (tok.Scopes == nil) || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.SpentAt.IsZero() {
			t.Errorf("GetOAuthToken %s = %+v, %v", tok.Kind, got, err)
		}
	}
	if err := s.PutOAuthToken(ctx, code); !errors.Is(err, store.ErrExists) {
		t.Errorf("second put: %v, want ErrExists", err)
	}
	other := testToken("other", store.OAuthCode, fam, "x@acme.com")
	other.Tenant = "beta"
	if err := s.PutOAuthToken(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a token of another tenant in the family: %v, want ErrConflict", err)
	}

	// Spending: one first, every racer after sees it spent.
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, first, err := s.SpendOAuthToken(ctx, code.Hash, oauthNow.Add(time.Second))
			switch {
			case err != nil:
				t.Error(err)
			case first && !got.SpentAt.IsZero():
				t.Error("the first spend returned a spent record")
			case first:
				firsts.Add(1)
			case !got.SpentAt.Equal(oauthNow.Add(time.Second)):
				t.Errorf("a later spend returned SpentAt %v", got.SpentAt)
			}
		}()
	}
	wg.Wait()
	if n := firsts.Load(); n != 1 {
		t.Errorf("%d spends were first, want 1", n)
	}
	if _, _, err := s.SpendOAuthToken(ctx, tokenHash("none"), oauthNow); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("spending no token: %v", err)
	}

	if err := s.DeleteOAuthToken(ctx, req.Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOAuthToken(ctx, req.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if keys, _ := s.kv.List(ctx, oauthMembersPrefix(fam)); len(keys) != 1 {
		t.Errorf("members after deleting one of two tokens: %q", keys)
	}
	for _, h := range []string{"", "ABC", strings.Repeat("g", 64)} {
		if _, err := s.GetOAuthToken(ctx, h); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetOAuthToken(%q): %v", h, err)
		}
	}
}

func TestOAuthRevokeFamily(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	fam, keep := "family-aaaaaaaaaaaaaaaa", "family-bbbbbbbbbbbbbbbb"
	for i, kind := range []string{store.OAuthRequest, store.OAuthCode, store.OAuthAccess, store.OAuthRefresh} {
		mustPutToken(t, s, testToken("f"+kind, kind, fam, "x@acme.com"))
		if i > 0 {
			mustPutToken(t, s, testToken("k"+kind, kind, keep, "x@acme.com"))
		}
	}
	n, err := s.RevokeOAuthFamily(ctx, fam, oauthNow.Add(time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("RevokeOAuthFamily = %d, %v; want 4", n, err)
	}
	if _, err := s.GetOAuthToken(ctx, tokenHash("f"+store.OAuthAccess)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token: %v", err)
	}
	if _, err := s.GetOAuthToken(ctx, tokenHash("k"+store.OAuthAccess)); err != nil {
		t.Errorf("another family's token: %v", err)
	}
	if err := s.PutOAuthToken(ctx, testToken("late", store.OAuthAccess, fam, "x@acme.com")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a put into the revoked family: %v, want ErrConflict", err)
	}
	// A family never seen is revoked too: later puts are refused.
	if n, err := s.RevokeOAuthFamily(ctx, "family-nevernevernever", oauthNow.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("revoking an unknown family: %d, %v", n, err)
	}
	if err := s.PutOAuthToken(ctx, testToken("x", store.OAuthCode, "family-nevernevernever", "x@acme.com")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a put into a family revoked before its first token: %v", err)
	}
	if _, err := s.RevokeOAuthFamily(ctx, "short", oauthNow); err == nil {
		t.Error("an invalid family was accepted")
	}
}

func TestOAuthRevokeAccountAndTenant(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	put := func(name, tenant, family, account string) {
		tok := testToken(name, store.OAuthAccess, family, account)
		tok.Tenant = tenant
		mustPutToken(t, s, tok)
	}
	// Family a: a request (no account) then tokens of x; b: y's; c: x's in
	// tenant "acme-2" (same account name, other tenant).
	mustPutToken(t, s, testToken("a0", store.OAuthRequest, "family-aaaaaaaaaaaaaaaa", ""))
	put("a1", "acme", "family-aaaaaaaaaaaaaaaa", "x@acme.com")
	put("a2", "acme", "family-aaaaaaaaaaaaaaaa", "x@acme.com")
	put("b1", "acme", "family-bbbbbbbbbbbbbbbb", "y@acme.com")
	put("c1", "acme-2", "family-cccccccccccccccc", "x@acme.com")
	n, err := s.RevokeOAuthAccount(ctx, store.GrantKey{Tenant: "acme", Provider: "google", Account: "x@acme.com"})
	if err != nil || n != 3 {
		t.Fatalf("RevokeOAuthAccount = %d, %v; want 3", n, err)
	}
	for name, want := range map[string]bool{"a0": false, "a1": false, "b1": true, "c1": true} {
		if _, err := s.GetOAuthToken(ctx, tokenHash(name)); (err == nil) != want {
			t.Errorf("token %s after revoking x@acme.com: %v", name, err)
		}
	}
	if err := s.PutOAuthToken(ctx, testToken("a3", store.OAuthRefresh, "family-aaaaaaaaaaaaaaaa", "x@acme.com")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a put into a family of the revoked account: %v", err)
	}
	if n, err := s.RevokeOAuthTenant(ctx, "acme"); err != nil || n != 1 {
		t.Errorf("RevokeOAuthTenant = %d, %v; want 1", n, err)
	}
	if _, err := s.GetOAuthToken(ctx, tokenHash("c1")); err != nil {
		t.Errorf("the other tenant's token: %v", err)
	}
}

func TestOAuthPrune(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	cutoff := oauthNow.Add(time.Hour).Add(500 * time.Millisecond)
	exp := func(name, family string, at time.Time) string {
		tok := testToken(name, store.OAuthAccess, family, "x@acme.com")
		tok.ExpiresAt = at
		mustPutToken(t, s, tok)
		return tok.Hash
	}
	gone := exp("old", "family-aaaaaaaaaaaaaaaa", oauthNow.Add(time.Minute))
	sameSecondBefore := exp("ssb", "family-aaaaaaaaaaaaaaaa", cutoff.Add(-100*time.Millisecond))
	sameSecondAfter := exp("ssa", "family-bbbbbbbbbbbbbbbb", cutoff.Add(100*time.Millisecond))
	later := exp("later", "family-cccccccccccccccc", oauthNow.Add(2*time.Hour))
	// d's mark lasts past the 30 minutes asked, until its token's expiry,
	// still before the cutoff.
	exp("revoked", "family-dddddddddddddddd", oauthNow.Add(45*time.Minute))
	if _, err := s.RevokeOAuthFamily(ctx, "family-dddddddddddddddd", oauthNow.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeOAuthFamily(ctx, "family-eeeeeeeeeeeeeeee", oauthNow.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// 2 tokens and the mark of family d (until before the cutoff).
	n, err := s.PruneOAuth(ctx, cutoff)
	if err != nil || n != 3 {
		t.Fatalf("PruneOAuth = %d, %v; want 3", n, err)
	}
	for h, want := range map[string]bool{gone: false, sameSecondBefore: false, sameSecondAfter: true, later: true} {
		if _, err := s.GetOAuthToken(ctx, h); (err == nil) != want {
			t.Errorf("token %s… after the prune: %v, want found %v", h[:8], err, want)
		}
	}
	// Family a's head went with its last token; d's mark ended; e's holds.
	heads, _ := s.kv.List(ctx, oauthFamilyPrefix)
	want := []string{oauthFamilyKey("family-bbbbbbbbbbbbbbbb"), oauthFamilyKey("family-cccccccccccccccc"), oauthFamilyKey("family-eeeeeeeeeeeeeeee")}
	if strings.Join(heads, ",") != strings.Join(want, ",") {
		t.Errorf("heads after the prune: %q, want %q", heads, want)
	}
	if err := s.PutOAuthToken(ctx, testToken("d2", store.OAuthAccess, "family-dddddddddddddddd", "x@acme.com")); err != nil {
		t.Errorf("a put after the family's mark was pruned: %v", err)
	}
}

// A process killed between writes leaves nothing usable behind: a member
// without a token (killed inside PutOAuthToken) and tokens of a marked
// family (killed inside a revocation).
func TestOAuthCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemory())
	fam := "family-aaaaaaaaaaaaaaaa"
	tok := testToken("t1", store.OAuthRefresh, fam, "x@acme.com")
	mustPutToken(t, s, tok)
	dangling := oauthMemberKey(fam, oauthNow, tokenHash("never written"))
	if err := s.kv.Set(ctx, dangling, []byte{}); err != nil {
		t.Fatal(err)
	}
	// The mark written, the tokens not yet deleted.
	data, _ := encodeFamily(familyItem{Family: fam, Tenant: "acme", ExpiresAt: tok.ExpiresAt, RevokedUntil: tok.ExpiresAt})
	s.kv.Set(ctx, oauthFamilyKey(fam), data)
	if _, err := s.GetOAuthToken(ctx, tok.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a token of a marked family: %v, want ErrNotFound", err)
	}
	if _, _, err := s.SpendOAuthToken(ctx, tok.Hash, oauthNow); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("spending a token of a marked family: %v, want ErrNotFound", err)
	}
	// Revoking again finishes the job and counts the one real token.
	if n, err := s.RevokeOAuthFamily(ctx, fam, oauthNow); err != nil || n != 1 {
		t.Errorf("revoking again = %d, %v; want 1", n, err)
	}
	if keys, _ := s.kv.List(ctx, "oauth-"); strings.Join(keys, ",") != oauthFamilyKey(fam) {
		t.Errorf("items left: %q, want only the mark", keys)
	}
}

// Two Stores over one file keyring folder, each with its own KV, as two
// processes sharing it (the lock file is the process's one, as it is for
// every Store of a process; crossprocess_test.go runs real processes).
func TestStoreSharedFile(t *testing.T) {
	if testing.Short() {
		t.Skip("the shared suite on the file keyring takes seconds; skipped in -short mode")
	}
	noTTY(t)
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dir := filepath.Join(t.TempDir(), "keyring")
		cfg := Config{Backend: "file", Dir: dir, Password: "pw"}
		return LazyStore(cfg, nil), LazyStore(cfg, nil)
	})
}
