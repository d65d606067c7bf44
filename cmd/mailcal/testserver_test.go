package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/tools"
)

// testHTTP is the HTTP surface of `serve --transport http` in this process,
// over a memory store, with one more tool: wait, which runs for ms
// milliseconds or until its call is cancelled (then it reports on
// cancelled).
type testHTTP struct {
	*httptest.Server
	a         *app
	h         *httpHandler
	sessions  *sessionTable
	keys      map[string]string // tenant → API key
	read      atomic.Int64      // bytes the server read from its connections
	cancelled chan string       // the tenant of every wait call cancelled
}

const (
	initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`
	pingBody       = `{"jsonrpc":"2.0","id":2,"method":"ping"}`
)

func waitCallBody(ms int) string {
	return `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"wait","arguments":{"ms":` + strconv.Itoa(ms) + `}}}`
}

// newTestHTTP serves c (zero fields get test defaults) for the tenants.
func newTestHTTP(t *testing.T, c serveConfig, tenants ...string) *testHTTP {
	t.Helper()
	ctx := context.Background()
	if c.maxRequestBytes == 0 {
		c.maxRequestBytes = 4 << 20
	}
	if c.sessionIdleTTL == 0 {
		c.sessionIdleTTL = time.Hour
	}
	if c.keepAlive == 0 {
		c.keepAlive = time.Hour
	}
	if c.readTimeout == 0 {
		c.readTimeout = 5 * time.Second
	}
	if c.maxSessions == 0 {
		c.maxSessions = 100
	}
	if c.maxStreams == 0 {
		c.maxStreams = 100
	}
	cfg, err := loadConfig(env{getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testHTTP{a: newAppWith(cfg, memory.New()), keys: map[string]string{}, cancelled: make(chan string, 100)}
	t.Cleanup(ts.a.close)
	for _, name := range tenants {
		key, err := ts.a.tenants.Add(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ts.keys[name] = key
	}
	ts.sessions = newSessionTable(c.maxSessions, c.maxStreams, c.sessionIdleTTL)
	mcpSrv, err := tools.New(tools.Options{Version: "test", Accounts: ts.a.grants, Providers: ts.a.providers, Hooks: ts.sessions.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	mcpSrv.AddTool(mcp.NewTool("wait", mcp.WithNumber("ms")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-time.After(time.Duration(req.GetInt("ms", 0)) * time.Millisecond):
			return mcp.NewToolResultText("waited"), nil
		case <-ctx.Done():
			name, _ := tenant.FromContext(ctx)
			ts.cancelled <- name
			return nil, ctx.Err()
		}
	})
	// whoami answers "TENANT SIGNED-IN-ACCOUNT" (the account "-" without a
	// sign-in): what reached the tool handler's context.
	mcpSrv.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		name, _ := tenant.FromContext(ctx)
		account := "-"
		if s, ok := tenant.SigninFrom(ctx); ok {
			account = s.Account
		}
		return mcp.NewToolResultText(name + " " + account), nil
	})
	ts.h, err = newHTTPHandler(c, ts.a, mcpSrv, ts.sessions, "http://127.0.0.1/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = httptest.NewUnstartedServer(ts.h)
	ts.Server.Listener = countingListener{ts.Server.Listener, &ts.read}
	ts.Server.Config.ReadHeaderTimeout = 10 * time.Second
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		_ = ts.h.streamable.Shutdown(ctx)
		ts.h.stop()
	})
	return ts
}

// do sends one request with a tenant's key and header pairs, and returns
// its status, headers and body (up to 4 KiB: streams are not read to their
// end).
func (ts *testHTTP) do(t *testing.T, method, path, tenantName, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key := ts.keys[tenantName]; key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header, b.String()
}

// open initializes a 2025-11-25 streamable session and returns its id.
func (ts *testHTTP) open(t *testing.T, tenantName string) string {
	t.Helper()
	code, h, body := ts.do(t, "POST", "/mcp", tenantName, initializeBody)
	if code != http.StatusOK || h.Get("Mcp-Session-Id") == "" {
		t.Fatalf("initialize for %s: %d %s", tenantName, code, body)
	}
	return h.Get("Mcp-Session-Id")
}

// on sends a request naming a session: POST (body, default ping), GET or
// DELETE.
func (ts *testHTTP) on(t *testing.T, method, id, tenantName string, body ...string) (int, string) {
	t.Helper()
	b := ""
	if method == "POST" {
		b = pingBody
		if len(body) > 0 {
			b = body[0]
		}
	}
	code, _, out := ts.do(t, method, "/mcp", tenantName, b, "Mcp-Session-Id", id, "Mcp-Protocol-Version", "2025-11-25")
	return code, out
}

// stream is an open GET stream; ended is closed when the server ends it.
type stream struct {
	resp  *http.Response
	first string // its first line
	ended chan struct{}
}

// openStream opens GET path with a tenant's key and header pairs; it
// returns the status and body of an answer that is not a stream.
func (ts *testHTTP) openStream(t *testing.T, path, tenantName string, headers ...string) (*stream, int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("X-API-Key", ts.keys[tenantName])
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &stream{resp: resp, ended: make(chan struct{})}
	br := bufio.NewReader(resp.Body)
	if path == "/sse" {
		s.first, _ = br.ReadString('\n')
		_, _ = br.ReadString('\n') // the endpoint event's data
	}
	go func() {
		defer close(s.ended)
		_, _ = io.Copy(io.Discard, br)
	}()
	return s, resp.StatusCode, ""
}

func (ts *testHTTP) mustStream(t *testing.T, path, tenantName string, headers ...string) *stream {
	t.Helper()
	s, code, body := ts.openStream(t, path, tenantName, headers...)
	if s == nil {
		t.Fatalf("GET %s for %s: %d %s, want a stream", path, tenantName, code, body)
	}
	return s
}

// endsWithin reports whether the stream ends within d.
func (s *stream) endsWithin(d time.Duration) bool {
	select {
	case <-s.ended:
		return true
	case <-time.After(d):
		return false
	}
}

// streams returns the number of open streams the table counts for a
// tenant.
func (ts *testHTTP) streams(tenantName string) int {
	ts.sessions.mu.Lock()
	defer ts.sessions.mu.Unlock()
	if l := ts.sessions.tenants[tenantName]; l != nil {
		return l.streams
	}
	return 0
}

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
