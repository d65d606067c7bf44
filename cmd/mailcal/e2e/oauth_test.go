//go:build unix

package e2e

// End-to-end tests of connecting Google accounts: the real binary (built with
// -race when the tests are) against googletest on loopback, with the tokens
// in the real file keyring of each test.
//
// Every subprocess's stdout and stderr, every HTTP answer and every tool
// result of these tests is kept by the test's fixture, and each test ends by
// asserting that none of them holds a secret: googletest's codes, tokens,
// PKCE verifiers and client secret, the tenants' API keys and the keyring
// passphrase (TestE2EOAuthLeakCheck checks that the check itself fires).

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
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/keyring"
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

// --- the keyring, read in this process

// storedGrant reads a grant from the test's keyring, as seedGrant writes one.
func storedGrant(t *testing.T, k *testKeyring, tenantName, account string) grants.Grant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := keyring.ConfigFromEnv(k.getenv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keyring.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatalf("opening the test keyring: %v", err)
	}
	g, err := grants.New(s, grants.Plain).Get(ctx, tenantName, "google", account)
	if err != nil {
		t.Fatalf("reading the grant of %s/%s: %v", tenantName, account, err)
	}
	return g
}

// --- the leak audit

type oauthLeaks struct {
	mu      sync.Mutex
	sources []leakSource
	secrets []string
}

type leakSource struct {
	name string
	text func() string
}

func (l *oauthLeaks) watch(name string, text func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sources = append(l.sources, leakSource{name, text})
}

func (l *oauthLeaks) record(name, text string) {
	l.watch(name, func() string { return text })
}

func (l *oauthLeaks) secret(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s != "" {
		l.secrets = append(l.secrets, s)
	}
}

// check fails the test for every source that holds a secret.
func (l *oauthLeaks) check(t *testing.T, more []string) {
	t.Helper()
	l.mu.Lock()
	sources, secrets := slices.Clone(l.sources), append(slices.Clone(l.secrets), more...)
	l.mu.Unlock()
	if len(more) == 0 {
		t.Errorf("leak check: googletest reports no secret at all (not even its client secret)")
	}
	for _, leak := range findLeaks(sources, secrets) {
		t.Errorf("secret leaked: %s", leak)
	}
}

// findLeaks returns a description of every secret found in a source, as it
// is or URL-escaped (a logged request URL).
func findLeaks(sources []leakSource, secrets []string) []string {
	var out []string
	for _, src := range sources {
		text := src.text()
		for _, s := range secrets {
			if len(s) < 8 {
				continue
			}
			for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
				if strings.Contains(text, form) {
					out = append(out, fmt.Sprintf("%s holds %s… (%d bytes)", src.name, s[:6], len(s)))
					break
				}
			}
		}
	}
	return out
}

// TestE2EOAuthLeakCheck: the audit finds a secret, also URL-escaped, and
// nothing in clean text (the check every test ends with can fail).
func TestE2EOAuthLeakCheck(t *testing.T) {
	t.Parallel()
	secrets := []string{"1//0abcdefghijklmnop", "4/0Aqwertyuiopasdf", "ya29.a0zxcvbnmasdfgh", "short"}
	leaky := []leakSource{
		{"log", func() string { return `{"msg":"refreshed","token":"1//0abcdefghijklmnop"}` }},
		{"request log", func() string { return "GET /oauth/callback?code=4%2F0Aqwertyuiopasdf&state=x" }},
		{"clean", func() string { return "nothing to see; ya29.a0 is only a prefix; short" }},
	}
	got := findLeaks(leaky, secrets)
	if len(got) != 2 || !strings.HasPrefix(got[0], "log ") || !strings.HasPrefix(got[1], "request log ") {
		t.Errorf("findLeaks = %q, want the token in log and the escaped code in request log", got)
	}
}

// --- the tests

// TestE2EOAuthCLIConnect: `mailcal connect google --no-browser` prints the
// authorization URL on stderr, finishes when the browser reaches its
// loopback callback (or when the person pastes the URL the browser was
// sent to), prints the account on stdout, and `mailcal accounts` shows it;
// `mailcal disconnect` revokes it at Google and removes it.
func TestE2EOAuthCLIConnect(t *testing.T) {
	t.Parallel()
	for _, paste := range []bool{false, true} {
		name := "browser"
		if paste {
			name = "paste"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := newOAuthFixture(t, googletest.Options{})
			start := time.Now()
			c := fx.cli(t, fx.env(), paste, "connect", "google", "--no-browser", "--tenant", "t1", "--scopes", "mail.read,calendar.read")
			authURL := c.waitStderr(t, 30*time.Second, oaAuthURLRE)[1]
			q := fx.checkAuthURL(t, authURL, "http://127.0.0.1:", "mail.read", "calendar.read")
			redirect, _ := url.Parse(q.Get("redirect_uri"))
			if redirect == nil || redirect.Port() == "" || redirect.Port() == "0" {
				t.Errorf("redirect_uri %q has no port of its own", q.Get("redirect_uri"))
			}
			loc := fx.approve(t, authURL)
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != q.Get("redirect_uri") {
				t.Fatalf("googletest sent the browser to %s, want %s", got, q.Get("redirect_uri"))
			}
			if paste {
				// The browser is on another machine: the person pastes the
				// address it could not open.
				if _, err := io.WriteString(c.stdin, loc.String()+"\n"); err != nil {
					t.Fatal(err)
				}
			} else {
				r := fx.browse(t, loc.String())
				if r.status != http.StatusOK || !strings.Contains(string(r.body), oaAlice) {
					t.Errorf("the loopback callback answered %d %s, want a page naming %s", r.status, r.body, oaAlice)
				}
			}
			if code := c.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("mailcal connect exited %d; stderr:\n%s", code, tail(c.stderr.String(), 4000))
			}
			if c.stdin != nil {
				c.stdin.Close()
			}
			if got := c.stdout.String(); got != oaAlice+"\n" {
				t.Errorf("mailcal connect printed %q on stdout, want only the account", got)
			}
			if !strings.Contains(c.stderr.String(), "Connected "+oaAlice) {
				t.Errorf("stderr does not say the account is connected:\n%s", tail(c.stderr.String(), 2000))
			}
			if n := fx.exchanges(); n != 1 {
				t.Errorf("%d code exchanges, want 1", n)
			}

			out, errOut, code := fx.run(t, "accounts", "--tenant", "t1", "--json")
			if code != 0 {
				t.Fatalf("mailcal accounts exited %d: %s", code, errOut)
			}
			var list struct {
				Tenant   string        `json:"tenant"`
				Accounts []wireAccount `json:"accounts"`
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatalf("mailcal accounts --json: %v\n%s", err, out)
			}
			if list.Tenant != "t1" || len(list.Accounts) != 1 {
				t.Fatalf("mailcal accounts --tenant t1 --json = %s, want one account", out)
			}
			a := list.Accounts[0]
			if a.Account != oaAlice || a.Provider != "google" || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read,calendar.read" {
				t.Errorf("account %+v, want %s google active with mail.read,calendar.read", a, oaAlice)
			}
			checkConnectedAt(t, "mailcal accounts", a.ConnectedAt, start)
			// The default tenant has nothing.
			if out, _, _ := fx.run(t, "accounts", "--json"); strings.Contains(out, oaAlice) {
				t.Errorf("the default tenant lists t1's account: %s", out)
			}
			// The stored grant holds the refresh token Google issued.
			if g, rts := storedGrant(t, fx.k, "t1", oaAlice), fx.refreshTokens(); len(rts) != 1 || g.RefreshToken != rts[0] {
				t.Errorf("the keyring does not hold the refresh token googletest issued (%d issued)", len(rts))
			}

			if paste {
				return
			}
			_, errOut, code = fx.run(t, "disconnect", "google", oaAlice, "--tenant", "t1")
			if code != 0 || !strings.Contains(errOut, "revoked") {
				t.Errorf("mailcal disconnect exited %d: %s", code, errOut)
			}
			if n := fx.fg.RevokeRequests(); n != 1 {
				t.Errorf("%d revocation requests, want 1", n)
			}
			if g := fx.fg.Granted(oaAlice); len(g) != 0 {
				t.Errorf("alice still grants %v at Google after disconnect", g)
			}
			out, _, _ = fx.run(t, "accounts", "--tenant", "t1", "--json")
			if strings.Contains(out, oaAlice) {
				t.Errorf("mailcal accounts after disconnect: %s", out)
			}
		})
	}
}

// TestE2EOAuthNoClient: without an OAuth client, connecting fails at once
// and says how to create one.
func TestE2EOAuthNoClient(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{})
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"no client", nil},
		{"no secret", []string{"MAILCAL_GOOGLE_CLIENT_ID=" + googletest.DefaultClientID}},
	} {
		c := fx.cli(t, fx.k.env(tc.env...), false, "connect", "google", "--no-browser")
		code := c.wait(t, 30*time.Second)
		errOut := c.stderr.String()
		if code == 0 {
			t.Errorf("%s: mailcal connect exited 0", tc.name)
		}
		for _, want := range []string{"MAILCAL_GOOGLE_CLIENT_ID", "MAILCAL_GOOGLE_CLIENT_SECRET", "https://console.cloud.google.com/apis/credentials", "OAuth client"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr does not mention %s:\n%s", tc.name, want, errOut)
			}
		}
		if c.stdout.String() != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, c.stdout.String())
		}
	}
	if n := len(fx.fg.AuthRequests()); n != 0 {
		t.Errorf("%d authorization requests reached Google", n)
	}
}

// TestE2EOAuthHTTPFlow: the connection REST API: authorize, the callback,
// connect with a code, list and disconnect, each refused without the key.
func TestE2EOAuthHTTPFlow(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	start := time.Now()

	// Browser flow: authorize, approve, the callback names the account.
	a := fx.authorize(t, s, key, "google", nil)
	// The default covers every tool served by default (send_email and
	// create_event included).
	fx.checkAuthURL(t, a.URL, s.base, "mail.read", "mail.send", "calendar.read", "calendar.write")
	loc := fx.approve(t, a.URL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != s.base+"/oauth/callback" {
		t.Fatalf("googletest sent the browser to %s, want %s/oauth/callback", got, s.base)
	}
	r := fx.browse(t, loc.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), oaAlice+" is connected") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("the callback answered %d %q %s, want an HTML page naming %s", r.status, r.header.Get("Content-Type"), r.body, oaAlice)
	}
	list := fx.integrations(t, s, key)
	if len(list) != 1 {
		t.Fatalf("integrations %+v, want alice only", list)
	}
	if i := list[0]; i.Account != oaAlice || i.Provider != "google" || i.Status != "active" || !i.Connected ||
		strings.Join(i.Scopes, ",") != "mail.read,mail.send,calendar.read,calendar.write" {
		t.Errorf("integration %+v, want alice google active with the default scopes", i)
	}
	checkConnectedAt(t, "GET /api/integrations", list[0].ConnectedAt, start)

	// A calendar connection asks Google for calendar scopes only; the
	// front end completes it with the code itself.
	cal := fx.authorize(t, s, key, "calendar", url.Values{"login_hint": {oaBob}})
	calQuery := fx.checkAuthURL(t, cal.URL, s.base, "calendar.read", "calendar.write")
	if strings.Contains(calQuery.Get("scope"), "gmail") || calQuery.Get("login_hint") != oaBob {
		t.Errorf("calendar authorization: scope %q, login_hint %q; want no mail scope and bob", calQuery.Get("scope"), calQuery.Get("login_hint"))
	}
	calLoc := fx.approve(t, cal.URL)
	body := fmt.Sprintf(`{"auth_code":%q,"state":%q}`, calLoc.Query().Get("code"), cal.State)
	r = fx.do(t, s, "POST", "/api/integrations/google/connect", strings.NewReader(body), "Authorization", "Bearer "+key)
	var connected struct {
		Success bool     `json:"success"`
		Status  string   `json:"status"`
		Account string   `json:"account"`
		Scopes  []string `json:"scopes"`
	}
	if err := json.Unmarshal(r.body, &connected); err != nil || r.status != http.StatusOK || !connected.Success ||
		connected.Status != "connected" || connected.Account != oaBob {
		t.Fatalf("POST connect: %d %s, want {success:true, status:connected, account:%s}", r.status, r.body, oaBob)
	}
	list = fx.integrations(t, s, key)
	if got := oaAccounts(list); strings.Join(got, ",") != oaAlice+","+oaBob {
		t.Fatalf("integrations %v, want alice and bob", got)
	}
	if strings.Join(list[1].Scopes, ",") != "calendar.read,calendar.write" || list[1].Status != "active" {
		t.Errorf("bob's integration %+v, want active with the calendar scopes only", list[1])
	}

	// No key or a wrong one: 401, and nothing happens.
	wrong := "mck_" + randomHex(t, 24)
	requests := []struct{ method, path, body string }{
		{"GET", "/api/integrations", ""},
		{"GET", "/api/integrations/google/authorize", ""},
		{"POST", "/api/integrations/google/connect", body},
		{"DELETE", "/api/integrations/google/" + oaAlice, ""},
	}
	for _, req := range requests {
		for _, h := range [][]string{nil, {"Authorization", "Bearer " + wrong}, {"X-API-Key", wrong}} {
			var rb io.Reader
			if req.body != "" {
				rb = strings.NewReader(req.body)
			}
			who := fmt.Sprintf("%s %s with %v", req.method, req.path, h)
			checkJSONError(t, who, fx.do(t, s, req.method, req.path, rb, h...), http.StatusUnauthorized, "unauthorized")
		}
	}
	if n := fx.fg.RevokeRequests(); n != 0 {
		t.Errorf("%d revocations after unauthenticated requests", n)
	}
	if got := oaAccounts(fx.integrations(t, s, key)); len(got) != 2 {
		t.Errorf("integrations after unauthenticated requests: %v", got)
	}

	// Disconnect: revoked at Google, then gone.
	for i, account := range []string{oaAlice, oaBob} {
		r = fx.do(t, s, "DELETE", "/api/integrations/google/"+account, nil, "Authorization", "Bearer "+key)
		var del struct {
			Success bool `json:"success"`
		}
		if err := json.Unmarshal(r.body, &del); err != nil || r.status != http.StatusOK || !del.Success {
			t.Errorf("DELETE %s: %d %s, want {\"success\":true}", account, r.status, r.body)
		}
		if n := fx.fg.RevokeRequests(); n != i+1 {
			t.Errorf("after deleting %s: %d revocation requests, want %d", account, n, i+1)
		}
		if g := fx.fg.Granted(account); len(g) != 0 {
			t.Errorf("%s still grants %v at Google", account, g)
		}
	}
	if got := fx.integrations(t, s, key); len(got) != 0 {
		t.Errorf("integrations after disconnecting both: %+v", got)
	}
	checkJSONError(t, "DELETE a disconnected account",
		fx.do(t, s, "DELETE", "/api/integrations/google/"+oaAlice, nil, "X-API-Key", key), http.StatusNotFound, "not_found")
}

// TestE2EOAuthBadStates: a callback or connect request with an unknown,
// used or other tenant's state, a bad code, a refusal, or a malformed body
// changes nothing: no grant appears, nothing is exchanged, and the pending
// flow of the right tenant still completes.
func TestE2EOAuthBadStates(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{})
	keyA, keyB := fx.addTenant(t, "a"), fx.addTenant(t, "b")
	s := fx.startHTTP(t)
	connectPath := "/api/integrations/google/connect"
	post := func(key, body string, headers ...string) rawResponse {
		t.Helper()
		return fx.do(t, s, "POST", connectPath, strings.NewReader(body), append([]string{"Authorization", "Bearer " + key}, headers...)...)
	}
	connectBody := func(code, state string) string {
		return fmt.Sprintf(`{"auth_code":%q,"state":%q}`, code, state)
	}
	// nothingChanged checks that no grant appeared and no code was
	// exchanged since the last call.
	wantExchanges := 0
	wantA := []string{}
	nothingChanged := func(who string) {
		t.Helper()
		if n := fx.exchanges(); n != wantExchanges {
			t.Errorf("%s: %d code exchanges at Google, want %d", who, n, wantExchanges)
		}
		if got := oaAccounts(fx.integrations(t, s, keyA)); !slices.Equal(got, wantA) {
			t.Errorf("%s: tenant a's accounts %v, want %v", who, got, wantA)
		}
		if got := oaAccounts(fx.integrations(t, s, keyB)); len(got) != 0 {
			t.Errorf("%s: tenant b's accounts %v, want none", who, got)
		}
	}
	errorPage := func(who string, r rawResponse, status int, says string) {
		t.Helper()
		if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(r.body), "Not connected") || !strings.Contains(string(r.body), says) {
			t.Errorf("%s: %d %q %s, want a %d error page saying %q", who, r.status, r.header.Get("Content-Type"), r.body, status, says)
		}
	}

	// Tenant a's flow, approved; the browser has not come back yet.
	flowA := fx.authorize(t, s, keyA, "google", nil)
	locA := fx.approve(t, flowA.URL)
	codeA := locA.Query().Get("code")

	// Unknown state, on the callback and on the connect API.
	cb := s.base + "/oauth/callback?"
	errorPage("callback with an unknown state",
		fx.browse(t, cb+url.Values{"state": {"x" + flowA.State[1:]}, "code": {codeA}}.Encode()), http.StatusBadRequest, "unknown or already used state")
	errorPage("callback without a state", fx.browse(t, cb+url.Values{"code": {codeA}}.Encode()), http.StatusBadRequest, "unknown")
	checkJSONError(t, "connect with an unknown state", post(keyA, connectBody(codeA, "no-such-state")), http.StatusBadRequest, "invalid_state")
	nothingChanged("unknown state")

	// Tenant b presenting a's state (and a's code): refused, and a's flow
	// is still pending.
	r := post(keyB, connectBody(codeA, flowA.State))
	checkJSONError(t, "b connecting with a's state", r, http.StatusBadRequest, "invalid_state")
	nothingChanged("other tenant's state")

	// a's browser comes back: connected to a, not b.
	r = fx.browse(t, locA.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), oaAlice+" is connected") {
		t.Fatalf("a's callback after the bad attempts: %d %s", r.status, r.body)
	}
	wantExchanges, wantA = 1, []string{oaAlice}
	nothingChanged("a's own callback")

	// The same callback again (a reload, or a replay): an error page, and
	// the code is not sent to Google again (which would revoke the grant).
	errorPage("reused callback", fx.browse(t, locA.String()), http.StatusBadRequest, "unknown or already used state")
	checkJSONError(t, "reused state on connect", post(keyA, connectBody(codeA, flowA.State)), http.StatusBadRequest, "invalid_state")
	nothingChanged("reused state")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+keyA, false)
	fx.checkOK(t, "alice after the replays", c, oaAlice)

	// A bad code on connect: refused as invalid_code, and the state is used
	// up. Then a code swapped between two flows: PKCE makes Google refuse
	// it, and the flow it belongs to still completes.
	flowP := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {oaBob}})
	flowQ := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {oaBob}})
	flowR := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {oaBob}})
	locP, locQ := fx.approve(t, flowP.URL), fx.approve(t, flowQ.URL)
	checkJSONError(t, "connect with a made-up code", post(keyA, connectBody("4/0Anot-a-code", flowR.State)), http.StatusBadRequest, "invalid_code")
	wantExchanges++
	nothingChanged("bad code")
	checkJSONError(t, "connect with the state of a failed attempt", post(keyA, connectBody(locQ.Query().Get("code"), flowR.State)), http.StatusBadRequest, "invalid_state")
	checkJSONError(t, "connect with P's code and Q's state", post(keyA, connectBody(locP.Query().Get("code"), flowQ.State)), http.StatusBadRequest, "invalid_code")
	wantExchanges++
	nothingChanged("swapped code")
	r = fx.browse(t, locP.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), oaBob+" is connected") {
		t.Fatalf("P's own callback after its code was tried with Q's state: %d %s", r.status, r.body)
	}
	wantExchanges, wantA = wantExchanges+1, []string{oaAlice, oaBob}
	nothingChanged("P's own callback")

	// The person refuses: the page says so, and the state is used up.
	fx.fg.DenyNext()
	flowD := fx.authorize(t, s, keyA, "google", nil)
	locD := fx.approve(t, flowD.URL)
	if locD.Query().Get("error") != "access_denied" {
		t.Fatalf("DenyNext: googletest redirected to %s", locD.Redacted())
	}
	errorPage("callback with error=access_denied", fx.browse(t, locD.String()), http.StatusOK, "no account was connected")
	errorPage("callback after the refusal", fx.browse(t, cb+url.Values{"state": {flowD.State}, "code": {"4/0Aafter"}}.Encode()), http.StatusBadRequest, "unknown")
	nothingChanged("access_denied")

	// Malformed connect requests: 400 naming the problem, nothing else.
	flowM := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {oaBob}})
	locM := fx.approve(t, flowM.URL)
	codeM := locM.Query().Get("code")
	for _, tc := range []struct {
		name, body string
		headers    []string
		says       string
	}{
		{"malformed JSON", `{"auth_code":`, nil, "JSON"},
		{"not an object", `["x"]`, nil, "JSON object"},
		{"unknown field", `{"auth_code":"c","state":"s","redirect_uri":"https://evil.example"}`, nil, `unknown field "redirect_uri"`},
		{"no code", fmt.Sprintf(`{"state":%q}`, flowM.State), nil, "auth_code"},
		{"no state", fmt.Sprintf(`{"auth_code":%q}`, codeM), nil, `"state" is required`},
		{"two objects", connectBody(codeM, flowM.State) + `{}`, nil, "one JSON object"},
		{"oversized", fmt.Sprintf(`{"auth_code":%q,"state":%q}`, strings.Repeat("x", 20<<10), flowM.State), nil, "larger than"},
		{"form body", "auth_code=c&state=s", []string{"Content-Type", "application/x-www-form-urlencoded"}, "Content-Type"},
	} {
		r := post(keyA, tc.body, tc.headers...)
		checkJSONError(t, tc.name, r, http.StatusBadRequest, "invalid_request")
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(r.body, &e) != nil || !strings.Contains(e.Error.Message, tc.says) {
			t.Errorf("%s: %s does not say %q", tc.name, r.body, tc.says)
		}
	}
	checkJSONError(t, "over the API's 64 KiB limit", post(keyA, connectBody(strings.Repeat("x", 70<<10), flowM.State)),
		http.StatusRequestEntityTooLarge, "request_too_large")
	nothingChanged("malformed requests")
	// flowM was not consumed by any of them.
	r = post(keyA, connectBody(codeM, flowM.State))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"success":true`) {
		t.Errorf("connect after the malformed requests: %d %s", r.status, r.body)
	}
	wantExchanges++
	nothingChanged("connect after the malformed requests")

	// A code that expired at Google (the person took over 10 minutes to
	// come back; mailcal's own 10-minute state expiry is unit-tested in
	// auth/oauth: the server's clock cannot be moved from here).
	flowE := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {oaBob}})
	locE := fx.approve(t, flowE.URL)
	fx.fg.Advance(11 * time.Minute)
	r = fx.browse(t, locE.String())
	errorPage("callback with a code expired at Google", r, http.StatusBadRequest, "invalid_grant")
	wantExchanges++
	nothingChanged("expired code")
}

// TestE2EOAuthRefresh: an access token that expired (Google refuses it) is
// refreshed once, silently, and cached tokens cause no request.
func TestE2EOAuthRefresh(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, oaAlice, "")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)

	// The first call has no access token yet: one refresh.
	fx.checkOK(t, "first check", c, oaAlice)
	if n := fx.refreshes(); n != 1 {
		t.Fatalf("%d refreshes after the first call, want 1", n)
	}
	fx.checkOK(t, "cached", c, oaAlice)
	if n := fx.refreshes(); n != 1 {
		t.Errorf("%d refreshes after a call with a valid cached token, want still 1", n)
	}
	// Google expires the token: the call gets a 401, refreshes once and
	// succeeds.
	fx.fg.ExpireAccessTokens()
	fx.checkOK(t, "after expiry", c, oaAlice)
	if n := fx.refreshes(); n != 2 {
		t.Errorf("%d refreshes after the token expired, want 2", n)
	}
	fx.checkOK(t, "after the refresh", c, oaAlice)
	if n := fx.refreshes(); n != 2 {
		t.Errorf("%d refreshes after a call with the refreshed token, want still 2", n)
	}
}

// TestE2EOAuthRotationRestart: a rotated refresh token is in the keyring
// when the server stops, and the next server goes on with it.
func TestE2EOAuthRotationRestart(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{RotateRefreshTokens: true})
	key := fx.addTenant(t, "a")
	s1 := fx.startHTTP(t)
	fx.connectHTTP(t, s1, key, oaAlice, "")
	rts := fx.refreshTokens()
	if len(rts) != 1 || storedGrant(t, fx.k, "a", oaAlice).RefreshToken != rts[0] {
		t.Fatalf("after connecting: %d refresh tokens issued, the keyring should hold the first", len(rts))
	}

	c1 := mcpgoHTTP(t, s1, "/mcp", "Authorization", "Bearer "+key, false)
	fx.checkOK(t, "first server", c1, oaAlice)
	if rts = fx.refreshTokens(); len(rts) != 2 || fx.refreshes() != 1 {
		t.Fatalf("after the first check: %d refresh tokens issued and %d refreshes, want 2 and 1", len(rts), fx.refreshes())
	}
	s1.signal(t, syscall.SIGTERM)
	if code := s1.waitExit(t, 20*time.Second); code != 0 {
		t.Fatalf("the first server exited %d after SIGTERM", code)
	}
	if g := storedGrant(t, fx.k, "a", oaAlice); g.RefreshToken != rts[1] {
		t.Fatalf("after the restart the keyring holds refresh token #%d of %d, want the rotated one (#2)",
			slices.Index(rts, g.RefreshToken)+1, len(rts))
	}

	s2 := fx.startHTTP(t)
	c2 := mcpgoHTTP(t, s2, "/mcp", "Authorization", "Bearer "+key, false)
	fx.checkOK(t, "second server", c2, oaAlice)
	rts = fx.refreshTokens()
	if len(rts) != 3 || fx.refreshes() != 2 {
		t.Fatalf("after the second check: %d refresh tokens issued and %d refreshes, want 3 and 2", len(rts), fx.refreshes())
	}
	if g := storedGrant(t, fx.k, "a", oaAlice); g.RefreshToken != rts[2] || g.Status != "active" {
		t.Errorf("the keyring holds refresh token #%d (status %s), want the newest (#3), active", slices.Index(rts, g.RefreshToken)+1, g.Status)
	}
}

// TestE2EOAuthConcurrentRefresh: 100 concurrent tool calls with an expired
// access token cause exactly one refresh, and all succeed; whether Google
// refuses the token (a 401, the cached token looking valid) or mailcal sees
// it expire on its own clock.
func TestE2EOAuthConcurrentRefresh(t *testing.T) {
	t.Parallel()
	t.Run("expired-at-google", func(t *testing.T) {
		t.Parallel()
		fx, s, clients := concurrentSetup(t, time.Hour)
		fx.fg.ExpireAccessTokens()
		elapsed := fx.concurrentChecks(t, s, clients)
		// Every call sends the cached token, gets a 401, drops that token
		// and asks for a new one: one refresh, however slow the calls.
		if n := fx.refreshes(); n != 2 {
			t.Errorf("%d refresh requests for %d concurrent calls (%s) with a token Google refuses, want exactly 1",
				n-1, concurrentCalls, elapsed.Round(time.Millisecond))
		}
	})
	t.Run("expired-locally", func(t *testing.T) {
		t.Parallel()
		// Tokens live 10 s and mailcal refreshes them half-way (5 s): its
		// 5-minute margin is capped at half the lifetime.
		const ttl = 10 * time.Second
		fx, s, clients := concurrentSetup(t, ttl)
		cachedAt := time.Now()
		time.Sleep(ttl/2 + 500*time.Millisecond - time.Since(cachedAt))
		fx.fg.ExpireAccessTokens()
		elapsed := fx.concurrentChecks(t, s, clients)
		n := fx.refreshes() - 1
		// The new token is due for a refresh ttl/2 after its refresh
		// started, which was after the calls started: if they all ended
		// before then, they all had to share that one refresh. Slower
		// (a loaded machine) a call may legitimately refresh again.
		if elapsed < ttl/2 {
			if n != 1 {
				t.Errorf("%d refresh requests for %d concurrent calls (%s) with an expired token, want exactly 1", n, concurrentCalls, elapsed)
			}
		} else if maxN := 1 + int(elapsed/(ttl/2)); n < 1 || n > maxN {
			t.Errorf("%d refresh requests for %d concurrent calls taking %s, want 1 to %d", n, concurrentCalls, elapsed, maxN)
		} else {
			t.Logf("the calls took %s, longer than a token's refresh time (%s): %d refresh(es), not asserted to be 1", elapsed, ttl/2, n)
		}
	})
}

const concurrentCalls = 100

// concurrentSetup connects alice on a server whose Google issues access
// tokens living ttl, makes one call (whose refresh caches a token) and
// returns 4 streamable HTTP clients.
func concurrentSetup(t *testing.T, ttl time.Duration) (*oauthFixture, *httpServer, []*mcpclient.Client) {
	t.Helper()
	fx := newOAuthFixture(t, googletest.Options{AccessTokenTTL: ttl})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, oaAlice, "")
	clients := make([]*mcpclient.Client, 4)
	for i := range clients {
		clients[i] = mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	}
	fx.checkOK(t, "first check", clients[0], oaAlice)
	if n := fx.refreshes(); n != 1 {
		t.Fatalf("%d refreshes after the first call, want 1", n)
	}
	return fx, s, clients
}

// concurrentChecks makes concurrentCalls check_account calls at once over
// the clients; all must succeed.
func (fx *oauthFixture) concurrentChecks(t *testing.T, s *httpServer, clients []*mcpclient.Client) time.Duration {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, concurrentCalls)
	for i := range concurrentCalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := fx.callTool(clients[i%len(clients)], "check_account", nil)
			if err == nil {
				err = checkAccountOK(r, oaAlice)
			}
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	elapsed := time.Since(start)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent check_account calls took %s", concurrentCalls, elapsed.Round(time.Millisecond))
	s.waitToolCalls(t, "check_account", "a", concurrentCalls+1)
	return elapsed
}

// TestE2EOAuthInvalidGrant: a revoked grant is marked needs_reauth at the
// first call, every call then says so with a reconnect URL, and nobody asks
// Google again.
func TestE2EOAuthInvalidGrant(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, oaAlice, "mail.read")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	fx.checkOK(t, "before the revocation", c, oaAlice)

	fx.fg.RevokeUser(oaAlice)
	fx.fg.ExpireAccessTokens()
	checkReauth := func(who string, r wireResult) {
		t.Helper()
		text := r.text()
		if !r.IsError {
			t.Fatalf("%s: check_account succeeded with a revoked grant: %s", who, text)
		}
		for _, want := range []string{oaAlice, "needs to be reconnected", "invalid_grant", "expired or revoked"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the error does not say %q: %s", who, want, text)
			}
		}
		m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/o/oauth2/auth\?\S+`).FindString(text)
		if strings.Contains(text, "too many connections waiting") {
			// Each answer on a dead grant starts a flow for its URL, and
			// auth/oauth refuses a tenant's 21st pending flow for 10 minutes.
			t.Errorf("%s: the reconnect URL could not be made: the tenant has too many pending flows, one per earlier call: %s", who, text)
			return
		}
		if m == "" {
			t.Errorf("%s: the error has no reconnect URL: %s", who, text)
			return
		}
		q := fx.checkAuthURL(t, m, s.base, "mail.read")
		if q.Get("login_hint") != oaAlice {
			t.Errorf("%s: the reconnect URL's login_hint is %q, want %s", who, q.Get("login_hint"), oaAlice)
		}
	}
	checkReauth("first call after the revocation", fx.call(t, c, "check_account", nil))
	refreshes := fx.refreshes()
	if refreshes != 2 {
		t.Errorf("%d refreshes, want 2 (the first call, then the one refused)", refreshes)
	}
	if a := fx.accountStatuses(t, c)[oaAlice]; a.Status != "needs_reauth" {
		t.Errorf("list_accounts shows alice %+v, want needs_reauth", a)
	}
	if list := fx.integrations(t, s, key); len(list) != 1 || list[0].Status != "needs_reauth" || list[0].Connected {
		t.Errorf("integrations %+v, want alice needs_reauth, not connected", list)
	}

	// No retry storm: 20 more calls, no token request.
	for i := range 20 {
		checkReauth(fmt.Sprintf("call %d", i+2), fx.call(t, c, "check_account", map[string]any{"account": oaAlice}))
	}
	if n := fx.refreshes(); n != refreshes {
		t.Errorf("%d token requests for 20 calls on a dead grant, want none", n-refreshes)
	}
	// The person can still reconnect (the calls' URLs did not use up the
	// tenant's pending flows), and the account works again.
	fx.connectHTTP(t, s, key, oaAlice, "mail.read")
	fx.checkOK(t, "after reconnecting", c, oaAlice)
	if a := fx.accountStatuses(t, c)[oaAlice]; a.Status != "active" {
		t.Errorf("list_accounts after reconnecting: %+v, want active", a)
	}
}

// TestE2EOAuthHealthCheck: the background health check marks a revoked
// grant needs_reauth without any tool call.
func TestE2EOAuthHealthCheck(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{}, "MAILCAL_HEALTH_INTERVAL=2s")
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, oaAlice, "")
	fx.fg.RevokeUser(oaAlice)
	revoked := time.Now()
	for {
		list := fx.integrations(t, s, key)
		if len(list) == 1 && list[0].Status == "needs_reauth" {
			t.Logf("needs_reauth %s after the revocation", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if time.Since(revoked) > 15*time.Second {
			t.Fatalf("integrations %+v 15 s after the revocation, want needs_reauth", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := s.anyToolCalls(); n != 0 {
		t.Errorf("%d tool calls logged; the health check should need none", n)
	}
	if rs := s.logs.find("token health check", "outcome", "needs_reauth"); len(rs) == 0 {
		t.Errorf("no health check record with outcome needs_reauth")
	}
}

// TestE2EOAuthStdioConnectAccount: over stdio, connect_account answers a
// URL whose redirect is mailcal's own loopback listener, which completes
// the connection.
func TestE2EOAuthStdioConnectAccount(t *testing.T) {
	t.Parallel()
	fx := newOAuthFixture(t, googletest.Options{})
	c := fx.stdio(t)
	if got := fx.accountStatuses(t, c); len(got) != 0 {
		t.Fatalf("accounts before connecting: %v", got)
	}
	r := fx.call(t, c, "connect_account", map[string]any{"provider": "google", "scopes": "mail.read,calendar.read"})
	if r.IsError {
		t.Fatalf("connect_account answered an error: %s", r.text())
	}
	var link struct {
		URL string `json:"authorization_url"`
	}
	if err := json.Unmarshal(r.StructuredContent, &link); err != nil || link.URL == "" {
		t.Fatalf("connect_account structured content %s, want authorization_url", r.StructuredContent)
	}
	if !strings.Contains(r.text(), link.URL) {
		t.Errorf("connect_account's text does not give the URL: %s", r.text())
	}
	q := fx.checkAuthURL(t, link.URL, "http://127.0.0.1:", "mail.read", "calendar.read")
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" || redirect.Port() == "0" || redirect.Path != "/oauth/callback" {
		t.Fatalf("redirect_uri %q, want http://127.0.0.1:PORT/oauth/callback", q.Get("redirect_uri"))
	}
	loc := fx.approve(t, link.URL)
	if loc.Host != redirect.Host {
		t.Fatalf("googletest sent the browser to %s, want %s", loc.Host, redirect.Host)
	}
	page := fx.browse(t, loc.String())
	if page.status != http.StatusOK || !strings.Contains(string(page.body), oaAlice+" is connected") {
		t.Fatalf("the loopback callback answered %d %s", page.status, page.body)
	}
	got := fx.accountStatuses(t, c)
	if a, ok := got[oaAlice]; !ok || len(got) != 1 || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read,calendar.read" {
		t.Fatalf("list_accounts after connecting: %+v, want alice active with mail.read,calendar.read", got)
	}
	fx.checkOK(t, "stdio", c, oaAlice)
	if n := fx.refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}
