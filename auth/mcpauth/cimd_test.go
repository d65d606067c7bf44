package mcpauth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/internal/testclock"
)

// docServer serves client metadata documents over https with a test CA.
type docServer struct {
	*httptest.Server
	hits    sync.Map // path → *atomic.Int32
	release chan struct{}
	stop    chan struct{} // closed when the test ends: the slow answer never comes before
}

func (s *docServer) count(path string) int32 {
	v, _ := s.hits.LoadOrStore(path, new(atomic.Int32))
	return v.(*atomic.Int32).Load()
}

func newDocServer(t *testing.T) *docServer {
	s := &docServer{release: make(chan struct{}), stop: make(chan struct{})}
	doc := func(r *http.Request, extra map[string]any) []byte {
		d := map[string]any{"client_id": "https://" + r.Host + r.URL.Path, "client_name": "Test App",
			"redirect_uris": []string{"http://127.0.0.1:33418/callback", "cursor://anysphere.cursor-retrieval/oauth/callback"}}
		for k, v := range extra {
			d[k] = v
		}
		b, _ := json.Marshal(d)
		return b
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := s.hits.LoadOrStore(r.URL.Path, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "bad accept", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		var body []byte
		switch r.URL.Path {
		case "/good.json":
			w.Header().Set("Cache-Control", "public, max-age=120")
			body = doc(r, nil)
		case "/wrong-id.json":
			body = doc(r, map[string]any{"client_id": "https://evil.example/app.json"})
		case "/big.json":
			body = doc(r, map[string]any{"logo_uri": "https://x.example/" + strings.Repeat("a", maxDocument)})
		case "/slow.json":
			// Not r.Context(): its end must not answer early, only the
			// client's timeout may end this fetch.
			<-s.stop
			return
		case "/redirect.json":
			http.Redirect(w, r, "/good.json", http.StatusFound)
			return
		case "/bad-redirect.json":
			body = doc(r, map[string]any{"redirect_uris": []string{"javascript:alert(1)"}})
		case "/http-redirect.json":
			body = doc(r, map[string]any{"redirect_uris": []string{"http://app.example/cb"}})
		case "/no-redirects.json":
			body = doc(r, map[string]any{"redirect_uris": []string{}})
		case "/secret.json":
			body = doc(r, map[string]any{"token_endpoint_auth_method": "client_secret_basic"})
		case "/has-secret.json":
			body = doc(r, map[string]any{"client_secret": "hunter2-very-secret"})
		case "/pkjwt.json":
			body = doc(r, map[string]any{"token_endpoint_auth_method": "private_key_jwt"})
		case "/implicit.json":
			body = doc(r, map[string]any{"response_types": []string{"token"}})
		case "/html.json":
			w.Header().Set("Content-Type", "text/html")
			body = []byte("<html>hi</html>")
		case "/not-json.json":
			body = []byte("{not json")
		case "/wrong-type.json":
			body = doc(r, map[string]any{"redirect_uris": "https://a.example/cb"})
		case "/name.json":
			body = doc(r, map[string]any{"client_name": "Evil\u202e\x1b[31mApp\n " + strings.Repeat("x", 200)})
		case "/block.json":
			<-s.release
			body = doc(r, nil)
		case "/fail.json":
			w.WriteHeader(http.StatusInternalServerError)
			return
		default:
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.stop) }) // runs first: Close waits for the handlers
	return s
}

// testClients returns Clients fetching through the production guarded
// transport (trusting the server's CA), resolving names with lookup.
func testClients(t *testing.T, srv *docServer, allowPrivate bool, lookup func(context.Context, string) ([]netip.Addr, error)) (*Clients, *testclock.Clock) {
	clock := testclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	c := NewClients(ClientsConfig{AllowPrivate: allowPrivate, Now: clock.Now, Store: newFakeStore()})
	tr := guardedTransport(allowPrivate, lookup)
	tr.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	c.http.Transport = tr
	c.fetchTimeout = 500 * time.Millisecond
	return c, clock
}

func wantInvalidClient(t *testing.T, err error, substr string) {
	t.Helper()
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "invalid_client" || oe.Status != http.StatusBadRequest {
		t.Fatalf("want invalid_client, got %v", err)
	}
	if !strings.Contains(oe.Description, substr) {
		t.Fatalf("description %q does not say %q", oe.Description, substr)
	}
}

func TestDocumentGood(t *testing.T) {
	srv := newDocServer(t)
	c, clock := testClients(t, srv, true, nil)
	id := srv.URL + "/good.json"
	cl, err := c.Lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if cl.ID != id || !cl.Document || cl.AuthMethod != "none" || cl.Name != "Test App" || len(cl.RedirectURIs) != 2 || cl.SecretHash != "" {
		t.Fatalf("client %+v", cl)
	}
	for range 5 {
		if _, err := c.Lookup(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.count("/good.json"); n != 1 {
		t.Fatalf("%d fetches for 6 lookups within max-age", n)
	}
	clock.Advance(121 * time.Second) // max-age=120
	if _, err := c.Lookup(context.Background(), id); err != nil || srv.count("/good.json") != 2 {
		t.Fatalf("after max-age: %v, %d fetches", err, srv.count("/good.json"))
	}
}

func TestDocumentRefusals(t *testing.T) {
	srv := newDocServer(t)
	c, _ := testClients(t, srv, true, nil)
	for path, want := range map[string]string{
		"/wrong-id.json":      "does not equal the URL",
		"/big.json":           "larger than 5120 bytes",
		"/slow.json":          "no complete answer within",
		"/redirect.json":      "redirect (HTTP 302)",
		"/bad-redirect.json":  `scheme "javascript" cannot be a redirect URI`,
		"/http-redirect.json": "http is allowed only to a loopback host",
		"/no-redirects.json":  "redirect_uris: required",
		"/secret.json":        "needs a shared secret",
		"/has-secret.json":    "holds a client_secret",
		"/pkjwt.json":         "private_key_jwt\" is not supported",
		"/implicit.json":      `response_types must include "code"`,
		"/html.json":          "it must be application/json",
		"/not-json.json":      "not a JSON object",
		"/wrong-type.json":    "redirect_uris: must be a list of strings",
		"/missing.json":       "HTTP 404",
	} {
		t.Run(path, func(t *testing.T) {
			_, err := c.Lookup(context.Background(), srv.URL+path)
			wantInvalidClient(t, err, want)
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error repeats the document's secret: %v", err)
			}
		})
	}
	if n := srv.count("/good.json"); n != 0 {
		t.Fatalf("the redirect was followed (%d fetches of its target)", n)
	}
}

func TestDocumentURLChecks(t *testing.T) {
	c := NewClients(ClientsConfig{})
	for id, want := range map[string]string{
		"https://app.example":                              "has no path",
		"https://app.example/":                             "has no path",
		"https://app.example/a.json#x":                     "fragment",
		"https://user@app.example/a.json":                  "credentials",
		"https://app.example/a/../b.json":                  `"." or ".."`,
		"https://app.example/a/%2E%2e/b.json":              `"." or ".."`,
		"https://app.example/./b.json":                     `"." or ".."`,
		"https://app.example/a b":                          "space",
		"https://app.example/" + strings.Repeat("a", 1100): "at most 1024",
		"http://app.example/a.json":                        "is an http URL",
		"app":                                              "unknown client_id",
		"":                                                 "required",
		"mcc_unknown":                                      "unknown client_id",
	} {
		_, err := c.Lookup(context.Background(), id)
		wantInvalidClient(t, err, want)
	}
}

func TestDocumentName(t *testing.T) {
	srv := newDocServer(t)
	c, _ := testClients(t, srv, true, nil)
	cl, err := c.Lookup(context.Background(), srv.URL+"/name.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(cl.Name, "\u202e\x1b\n") || !strings.HasPrefix(cl.Name, "Evil[31mApp x") || len([]rune(cl.Name)) != maxNameRunes {
		t.Fatalf("name %q (%d runes)", cl.Name, len([]rune(cl.Name)))
	}
}

// TestDocumentSSRF: without AllowPrivate, neither a loopback address nor a
// name resolving to one is fetched: the check is made on the address
// dialled.
func TestDocumentSSRF(t *testing.T) {
	srv := newDocServer(t)
	_, p, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "rebind.example":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "inside.example":
			return []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.1")}, nil
		}
		return nil, fmt.Errorf("no such host %s", host)
	}
	c, _ := testClients(t, srv, false, lookup)
	for _, id := range []string{srv.URL + "/good.json", "https://[::1]:" + p + "/good.json", "https://localhost:" + p + "/good.json",
		"https://169.254.169.254/latest.json", "https://rebind.example:" + p + "/good.json", "https://inside.example:" + p + "/good.json"} {
		_, err := c.Lookup(context.Background(), id)
		wantInvalidClient(t, err, "private, loopback or non-unicast address")
	}
	if n := srv.count("/good.json"); n != 0 {
		t.Fatalf("%d requests reached the loopback server", n)
	}
}

// TestDocumentSingleFlight: concurrent lookups of one URL share one fetch,
// and a caller that goes away does not fail the others.
func TestDocumentSingleFlight(t *testing.T) {
	srv := newDocServer(t)
	c, _ := testClients(t, srv, true, nil)
	c.fetchTimeout = 5 * time.Second
	id := srv.URL + "/block.json"
	quitter, quit := context.WithCancel(context.Background())
	quitErr := make(chan error, 1)
	go func() { _, err := c.Lookup(quitter, id); quitErr <- err }()
	for srv.count("/block.json") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.Lookup(context.Background(), id)
			errs <- err
		})
	}
	quit()
	if err := <-quitErr; err == nil {
		t.Error("the quitting caller got a client")
	}
	time.Sleep(50 * time.Millisecond) // the others are waiting on the flight
	close(srv.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a waiting caller failed: %v", err)
		}
	}
	if n := srv.count("/block.json"); n != 1 {
		t.Fatalf("%d fetches for 21 concurrent lookups", n)
	}
}

// TestDocumentFailureCache: a failing client_id is fetched once per
// failureTTL, however often it is looked up.
func TestDocumentFailureCache(t *testing.T) {
	srv := newDocServer(t)
	c, clock := testClients(t, srv, true, nil)
	id := srv.URL + "/fail.json"
	for range 10 {
		_, err := c.Lookup(context.Background(), id)
		wantInvalidClient(t, err, "HTTP 500")
	}
	if n := srv.count("/fail.json"); n != 1 {
		t.Fatalf("%d fetches of a failing document", n)
	}
	clock.Advance(failureTTL)
	_, _ = c.Lookup(context.Background(), id)
	if n := srv.count("/fail.json"); n != 2 {
		t.Fatalf("%d fetches after the failure expired", n)
	}
}

func TestDocumentTTL(t *testing.T) {
	for _, c := range []struct {
		h    []string
		want time.Duration
	}{
		{nil, defaultDocumentTTL},
		{[]string{"max-age=5"}, minDocumentTTL},
		{[]string{"public, max-age=3600"}, time.Hour},
		{[]string{"max-age=99999999999"}, maxDocumentTTL},
		{[]string{"no-store"}, minDocumentTTL},
		{[]string{"max-age=-1"}, defaultDocumentTTL},
	} {
		if got := documentTTL(c.h); got != c.want {
			t.Errorf("%q: %s, want %s", c.h, got, c.want)
		}
	}
}

func TestCacheBounded(t *testing.T) {
	tc := newTTLCache(3)
	now := time.Now()
	for i := range 10 {
		tc.put(fmt.Sprint(i), cacheEntry{}, now.Add(time.Minute), now)
	}
	if len(tc.entries) != 3 {
		t.Fatalf("%d entries in a cache of 3", len(tc.entries))
	}
	if _, ok := tc.get("9", now); !ok {
		t.Fatal("the newest entry is missing")
	}
	if _, ok := tc.get("9", now.Add(time.Minute)); ok {
		t.Fatal("an expired entry was answered")
	}
}
