package keyring

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New(NewMemory()) })
}

// The file backend through LazyStore, as the server opens it. About 10 s
// under the race detector (a PBKDF2 for every read): not in -short runs.
func TestStoreConformanceFile(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite on the file keyring takes seconds; skipped in -short mode")
	}
	noTTY(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return LazyStore(Config{Backend: "file", Dir: filepath.Join(t.TempDir(), "keyring"), Password: "pw"}, nil)
	})
}

func TestLazyStore(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	var mu sync.Mutex
	var opened []string
	s := LazyStore(Config{Backend: "file", Dir: t.TempDir(), Password: "pw"}, func(b string) {
		mu.Lock()
		opened = append(opened, b)
		mu.Unlock()
	})
	if b := s.Backend(); b != "" {
		t.Errorf("Backend before first use = %q", b)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "t" + string(rune('a'+i))
			if err := s.CreateTenant(ctx, store.Tenant{Name: name, CreatedAt: time.Now()}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if !slices.Equal(opened, []string{"file"}) || s.Backend() != "file" {
		t.Errorf("onOpen calls %q, Backend %q; want one call with file", opened, s.Backend())
	}
	if ts, err := s.ListTenants(ctx); err != nil || len(ts) != 8 {
		t.Errorf("ListTenants = %v, %v", ts, err)
	}

	// A failed open is returned by the call, and not cached.
	dir := t.TempDir()
	bad := LazyStore(Config{Backend: "file", Dir: dir}, func(string) { t.Error("onOpen called for a failed open") })
	_, err := bad.ListTenants(ctx)
	if err == nil || !strings.Contains(err.Error(), "needs a passphrase") || bad.Backend() != "" {
		t.Errorf("ListTenants without a passphrase: %v (backend %q)", err, bad.Backend())
	}
	if _, err := bad.GetTenant(ctx, "acme"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("second call: %v, want the open error again", err)
	}
}

func TestOpenStore(t *testing.T) {
	noTTY(t)
	dir := t.TempDir()
	s, err := OpenStore(context.Background(), Config{Backend: "file", Dir: dir, Password: "pw"})
	if err != nil || s.Backend() != "file" {
		t.Fatalf("OpenStore: %v, %v", s, err)
	}
	if _, err := OpenStore(context.Background(), Config{Backend: "file", Dir: t.TempDir()}); err == nil {
		t.Error("OpenStore without a passphrase succeeded")
	}
}

func TestStoreLockHonoursContext(t *testing.T) {
	s := New(NewMemory())
	unlock, err := s.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	g := testGrant("x@y.com")
	if _, err := s.PutGrant(ctx, g); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PutGrant behind a held lock: %v", err)
	}
	unlock()
	if v, err := s.PutGrant(context.Background(), g); err != nil || v != 1 {
		t.Errorf("PutGrant after unlock: %d, %v", v, err)
	}
}

func testGrant(account string) store.Grant {
	return store.Grant{
		GrantKey:    store.GrantKey{Tenant: "acme", Provider: "google", Account: account},
		Secret:      []byte("1//0g-token"),
		Scopes:      []string{"openid"},
		ConnectedAt: time.Date(2026, 11, 28, 20, 2, 24, 0, time.UTC),
		Status:      store.StatusActive,
	}
}

// rawItem reads an item through the KV and decodes its JSON into a map.
func rawItem(t *testing.T, kv KV, key string) map[string]any {
	t.Helper()
	data, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("KV Get %q: %v", key, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("item %q: %v", key, err)
	}
	return m
}

func TestGrantItemLayout(t *testing.T) {
	ctx := context.Background()
	kv := NewMemory()
	s := New(kv)
	for _, tc := range []struct {
		account string
		secret  []byte
		field   string // where the secret goes
		value   string
	}{
		{"text@y.com", []byte("1//0gAbC-dEf_~+/=é"), "refresh_token", "1//0gAbC-dEf_~+/=é"},
		{"binary@y.com", []byte{0, 1, 0xff}, "secret_b64", "AAH/"},
		{"control@y.com", []byte("a\tb"), "secret_b64", base64.StdEncoding.EncodeToString([]byte("a\tb"))},
		{"quote@y.com", []byte(`a"b`), "secret_b64", base64.StdEncoding.EncodeToString([]byte(`a"b`))},
		{"empty@y.com", nil, "", ""},
	} {
		g := testGrant(tc.account)
		g.Secret = tc.secret
		if _, err := s.PutGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		m := rawItem(t, kv, "grant/acme/google/"+tc.account)
		for _, f := range []string{"refresh_token", "secret_b64"} {
			v, ok := m[f]
			if f == tc.field && v != tc.value || f != tc.field && ok {
				t.Errorf("%s: %s = %v (present %v)", tc.account, f, v, ok)
			}
		}
		if m["version"] != 1.0 || m["tenant"] != "acme" || m["provider"] != "google" || m["account"] != tc.account ||
			m["status"] != "active" || m["connected_at"] != "2026-11-28T20:02:24Z" {
			t.Errorf("%s: item %v", tc.account, m)
		}
		if _, ok := m["status_at"]; ok {
			t.Errorf("%s: a zero status_at is written", tc.account)
		}
	}

	// Accounts that cannot be a key segment, or make the key too long, go
	// under the SHA-256 of the account; the others under the account.
	odd := []string{"o'brien@y.com", "a!b@y.com", `"q"@y.com`, strings.Repeat("a", 180) + "@y.com"}
	for _, a := range odd {
		if _, err := s.PutGrant(ctx, testGrant(a)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := kv.List(ctx, "grant/acme/google/sha256/")
	if err != nil || len(keys) != len(odd) {
		t.Fatalf("hashed keys: %q, %v", keys, err)
	}
	for _, k := range keys {
		if !regexp.MustCompile(`^grant/acme/google/sha256/[0-9a-f]{64}$`).MatchString(k) {
			t.Errorf("hashed key %q", k)
		}
	}
	if m := rawItem(t, kv, grantKey(testGrant("o'brien@y.com").GrantKey)); m["account"] != "o'brien@y.com" {
		t.Errorf("hashed item names account %v", m["account"])
	}
	// An account named like the marker is an ordinary account.
	if _, err := s.PutGrant(ctx, testGrant("sha256")); err != nil {
		t.Fatal(err)
	}
	rawItem(t, kv, "grant/acme/google/sha256")
}

// The items of releases before the typed store (literal JSON, as they wrote
// it) read back, as version 1; writing them keeps the fields those releases
// read.
func TestStoreReadsOldItems(t *testing.T) {
	ctx := context.Background()
	kv := NewMemory()
	hash := strings.Repeat("ab", 32)
	old := map[string]string{
		"tenant/acme": `{"name":"acme","key_hash":"` + hash + `","created_at":"2026-11-28T20:02:24Z"}`,
		"grant/acme/google/x@y.com": `{"tenant":"acme","provider":"google","account":"x@y.com","refresh_token":"1//0gAbC-dEf_123",` +
			`"scopes":["https://www.googleapis.com/auth/gmail.modify","openid"],"connected_at":"2026-11-28T21:02:24.5+01:00","status":"active"}`,
		"grant/acme/google/z@y.com": `{"tenant":"acme","provider":"google","account":"z@y.com","scopes":null,` +
			`"connected_at":"2026-11-28T20:02:24Z","status":"needs_reauth","status_reason":"invalid_grant: Token has been expired or revoked.","status_at":"2026-11-29T08:00:00Z"}`,
	}
	for k, v := range old {
		if err := kv.Set(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	s := New(kv)
	tn, err := s.GetTenant(ctx, "acme")
	if err != nil || tn.Name != "acme" || tn.KeyHash != hash || !tn.CreatedAt.Equal(time.Date(2026, 11, 28, 20, 2, 24, 0, time.UTC)) {
		t.Errorf("GetTenant = %+v, %v", tn, err)
	}
	if ts, err := s.ListTenants(ctx); err != nil || len(ts) != 1 || ts[0] != tn {
		t.Errorf("ListTenants = %+v, %v", ts, err)
	}

	x, err := s.GetGrant(ctx, store.GrantKey{Tenant: "acme", Provider: "google", Account: "x@y.com"})
	if err != nil {
		t.Fatal(err)
	}
	connected := time.Date(2026, 11, 28, 20, 2, 24, 5e8, time.UTC)
	if x.Version != 1 || string(x.Secret) != "1//0gAbC-dEf_123" || !slices.Equal(x.Scopes, []string{"https://www.googleapis.com/auth/gmail.modify", "openid"}) ||
		x.ConnectedAt != connected || x.Status != "active" || x.StatusReason != "" || !x.StatusAt.IsZero() {
		t.Errorf("old grant x read as %+v", x)
	}
	list, err := s.ListGrants(ctx, "acme")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListGrants = %+v, %v", list, err)
	}
	z := list[1]
	if z.Account != "z@y.com" || z.Version != 1 || len(z.Secret) != 0 || z.Scopes != nil || z.Status != "needs_reauth" ||
		z.StatusReason != "invalid_grant: Token has been expired or revoked." || !z.StatusAt.Equal(time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("old grant z read as %+v", z)
	}

	// Written back at version 1: an item the old release still reads.
	x.StatusReason = "checked"
	if v, err := s.PutGrant(ctx, x); err != nil || v != 2 {
		t.Fatalf("PutGrant of an old grant: %d, %v", v, err)
	}
	// The old release reads the fields it knows, under their names.
	m := rawItem(t, kv, "grant/acme/google/x@y.com")
	at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m["connected_at"]))
	if m["tenant"] != "acme" || m["provider"] != "google" || m["account"] != "x@y.com" || m["refresh_token"] != "1//0gAbC-dEf_123" ||
		len(m["scopes"].([]any)) != 2 || !at.Equal(connected) || m["status"] != "active" || m["status_reason"] != "checked" {
		t.Errorf("rewritten item as the old release reads it: %v", m)
	}
	if m["version"] != 2.0 {
		t.Errorf("rewritten item: version %v", m["version"])
	}
	if err := s.DeleteGrant(ctx, z.GrantKey, 1); err != nil {
		t.Errorf("DeleteGrant of an old grant at version 1: %v", err)
	}
}

// captureLog sends slog's default logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

// Items that name another record than their key, or do not decode, are
// refused by reads naming the item, skipped by listings with a warning,
// and can be deleted.
func TestStoreRefusesUntrustedItems(t *testing.T) {
	ctx := context.Background()
	kv := NewMemory()
	s := New(kv)
	good := testGrant("good@y.com")
	if _, err := s.PutGrant(ctx, good); err != nil {
		t.Fatal(err)
	}
	otherTenant, _ := marshalGrant(store.Grant{GrantKey: store.GrantKey{Tenant: "evil", Provider: "google", Account: "a@y.com"}, Status: "active"}, 1)
	otherAccount, _ := marshalGrant(testGrant("b@y.com"), 1)
	hashedOther, _ := marshalGrant(testGrant("o'brien@y.com"), 1)
	bad := map[string]struct{ data, why string }{
		"a@y.com":       {string(otherTenant), `names grant "evil/google/a@y.com", not the record its key names: not trusted`},
		"c@y.com":       {string(otherAccount), `names grant "acme/google/b@y.com"`},
		"json@y.com":    {`{"tenant":"acme","refresh_token":"s3cret`, "is damaged: not valid JSON"},
		"type@y.com":    {`{"tenant":"acme","scopes":"s3cret"}`, `is damaged: field "scopes" holds a JSON string`},
		"time@y.com":    {`{"tenant":"acme","provider":"google","account":"time@y.com","connected_at":"s3cret"}`, "is damaged: a time is not in RFC 3339 format"},
		"version@y.com": {`{"tenant":"acme","provider":"google","account":"version@y.com","version":-2}`, "is damaged: negative version"},
		"b64@y.com":     {`{"tenant":"acme","provider":"google","account":"b64@y.com","secret_b64":"s3cret!"}`, `"secret_b64" is not base64`},
		"both@y.com":    {`{"tenant":"acme","provider":"google","account":"both@y.com","secret_b64":"AA==","refresh_token":"s3cret"}`, `both "refresh_token" and "secret_b64"`},
		"x'y@y.com":     {string(hashedOther), `names grant "acme/google/o'brien@y.com"`}, // a hashed item under another hash
	}
	for account, b := range bad {
		if err := kv.Set(ctx, grantKey(testGrant(account).GrantKey), []byte(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	log := captureLog(t)
	list, err := s.ListGrants(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].Account != "good@y.com" {
		t.Errorf("ListGrants with untrusted items = %+v, %v; want only the good grant", list, err)
	}
	for account, b := range bad {
		k := testGrant(account).GrantKey
		item := grantKey(k)
		_, err := s.GetGrant(ctx, k)
		if err == nil || !strings.Contains(err.Error(), `keyring item "`+item+`" `) || !strings.Contains(err.Error(), b.why) ||
			errors.Is(err, store.ErrNotFound) || !errors.Is(err, store.ErrDamaged) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("GetGrant of %s: %v; want it to name %q and say %q, without the item's content", account, err, item, b.why)
		}
		if !strings.Contains(log.String(), item) {
			t.Errorf("no warning names %q:\n%s", item, log)
		}
		// A write over it fails with its error, not ErrConflict (a retry loop would spin).
		g := testGrant(account)
		g.Version = 1
		if _, err := s.PutGrant(ctx, g); err == nil || errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), item) {
			t.Errorf("PutGrant over %s: %v", item, err)
		}
		if err := s.DeleteGrant(ctx, k, 1); err == nil || !strings.Contains(err.Error(), item) {
			t.Errorf("DeleteGrant at version 1 of %s: %v", item, err)
		}
		if err := s.DeleteGrant(ctx, k, 0); err != nil {
			t.Errorf("DeleteGrant at version 0 of %s: %v", item, err)
		}
	}

	// Tenants.
	kv.Set(ctx, "tenant/acme", []byte(`{"name":"beta","key_hash":"x"}`))
	kv.Set(ctx, "tenant/broken", []byte(`{"name":`))
	kv.Set(ctx, "tenant/ok", []byte(`{"name":"ok","key_hash":"x","created_at":"2026-11-28T20:02:24Z"}`))
	if _, err := s.GetTenant(ctx, "acme"); err == nil || !strings.Contains(err.Error(), `keyring item "tenant/acme" names tenant "beta"`) {
		t.Errorf("GetTenant of a mismatched item: %v", err)
	}
	if _, err := s.GetTenant(ctx, "broken"); err == nil || !strings.Contains(err.Error(), `keyring item "tenant/broken" is damaged`) {
		t.Errorf("GetTenant of a damaged item: %v", err)
	}
	if ts, err := s.ListTenants(ctx); err != nil || len(ts) != 1 || ts[0].Name != "ok" {
		t.Errorf("ListTenants = %+v, %v", ts, err)
	}
	if err := s.CreateTenant(ctx, store.Tenant{Name: "broken"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateTenant over a damaged item: %v", err)
	}
	if err := s.DeleteTenant(ctx, "broken"); err != nil {
		t.Errorf("DeleteTenant of a damaged item: %v", err)
	}

	// Flow states: a damaged one is taken (deleted) with its error.
	id, other := store.FlowID("a"), store.FlowID("b")
	kv.Set(ctx, "flow/acme/"+id, []byte(`{"id":"`+other+`","tenant":"acme"}`))
	if fs, err := s.ListFlowStates(ctx, "acme"); err != nil || len(fs) != 0 {
		t.Errorf("ListFlowStates = %+v, %v", fs, err)
	}
	if _, err := s.TakeFlowState(ctx, id); err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `keyring item "flow/acme/`+id+`" names flow state`) {
		t.Errorf("TakeFlowState of a mismatched item: %v", err)
	}
	if _, err := s.TakeFlowState(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second TakeFlowState: %v, want ErrNotFound", err)
	}
}
