package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/tools"
)

// TestNoGoroutineLeakAfterSessions opens and closes many MCP sessions over
// streamable HTTP and legacy SSE against the real HTTP handler and checks
// that the goroutine count comes back to where it was, and that idle
// sessions are swept.
func TestNoGoroutineLeakAfterSessions(t *testing.T) {
	ctx := context.Background()
	cfg, err := loadConfig(env{getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	a := newAppWith(cfg, memory.New())
	defer a.close()
	key, err := a.tenants.Add(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	sessions := newSessionTable(100, 100, time.Second)
	mcpSrv, err := tools.New(tools.Options{Version: "test", Accounts: a.grants, Providers: a.providers, Hooks: sessions.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHTTPHandler(serveConfig{maxRequestBytes: 1 << 20, sessionIdleTTL: time.Second, keepAlive: 200 * time.Millisecond, readTimeout: 5 * time.Second},
		a, mcpSrv, sessions, "http://127.0.0.1/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.stop()
	defer h.streamable.Shutdown(ctx)

	session := func(endpoint string) {
		headers := map[string]string{"Authorization": "Bearer " + key}
		var c *mcpclient.Client
		var err error
		if endpoint == "/sse" {
			c, err = mcpclient.NewSSEMCPClient(srv.URL+endpoint, mcpclient.WithHeaders(headers))
		} else {
			c, err = mcpclient.NewStreamableHttpClient(srv.URL+endpoint, transport.WithHTTPHeaders(headers))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		var init mcp.InitializeRequest
		init.Params.ProtocolVersion = "2025-11-25" // a protocol with sessions
		init.Params.ClientInfo = mcp.Implementation{Name: "leak-test", Version: "1"}
		if _, err := c.Initialize(ctx, init); err != nil {
			t.Fatal(err)
		}
		var call mcp.CallToolRequest
		call.Params.Name = "list_accounts"
		if res, err := c.CallTool(ctx, call); err != nil || res.IsError {
			t.Fatalf("%s list_accounts: %v %+v", endpoint, err, res)
		}
	}
	// Warm up once, so that lazily started goroutines (the idle-session
	// sweeper, the transport's pools) are in the baseline.
	session("/mcp")
	session("/sse")
	srv.CloseClientConnections()
	base := settledGoroutines(0, time.Second)

	for i := 0; i < 20; i++ {
		session("/mcp")
		session("/sse")
	}
	srv.CloseClientConnections()
	if n := settledGoroutines(base, 5*time.Second); n > base {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Fatalf("%d goroutines after 40 closed sessions, %d before:\n%s", n, base, b.String())
	}
	// Streamable sessions whose clients left without a DELETE are swept
	// once idle for --session-idle-ttl, and their tenant binding with them.
	deadline := time.Now().Add(5 * time.Second)
	for sessions.count() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := sessions.count(); n != 0 {
		t.Errorf("%d sessions still bound to a tenant 5 s after their clients closed (idle TTL 1 s)", n)
	}
}

// settledGoroutines waits until the goroutine count is at most want (or,
// with want 0, stops changing) and returns it.
func settledGoroutines(want int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	last := -1
	for {
		n := runtime.NumGoroutine()
		if (want > 0 && n <= want) || (want == 0 && n == last) || time.Now().After(deadline) {
			return n
		}
		last = n
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNoGoroutineLeakAfterLimits: what the HTTP bounds refuse or end leaves
// nothing behind: sessions and streams refused at their caps, sessions
// ended by DELETE and by the idle sweep, slow bodies cut, bodies refused
// unread, and everything of a removed tenant. The goroutine count comes
// back to where it was, and the session table empties.
func TestNoGoroutineLeakAfterLimits(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{maxSessions: 4, maxStreams: 2, readTimeout: 200 * time.Millisecond, sessionIdleTTL: 300 * time.Millisecond}, "a", "gone")
	key := ts.keys["a"]
	round := func() {
		s1, s2 := ts.mustStream(t, "/sse", "a"), ts.mustStream(t, "/mcp", "a", "Mcp-Protocol-Version", "2025-11-25")
		if s, code, _ := ts.openStream(t, "/sse", "a"); s != nil || code != http.StatusTooManyRequests {
			t.Fatalf("a stream beyond the cap: %d", code)
		}
		id, idle := ts.open(t, "a"), ts.open(t, "a")
		if code, _, _ := ts.do(t, "POST", "/mcp", "a", initializeBody); code != http.StatusTooManyRequests {
			t.Fatalf("a session beyond the cap: %d", code)
		}
		ts.on(t, "POST", id, "a", waitCallBody(10))
		ts.on(t, "DELETE", id, "a")
		_ = idle // left to the sweep
		rawRequest(t, ts, head(ts, "POST", "/mcp", "X-API-Key: "+key, "Content-Length: 100")+"{", nil)
		rawRequest(t, ts, head(ts, "POST", "/mcp", "Transfer-Encoding: chunked")+"1\r\n{\r\n", nil)
		s1.resp.Body.Close()
		s2.resp.Body.Close()
		waitEmpty(t, ts.sessions)
	}
	round()
	ts.CloseClientConnections()
	base := settledGoroutines(0, time.Second)

	for range 5 {
		round()
	}
	// Everything of a removed tenant: streams, sessions, a running call.
	sse := ts.mustStream(t, "/sse", "gone")
	id := ts.open(t, "gone")
	get := ts.mustStream(t, "/mcp", "gone", "Mcp-Session-Id", id, "Mcp-Protocol-Version", "2025-11-25")
	call := make(chan struct{})
	go func() { defer close(call); ts.on(t, "POST", id, "gone", waitCallBody(30000)) }()
	time.Sleep(50 * time.Millisecond)
	if err := ts.a.tenants.Remove(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*stream{sse, get} {
		if !s.endsWithin(tenantRecheck + time.Second) {
			t.Fatal("a removed tenant's stream is still open")
		}
	}
	<-call

	ts.CloseClientConnections()
	if n := settledGoroutines(base, 5*time.Second); n > base {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Fatalf("%d goroutines after the rounds, %d before:\n%s", n, base, b.String())
	}
	waitEmpty(t, ts.sessions)
}

// waitEmpty waits until the table holds no session and no tenant's load
// (the idle ones swept, the closed streams noticed).
func waitEmpty(t *testing.T, st *sessionTable) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		st.mu.Lock()
		sessions, loads := len(st.sessions), len(st.tenants)
		st.mu.Unlock()
		if sessions == 0 && loads == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left in the session table: %d sessions, %d tenants' loads", sessions, loads)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
