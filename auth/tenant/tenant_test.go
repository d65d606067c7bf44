package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

func TestAddListRemove(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	reg := NewRegistry(s)
	key, err := reg.Add(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "mck_") || len(key) != 4+43 {
		t.Fatalf("key %q: want mck_ and 43 base64url characters", key)
	}
	if _, err := reg.Add(ctx, "acme"); !errors.Is(err, ErrExists) {
		t.Fatalf("second add: %v, want ErrExists", err)
	}
	if _, err := reg.Add(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	ts, err := reg.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Name != "acme" || ts[1].Name != "beta" {
		t.Fatalf("list = %+v", ts)
	}
	// Only the hash is stored: the key itself appears nowhere in the store.
	rec, _ := s.GetTenant(ctx, "acme")
	if data := fmt.Sprintf("%+v", rec); strings.Contains(data, key) || rec.KeyHash != HashKey(key) {
		t.Fatalf("stored record %s: want the key's hash and not the key", data)
	}
	if err := reg.Remove(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Remove(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v, want ErrNotFound", err)
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "default", "acme-corp_2", strings.Repeat("x", 63)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "A", "a/b", "a b", "a\n", strings.Repeat("x", 64), "ä"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry(memory.New())
	ka, _ := reg.Add(ctx, "a")
	kb, _ := reg.Add(ctx, "b")
	auth := NewAuthenticator(reg)
	for key, want := range map[string]string{ka: "a", kb: "b"} {
		got, ok, err := auth.Authenticate(ctx, key)
		if err != nil || !ok || got != want {
			t.Fatalf("Authenticate(key of %s) = %q %v %v", want, got, ok, err)
		}
	}
	for _, bad := range []string{"", "mck_", ka + "x", ka[:len(ka)-1], strings.Repeat("a", 5000), HashKey(ka)} {
		if got, ok, _ := auth.Authenticate(ctx, bad); ok {
			t.Fatalf("Authenticate(%q) accepted as %q", bad, got)
		}
	}
	// A tenant added after the first load is found on the miss-triggered reload.
	kc, _ := reg.Add(ctx, "c")
	auth.now = func() time.Time { return time.Now().Add(3 * time.Second) }
	if got, ok, _ := auth.Authenticate(ctx, kc); !ok || got != "c" {
		t.Fatalf("new tenant not found: %q %v", got, ok)
	}
	// A removed tenant's key stops working after the next reload.
	if err := reg.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	auth.now = func() time.Time { return time.Now().Add(time.Minute) }
	if _, ok, _ := auth.Authenticate(ctx, ka); ok {
		t.Fatal("removed tenant's key still accepted")
	}
}

// countingStore counts listings and single reads, to show that wrong
// keys cannot make the authenticator hammer the store and that a verified
// key costs no read.
type countingStore struct {
	store.Tenants
	mu          sync.Mutex
	lists, gets int
}

func (c *countingStore) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Tenants.ListTenants(ctx)
}

func (c *countingStore) GetTenant(ctx context.Context, name string) (store.Tenant, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Tenants.GetTenant(ctx, name)
}

func TestWrongKeysDoNotHammerTheStore(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Tenants: memory.New()}
	reg := NewRegistry(cs)
	if _, err := reg.Add(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	auth := NewAuthenticator(reg)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				auth.Authenticate(ctx, "mck_wrong")
			}
		}()
	}
	wg.Wait()
	if cs.lists > 2 {
		t.Fatalf("1000 wrong keys caused %d store listings, want at most 2", cs.lists)
	}
}

func TestRequire(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry(memory.New())
	key, _ := reg.Add(ctx, "acme")
	var reached string
	h := Require(NewAuthenticator(reg), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached, _ = FromContext(r.Context())
	}))
	cases := []struct {
		name, header, value string
		status              int
	}{
		{"bearer", "Authorization", "Bearer " + key, 200},
		{"bearer lower-case scheme", "Authorization", "bearer " + key, 200},
		{"x-api-key", "X-API-Key", key, 200},
		{"missing", "", "", 401},
		{"wrong", "Authorization", "Bearer mck_nope", 401},
		{"basic scheme", "Authorization", "Basic " + key, 401},
		{"no scheme", "Authorization", key, 401},
	}
	for _, c := range cases {
		reached = ""
		req := httptest.NewRequest("POST", "/mcp", nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.status)
		}
		if c.status == 200 && reached != "acme" {
			t.Errorf("%s: handler saw tenant %q", c.name, reached)
		}
		if c.status != 200 {
			if reached != "" {
				t.Errorf("%s: rejected request reached the handler", c.name)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" || !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) {
				t.Errorf("%s: body %q (%s), want a JSON error", c.name, rec.Body.String(), ct)
			}
		}
	}
}

func TestRemovedTenantRefusedWithinSeconds(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Tenants: memory.New()}
	reg := NewRegistry(cs)
	keys := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d"} {
		k, err := reg.Add(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		keys[n] = k
	}
	auth := NewAuthenticator(reg)
	if _, ok, _ := auth.Authenticate(ctx, keys["a"]); !ok {
		t.Fatal("key refused")
	}
	// Within the verify interval: answered from memory.
	cs.gets = 0
	for i := 0; i < 100; i++ {
		auth.Authenticate(ctx, keys["a"])
	}
	if cs.gets != 0 {
		t.Fatalf("%d keyring reads for 100 requests within the verify interval", cs.gets)
	}
	// After it: the matched tenant alone is read again (not every tenant).
	start := time.Now()
	auth.now = func() time.Time { return start.Add(3 * time.Second) }
	if _, ok, _ := auth.Authenticate(ctx, keys["a"]); !ok || cs.gets != 1 {
		t.Fatalf("verification: ok %v, %d reads, want 1", ok, cs.gets)
	}
	// A removed tenant's key is refused at the next verification, long
	// before the full refresh.
	if err := reg.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	auth.now = func() time.Time { return start.Add(6 * time.Second) }
	if name, ok, _ := auth.Authenticate(ctx, keys["b"]); ok {
		t.Fatalf("removed tenant's key accepted as %q", name)
	}
	if _, ok, _ := auth.Authenticate(ctx, keys["c"]); !ok {
		t.Fatal("another tenant's key refused after the reload")
	}
	// A tenant removed and added again under the same name has a new key:
	// the old one is refused.
	if err := reg.Remove(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Add(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	auth.now = func() time.Time { return start.Add(9 * time.Second) }
	if _, ok, _ := auth.Authenticate(ctx, keys["d"]); ok {
		t.Fatal("replaced key still accepted")
	}
}
