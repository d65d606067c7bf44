package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// rawRequest writes head on a new connection (and the body, with
// writeBody), and returns the status line of the answer, how long it took,
// and whether the server then closed the connection.
func rawRequest(t *testing.T, ts *testHTTP, head string, writeBody func(net.Conn)) (status string, took time.Duration, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	if writeBody != nil {
		go writeBody(c)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "no answer: " + err.Error(), time.Since(start), false
	}
	took = time.Since(start)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = br.ReadByte()
	// Closed: EOF, or a reset when the server closed with our body unread.
	ne, isNet := err.(net.Error)
	return resp.Proto + " " + resp.Status, took, err != nil && !(isNet && ne.Timeout())
}

func head(ts *testHTTP, method, path string, headers ...string) string {
	return method + " " + path + " HTTP/1.1\r\nHost: " + ts.Listener.Addr().String() + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
}

// TestSlowBodies: a body that does not arrive within --read-timeout is cut
// with 408 and the connection closed, wherever it goes; the body of a
// request without a valid key is not read at all: 401 at once, and the
// connection closed rather than drained.
func TestSlowBodies(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := newTestHTTP(t, serveConfig{readTimeout: timeout}, "a")
	key := ts.keys["a"]
	for _, tc := range []struct{ name, head string }{
		{"POST /mcp", head(ts, "POST", "/mcp", "X-API-Key: "+key, "Content-Type: application/json", "Content-Length: 100") + `{"jsonrpc"`},
		{"POST /mcp chunked", head(ts, "POST", "/mcp", "X-API-Key: "+key, "Content-Type: application/json", "Transfer-Encoding: chunked") + "3\r\n{\"j\r\n"},
		{"POST /message", head(ts, "POST", "/message?sessionId=x", "X-API-Key: "+key, "Content-Length: 100") + `{`},
		{"POST /api", head(ts, "POST", "/api/integrations/google/connect", "X-API-Key: "+key, "Content-Length: 100") + `{`},
		{"/oauth/callback", head(ts, "POST", "/oauth/callback", "Content-Length: 100") + `code=`},
		{"GET /sse with a body", head(ts, "GET", "/sse", "X-API-Key: "+key, "Content-Length: 100") + `x`},
	} {
		status, took, closed := rawRequest(t, ts, tc.head, nil)
		if !strings.Contains(status, " 408 ") || !closed || took < timeout || took > timeout+2*time.Second {
			t.Errorf("%s, slow body: %q after %s (connection closed: %v), want 408 after about %s and the connection closed",
				tc.name, status, took.Round(time.Millisecond), closed, timeout)
		}
	}

	// Without a valid key: 401 at once, not waiting for the body.
	for _, tc := range []struct{ name, head string }{
		{"no key, chunked", head(ts, "POST", "/mcp", "Content-Type: application/json", "Transfer-Encoding: chunked") + "3\r\n{\"j\r\n"},
		{"wrong key", head(ts, "POST", "/mcp", "X-API-Key: mck_wrong", "Content-Length: 100000") + `{`},
		{"no key, SSE", head(ts, "POST", "/sse", "Content-Length: 100") + `{`},
	} {
		status, took, closed := rawRequest(t, ts, tc.head, nil)
		if !strings.Contains(status, " 401 ") || !closed || took > timeout/2 {
			t.Errorf("%s: %q after %s (connection closed: %v), want 401 at once and the connection closed", tc.name, status, took.Round(time.Millisecond), closed)
		}
	}

	// A body sent whole behind a 401 is not read: the server reads the
	// head and what came with it, not the 200 KB after (net/http would
	// read up to 256 KiB of it to reuse the connection).
	before := ts.read.Load()
	const size = 200 << 10
	status, _, closed := rawRequest(t, ts, head(ts, "POST", "/mcp", "X-API-Key: mck_wrong", "Content-Length: 204800"), func(c net.Conn) {
		_, _ = c.Write([]byte(strings.Repeat("x", size)))
	})
	if read := ts.read.Load() - before; !strings.Contains(status, " 401 ") || !closed || read > 64<<10 {
		t.Errorf("a 200 KB body behind a 401: %q, closed %v, the server read %d bytes of it; want 401, closed, under 64 KiB read", status, closed, read)
	}

	// The server still serves.
	if code, _, body := ts.do(t, "GET", "/healthz", "", ""); code != http.StatusOK {
		t.Errorf("/healthz after the slow bodies: %d %s", code, body)
	}
	ts.open(t, "a")
}

// TestBodiesThatArriveInTime: a large body that keeps arriving is given
// more time (1 s per 128 KiB), and the read deadline ends with the body:
// a call running longer than it, and a stream, are not cut.
func TestBodiesThatArriveInTime(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ts := newTestHTTP(t, serveConfig{readTimeout: timeout}, "a")
	key := ts.keys["a"]

	// 768 KiB in three parts, 150 ms apart: 300 ms in all, over the
	// 200 ms the first bytes get, within the grace the parts earn.
	id := ts.open(t, "a")
	pad := strings.Repeat("x", 768<<10)
	body := `{"jsonrpc":"2.0","id":5,"method":"ping","params":{"_meta":{"pad":"` + pad + `"}}}`
	status, took, _ := rawRequest(t, ts, head(ts, "POST", "/mcp", "X-API-Key: "+key, "Content-Type: application/json",
		"Accept: application/json, text/event-stream", "Mcp-Session-Id: "+id, "Mcp-Protocol-Version: 2025-11-25", "Content-Length: "+strconv.Itoa(len(body))),
		func(c net.Conn) {
			for i := 0; i < 3; i++ {
				part := body[i*len(body)/3 : (i+1)*len(body)/3]
				_, _ = c.Write([]byte(part))
				time.Sleep(150 * time.Millisecond)
			}
		})
	if !strings.Contains(status, " 200 ") {
		t.Errorf("a 768 KiB body over %s: %q, want 200", took.Round(time.Millisecond), status)
	}
	// The grace is earned by bytes: 256 KiB at once, then nothing, is cut
	// 2 s (two grains of 128 KiB) after the 200 ms.
	status, took, closed := rawRequest(t, ts, head(ts, "POST", "/mcp", "X-API-Key: "+key, "Content-Type: application/json",
		"Mcp-Session-Id: "+id, "Mcp-Protocol-Version: 2025-11-25", "Content-Length: "+strconv.Itoa(len(body))),
		func(c net.Conn) { _, _ = c.Write([]byte(body[:256<<10])) })
	if want := timeout + 2*time.Second; !strings.Contains(status, " 408 ") || !closed || took < want || took > want+time.Second {
		t.Errorf("256 KiB then nothing: %q after %s, closed %v; want 408 after about %s", status, took.Round(time.Millisecond), closed, want)
	}

	// A call of 600 ms, 3 times the read timeout, over mcp-go's client; then
	// an SSE stream that outlives the timeout and still carries a call.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, endpoint := range []string{"/mcp", "/sse"} {
		var c *mcpclient.Client
		var err error
		if endpoint == "/mcp" {
			c, err = mcpclient.NewStreamableHttpClient(ts.URL+endpoint, transport.WithHTTPHeaders(map[string]string{"X-API-Key": key}))
		} else {
			c, err = mcpclient.NewSSEMCPClient(ts.URL+endpoint, mcpclient.WithHeaders(map[string]string{"X-API-Key": key}))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		var init mcp.InitializeRequest
		init.Params.ProtocolVersion = "2025-11-25"
		if _, err := c.Initialize(ctx, init); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * timeout)
		var call mcp.CallToolRequest
		call.Params.Name, call.Params.Arguments = "wait", map[string]any{"ms": 600}
		if res, err := c.CallTool(ctx, call); err != nil || res.IsError {
			t.Errorf("%s: a 600 ms call with a %s read timeout: %v %+v", endpoint, timeout, err, res)
		}
	}
}
