//go:build unix

package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// --- clients over HTTP

// mcpgoHTTP connects mcp-go's streamable HTTP client (endpoint /mcp) or SSE
// client (endpoint /sse) with one header, and initializes. legacy pins the
// protocol to 2025-11-25 (initialize handshake, a session), as older clients
// do; otherwise mcp-go negotiates the newest revision it can.
func mcpgoHTTP(t *testing.T, s *httpServer, endpoint, header, value string, legacy bool) *mcpclient.Client {
	t.Helper()
	var (
		c   *mcpclient.Client
		err error
	)
	headers := map[string]string{header: value}
	switch endpoint {
	case "/mcp":
		c, err = mcpclient.NewStreamableHttpClient(s.base+endpoint, transport.WithHTTPHeaders(headers))
	case "/sse":
		c, err = mcpclient.NewSSEMCPClient(s.base+endpoint, mcpclient.WithHeaders(headers))
	default:
		t.Fatalf("no client for %s", endpoint)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// The SSE stream lives as long as Start's context.
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("mcp-go %s start: %v", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "mailcal-e2e", Version: "1"}
	if legacy {
		init.Params.ProtocolVersion = "2025-11-25"
	}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("mcp-go %s initialize: %v", endpoint, err)
	}
	if res.ServerInfo.Name != "mailcal" {
		t.Errorf("mcp-go %s: serverInfo.name = %q, want mailcal", endpoint, res.ServerInfo.Name)
	}
	return c
}

// sdkHTTP connects the Go SDK's streamable or SSE client transport, with an
// http.Client that adds the header to every request.
func sdkHTTP(t *testing.T, s *httpServer, endpoint, header, value string) *sdk.ClientSession {
	t.Helper()
	hc := httpClientWith(header, value)
	var tr sdk.Transport
	switch endpoint {
	case "/mcp":
		tr = &sdk.StreamableClientTransport{Endpoint: s.base + endpoint, HTTPClient: hc, MaxRetries: -1}
	case "/sse":
		tr = &sdk.SSEClientTransport{Endpoint: s.base + endpoint, HTTPClient: hc}
	default:
		t.Fatalf("no client for %s", endpoint)
	}
	// The SDK's SSE transport keeps its stream on Connect's context: it must
	// outlive this function.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cs, err := newSDKClient().Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("go-sdk %s connect: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callAccounts(t *testing.T, who string, c *mcpclient.Client) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "list_accounts"}})
	if err != nil {
		t.Fatalf("%s tools/call list_accounts: %v", who, err)
	}
	return res
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

// mcpgoStdio starts `mailcal serve` under mcp-go's stdio client, with the
// keyring's environment only, and initializes the session.
func mcpgoStdio(t *testing.T, k *testKeyring, args ...string) *mcpclient.Client {
	t.Helper()
	return mcpgoStdioWith(t, k.env(), k.home, &logSink{}, args...)
}

// mcpgoStdioWith is mcpgoStdio with an environment, working folder and
// stderr sink of the caller's.
func mcpgoStdioWith(t *testing.T, env []string, dir string, logs *logSink, args ...string) *mcpclient.Client {
	t.Helper()
	c, err := mcpclient.NewStdioMCPClientWithOptions(mailcalBinary(t), nil, append([]string{"serve"}, args...),
		transport.WithCommandFunc(func(ctx context.Context, name string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := command(ctx, name, args...)
			cmd.Env, cmd.Dir, cmd.Stderr = env, dir, logs
			return cmd, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		checkStderr(t, "mcp-go stdio server", logs)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "mailcal-e2e", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("mcp-go stdio initialize: %v", err)
	}
	if res.ServerInfo.Name != "mailcal" {
		t.Errorf("mcp-go stdio: serverInfo.name = %q, want mailcal", res.ServerInfo.Name)
	}
	return c
}

func mcpgoListAndCall(t *testing.T, who string, c *mcpclient.Client, tenantName string, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("%s tools/list: %v", who, err)
	}
	checkToolsList(t, who, tools)
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "list_accounts"}})
	if err != nil {
		t.Fatalf("%s tools/call list_accounts: %v", who, err)
	}
	checkAccounts(t, who, res, tenantName, want...)
}

func sdkListAndCall(t *testing.T, who string, cs *sdk.ClientSession, tenantName string, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got := cs.InitializeResult(); got == nil || got.ServerInfo == nil || got.ServerInfo.Name != "mailcal" {
		t.Errorf("%s: initialize result %+v, want serverInfo.name mailcal", who, got)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("%s tools/list: %v", who, err)
	}
	checkToolsList(t, who, tools)
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_accounts", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("%s tools/call list_accounts: %v", who, err)
	}
	checkAccounts(t, who, res, tenantName, want...)
}

func newSDKClient() *sdk.Client {
	return sdk.NewClient(&sdk.Implementation{Name: "mailcal-e2e", Version: "1"}, nil)
}
