//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
)

// TestE2EHTTPClients: every client, over both HTTP transports, with both ways
// of presenting the API key, lists the tools and sees the tenant's account.
func TestE2EHTTPClients(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	key := k.addTenant(t, "a")
	seedGoogleGrant(t, k, "a", "alice@example.com")
	s := startHTTP(t, k)
	want := []string{"alice@example.com"}

	for _, h := range authHeaders {
		for _, endpoint := range []string{"/mcp", "/sse"} {
			name := strings.TrimPrefix(endpoint, "/") + "/" + h.label
			t.Run("mcp-go/"+name, func(t *testing.T) {
				t.Parallel()
				c := mcpgoHTTP(t, s, endpoint, h.name, h.prefix+key, false)
				mcpgoListAndCall(t, "mcp-go "+name, c, "a", want)
			})
			if endpoint == "/mcp" {
				t.Run("mcp-go-legacy/"+name, func(t *testing.T) {
					t.Parallel()
					c := mcpgoHTTP(t, s, endpoint, h.name, h.prefix+key, true)
					mcpgoListAndCall(t, "mcp-go legacy "+name, c, "a", want)
				})
			}
			t.Run("go-sdk/"+name, func(t *testing.T) {
				t.Parallel()
				cs := sdkHTTP(t, s, endpoint, h.name, h.prefix+key)
				sdkListAndCall(t, "go-sdk "+name, cs, "a", want)
			})
		}
	}

	t.Run("inspector", func(t *testing.T) {
		t.Parallel()
		n := needNPM(t)
		// Streamable HTTP with a bearer token, SSE with X-API-Key.
		for _, c := range []struct{ transport, endpoint, header string }{
			{"http", "/mcp", "Authorization: Bearer " + key},
			{"sse", "/sse", "X-API-Key: " + key},
		} {
			args := []string{"--server-url", s.base + c.endpoint, "--transport", c.transport, "--header", c.header}
			who := "inspector " + c.transport
			t.Run(c.transport+"/tools-list", func(t *testing.T) {
				t.Parallel()
				out, code := n.inspectorCLI(t, k, append(args, "--method", "tools/list", "--strict")...)
				if code != 0 {
					t.Fatalf("%s tools/list exited %d", who, code)
				}
				checkToolsList(t, who, inspectorResult(t, out))
			})
			t.Run(c.transport+"/tools-call", func(t *testing.T) {
				t.Parallel()
				out, code := n.inspectorCLI(t, k, append(args, "--method", "tools/call", "--tool-name", "list_accounts")...)
				if code != 0 {
					t.Fatalf("%s tools/call exited %d", who, code)
				}
				checkAccounts(t, who, inspectorResult(t, out), "a", want...)
			})
		}
	})
}

const (
	callAccountsBody = `{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"list_accounts","arguments":{}}}`
	initializeBody   = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`
)

// TestE2EHTTPAuth: requests without a valid key get 401 and a JSON error on
// every MCP endpoint, and go no further; /healthz needs no key.
func TestE2EHTTPAuth(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	key := k.addTenant(t, "a")
	s := startHTTP(t, k)

	r := s.do(t, "GET", "/healthz", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Errorf("GET /healthz without a key: %d %s, want 200 and status ok", r.status, r.body)
	}

	// A legitimate session and call, as the control: the call is logged.
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, true)
	session := c.GetSessionId()
	if session == "" {
		t.Fatal("the 2025-11-25 streamable session has no id")
	}
	checkAccounts(t, "control", callAccounts(t, "control", c), "a")
	sse := mcpgoHTTP(t, s, "/sse", "X-API-Key", key, false)
	msgURL := mcpclient.GetEndpoint(sse)
	if msgURL == nil || msgURL.Query().Get("sessionId") == "" {
		t.Fatalf("the SSE session has no message endpoint with a sessionId: %v", msgURL)
	}
	messagePath := msgURL.RequestURI()
	const calls = 1
	s.waitToolCalls(t, "list_accounts", "a", calls)

	wrongKey := "mck_" + base64.RawURLEncoding.EncodeToString([]byte(randomHex(t, 16)))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("a:"+key))
	cases := []struct {
		name    string
		headers []string
	}{
		{"no key", nil},
		{"wrong bearer", []string{"Authorization", "Bearer " + wrongKey}},
		{"wrong X-API-Key", []string{"X-API-Key", wrongKey}},
		{"key with a suffix", []string{"Authorization", "Bearer " + key + "x"}},
		{"key prefix only", []string{"Authorization", "Bearer " + key[:len(key)-1]}},
		{"malformed: no scheme", []string{"Authorization", key}},
		{"malformed: bearer without token", []string{"Authorization", "Bearer"}},
		{"malformed: basic", []string{"Authorization", basic}},
		{"malformed: empty X-API-Key", []string{"X-API-Key", " "}},
		{"oversized key", []string{"Authorization", "Bearer " + strings.Repeat("k", 4000)}},
	}
	requests := []struct {
		method, path, body string
		extra              []string
	}{
		{"POST", "/mcp", callAccountsBody, []string{"Mcp-Session-Id", session, "Mcp-Protocol-Version", "2025-11-25"}},
		{"POST", "/mcp", initializeBody, nil},
		{"GET", "/mcp", "", []string{"Mcp-Session-Id", session}},
		{"DELETE", "/mcp", "", []string{"Mcp-Session-Id", session}},
		{"GET", "/sse", "", nil},
		{"POST", messagePath, callAccountsBody, nil},
	}
	for _, req := range requests {
		for _, tc := range cases {
			who := fmt.Sprintf("%s %s, %s", req.method, req.path, tc.name)
			var body io.Reader
			if req.body != "" {
				body = strings.NewReader(req.body)
			}
			r := s.do(t, req.method, req.path, body, append(append([]string{}, req.extra...), tc.headers...)...)
			checkJSONError(t, who, r, http.StatusUnauthorized, "unauthorized")
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", who, got)
			}
			if bytes.Contains(r.body, []byte(key)) {
				t.Errorf("%s: the answer echoes the API key", who)
			}
		}
	}
	// The server saw the wrong keys (and logged them without the key), but
	// no call ran and the sessions are intact.
	if len(s.logs.find("rejected request with an unknown API key")) == 0 {
		t.Errorf("no log record of the rejected keys")
	}
	if strings.Contains(s.logs.String(), wrongKey) || strings.Contains(s.logs.String(), key) {
		t.Errorf("the server log contains an API key")
	}
	time.Sleep(200 * time.Millisecond) // room for a wrongly accepted call to show up
	if got := s.toolCalls("list_accounts", "a"); got != calls {
		t.Errorf("list_accounts ran %d more time(s) for requests without a valid key", got-calls)
	}
	if n := s.anyToolCalls(); n != calls {
		t.Errorf("%d tool calls logged, want %d", n, calls)
	}
	checkAccounts(t, "control after", callAccounts(t, "control after", c), "a")
	checkAccounts(t, "sse control after", callAccounts(t, "sse control after", sse), "a")

	// Keys are accepted in either header, and the scheme in any case.
	for _, h := range [][]string{{"Authorization", "bearer " + key}, {"Authorization", "Bearer  " + key}, {"X-API-Key", key}} {
		if r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), h...); r.status != http.StatusOK {
			t.Errorf("initialize with %s %q: %d %s, want 200", h[0], strings.Replace(h[1], key, "KEY", 1), r.status, r.body)
		}
	}
	// Unknown paths are a JSON 404, not the MCP handler.
	checkJSONError(t, "GET /nope", s.do(t, "GET", "/nope", nil, "X-API-Key", key), http.StatusNotFound, "not_found")
}

// TestE2EHTTPIsolation: a tenant sees only its own accounts, cannot use
// another tenant's session, and a removed tenant's key stops working.
func TestE2EHTTPIsolation(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	keyA, keyB := k.addTenant(t, "a"), k.addTenant(t, "b")
	seedGoogleGrant(t, k, "a", "alice@example.com")
	s := startHTTP(t, k)

	for _, endpoint := range []string{"/mcp", "/sse"} {
		a := mcpgoHTTP(t, s, endpoint, "Authorization", "Bearer "+keyA, false)
		b := mcpgoHTTP(t, s, endpoint, "X-API-Key", keyB, false)
		checkAccounts(t, "a "+endpoint, callAccounts(t, "a", a), "a", "alice@example.com")
		checkAccounts(t, "b "+endpoint, callAccounts(t, "b", b), "b")
	}

	// b's key on a's legacy SSE session.
	aSSE := mcpgoHTTP(t, s, "/sse", "Authorization", "Bearer "+keyA, false)
	messagePath := mcpclient.GetEndpoint(aSSE).RequestURI()
	const callsA, callsB = 2, 2
	s.waitToolCalls(t, "list_accounts", "a", callsA)
	s.waitToolCalls(t, "list_accounts", "b", callsB)
	checkJSONError(t, "b posting to a's SSE session",
		s.do(t, "POST", messagePath, strings.NewReader(callAccountsBody), "Authorization", "Bearer "+keyB),
		http.StatusNotFound, "session_not_found")
	// ... also when the request names another session in a header too.
	bMCP := mcpgoHTTP(t, s, "/mcp", "X-API-Key", keyB, true)
	for _, other := range []string{bMCP.GetSessionId(), "no-such-session"} {
		r := s.do(t, "POST", messagePath, strings.NewReader(callAccountsBody), "Authorization", "Bearer "+keyB, "Mcp-Session-Id", other)
		if r.status < 400 {
			t.Errorf("b posting to a's SSE session with Mcp-Session-Id %q: %d %s, want it refused", other, r.status, r.body)
		}
	}

	// b's key on a's streamable session: no post, no listening, no delete.
	aMCP := mcpgoHTTP(t, s, "/mcp", "X-API-Key", keyA, true)
	session := aMCP.GetSessionId()
	if session == "" {
		t.Fatal("the 2025-11-25 streamable session has no id")
	}
	for _, method := range []string{"POST", "GET", "DELETE"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader(callAccountsBody)
		}
		checkJSONError(t, "b "+method+" on a's streamable session",
			s.do(t, method, "/mcp", body, "X-API-Key", keyB, "Mcp-Session-Id", session, "Mcp-Protocol-Version", "2025-11-25"),
			http.StatusNotFound, "session_not_found")
	}
	time.Sleep(200 * time.Millisecond)
	if got := s.toolCalls("list_accounts", "a"); got != callsA {
		t.Errorf("a's list_accounts ran %d more time(s) on b's requests", got-callsA)
	}
	if got := s.toolCalls("list_accounts", "b"); got != callsB {
		t.Errorf("list_accounts ran %d more time(s) for b in a's sessions", got-callsB)
	}
	// a's sessions still work, and still see a's account.
	checkAccounts(t, "a's SSE session after b's attempt", callAccounts(t, "a sse", aSSE), "a", "alice@example.com")
	checkAccounts(t, "a's streamable session after b's attempts", callAccounts(t, "a mcp", aMCP), "a", "alice@example.com")

	// A tenant added while the server runs is accepted at once; a removed
	// one's key stops working within seconds.
	// The authenticator reloads the tenants on an unknown key at most every
	// 2 s, so a new tenant's key may take that long.
	keyC := k.addTenant(t, "c")
	added := time.Now()
	for {
		r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", keyC)
		if r.status == http.StatusOK {
			break
		}
		if time.Since(added) > 5*time.Second {
			t.Errorf("the key of a tenant added while serving still refused %s later: %d %s", time.Since(added).Round(time.Millisecond), r.status, r.body)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, errOut, err := k.run(t, "tenant", "remove", "b"); err != nil {
		t.Fatalf("mailcal tenant remove b: %v\n%s", err, errOut)
	}
	removed := time.Now()
	for {
		r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", keyB)
		if r.status == http.StatusUnauthorized {
			t.Logf("the removed tenant's key was refused %s after the removal", time.Since(removed).Round(time.Millisecond))
			break
		}
		if time.Since(removed) > 5*time.Second {
			t.Errorf("the removed tenant's key still works %s after `mailcal tenant remove` (last answer %d)", time.Since(removed).Round(time.Millisecond), r.status)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", keyA); r.status != http.StatusOK {
		t.Errorf("a's key after b's removal: %d %s, want 200", r.status, r.body)
	}
}

// hideLength hides a body's length from net/http, so that it is sent chunked.
type hideLength struct{ io.Reader }

// TestE2EHTTPBodyLimit: a request body over --max-request-bytes gets 413,
// whether its length is declared or not, and the server keeps serving.
func TestE2EHTTPBodyLimit(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	key := k.addTenant(t, "a")
	const limit = 4096
	s := startHTTP(t, k, "--max-request-bytes", fmt.Sprint(limit))
	big := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"list_accounts","arguments":{"account":"` +
		strings.Repeat("x", 2*limit) + `"}}}`

	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, true)
	sse := mcpgoHTTP(t, s, "/sse", "Authorization", "Bearer "+key, false)
	for _, tc := range []struct {
		name string
		path string
		body func() io.Reader
	}{
		{"/mcp with Content-Length", "/mcp", func() io.Reader { return strings.NewReader(big) }},
		{"/mcp chunked", "/mcp", func() io.Reader { return hideLength{strings.NewReader(big)} }},
		{"/message with Content-Length", mcpclient.GetEndpoint(sse).RequestURI(), func() io.Reader { return strings.NewReader(big) }},
		{"/message chunked", mcpclient.GetEndpoint(sse).RequestURI(), func() io.Reader { return hideLength{strings.NewReader(big)} }},
	} {
		r := s.do(t, "POST", tc.path, tc.body(), "Authorization", "Bearer "+key, "Mcp-Session-Id", c.GetSessionId(), "Mcp-Protocol-Version", "2025-11-25")
		checkJSONError(t, tc.name, r, http.StatusRequestEntityTooLarge, "request_too_large")
	}
	time.Sleep(100 * time.Millisecond)
	if n := s.anyToolCalls(); n != 0 {
		t.Errorf("%d tool call(s) ran for oversized requests", n)
	}
	// Still serving, on the same sessions.
	checkAccounts(t, "after the oversized requests", callAccounts(t, "after", c), "a")
	checkAccounts(t, "sse after the oversized requests", callAccounts(t, "sse after", sse), "a")
	if r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", key); r.status != http.StatusOK {
		t.Errorf("a small request after the oversized ones: %d %s", r.status, r.body)
	}
}

// TestE2EHTTPSIGTERM: SIGTERM stops the HTTP server promptly with status 0,
// also with long-lived SSE streams open.
func TestE2EHTTPSIGTERM(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	key := k.addTenant(t, "a")
	s := startHTTP(t, k, "--shutdown-timeout", "5s")
	sse := mcpgoHTTP(t, s, "/sse", "X-API-Key", key, false)
	checkAccounts(t, "sse", callAccounts(t, "sse", sse), "a")
	legacy := mcpgoHTTP(t, s, "/mcp", "X-API-Key", key, true)
	checkAccounts(t, "mcp", callAccounts(t, "mcp", legacy), "a")
	cs := sdkHTTP(t, s, "/mcp", "X-API-Key", key) // keeps a GET stream open, if its protocol has one
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	s.signal(t, syscall.SIGTERM)
	if code := s.waitExit(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0; stderr:\n%s", code, tail(s.logs.String(), 4000))
	}
	t.Logf("http server stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	s.logs.wait(t, time.Second, "stopped")
	if rs := s.logs.find("connections still open at the deadline; closing them"); len(rs) > 0 {
		t.Errorf("shutdown waited for the deadline: open streams were not ended")
	}
}

// TestE2EHTTPGarbageCollector: serving over HTTP, mailcal sets GOGC=400 and
// a soft memory limit (on Linux, three quarters of the memory it may use),
// unless GOGC and GOMEMLIMIT say otherwise; stdio keeps Go's defaults.
func TestE2EHTTPGarbageCollector(t *testing.T) {
	t.Parallel()
	const msg = "garbage collector set for serving over HTTP"
	k := newKeyring(t)
	s := startHTTP(t, k)
	recs := s.logs.find(msg)
	if len(recs) != 1 || recs[0]["gogc"] != float64(400) {
		t.Fatalf("default: %v, want one %q record with gogc 400", recs, msg)
	}
	if limit, _ := recs[0]["memory_limit_mb"].(float64); runtime.GOOS == "linux" && limit <= 0 {
		t.Errorf("default: no memory limit on Linux: %v", recs[0])
	}
	set := waitHTTP(t, startServeWith(t, k.env("GOGC=200", "GOMEMLIMIT=512MiB"), k.home, nil, httpArgs()...))
	if recs := set.logs.find(msg); len(recs) != 0 {
		t.Errorf("with GOGC and GOMEMLIMIT set: %v, want no record", recs)
	}
	half := waitHTTP(t, startServeWith(t, k.env("GOGC=200"), k.home, nil, httpArgs()...))
	if recs := half.logs.find(msg); len(recs) != 1 || recs[0]["gogc"] != nil || runtime.GOOS == "linux" && recs[0]["memory_limit_mb"] == nil {
		t.Errorf("with GOGC set: %v, want a record of the memory limit only", recs)
	}
}
