//go:build unix

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// startHTTPLimited starts the HTTP server under `ulimit -n nofile`.
func startHTTPLimited(t *testing.T, k *testKeyring, nofile int, args ...string) *httpServer {
	t.Helper()
	p := newProc(t, k.env(), k.home, append([]string{"serve"}, httpArgs(args...)...)...)
	p.name = "mailcal serve"
	bin := p.cmd.Path
	p.cmd.Path = "/bin/sh"
	p.cmd.Args = append([]string{"/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bin}, p.cmd.Args[1:]...)
	p.start(t)
	return waitHTTP(t, p)
}

// slowRequest is a request whose head and first body bytes were sent, and
// nothing more; wait reads what the server made of it: the status line
// ("closed" if the server closed the connection without one, "no answer"),
// when, and whether the server then closed the connection.
type slowRequest struct {
	kind   string
	conn   net.Conn
	status string
	took   time.Duration
	closed bool // the server closed the connection after answering
}

func sendSlow(t *testing.T, addr, kind, head string) *slowRequest {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatalf("%s: writing the head: %v", kind, err)
	}
	return &slowRequest{kind: kind, conn: c}
}

// wait reads the answer, at most until deadline.
func (r *slowRequest) wait(start, deadline time.Time) {
	_ = r.conn.SetReadDeadline(deadline)
	br := bufio.NewReader(r.conn)
	line, err := br.ReadString('\n')
	r.took = time.Since(start)
	switch {
	case line != "":
		r.status = strings.TrimSpace(line)
	case err != nil && !isTimeout(err):
		r.status = "closed"
	default:
		r.status = "no answer"
		return
	}
	_, err = io.Copy(io.Discard, br) // the server closes after the answer
	r.closed = err == nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestE2EHTTPSlowBodies: with more slow senders than the server has file
// descriptors (360 under `ulimit -n 256`), every one of them is cut within
// the read timeout (408 for authenticated requests whose body is read, 401
// at once, unread, for the others) and /healthz and /mcp answer. Before,
// none was ever cut and /healthz did not answer.
func TestE2EHTTPSlowBodies(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	key := k.addTenant(t, "a")
	const readTimeout = 2 * time.Second
	s := startHTTPLimited(t, k, 256, "--read-timeout", readTimeout.String())
	addr := strings.TrimPrefix(s.base, "http://")

	head := func(method, path string, headers ...string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
	}
	kinds := []struct {
		name, head, want string
	}{
		{"authenticated /mcp", head("POST", "/mcp", "X-API-Key: "+key, "Content-Type: application/json", "Content-Length: 1000") + `{"jsonrpc"`, "408"},
		{"authenticated /message, chunked", head("POST", "/message?sessionId=x", "X-API-Key: "+key, "Transfer-Encoding: chunked") + "5\r\n{\"jso\r\n", "408"},
		{"authenticated /api", head("POST", "/api/integrations/google/connect", "Authorization: Bearer "+key, "Content-Type: application/json", "Content-Length: 200") + `{"auth_code"`, "408"},
		{"/oauth/callback", head("POST", "/oauth/callback", "Content-Length: 900") + "code=", "408"},
		{"no key, chunked", head("POST", "/mcp", "Content-Type: application/json", "Transfer-Encoding: chunked") + "10\r\n{\"jsonrpc\":\"2.0\"\r\n", "401"},
		{"wrong key, 10 MB", head("POST", "/mcp", "X-API-Key: mck_wrong", "Content-Length: 10485760") + `{"jsonrpc"`, "401"},
		{"no key, 200 KB", head("POST", "/sse", "Content-Length: 204800") + `{"jsonrpc"`, "401"},
	}
	// 300 whose bodies are read (more than the server's descriptors), and
	// 60 that are refused without theirs.
	const read, refused = 300, 60
	const n = read + refused
	start := time.Now()
	var slow []*slowRequest
	var want []string
	for i := range n {
		kd := kinds[i%4]
		if i >= read {
			kd = kinds[4+i%3]
		}
		slow = append(slow, sendSlow(t, addr, kd.name, kd.head))
		want = append(want, kd.want)
	}
	defer func() {
		for _, r := range slow {
			r.conn.Close()
		}
	}()
	var wg sync.WaitGroup
	for _, r := range slow {
		wg.Add(1)
		go func() { defer wg.Done(); r.wait(start, start.Add(4*readTimeout)) }()
	}

	// The server answers while the slow senders hold every descriptor it
	// has: at the latest once the first of them are cut.
	ctx, cancel := context.WithTimeout(context.Background(), 3*readTimeout)
	defer cancel()
	hstart := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /healthz with %d slow senders: %v after %s", n, err, time.Since(hstart).Round(time.Millisecond))
	}
	resp.Body.Close()
	t.Logf("GET /healthz with %d slow senders under ulimit -n 256: %d after %s", n, resp.StatusCode, time.Since(hstart).Round(time.Millisecond))
	if r := s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", key); r.status != http.StatusOK {
		t.Errorf("initialize with %d slow senders: %d %s", n, r.status, r.body)
	}

	wg.Wait()
	counts := map[string]int{}
	for i, r := range slow {
		want := want[i]
		counts[r.kind+": "+r.status]++
		switch {
		case !strings.Contains(r.status, " "+want+" "):
			t.Errorf("%s: %q after %s, want %s", r.kind, r.status, r.took.Round(time.Millisecond), want)
		case !r.closed:
			t.Errorf("%s: the server answered %s but left the connection open", r.kind, want)
		}
	}
	t.Logf("answers within %s: %v", time.Since(start).Round(time.Millisecond), counts)
}

// sseStream is an open GET /sse (or GET /mcp) stream; ended is closed when
// the server ends it.
type sseStream struct {
	resp  *http.Response
	ended chan struct{}
}

// openStream opens a stream with a key and the header pairs; it returns
// the answer when it is not a stream.
func openStream(t *testing.T, s *httpServer, path, key string, headers ...string) (*sseStream, rawResponse) {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return nil, rawResponse{resp.StatusCode, resp.Header, body}
	}
	st := &sseStream{resp: resp, ended: make(chan struct{})}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(st.ended)
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	return st, rawResponse{status: resp.StatusCode, header: resp.Header}
}

func mustStream(t *testing.T, s *httpServer, path, key string, headers ...string) *sseStream {
	t.Helper()
	st, r := openStream(t, s, path, key, headers...)
	if st == nil {
		t.Fatalf("GET %s: %d %s, want a stream", path, r.status, r.body)
	}
	return st
}

// checkCapError checks a 429 that names the cap's flag.
func checkCapError(t *testing.T, who string, r rawResponse, code, flag string) {
	t.Helper()
	checkJSONError(t, who, r, http.StatusTooManyRequests, code)
	if !strings.Contains(string(r.body), flag) {
		t.Errorf("%s: the error does not name %s: %s", who, flag, r.body)
	}
}

// TestE2EHTTPTenantCaps: one tenant's sessions and streams are capped
// (--max-sessions-per-tenant, --max-streams-per-tenant) with a 429 naming
// the flag; closing one frees its slot; other tenants are not affected.
// Before, one key opened 1,000 streams and 2,000 sessions.
func TestE2EHTTPTenantCaps(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	keyA, keyB := k.addTenant(t, "a"), k.addTenant(t, "b")
	s := startHTTP(t, k, "--max-sessions-per-tenant", "5", "--max-streams-per-tenant", "3")

	// Three SSE streams (three sessions), then the stream cap.
	var streams []*sseStream
	for range 3 {
		streams = append(streams, mustStream(t, s, "/sse", keyA))
	}
	_, r := openStream(t, s, "/sse", keyA)
	checkCapError(t, "a 4th SSE stream", r, "too_many_streams", "--max-streams-per-tenant")
	// Two streamable sessions, then the session cap.
	ids := []string{openSession(t, s, keyA), openSession(t, s, keyA)}
	checkCapError(t, "a 6th session", s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", keyA),
		"too_many_sessions", "--max-sessions-per-tenant")
	// A listening stream on a session is a stream too.
	_, r = openStream(t, s, "/mcp", keyA, "Mcp-Session-Id", ids[0], "Mcp-Protocol-Version", "2025-11-25")
	checkCapError(t, "a GET /mcp stream beyond the cap", r, "too_many_streams", "--max-streams-per-tenant")
	// b is not a's caps.
	mustStream(t, s, "/sse", keyB)
	openSession(t, s, keyB)

	// Ending a session or closing a stream frees its slot.
	if r := onSession(t, s, "DELETE", ids[1], keyA); r.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	ids[1] = openSession(t, s, keyA)
	streams[0].resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, r := openStream(t, s, "/mcp", keyA, "Mcp-Session-Id", ids[0], "Mcp-Protocol-Version", "2025-11-25")
		if st != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stream after closing one: still %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkCapError(t, "a stream beyond the cap again", func() rawResponse { _, r := openStream(t, s, "/sse", keyA); return r }(),
		"too_many_streams", "--max-streams-per-tenant")
}

// TestE2EHTTPRemovedTenant: `mailcal tenant remove` ends the tenant's open
// streams (SSE and streamable) and sessions within about 2 s, and leaves the
// other tenants' alone. Before, they stayed open.
func TestE2EHTTPRemovedTenant(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	keyA, keyB := k.addTenant(t, "a"), k.addTenant(t, "b")
	s := startHTTP(t, k)

	bSSE := mustStream(t, s, "/sse", keyB)
	withStream, plain := openSession(t, s, keyB), openSession(t, s, keyB)
	bGET := mustStream(t, s, "/mcp", keyB, "Mcp-Session-Id", withStream, "Mcp-Protocol-Version", "2025-11-25")
	aSSE := mustStream(t, s, "/sse", keyA)
	aSession := openSession(t, s, keyA)

	if _, errOut, err := k.run(t, "tenant", "remove", "b"); err != nil {
		t.Fatalf("mailcal tenant remove b: %v\n%s", err, errOut)
	}
	removed := time.Now()
	for name, st := range map[string]*sseStream{"b's SSE stream": bSSE, "b's GET /mcp stream": bGET} {
		select {
		case <-st.ended:
			t.Logf("%s ended %s after the removal", name, time.Since(removed).Round(time.Millisecond))
		case <-time.After(3*time.Second - time.Since(removed)):
			t.Errorf("%s still open 3 s after `mailcal tenant remove b`", name)
		}
	}
	rec := s.logs.wait(t, time.Second, "tenant removed or given a new key: closing what it had open", "tenant", "b")
	if rec["sessions"] != float64(3) {
		t.Errorf("the server closed %v of b's sessions, want 3 (SSE, and two streamable): %v", rec["sessions"], rec)
	}
	select {
	case <-aSSE.ended:
		t.Errorf("a's SSE stream ended with b's removal")
	default:
	}
	if r := onSession(t, s, "POST", aSession, keyA); r.status != http.StatusOK {
		t.Errorf("a's session after b's removal: %d %s", r.status, r.body)
	}
	// b added again starts with nothing: the old sessions are not its.
	keyB2 := k.addTenant(t, "b")
	deadline := time.Now().Add(5 * time.Second)
	for s.do(t, "POST", "/mcp", strings.NewReader(initializeBody), "X-API-Key", keyB2).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the new b's key is still refused")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range []string{withStream, plain} {
		checkSessionGone(t, "the old b's session with the new b's key", s, id, keyB2)
	}
}
