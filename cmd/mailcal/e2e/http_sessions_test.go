//go:build unix

package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// storeKeyRE finds a quoted keyring item key (tenant/NAME,
// grant/TENANT/PROVIDER/ACCOUNT); an answer may echo the path it was given
// ("../../tenant/acme"), but not a key of the store.
var storeKeyRE = regexp.MustCompile(`["'](tenant|grant)/`)

const pingBody = `{"jsonrpc":"2.0","id":2,"method":"ping"}`

// openSession initializes a 2025-11-25 streamable session with a key and
// returns its id.
func openSession(t *testing.T, s *httpServer, key string) string {
	t.Helper()
	r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", key)
	id := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || id == "" {
		t.Fatalf("initialize: %d %s, session %q; want 200 and a session id", r.status, r.body, id)
	}
	return id
}

// onSession sends one request naming a session.
func onSession(t *testing.T, s *httpServer, method, id, key string) rawResponse {
	t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(pingBody)
	}
	return s.do(t, method, "/mcp", body, "X-API-Key", key, "Mcp-Session-Id", id, "Mcp-Protocol-Version", "2025-11-25")
}

// checkSessionGone checks that POST, GET and DELETE naming an ended
// session answer 404, as the MCP transport spec asks.
func checkSessionGone(t *testing.T, who string, s *httpServer, id, key string) {
	t.Helper()
	for _, m := range []string{"POST", "GET", "DELETE"} {
		checkJSONError(t, who+": "+m, onSession(t, s, m, id, key), http.StatusNotFound, "session_not_found")
	}
}

// TestE2EHTTPSessionEnd: a streamable session ended by DELETE or by the idle
// sweep answers 404 afterwards (it answered 200 before: mcp-go's session-id
// manager checks only an id's format); a session answers only to the key
// that opened it; a session in use is not swept.
func TestE2EHTTPSessionEnd(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	keyA, keyB := k.addTenant(t, "a"), k.addTenant(t, "b")
	s := startHTTP(t, k, "--session-idle-ttl", "1s")

	id := openSession(t, s, keyA)
	if r := onSession(t, s, "POST", id, keyA); r.status != http.StatusOK {
		t.Fatalf("ping on a new session: %d %s", r.status, r.body)
	}
	// Another tenant's key gets 404 for every use, DELETE included, and
	// the session goes on.
	checkSessionGone(t, "b's key on a's session", s, id, keyB)
	if r := onSession(t, s, "POST", id, keyA); r.status != http.StatusOK {
		t.Fatalf("ping after b's attempts: %d %s", r.status, r.body)
	}
	if r := onSession(t, s, "DELETE", id, keyA); r.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	checkSessionGone(t, "after DELETE", s, id, keyA)
	checkJSONError(t, "DELETE without a session id", s.do(t, "DELETE", "/mcp", nil, "X-API-Key", keyA),
		http.StatusBadRequest, "bad_request")

	// mcp-go's client ends its session with DELETE on Close. (It sends
	// that DELETE without the headers of WithHTTPHeaders: the key has to
	// come from its HTTP client.)
	c, err := mcpclient.NewStreamableHttpClient(s.base+"/mcp", transport.WithHTTPBasicClient(httpClientWith("X-API-Key", keyA)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = "2025-11-25"
	init.Params.ClientInfo = mcp.Implementation{Name: "mailcal-e2e", Version: "1"}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	sid := c.GetSessionId()
	checkAccounts(t, "mcp-go", callAccounts(t, "mcp-go", c), "a")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	checkSessionGone(t, "after mcp-go's Close", s, sid, keyA)

	// Idle for longer than --session-idle-ttl: swept, then 404; one used
	// every 300 ms meanwhile is not.
	idle, busy := openSession(t, s, keyA), openSession(t, s, keyA)
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if r := onSession(t, s, "POST", busy, keyA); r.status != http.StatusOK {
			t.Fatalf("a session used every 300 ms answered %d after %s: %s", r.status, time.Since(start).Round(time.Millisecond), r.body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	checkSessionGone(t, "idle 3 s with --session-idle-ttl 1s", s, idle, keyA)
	if r := onSession(t, s, "POST", busy, keyA); r.status != http.StatusOK {
		t.Errorf("the session in use after the sweep: %d %s", r.status, r.body)
	}
}

// TestE2EHTTPSweepSparesRunningCall: a call that runs longer than
// --session-idle-ttl keeps its session: the call answers, the session
// serves the next one, and still only with its own key (the sweep used to
// drop the session's tenant binding while the id kept working).
func TestE2EHTTPSweepSparesRunningCall(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key, keyB := fx.addTenant(t, "a"), fx.addTenant(t, "b")
	s := fx.startHTTP(t, "--session-idle-ttl", "1s")
	fx.connectHTTP(t, s, key, alice, "mail.read")
	c := mcpgoHTTP(t, s, "/mcp", "X-API-Key", key, true)
	fx.checkOK(t, "before", c, alice)

	fx.fg.SetAPILatency(3 * time.Second)
	start := time.Now()
	r, err := fx.callTool(c, "list_messages", map[string]any{"max_results": 1})
	took := time.Since(start)
	fx.fg.SetAPILatency(0)
	if errors.Is(err, transport.ErrSessionTerminated) || (err == nil && r.IsError) {
		t.Fatalf("a %s call on a session with a 1 s idle TTL: %v %s", took.Round(time.Millisecond), err, r.text())
	}
	if err != nil {
		t.Fatal(err)
	}
	if took < 3*time.Second {
		t.Fatalf("the call took %s: the upstream latency did not apply", took)
	}
	fx.checkOK(t, "the next call on the same session", c, alice)
	checkJSONError(t, "b's key on the session after the long call", onSession(t, s, "POST", c.GetSessionId(), keyB),
		http.StatusNotFound, "session_not_found")
}

// doNoRedirect sends one request as it is, path included, and returns the
// answer without following a redirect.
func doNoRedirect(t *testing.T, s *httpServer, method, path string, headers ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.base, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "//" + req.URL.Host + path // sent as written: no cleaning, no re-escaping
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, body}
}

// TestE2EHTTPDeleteTraversal: DELETE of an account whose name is a path
// (escaped slashes, dots, backslashes, NUL, double escapes, dot segments)
// answers 400 or 404 (no redirect), never 503, never a store key, and
// deletes nothing.
func TestE2EHTTPDeleteTraversal(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	keyA := k.addTenant(t, "a")
	k.addTenant(t, "acme")
	seedGoogleGrant(t, k, "a", "alice@example.com")
	seedGoogleGrant(t, k, "acme", "alice@example.com")
	s := startHTTP(t, k)

	for _, path := range []string{
		"/api/integrations/google/..%2F..%2Ftenant%2Facme",
		"/api/integrations/google/..%2f..%2ftenant%2facme",
		"/api/integrations/google/%2e%2e%2F%2e%2e%2Ftenant%2Facme",
		"/api/integrations/google/..%2F..%2Fgrant%2Facme%2Fgoogle%2Falice@example.com",
		"/api/integrations/google/alice@example.com%2F..%2F..%2Facme",
		"/api/integrations/google/..%5C..%5Ctenant%5Cacme",
		"/api/integrations/google/..%252F..%252Ftenant%252Facme",
		"/api/integrations/google/alice@example.com%252F..%252Facme",
		"/api/integrations/google/alice@example.com%00",
		"/api/integrations/google/alice@example.com%0A",
		"/api/integrations/google/%2e%2e",
		"/api/integrations/google/..",
		"/api/integrations/google/../../tenant/acme",
		"/api/integrations/..%2F..%2Ftenant%2Facme/alice@example.com",
		"/api/integrations/google%2F..%2F..%2Ftenant/acme",
		"/api/integrations/google/%C3%A9@example.com",
		"/api/integrations//alice@example.com",
		"/api/./integrations/google/alice@example.com",
	} {
		r := doNoRedirect(t, s, "DELETE", path, "X-API-Key", keyA)
		if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("DELETE %s: %d %s, want 400 or 404", path, r.status, r.body)
		}
		if m := storeKeyRE.FindString(string(r.body)); m != "" || strings.Contains(string(r.body), "keyring") {
			t.Errorf("DELETE %s: the answer quotes an internal key (%s): %s", path, m, r.body)
		}
	}
	for _, tn := range []string{"a", "acme"} {
		out, errOut, err := k.run(t, "accounts", "--tenant", tn, "--json")
		if err != nil || !strings.Contains(out, "alice@example.com") {
			t.Errorf("tenant %s lost its account to the DELETEs: %v %s %s", tn, err, out, errOut)
		}
	}
}
