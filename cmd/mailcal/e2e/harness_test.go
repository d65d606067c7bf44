//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// harness is the provider-neutral part of a fixture: one keyring, the
// subprocesses' environment (the keyring's, and the one that points mailcal
// at the provider's fake), the leak audit over everything the subprocesses
// write and every answer the test gets, and the ways to start mailcal and to
// talk to it: serve over stdio or HTTP, the other commands, the REST API,
// the browser's visit to the callback, MCP tool calls. A provider's fixture
// (googleFixture) embeds it, next to its fake.
type harness struct {
	k     *testKeyring
	extra []string // environment beyond k.env(): the fake's, the health interval
	leaks *leakAudit
	procs atomic.Int32
}

// fake is what the harness needs of a provider's fake: the mailcal
// environment that points at it, and every secret it issued or saw, for the
// leak audit (googletest.Server has both, from providers/oauthtest).
type fake interface {
	Env() []string
	Secrets() []string
}

// newHarness makes a fresh keyring and a leak audit that runs when the test
// ends, over the keyring passphrase, the tenants' API keys and f's secrets.
// fakeName names f in the audit's errors. The subprocesses' environment is
// the keyring's, then f's, with the health check off, then extraEnv, which
// adds to (and overrides) it.
func newHarness(t *testing.T, fakeName string, f fake, extraEnv ...string) *harness {
	t.Helper()
	h := &harness{k: newKeyring(t), leaks: &leakAudit{}}
	h.extra = append(append(f.Env(), "MAILCAL_HEALTH_INTERVAL=off"), extraEnv...)
	h.leaks.secret(h.k.password)
	// Registered before any subprocess starts, so it runs after they are
	// all killed: their output is complete.
	t.Cleanup(func() { h.leaks.check(t, fakeName, f.Secrets()) })
	return h
}

// env is the subprocesses' environment: the keyring's plus the fake's.
func (h *harness) env(extra ...string) []string {
	return h.k.env(append(slices.Clone(h.extra), extra...)...)
}

// addTenant creates a tenant and returns its API key, which the leak audit
// then looks for.
func (h *harness) addTenant(t *testing.T, name string) string {
	t.Helper()
	key := h.k.addTenant(t, name)
	h.leaks.secret(key)
	return key
}

// --- subprocesses

// serve starts `mailcal serve ARGS` with the fixture's environment, and
// watches its output for leaked secrets.
func (h *harness) serve(t *testing.T, stdin io.Reader, args ...string) *proc {
	t.Helper()
	p := startServeWith(t, h.env(), h.k.home, stdin, args...)
	name := fmt.Sprintf("mailcal serve #%d", h.procs.Add(1))
	h.leaks.watch(name+" stderr", p.logs.String)
	h.leaks.watch(name+" stdout", p.stdout.String)
	return p
}

// startHTTP is startHTTP with the fixture's environment.
func (h *harness) startHTTP(t *testing.T, args ...string) *httpServer {
	t.Helper()
	return waitHTTP(t, h.serve(t, nil, httpArgs(args...)...))
}

// cli starts `mailcal ARGS` with env; with pipeStdin its stdin is a pipe
// the test writes to, else empty.
func (h *harness) cli(t *testing.T, env []string, pipeStdin bool, args ...string) *proc {
	t.Helper()
	c := newProc(t, env, h.k.home, args...)
	if pipeStdin {
		c.stdinPipe(t)
	}
	n := h.procs.Add(1)
	h.leaks.watch(fmt.Sprintf("%s (#%d) stdout", c.name, n), c.stdout.String)
	h.leaks.watch(fmt.Sprintf("%s (#%d) stderr", c.name, n), c.logs.String)
	c.start(t)
	return c
}

// run runs `mailcal ARGS` with the fixture's environment to completion.
func (h *harness) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	c := h.cli(t, h.env(), false, args...)
	code = c.waitExit(t, 60*time.Second)
	return c.stdout.String(), c.logs.String(), code
}

// stdio starts `mailcal serve ARGS` under mcp-go's stdio client with the
// fixture's environment, watching its stderr for leaked secrets, and
// initializes.
func (h *harness) stdio(t *testing.T, args ...string) *mcpclient.Client {
	t.Helper()
	logs := &logSink{}
	h.leaks.watch(fmt.Sprintf("mailcal serve (stdio #%d) stderr", h.procs.Add(1)), logs.String)
	return mcpgoStdioWith(t, h.env(), h.k.home, logs, args...)
}

// --- HTTP API

// browse is the browser's GET of a URL (the callback): no API key, no
// redirects followed. The answer is audited.
func (h *harness) browse(t *testing.T, u string) rawResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET the callback: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h.leaks.record("callback page", string(body))
	return rawResponse{resp.StatusCode, resp.Header, body}
}

// do is s.do with the answer audited.
func (h *harness) do(t *testing.T, s *httpServer, method, path string, body io.Reader, headers ...string) rawResponse {
	t.Helper()
	r := s.do(t, method, path, body, headers...)
	h.leaks.record(method+" "+path, string(r.body))
	return r
}

type authorization struct {
	URL   string `json:"authorization_url"`
	State string `json:"state"`
}

// authorize asks the REST API for an authorization URL.
func (h *harness) authorize(t *testing.T, s *httpServer, key, provider string, q url.Values) authorization {
	t.Helper()
	path := "/api/integrations/" + provider + "/authorize"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	r := h.do(t, s, "GET", path, nil, "Authorization", "Bearer "+key)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var a authorization
	if err := json.Unmarshal(r.body, &a); err != nil || a.URL == "" || a.State == "" {
		t.Fatalf("GET %s: %s, want {authorization_url, state} (%v)", path, r.body, err)
	}
	if u, err := url.Parse(a.URL); err != nil || u.Query().Get("state") != a.State {
		t.Fatalf("GET %s: the authorization URL does not carry the state it answered", path)
	}
	return a
}

type integration struct {
	Provider    string   `json:"provider"`
	Account     string   `json:"account"`
	Connected   bool     `json:"connected"`
	ConnectedAt string   `json:"connected_at"`
	Status      string   `json:"status"`
	Scopes      []string `json:"scopes"`
}

// integrations is GET /api/integrations.
func (h *harness) integrations(t *testing.T, s *httpServer, key string) []integration {
	t.Helper()
	r := h.do(t, s, "GET", "/api/integrations", nil, "X-API-Key", key)
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/integrations: %d %s", r.status, r.body)
	}
	var v struct {
		Integrations *[]integration `json:"integrations"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Integrations == nil {
		t.Fatalf("GET /api/integrations: %s, want {\"integrations\":[...]} (%v)", r.body, err)
	}
	return *v.Integrations
}

func integrationAccounts(list []integration) []string {
	out := []string{}
	for _, i := range list {
		out = append(out, i.Account)
	}
	return out
}

// checkConnectedAt checks an RFC 3339 time between since (less a second:
// it is truncated) and now.
func checkConnectedAt(t *testing.T, who, v string, since time.Time) {
	t.Helper()
	at, err := time.Parse(time.RFC3339, v)
	if err != nil || at.Before(since.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: connected_at %q, want an RFC 3339 time between %s and now", who, v, since.UTC().Format(time.RFC3339))
	}
}

// --- MCP

// callTool calls a tool and returns its result in wire form, audited. It
// may run on any goroutine.
func (h *harness) callTool(c *mcpclient.Client, tool string, args map[string]any) (wireResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil {
		return wireResult{}, fmt.Errorf("tools/call %s: %w", tool, err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		return wireResult{}, err
	}
	h.leaks.record(tool+" result", string(data))
	var w wireResult
	if err := json.Unmarshal(data, &w); err != nil {
		return wireResult{}, fmt.Errorf("%s result does not parse: %v", tool, err)
	}
	return w, nil
}

func (h *harness) call(t *testing.T, c *mcpclient.Client, tool string, args map[string]any) wireResult {
	t.Helper()
	w, err := h.callTool(c, tool, args)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// ok calls a tool on c that must succeed, and decodes its structured content
// into out (when not nil).
func (h *harness) callOK(t *testing.T, c *mcpclient.Client, tool string, args map[string]any, out any) wireResult {
	t.Helper()
	r := h.call(t, c, tool, args)
	if r.IsError {
		t.Fatalf("%s answered a tool error: %s", tool, r.text())
	}
	if len(r.StructuredContent) == 0 {
		t.Fatalf("%s answered no structured content; text: %s", tool, r.text())
	}
	if out != nil {
		if err := json.Unmarshal(r.StructuredContent, out); err != nil {
			t.Fatalf("%s structured content does not parse: %v\n%s", tool, err, r.StructuredContent)
		}
	}
	return r
}

// fails calls a tool on c that must answer a tool error (not a protocol
// error) saying each of wants, and returns its text.
func (h *harness) callFails(t *testing.T, c *mcpclient.Client, tool string, args map[string]any, wants ...string) string {
	t.Helper()
	r := h.call(t, c, tool, args)
	text := r.text()
	if !r.IsError {
		t.Errorf("%s succeeded, want a tool error saying %q: %s", tool, wants, tail(text, 500))
		return text
	}
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the error does not say %q: %s", tool, w, text)
		}
	}
	return text
}

// checkOK calls check_account and fails the test unless the account works.
func (h *harness) checkOK(t *testing.T, who string, c *mcpclient.Client, account string) {
	t.Helper()
	r := h.call(t, c, "check_account", map[string]any{"account": account})
	if err := checkAccountOK(r, account); err != nil {
		t.Fatalf("%s: %v", who, err)
	}
}

func checkAccountOK(r wireResult, account string) error {
	if r.IsError {
		return fmt.Errorf("check_account answered an error: %s", r.text())
	}
	var sc struct {
		Account string `json:"account"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal(r.StructuredContent, &sc); err != nil || sc.Account != account || sc.Status != "ok" {
		return fmt.Errorf("check_account: structured content %s, want account %s and status ok (%v)", r.StructuredContent, account, err)
	}
	return nil
}

// accountStatuses calls list_accounts: account → status (and scopes).
func (h *harness) accountStatuses(t *testing.T, c *mcpclient.Client) map[string]wireAccount {
	t.Helper()
	r := h.call(t, c, "list_accounts", nil)
	if r.IsError {
		t.Fatalf("list_accounts answered an error: %s", r.text())
	}
	var sc struct {
		Accounts []wireAccount `json:"accounts"`
	}
	if err := json.Unmarshal(r.StructuredContent, &sc); err != nil {
		t.Fatalf("list_accounts structured content %s: %v", r.StructuredContent, err)
	}
	out := map[string]wireAccount{}
	for _, a := range sc.Accounts {
		out[a.Account] = a
	}
	return out
}

// accountsList is what `mailcal accounts --json` prints.
type accountsList struct {
	Tenant   string        `json:"tenant"`
	Accounts []wireAccount `json:"accounts"`
}

// accountsJSON runs `mailcal accounts --tenant NAME --json`.
func (h *harness) accountsJSON(t *testing.T, tenantName string) accountsList {
	t.Helper()
	out, errOut, code := h.run(t, "accounts", "--tenant", tenantName, "--json")
	if code != 0 {
		t.Fatalf("mailcal accounts --tenant %s exited %d: %s", tenantName, code, errOut)
	}
	var list accountsList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("mailcal accounts --json: %v\n%s", err, out)
	}
	return list
}

// bothProviders runs run in parallel subtests "google" and "microsoft",
// each with an account its provider's open made for the subtest.
func bothProviders[A any](t *testing.T, google, microsoft func(*testing.T) A, run func(t *testing.T, a A)) {
	t.Helper()
	for _, p := range []struct {
		name string
		open func(*testing.T) A
	}{{"google", google}, {"microsoft", microsoft}} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			run(t, p.open(t))
		})
	}
}
