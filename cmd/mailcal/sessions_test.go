package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSessionEnds: DELETE ends a streamable session: POST, GET and DELETE
// naming it answer 404 afterwards; a session answers only the key that
// opened it (another tenant's gets 404 too, and cannot end it).
func TestSessionEnds(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{}, "a", "b")
	id := ts.open(t, "a")
	if code, body := ts.on(t, "POST", id, "a"); code != http.StatusOK {
		t.Fatalf("ping: %d %s", code, body)
	}
	gone := func(who, tenantName string) {
		t.Helper()
		for _, m := range []string{"POST", "GET", "DELETE"} {
			if code, body := ts.on(t, m, id, tenantName); code != http.StatusNotFound || !strings.Contains(body, `"session_not_found"`) {
				t.Errorf("%s: %s: %d %s, want 404 session_not_found", who, m, code, body)
			}
		}
	}
	gone("b's key on a's session", "b")
	if code, body := ts.on(t, "POST", id, "a"); code != http.StatusOK {
		t.Fatalf("ping after b's attempts: %d %s", code, body)
	}
	if code, body := ts.on(t, "DELETE", id, "a"); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	gone("after DELETE", "a")
	if n := ts.sessions.count(); n != 0 {
		t.Errorf("%d sessions after DELETE, want 0", n)
	}
	// An id the server never made is 404 as well; one on a 2026-07-28
	// request is ignored, as that revision has no sessions.
	if code, _ := ts.on(t, "POST", "mcs_NOSUCHSESSION", "a"); code != http.StatusNotFound {
		t.Errorf("an unknown session: %d, want 404", code)
	}
	code, _, body := ts.do(t, "POST", "/mcp", "a", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
		"Mcp-Session-Id", id, "Mcp-Protocol-Version", "2026-07-28")
	if code == http.StatusNotFound {
		t.Errorf("a 2026-07-28 request carrying an ended session id: %d %s", code, body)
	}
}

// TestSessionSweep: a session idle longer than --session-idle-ttl is
// swept (404 after); one whose call runs longer than that is not, nor is
// one holding a stream.
func TestSessionSweep(t *testing.T) {
	const ttl = 300 * time.Millisecond
	ts := newTestHTTP(t, serveConfig{sessionIdleTTL: ttl}, "a")
	idle, calling, listening := ts.open(t, "a"), ts.open(t, "a"), ts.open(t, "a")
	st := ts.mustStream(t, "/mcp", "a", "Mcp-Session-Id", listening, "Mcp-Protocol-Version", "2025-11-25")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, body := ts.on(t, "POST", calling, "a", waitCallBody(1500))
		if code != http.StatusOK || !strings.Contains(body, "waited") {
			t.Errorf("a 1.5 s call with a %s idle TTL: %d %s", ttl, code, body)
		}
	}()
	time.Sleep(time.Second)
	if code, _ := ts.on(t, "POST", idle, "a"); code != http.StatusNotFound {
		t.Errorf("a session idle for 1 s (TTL %s): %d, want 404", ttl, code)
	}
	wg.Wait()
	if code, body := ts.on(t, "POST", calling, "a"); code != http.StatusOK {
		t.Errorf("the session whose call outlasted the TTL, after the call: %d %s", code, body)
	}
	select {
	case <-st.ended:
		t.Errorf("the listening stream ended")
	default:
	}
	if code, body := ts.on(t, "POST", listening, "a"); code != http.StatusOK {
		t.Errorf("the session with a stream open: %d %s", code, body)
	}
	// Once nothing runs on them, they go too.
	st.resp.Body.Close()
	time.Sleep(time.Second)
	for _, id := range []string{calling, listening} {
		if code, _ := ts.on(t, "POST", id, "a"); code != http.StatusNotFound {
			t.Errorf("a session idle since: %d, want 404", code)
		}
	}
}

// TestSessionCaps: past --max-sessions-per-tenant and
// --max-streams-per-tenant a tenant gets 429 naming the flag; other
// tenants do not; an ended session or stream frees its slot.
func TestSessionCaps(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{maxSessions: 3, maxStreams: 2}, "a", "b")
	refused := func(who string, code int, body, errCode, flag string) {
		t.Helper()
		if code != http.StatusTooManyRequests || !strings.Contains(body, `"`+errCode+`"`) || !strings.Contains(body, flag) {
			t.Errorf("%s: %d %s, want 429 %s naming %s", who, code, body, errCode, flag)
		}
	}
	sse := ts.mustStream(t, "/sse", "a")                                       // a session and a stream
	get := ts.mustStream(t, "/mcp", "a", "Mcp-Protocol-Version", "2025-11-25") // the same, made by GET
	_, code, body := ts.openStream(t, "/sse", "a")
	refused("a third stream", code, body, "too_many_streams", "--max-streams-per-tenant")
	id := ts.open(t, "a")
	code, _, body = ts.do(t, "POST", "/mcp", "a", initializeBody)
	refused("a fourth session", code, body, "too_many_sessions", "--max-sessions-per-tenant")
	ts.open(t, "b")
	ts.mustStream(t, "/sse", "b")

	if code, body := ts.on(t, "DELETE", id, "a"); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	id = ts.open(t, "a")
	sse.resp.Body.Close()
	get.resp.Body.Close()
	deadline := time.Now().Add(2 * time.Second)
	for ts.streams("a") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still counted 2 s after closing both", ts.streams("a"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.mustStream(t, "/mcp", "a", "Mcp-Session-Id", id, "Mcp-Protocol-Version", "2025-11-25")
	ts.mustStream(t, "/sse", "a")
	_, code, body = ts.openStream(t, "/sse", "a")
	refused("a third stream again", code, body, "too_many_streams", "--max-streams-per-tenant")
}

// TestSessionsOfRemovedTenant: removing a tenant ends its SSE and
// streamable streams, its sessions and its running calls within the
// re-check interval; other tenants keep theirs.
func TestSessionsOfRemovedTenant(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{}, "a", "b")
	bSSE := ts.mustStream(t, "/sse", "b")
	bID := ts.open(t, "b")
	bGET := ts.mustStream(t, "/mcp", "b", "Mcp-Session-Id", bID, "Mcp-Protocol-Version", "2025-11-25")
	aSSE := ts.mustStream(t, "/sse", "a")
	aID := ts.open(t, "a")
	call := make(chan int, 1)
	go func() {
		code, _ := ts.on(t, "POST", bID, "b", waitCallBody(30000))
		call <- code
	}()
	time.Sleep(100 * time.Millisecond) // the call is running

	if err := ts.a.tenants.Remove(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	within := tenantRecheck + time.Second
	for name, s := range map[string]*stream{"SSE": bSSE, "GET /mcp": bGET} {
		if !s.endsWithin(within - time.Since(removed)) {
			t.Errorf("b's %s stream still open %s after the removal", name, within)
		}
	}
	select {
	case who := <-ts.cancelled:
		if who != "b" {
			t.Errorf("a call of %q was cancelled", who)
		}
	case <-time.After(within - time.Since(removed)):
		t.Errorf("b's running call was not cancelled %s after the removal", within)
	}
	<-call
	t.Logf("b's streams and call ended %s after the removal", time.Since(removed).Round(time.Millisecond))
	deadline := time.Now().Add(time.Second)
	for ts.sessions.count() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ts.sessions.count(); n != 2 {
		t.Errorf("%d sessions left, want a's 2", n)
	}
	if aSSE.endsWithin(0) {
		t.Errorf("a's SSE stream ended")
	}
	if code, body := ts.on(t, "POST", aID, "a"); code != http.StatusOK {
		t.Errorf("a's session: %d %s", code, body)
	}
}

// TestClassify: what each MCP request does to sessions and streams.
func TestClassify(t *testing.T) {
	const id = "mcs_X"
	for _, tc := range []struct {
		method, path, body, session, version string
		want                                 mcpRequest
	}{
		{"GET", "/sse", "", "", "", mcpRequest{opens: true, stream: true}},
		{"POST", "/message?sessionId=s1", pingBody, id, "", mcpRequest{checks: []string{"s1", id}}},
		{"POST", "/mcp", initializeBody, "", "", mcpRequest{opens: true}},
		{"POST", "/mcp", initializeBody, id, "", mcpRequest{opens: true}},
		{"POST", "/mcp", pingBody, id, "2025-11-25", mcpRequest{names: id}},
		{"POST", "/mcp", pingBody, "", "2025-11-25", mcpRequest{}},
		{"POST", "/mcp", pingBody, id, "2026-07-28", mcpRequest{}},
		{"POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, id, "", mcpRequest{}},
		{"POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen"}`, "", "2026-07-28", mcpRequest{stream: true}},
		{"GET", "/mcp", "", "", "", mcpRequest{opens: true, stream: true}},
		{"GET", "/mcp", "", id, "2025-11-25", mcpRequest{names: id, stream: true}},
		{"GET", "/mcp", "", id, "2026-07-28", mcpRequest{}},
		{"DELETE", "/mcp", "", id, "", mcpRequest{names: id}},
		{"DELETE", "/mcp", "", "", "", mcpRequest{bad: "DELETE /mcp needs the Mcp-Session-Id header of the session to end"}},
	} {
		var r *http.Request
		if tc.body != "" {
			r, _ = http.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		} else {
			r, _ = http.NewRequest(tc.method, tc.path, nil)
		}
		if tc.session != "" {
			r.Header.Set("Mcp-Session-Id", tc.session)
		}
		if tc.version != "" {
			r.Header.Set("Mcp-Protocol-Version", tc.version)
		}
		got := classify(r)
		if got.names != tc.want.names || got.opens != tc.want.opens || got.stream != tc.want.stream || got.bad != tc.want.bad ||
			strings.Join(got.checks, ",") != strings.Join(tc.want.checks, ",") {
			t.Errorf("%s %s %s (session %q, version %q): %+v, want %+v", tc.method, tc.path, tc.body, tc.session, tc.version, got, tc.want)
		}
	}
}
