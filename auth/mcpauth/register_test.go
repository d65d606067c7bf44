package mcpauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/internal/testclock"
	"github.com/mailcal/mailcal/auth/store"
)

// fakeStore keeps registered clients in memory, checked like a real store.
type fakeStore struct {
	mu      sync.Mutex
	clients map[string]store.OAuthClient
	gets    int
}

func newFakeStore() *fakeStore { return &fakeStore{clients: map[string]store.OAuthClient{}} }

func (f *fakeStore) PutOAuthClient(_ context.Context, c store.OAuthClient) error {
	if err := store.ValidOAuthClient(c); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[c.ID]; ok {
		return store.ErrExists
	}
	f.clients[c.ID] = c
	return nil
}

func (f *fakeStore) GetOAuthClient(_ context.Context, id string) (store.OAuthClient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	c, ok := f.clients[id]
	if !ok {
		return store.OAuthClient{}, store.ErrNotFound
	}
	return c, nil
}

var _ ClientStore = store.OAuthServer(nil)

func registerClient(t *testing.T, h http.Handler, remote, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d is not JSON: %q", w.Code, w.Body)
	}
	return w, m
}

func newRegClients() (*Clients, *fakeStore, *testclock.Clock) {
	fs := newFakeStore()
	clock := testclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	return NewClients(ClientsConfig{Store: fs, Now: clock.Now}), fs, clock
}

func TestRegisterPublic(t *testing.T) {
	c, fs, clock := newRegClients()
	w, m := registerClient(t, c.RegisterHandler(), "192.0.2.1:5000",
		`{"redirect_uris":["http://localhost:6274/oauth/callback"],"client_name":"MCP Inspector","scope":"mcp email","contacts":["a@b.example"]}`)
	if w.Code != http.StatusCreated || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", w.Code, m)
	}
	id, _ := m["client_id"].(string)
	if !regexp.MustCompile(`^mcc_[A-Za-z0-9_-]{22}$`).MatchString(id) || m["client_secret"] != nil || m["token_endpoint_auth_method"] != "none" ||
		m["scope"] != "mcp" || m["client_id_issued_at"] != float64(clock.Now().Unix()) || m["contacts"] != nil {
		t.Fatalf("answer %v", m)
	}
	// A fresh process (no cache) finds it in the store.
	other := NewClients(ClientsConfig{Store: fs, Now: clock.Now})
	cl, err := other.Lookup(context.Background(), id)
	if err != nil || cl.Name != "MCP Inspector" || cl.AuthMethod != "none" || cl.RedirectURIs[0] != "http://localhost:6274/oauth/callback" || cl.Document {
		t.Fatalf("lookup: %+v %v", cl, err)
	}
	for range 5 {
		_, _ = other.Lookup(context.Background(), id)
	}
	if fs.gets != 1 {
		t.Fatalf("%d store reads for 6 lookups within a minute", fs.gets)
	}
	clock.Advance(registeredTTL)
	if _, err := other.Lookup(context.Background(), id); err != nil || fs.gets != 2 {
		t.Fatalf("after the cache expired: %v, %d reads", err, fs.gets)
	}
}

func TestRegisterConfidential(t *testing.T) {
	c, fs, _ := newRegClients()
	w, m := registerClient(t, c.RegisterHandler(), "192.0.2.1:5000",
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic","grant_types":["authorization_code"],"logo_uri":"https://app.example/logo.png"}`)
	secret, _ := m["client_secret"].(string)
	if w.Code != http.StatusCreated || !regexp.MustCompile(`^mcx_[A-Za-z0-9_-]{43}$`).MatchString(secret) || m["client_secret_expires_at"] != float64(0) {
		t.Fatalf("%d %v", w.Code, m)
	}
	id := m["client_id"].(string)
	rec := fs.clients[id]
	sum := sha256.Sum256([]byte(secret))
	if rec.SecretHash != hex.EncodeToString(sum[:]) || strings.Contains(string(rec.Metadata), secret) || strings.Contains(string(rec.Metadata), "client_secret\"") {
		t.Fatalf("stored %+v", rec)
	}
	cl, err := NewClients(ClientsConfig{Store: fs}).Lookup(context.Background(), id)
	if err != nil || !cl.CheckSecret(secret) || cl.CheckSecret("mcx_wrong") || cl.AuthMethod != "client_secret_basic" {
		t.Fatalf("lookup %+v %v", cl, err)
	}
	// The registering process's cache knows the secret's hash too.
	if cl, _ := c.Lookup(context.Background(), id); !cl.CheckSecret(secret) {
		t.Fatal("the cached registration does not check the secret")
	}
}

func TestRegisterRefusals(t *testing.T) {
	for body, want := range map[string]string{
		`{}`:                   "invalid_redirect_uri",
		`{"redirect_uris":[]}`: "invalid_redirect_uri",
		`{"redirect_uris":["https://a.example/cb#x"]}`:                                              "invalid_redirect_uri",
		`{"redirect_uris":["http://a.example/cb"]}`:                                                 "invalid_redirect_uri",
		`{"redirect_uris":["javascript:alert(1)"]}`:                                                 "invalid_redirect_uri",
		`{"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`:                         "invalid_redirect_uri",
		`{"redirect_uris":"https://a.example/cb"}`:                                                  "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`: "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]}`:           "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}`:                "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`:                     "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"client_uri":"javascript:x"}`:                    "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"software_id":"a\u0000b"}`:                       "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/cb"],"client_name":7}`:                                "invalid_client_metadata",
		`[1]`:      "invalid_client_metadata",
		`not json`: "invalid_client_metadata",
		`{"redirect_uris":["https://a.example/` + strings.Repeat("a", 17<<10) + `"]}`: "invalid_client_metadata",
		tooLarge(): "invalid_client_metadata",
	} {
		c, fs, _ := newRegClients()
		w, m := registerClient(t, c.RegisterHandler(), "192.0.2.1:5000", body)
		if w.Code != http.StatusBadRequest || m["error"] != want || m["error_description"] == "" {
			t.Errorf("%.80s: %d %v", body, w.Code, m)
		}
		if len(fs.clients) != 0 {
			t.Errorf("%.80s: stored a client", body)
		}
	}
	c, _, _ := newRegClients()
	r := httptest.NewRequest(http.MethodGet, "/register", nil)
	w := httptest.NewRecorder()
	c.RegisterHandler().ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d", w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"redirect_uris":["https://a.example/cb"]}`))
	r.Header.Set("Content-Type", "text/plain")
	w = httptest.NewRecorder()
	c.RegisterHandler().ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("text/plain: %d", w.Code)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	c, fs, clock := newRegClients()
	h := c.RegisterHandler()
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for i := range registerBurst {
		if w, m := registerClient(t, h, "198.51.100.7:1000", body); w.Code != http.StatusCreated {
			t.Fatalf("registration %d: %d %v", i, w.Code, m)
		}
	}
	w, m := registerClient(t, h, "198.51.100.7:1001", body)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "3" || !strings.Contains(m["error_description"].(string), "too many") {
		t.Fatalf("over the limit: %d %v %q", w.Code, m, w.Header().Get("Retry-After"))
	}
	if w, _ := registerClient(t, h, "203.0.113.9:1000", body); w.Code != http.StatusCreated {
		t.Fatalf("another address was limited: %d", w.Code)
	}
	clock.Advance(registerEvery)
	if w, _ := registerClient(t, h, "198.51.100.7:1000", body); w.Code != http.StatusCreated {
		t.Fatalf("after the interval: %d", w.Code)
	}
	if len(fs.clients) != registerBurst+2 {
		t.Fatalf("%d clients stored", len(fs.clients))
	}
}

// tooLarge is a registration of valid redirect URIs that together exceed
// what the store keeps of a client.
func tooLarge() string {
	uris := make([]string, 14)
	for i := range uris {
		uris[i] = fmt.Sprintf("https://a.example/%d/%s", i, strings.Repeat("b", 600))
	}
	b, _ := json.Marshal(map[string]any{"redirect_uris": uris})
	return string(b)
}
