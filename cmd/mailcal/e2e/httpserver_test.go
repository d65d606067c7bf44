//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// httpServer is `mailcal serve --transport http` on a random loopback port.
type httpServer struct {
	*proc
	base string // http://127.0.0.1:PORT
}

// httpArgs are the serve arguments of an HTTP server on a random port.
func httpArgs(args ...string) []string {
	return append([]string{"--transport", "http", "--addr", "127.0.0.1:0"}, args...)
}

// startHTTP starts the HTTP server and waits until /healthz answers.
func startHTTP(t *testing.T, k *testKeyring, args ...string) *httpServer {
	t.Helper()
	return waitHTTP(t, startServe(t, k, nil, httpArgs(args...)...))
}

// waitHTTP waits until a server started with httpArgs answers /healthz.
func waitHTTP(t *testing.T, p *proc) *httpServer {
	t.Helper()
	rec := p.logs.wait(t, 30*time.Second, "mailcal serving MCP over HTTP")
	addr, _ := rec["addr"].(string)
	if addr == "" {
		t.Fatalf("the serving log record has no addr: %v", rec)
	}
	s := &httpServer{proc: p, base: "http://" + addr}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz never answered 200 (last: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		if out := p.stdout.String(); out != "" {
			t.Errorf("mailcal serve --transport http wrote to stdout (logs belong on stderr): %q", tail(out, 500))
		}
	})
	return s
}

// toolCalls counts the "tool called" debug records for a tool and tenant.
func (s *httpServer) toolCalls(tool, tenantName string) int {
	return len(s.logs.find("tool called", "tool", tool, "tenant", tenantName))
}

// anyToolCalls counts the records of every tool call, whatever its outcome.
func (s *httpServer) anyToolCalls() int {
	return len(s.logs.find("tool called")) + len(s.logs.find("tool failed")) + len(s.logs.find("tool answered an error"))
}

// waitToolCalls waits until the log shows want calls (a record can reach
// the log a moment after the answer reached the client), and fails the test
// on more, or on fewer after 5 s.
func (s *httpServer) waitToolCalls(t *testing.T, tool, tenantName string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := s.toolCalls(tool, tenantName)
		if got > want || (got < want && time.Now().After(deadline)) {
			t.Fatalf("%d %s call(s) logged for tenant %s, want %d", got, tool, tenantName, want)
		}
		if got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request with the given header pairs (name, value, ...).
func (s *httpServer) do(t *testing.T, method, path string, body io.Reader, headers ...string) rawResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return rawResponse{resp.StatusCode, resp.Header, data}
}

// checkJSONError checks a {"error":{"code","message"}} answer.
func checkJSONError(t *testing.T, who string, r rawResponse, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d; body %s", who, r.status, status, r.body)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", who, ct)
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("%s: body %s, want {\"error\":{\"code\":%q,\"message\":...}}", who, r.body, code)
	}
}
