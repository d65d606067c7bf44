//go:build unix

package e2e

// The fixture of the end-to-end tests of connecting Google accounts: the
// real binary (built with -race when the tests are) against googletest on
// loopback, with the tokens in the real file keyring of each test.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

const (
	oaAlice = "alice@example.com"
	oaBob   = "bob@example.com"
)

// Google's scopes for mailcal's scope names.
var oaGoogleScopes = map[string]string{
	"mail.read":      "https://www.googleapis.com/auth/gmail.readonly",
	"mail.send":      "https://www.googleapis.com/auth/gmail.send",
	"mail.modify":    "https://www.googleapis.com/auth/gmail.modify",
	"calendar.read":  "https://www.googleapis.com/auth/calendar.readonly",
	"calendar.write": "https://www.googleapis.com/auth/calendar.events",
}

// oaAuthURLRE finds the authorization URL that `mailcal connect` prints.
var oaAuthURLRE = regexp.MustCompile(`(?m)^\s+(http://127\.0\.0\.1:\d+/o/oauth2/auth\?\S+)\s*$`)

// --- the fixture: one fake Google, one keyring, the leak audit.

type oauthFixture struct {
	fg    *googletest.Server
	k     *testKeyring
	extra []string // environment beyond k.env(): googletest's, the health interval
	leaks *oauthLeaks
	procs atomic.Int32
}

// newOAuthFixture starts a fake Google with alice and bob (alice is the
// default account) and a fresh keyring. extraEnv adds to (and overrides) the
// subprocesses' environment, whose health check is off by default.
func newOAuthFixture(t *testing.T, opts googletest.Options, extraEnv ...string) *oauthFixture {
	t.Helper()
	mailcalBinary(t) // skipped with -short before anything starts
	fg := googletest.New(opts)
	t.Cleanup(fg.Close)
	fg.AddUser(oaAlice)
	fg.AddUser(oaBob)
	fx := &oauthFixture{fg: fg, k: newKeyring(t), leaks: &oauthLeaks{}}
	fx.extra = append(append(fg.Env(), "MAILCAL_HEALTH_INTERVAL=off"), extraEnv...)
	fx.leaks.secret(fx.k.password)
	// Registered before any subprocess starts, so it runs after they are
	// all killed: their output is complete.
	t.Cleanup(func() { fx.leaks.check(t, fg.Secrets()) })
	return fx
}

// env is the subprocesses' environment: the keyring's plus googletest's.
func (fx *oauthFixture) env(extra ...string) []string {
	return fx.k.env(append(slices.Clone(fx.extra), extra...)...)
}

// addTenant creates a tenant and returns its API key, which the leak audit
// then looks for.
func (fx *oauthFixture) addTenant(t *testing.T, name string) string {
	t.Helper()
	key := fx.k.addTenant(t, name)
	fx.leaks.secret(key)
	return key
}

// refreshTokens returns the refresh tokens googletest issued, in order.
func (fx *oauthFixture) refreshTokens() []string {
	var out []string
	for _, s := range fx.fg.Secrets() {
		if strings.HasPrefix(s, "1//0") {
			out = append(out, s)
		}
	}
	return out
}

func (fx *oauthFixture) refreshes() int { return fx.fg.TokenRequests("refresh_token") }
func (fx *oauthFixture) exchanges() int { return fx.fg.TokenRequests("authorization_code") }

// approve is the person approving at Google: it returns where the browser
// is sent (the redirect URI with code and state).
func (fx *oauthFixture) approve(t *testing.T, authURL string) *url.URL {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	loc, err := fx.fg.Approve(ctx, authURL)
	if err != nil {
		t.Fatalf("approving at googletest: %v", err)
	}
	if loc.Query().Get("code") == "" && loc.Query().Get("error") == "" {
		t.Fatalf("googletest redirected to %s: neither code nor error", loc.Redacted())
	}
	return loc
}

// browse is the browser's GET of a URL (the callback): no API key, no
// redirects followed. The answer is audited.
func (fx *oauthFixture) browse(t *testing.T, u string) rawResponse {
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
	fx.leaks.record("callback page", string(body))
	return rawResponse{resp.StatusCode, resp.Header, body}
}

// checkAuthURL checks an authorization URL mailcal made: googletest's
// endpoint, PKCE S256, offline access with consent, the Google scopes of
// want plus openid and email, and a redirect URI under redirectPrefix.
func (fx *oauthFixture) checkAuthURL(t *testing.T, raw, redirectPrefix string, want ...string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("authorization URL %q: %v", raw, err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != fx.fg.URL()+"/o/oauth2/auth" {
		t.Errorf("authorization URL endpoint %s, want googletest's %s/o/oauth2/auth", got, fx.fg.URL())
	}
	q := u.Query()
	for name, v := range map[string]string{
		"response_type": "code", "client_id": googletest.DefaultClientID, "code_challenge_method": "S256",
		"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true",
	} {
		if q.Get(name) != v {
			t.Errorf("authorization URL %s = %q, want %q", name, q.Get(name), v)
		}
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("code_challenge %q is not an S256 challenge", q.Get("code_challenge"))
	}
	if len(q.Get("state")) < 32 {
		t.Errorf("state %q is too short to be random", q.Get("state"))
	}
	if !strings.HasPrefix(q.Get("redirect_uri"), redirectPrefix) || !strings.HasSuffix(q.Get("redirect_uri"), "/oauth/callback") {
		t.Errorf("redirect_uri %q, want %s.../oauth/callback", q.Get("redirect_uri"), redirectPrefix)
	}
	wantScopes := []string{"openid", "email"}
	for _, w := range want {
		wantScopes = append(wantScopes, oaGoogleScopes[w])
	}
	got := strings.Fields(q.Get("scope"))
	slices.Sort(got)
	slices.Sort(wantScopes)
	if !slices.Equal(got, wantScopes) {
		t.Errorf("authorization URL scope = %v, want %v", got, wantScopes)
	}
	return q
}

// --- subprocesses

// serve starts `mailcal serve ARGS` with the fixture's environment, and
// watches its output for leaked secrets.
func (fx *oauthFixture) serve(t *testing.T, stdin io.Reader, args ...string) *proc {
	t.Helper()
	p := startServeWith(t, fx.env(), fx.k.home, stdin, args...)
	name := fmt.Sprintf("mailcal serve #%d", fx.procs.Add(1))
	fx.leaks.watch(name+" stderr", p.logs.String)
	fx.leaks.watch(name+" stdout", p.stdout.String)
	return p
}

// startHTTP is startHTTP with the fixture's environment.
func (fx *oauthFixture) startHTTP(t *testing.T, args ...string) *httpServer {
	t.Helper()
	return waitHTTP(t, fx.serve(t, nil, httpArgs(args...)...))
}

// oauthCLI is a running mailcal command other than serve.
type oauthCLI struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *logSink
	stdin          io.WriteCloser // nil unless asked for
	done           chan struct{}
	err            error
}

// cli starts `mailcal ARGS` with env; with pipeStdin its stdin is a pipe
// the test writes to, else empty.
func (fx *oauthFixture) cli(t *testing.T, env []string, pipeStdin bool, args ...string) *oauthCLI {
	t.Helper()
	c := &oauthCLI{
		name:   "mailcal " + strings.Join(args, " "),
		cmd:    command(context.Background(), mailcalBinary(t), args...),
		stdout: &logSink{}, stderr: &logSink{}, done: make(chan struct{}),
	}
	c.cmd.Env, c.cmd.Dir = env, fx.k.home
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if pipeStdin {
		w, err := c.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.stdin = w
	}
	n := fx.procs.Add(1)
	fx.leaks.watch(fmt.Sprintf("%s (#%d) stdout", c.name, n), c.stdout.String)
	fx.leaks.watch(fmt.Sprintf("%s (#%d) stderr", c.name, n), c.stderr.String)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
		checkStderr(t, c.name, c.stderr)
	})
	return c
}

// wait returns the command's exit code, failing the test if it runs longer
// than d.
func (c *oauthCLI) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("%s still running %s later; stderr:\n%s", c.name, d, tail(c.stderr.String(), 4000))
	}
	return exitCode(t, c.name, c.err)
}

// waitStderr waits until the command's stderr matches re and returns the
// submatches.
func (c *oauthCLI) waitStderr(t *testing.T, d time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(c.stderr.String()); m != nil {
			return m
		}
		select {
		case <-c.done:
			t.Fatalf("%s exited before printing %s; stderr:\n%s", c.name, re, tail(c.stderr.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed nothing matching %s within %s; stderr:\n%s", c.name, re, d, tail(c.stderr.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs `mailcal ARGS` with the fixture's environment to completion.
func (fx *oauthFixture) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	c := fx.cli(t, fx.env(), false, args...)
	code = c.wait(t, 60*time.Second)
	return c.stdout.String(), c.stderr.String(), code
}

// stdio starts `mailcal serve ARGS` under mcp-go's stdio client with the
// fixture's environment, watching its stderr for leaked secrets, and
// initializes.
func (fx *oauthFixture) stdio(t *testing.T, args ...string) *mcpclient.Client {
	t.Helper()
	logs := &logSink{}
	fx.leaks.watch(fmt.Sprintf("mailcal serve (stdio #%d) stderr", fx.procs.Add(1)), logs.String)
	return mcpgoStdioWith(t, fx.env(), fx.k.home, logs, args...)
}

// --- HTTP API

// do is s.do with the answer audited.
func (fx *oauthFixture) do(t *testing.T, s *httpServer, method, path string, body io.Reader, headers ...string) rawResponse {
	t.Helper()
	r := s.do(t, method, path, body, headers...)
	fx.leaks.record(method+" "+path, string(r.body))
	return r
}

type oaAuthorization struct {
	URL   string `json:"authorization_url"`
	State string `json:"state"`
}

// authorize asks the REST API for an authorization URL.
func (fx *oauthFixture) authorize(t *testing.T, s *httpServer, key, provider string, q url.Values) oaAuthorization {
	t.Helper()
	path := "/api/integrations/" + provider + "/authorize"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	r := fx.do(t, s, "GET", path, nil, "Authorization", "Bearer "+key)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var a oaAuthorization
	if err := json.Unmarshal(r.body, &a); err != nil || a.URL == "" || a.State == "" {
		t.Fatalf("GET %s: %s, want {authorization_url, state} (%v)", path, r.body, err)
	}
	if u, err := url.Parse(a.URL); err != nil || u.Query().Get("state") != a.State {
		t.Fatalf("GET %s: the authorization URL does not carry the state it answered", path)
	}
	return a
}

// connectHTTP connects an account through the REST API and the callback,
// as a web front end and the person's browser do.
func (fx *oauthFixture) connectHTTP(t *testing.T, s *httpServer, key, email, scopes string) {
	t.Helper()
	q := url.Values{"login_hint": {email}}
	if scopes != "" {
		q.Set("scopes", scopes)
	}
	a := fx.authorize(t, s, key, "google", q)
	loc := fx.approve(t, a.URL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != s.base+"/oauth/callback" {
		t.Fatalf("googletest sent the browser to %s, want the server's %s/oauth/callback", got, s.base)
	}
	r := fx.browse(t, loc.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), email) || !strings.Contains(string(r.body), "Connected") {
		t.Fatalf("the callback answered %d %s, want a page saying %s is connected", r.status, r.body, email)
	}
}

type oaIntegration struct {
	Provider    string   `json:"provider"`
	Account     string   `json:"account"`
	Connected   bool     `json:"connected"`
	ConnectedAt string   `json:"connected_at"`
	Status      string   `json:"status"`
	Scopes      []string `json:"scopes"`
}

// integrations is GET /api/integrations.
func (fx *oauthFixture) integrations(t *testing.T, s *httpServer, key string) []oaIntegration {
	t.Helper()
	r := fx.do(t, s, "GET", "/api/integrations", nil, "X-API-Key", key)
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/integrations: %d %s", r.status, r.body)
	}
	var v struct {
		Integrations *[]oaIntegration `json:"integrations"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Integrations == nil {
		t.Fatalf("GET /api/integrations: %s, want {\"integrations\":[...]} (%v)", r.body, err)
	}
	return *v.Integrations
}

func oaAccounts(list []oaIntegration) []string {
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
func (fx *oauthFixture) callTool(c *mcpclient.Client, tool string, args map[string]any) (wireResult, error) {
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
	fx.leaks.record(tool+" result", string(data))
	var w wireResult
	if err := json.Unmarshal(data, &w); err != nil {
		return wireResult{}, fmt.Errorf("%s result does not parse: %v", tool, err)
	}
	return w, nil
}

func (fx *oauthFixture) call(t *testing.T, c *mcpclient.Client, tool string, args map[string]any) wireResult {
	t.Helper()
	w, err := fx.callTool(c, tool, args)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// checkOK calls check_account and fails the test unless the account works.
func (fx *oauthFixture) checkOK(t *testing.T, who string, c *mcpclient.Client, account string) {
	t.Helper()
	r := fx.call(t, c, "check_account", map[string]any{"account": account})
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
func (fx *oauthFixture) accountStatuses(t *testing.T, c *mcpclient.Client) map[string]wireAccount {
	t.Helper()
	r := fx.call(t, c, "list_accounts", nil)
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
