//go:build unix

package e2e

// End-to-end tests: they build the real binary once and drive it as a
// subprocess, over stdio and HTTP, with real MCP clients (mcp-go's client, the
// official Go SDK, the MCP Inspector CLI) and the MCP conformance suite. Every
// test gets its own file keyring in a temporary folder and a clean
// environment, so nothing here touches the machine's real keyring.
//
// The npm clients come from `make test-deps` (testdata/npm). Without them the
// tests that need them are skipped, unless MAILCAL_E2E_REQUIRE=1 (set by
// `make test`), which turns the skip into a failure.
//
// This file holds the shared helpers; the tests are in the other files.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/keyring"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// mailcalPackage is the binary under test.
const mailcalPackage = "github.com/mailcal/mailcal/cmd/mailcal"

// built is the binary under test, built on first use by mailcalBinary.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// mailcalBinary returns the path of a freshly built mailcal binary, building
// it on first use. When the tests run with -race, so is the binary: a data
// race in the server then shows up in its stderr, which checkStderr fails on.
func mailcalBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "mailcal-e2e-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		args := []string{"build", "-buildvcs=false", "-o", filepath.Join(dir, "mailcal")}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, mailcalPackage)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
			return
		}
		built.path = filepath.Join(dir, "mailcal")
	})
	if built.err != nil {
		t.Fatalf("building mailcal: %v", built.err)
	}
	return built.path
}

// command returns an exec.Cmd for a subprocess of the tests: in its own
// session, without a controlling terminal, so that nothing (the file
// keyring's passphrase prompt, say) can wait for input from the developer's
// terminal.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// testKeyring is an isolated file keyring and the environment that selects it.
type testKeyring struct {
	home     string // HOME and working folder of the subprocesses
	dir      string // MAILCAL_KEYRING_DIR
	password string // MAILCAL_KEYRING_PASSWORD; empty: unset
}

func newKeyring(t *testing.T) *testKeyring {
	t.Helper()
	home := t.TempDir()
	return &testKeyring{home: home, dir: filepath.Join(home, "keyring"), password: randomHex(t, 16)}
}

// env is the complete environment of a subprocess: nothing is inherited but
// PATH, so a developer's own MAILCAL_* settings or D-Bus session cannot leak in.
func (k *testKeyring) env(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + k.home,
		"XDG_CONFIG_HOME=" + filepath.Join(k.home, ".config"),
		"TMPDIR=" + os.TempDir(),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"MAILCAL_KEYRING_BACKEND=file",
		"MAILCAL_KEYRING_DIR=" + k.dir,
		"MAILCAL_LOG_FORMAT=json",
		"MAILCAL_LOG_LEVEL=debug",
		// The race detector on two busy cores slows the file keyring's key
		// derivation a lot; a slow keyring is not what these tests test.
		"MAILCAL_KEYRING_TIMEOUT=30s",
	}
	if k.password != "" {
		env = append(env, "MAILCAL_KEYRING_PASSWORD="+k.password)
	}
	return append(env, extra...)
}

// mailcalEnv is the MAILCAL_* and D-Bus part of env, for clients (the
// Inspector) that start the server with an environment of their own.
func (k *testKeyring) mailcalEnv() []string {
	var out []string
	for _, kv := range k.env() {
		if strings.HasPrefix(kv, "MAILCAL_") || strings.HasPrefix(kv, "DBUS_") {
			out = append(out, kv)
		}
	}
	return out
}

func (k *testKeyring) getenv(name string) string {
	for _, kv := range k.env() {
		if n, v, _ := strings.Cut(kv, "="); n == name {
			return v
		}
	}
	return ""
}

// run runs one mailcal command to completion.
func (k *testKeyring) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := command(ctx, mailcalBinary(t), args...)
	cmd.Env, cmd.Dir = k.env(), k.home
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// addTenant runs `mailcal tenant add NAME` and returns the printed API key.
func (k *testKeyring) addTenant(t *testing.T, name string) string {
	t.Helper()
	out, errOut, err := k.run(t, "tenant", "add", name)
	if err != nil {
		t.Fatalf("mailcal tenant add %s: %v\nstderr: %s", name, err, errOut)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "mck_") || strings.ContainsAny(key, " \n") {
		t.Fatalf("mailcal tenant add %s printed %q on stdout; want only the API key", name, out)
	}
	return key
}

// seedGrant stores a connected account the way `connect` would, by opening
// the same file keyring in this process.
func (k *testKeyring) seedGrant(t *testing.T, tenantName, account string) {
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
	err = grants.New(s, grants.Plain).Put(ctx, grants.Grant{
		Tenant: tenantName, Provider: "google", Account: account,
		Scopes: []string{"mail.read"}, Status: grants.StatusActive,
		ConnectedAt:  time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC),
		RefreshToken: "1//seeded-refresh-token-" + randomHex(t, 8),
	})
	if err != nil {
		t.Fatalf("seeding a grant: %v", err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// logSink collects a subprocess's stderr: every line, and the lines that
// parse as JSON log records.
type logSink struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	records []map[string]any
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var rec map[string]any
		if json.Unmarshal(l.partial[:i], &rec) == nil {
			l.records = append(l.records, rec)
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// find returns the log records with this msg whose attributes include attrs.
func (l *logSink) find(msg string, attrs ...any) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
next:
	for _, r := range l.records {
		if r["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if r[attrs[i].(string)] != attrs[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// wait polls until find returns a record, or fails the test.
func (l *logSink) wait(t *testing.T, d time.Duration, msg string, attrs ...any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if rs := l.find(msg, attrs...); len(rs) > 0 {
			return rs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record %q %v within %s; stderr:\n%s", msg, attrs, d, tail(l.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// checkStderr fails the test on a data race reported by a -race binary, and
// shows the stderr of a failed test.
func checkStderr(t *testing.T, name string, logs *logSink) {
	t.Helper()
	out := logs.String()
	if strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
		t.Errorf("%s: data race or panic in the server:\n%s", name, out)
	} else if t.Failed() {
		t.Logf("%s stderr:\n%s", name, tail(out, 8000))
	}
}

// proc is a `mailcal serve` subprocess that the test started itself.
type proc struct {
	cmd    *exec.Cmd
	logs   *logSink
	stdout *logSink
	done   chan struct{} // closed once the process has exited
	err    error         // Wait's answer, set before done is closed
}

// startServe starts `mailcal serve ARGS` and arranges for it to be killed
// and checked when the test ends.
func startServe(t *testing.T, k *testKeyring, stdin io.Reader, args ...string) *proc {
	t.Helper()
	return startServeWith(t, k.env(), k.home, stdin, args...)
}

// startServeWith is startServe with an environment and working folder of
// the caller's.
func startServeWith(t *testing.T, env []string, dir string, stdin io.Reader, args ...string) *proc {
	t.Helper()
	cmd := command(context.Background(), mailcalBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env, cmd.Dir = env, dir
	p := &proc{cmd: cmd, logs: &logSink{}, stdout: &logSink{}, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, p.stdout, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("mailcal serve did not exit after SIGKILL")
		}
		checkStderr(t, "mailcal serve", p.logs)
	})
	return p
}

// waitExit waits at most d for the process to exit and returns its exit code.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("mailcal serve still running %s later; stderr:\n%s", d, tail(p.logs.String(), 4000))
	}
	return exitCode(t, "mailcal serve", p.err)
}

// exitCode is the exit code of a finished command (Wait's error).
func exitCode(t *testing.T, name string, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		t.Fatalf("waiting for %s: %v", name, err)
		return -1
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling mailcal serve: %v", err)
	}
}

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

// headerTransport adds headers to every request: how the Go SDK's HTTP
// transports are given an API key.
type headerTransport struct {
	header http.Header
	base   http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.header {
		r.Header[k] = v
	}
	return h.base.RoundTrip(r)
}

func httpClientWith(name, value string) *http.Client {
	return &http.Client{Transport: headerTransport{
		header: http.Header{http.CanonicalHeaderKey(name): {value}},
		base:   http.DefaultTransport,
	}}
}

// authHeader is one way of presenting an API key.
type authHeader struct{ label, name, prefix string }

var authHeaders = []authHeader{
	{"bearer", "Authorization", "Bearer "},
	{"x-api-key", "X-API-Key", ""},
}

// --- What every client must see, checked on the wire format (JSON) so that
// the same checks apply to every client's result types.

type wireTools struct {
	Tools []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Annotations *struct {
			ReadOnlyHint    *bool `json:"readOnlyHint"`
			DestructiveHint *bool `json:"destructiveHint"`
		} `json:"annotations"`
		InputSchema  map[string]any `json:"inputSchema"`
		OutputSchema map[string]any `json:"outputSchema"`
	} `json:"tools"`
}

type wireAccount struct {
	Account     string   `json:"account"`
	Provider    string   `json:"provider"`
	Status      string   `json:"status"`
	Scopes      []string `json:"scopes"`
	ConnectedAt string   `json:"connected_at"`
}

type wireResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func (r wireResult) text() string {
	var b strings.Builder
	for _, c := range r.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// asWire converts a client's result (or raw JSON) to the wire type.
func asWire[T any](t *testing.T, who string, v any) T {
	t.Helper()
	var data []byte
	switch v := v.(type) {
	case []byte:
		data = v
	case json.RawMessage:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatalf("%s: %v", who, err)
		}
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: result does not parse: %v\n%s", who, err, data)
	}
	return out
}

// checkToolsList checks a tools/list result: list_accounts is there, marked
// read-only and not destructive, with an output schema that has accounts.
func checkToolsList(t *testing.T, who string, result any) {
	t.Helper()
	tl := asWire[wireTools](t, who, result)
	var names []string
	for _, tool := range tl.Tools {
		names = append(names, tool.Name)
		if tool.Name != "list_accounts" {
			continue
		}
		a := tool.Annotations
		switch {
		case a == nil:
			t.Errorf("%s: list_accounts has no annotations", who)
		case a.ReadOnlyHint == nil || !*a.ReadOnlyHint:
			t.Errorf("%s: list_accounts readOnlyHint = %v, want true", who, a.ReadOnlyHint)
		case a.DestructiveHint == nil || *a.DestructiveHint:
			t.Errorf("%s: list_accounts destructiveHint = %v, want present and false", who, a.DestructiveHint)
		}
		if tool.Description == "" {
			t.Errorf("%s: list_accounts has no description", who)
		}
		if tool.InputSchema["type"] != "object" {
			t.Errorf("%s: list_accounts inputSchema = %v, want an object schema", who, tool.InputSchema)
		}
		props, _ := tool.OutputSchema["properties"].(map[string]any)
		if tool.OutputSchema["type"] != "object" || props["accounts"] == nil {
			t.Errorf("%s: list_accounts outputSchema = %v, want an object schema with accounts", who, tool.OutputSchema)
		}
		return
	}
	t.Errorf("%s: tools/list has no list_accounts; tools: %v", who, names)
}

// checkAccounts checks a list_accounts result: not an error, structured
// content naming the tenant and exactly the wanted accounts (an empty array,
// not null, for none), and a text rendering that agrees.
func checkAccounts(t *testing.T, who string, result any, tenantName string, want ...string) {
	t.Helper()
	r := asWire[wireResult](t, who, result)
	if r.IsError {
		t.Errorf("%s: list_accounts answered a tool error: %s", who, r.text())
		return
	}
	var sc struct {
		Tenant   string         `json:"tenant"`
		Accounts *[]wireAccount `json:"accounts"`
	}
	if err := json.Unmarshal(r.StructuredContent, &sc); err != nil || sc.Accounts == nil {
		t.Errorf("%s: structuredContent = %s, want an object with an accounts array (err %v)", who, r.StructuredContent, err)
		return
	}
	if sc.Tenant != tenantName {
		t.Errorf("%s: structuredContent tenant = %q, want %q", who, sc.Tenant, tenantName)
	}
	var got []string
	for _, a := range *sc.Accounts {
		got = append(got, a.Account)
		if a.Provider != "google" || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read" ||
			a.ConnectedAt != "2026-11-01T09:30:00Z" {
			t.Errorf("%s: account %+v does not match the seeded grant", who, a)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: accounts = %v, want %v", who, got, want)
	}
	text := r.text()
	switch {
	case text == "":
		t.Errorf("%s: list_accounts has no text content", who)
	case len(want) == 0 && !strings.Contains(text, "No accounts"):
		t.Errorf("%s: text %q does not say that no account is connected", who, text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: text %q does not name %s", who, text, w)
		}
	}
}

// --- npm clients (testdata/npm, installed by `make test-deps`).

// npmTools locates the pinned npm clients.
type npmTools struct {
	dir       string // testdata/npm/node_modules
	node22    string // a Node >= 22.19: see node22 in node_test.go
	inspector string // the Inspector launcher script
}

func needNPM(t *testing.T) npmTools {
	t.Helper()
	mailcalBinary(t) // skip with -short before looking
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "npm", "node_modules")
	n := npmTools{
		dir:       dir,
		node22:    node22(dir),
		inspector: filepath.Join(dir, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"),
	}
	for _, f := range []string{n.node22, n.inspector, n.conformance()} {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("npm test clients missing (%v): run make test-deps", err)
			if os.Getenv("MAILCAL_E2E_REQUIRE") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return n
}

// moduleRoot is the folder of the go.mod above the working folder (the
// package's folder while its tests run): testdata/npm is relative to it.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working folder")
		}
		dir = parent
	}
}

func (n npmTools) conformance() string {
	return filepath.Join(n.dir, "@modelcontextprotocol", "conformance", "dist", "index.js")
}

// inspectorCLI runs the MCP Inspector CLI and returns its stdout (one JSON
// object with --format json) and exit code. The Inspector requires Node
// >= 22.19 (its package.json engines), so it runs on n.node22.
func (n npmTools) inspectorCLI(t *testing.T, k *testKeyring, args ...string) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{n.inspector, "--cli", "--format", "json"}, args...)
	cmd := command(ctx, n.node22, full...)
	cmd.Env = k.env("MCP_CATALOG_PATH="+filepath.Join(k.home, "inspector-catalog.json"), "NO_COLOR=1")
	cmd.Dir = k.home
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("inspector %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("inspector %v timed out; stderr:\n%s", args, tail(errOut.String(), 4000))
	}
	if code != 0 {
		t.Logf("inspector %v exited %d; stdout: %s\nstderr:\n%s", args, code, tail(out.String(), 2000), tail(errOut.String(), 4000))
	}
	checkNoRace(t, "inspector's server", errOut.String())
	return out.Bytes(), code
}

// inspectorResult extracts the MCP result from the Inspector's --format json
// output: {"result": RESULT}.
func inspectorResult(t *testing.T, out []byte) json.RawMessage {
	t.Helper()
	var v struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &v); err != nil || len(v.Result) == 0 {
		t.Fatalf("inspector output is not {\"result\": ...} (%v): %s", err, tail(string(out), 2000))
	}
	return v.Result
}

func checkNoRace(t *testing.T, who, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("%s: data race in the server:\n%s", who, stderr)
	}
}

// lines splits output into non-empty lines.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}
