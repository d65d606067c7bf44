//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// stdioKeyrings returns a fresh keyring and one where the default tenant has
// alice@example.com connected, with the accounts list_accounts must show.
func stdioKeyrings(t *testing.T) []struct {
	name string
	k    *testKeyring
	want []string
} {
	fresh, seeded := newKeyring(t), newKeyring(t)
	seedGoogleGrant(t, seeded, "default", "alice@example.com")
	return []struct {
		name string
		k    *testKeyring
		want []string
	}{
		{"fresh", fresh, nil},
		{"seeded", seeded, []string{"alice@example.com"}},
	}
}

func TestE2EStdioMCPGoClient(t *testing.T) {
	t.Parallel()
	for _, kr := range stdioKeyrings(t) {
		t.Run(kr.name, func(t *testing.T) {
			t.Parallel()
			c := mcpgoStdio(t, kr.k)
			mcpgoListAndCall(t, "mcp-go stdio", c, "default", kr.want)
		})
	}
}

func TestE2EStdioGoSDK(t *testing.T) {
	t.Parallel()
	for _, kr := range stdioKeyrings(t) {
		t.Run(kr.name, func(t *testing.T) {
			t.Parallel()
			logs := &logSink{}
			cmd := command(context.Background(), mailcalBinary(t), "serve")
			cmd.Env, cmd.Dir, cmd.Stderr = kr.k.env(), kr.k.home, logs
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cs, err := newSDKClient().Connect(ctx, &sdk.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}, nil)
			if err != nil {
				t.Fatalf("go-sdk stdio connect: %v", err)
			}
			t.Cleanup(func() {
				_ = cs.Close()
				checkStderr(t, "go-sdk stdio server", logs)
			})
			sdkListAndCall(t, "go-sdk stdio", cs, "default", kr.want)
		})
	}
}

func TestE2EStdioInspector(t *testing.T) {
	t.Parallel()
	n := needNPM(t)
	bin := mailcalBinary(t)
	for _, kr := range stdioKeyrings(t) {
		t.Run(kr.name, func(t *testing.T) {
			t.Parallel()
			// The Inspector starts the server with a minimal environment of
			// its own: the keyring settings go in with -e.
			var args []string
			for _, kv := range kr.k.mailcalEnv() {
				args = append(args, "-e", kv)
			}
			args = append(args, "--cwd", kr.k.home)
			t.Run("tools/list", func(t *testing.T) {
				t.Parallel()
				out, code := n.inspectorCLI(t, kr.k, append(args, "--method", "tools/list", "--strict", "--", bin, "serve")...)
				if code != 0 {
					t.Fatalf("inspector tools/list exited %d", code)
				}
				checkToolsList(t, "inspector stdio", inspectorResult(t, out))
			})
			t.Run("tools/call", func(t *testing.T) {
				t.Parallel()
				out, code := n.inspectorCLI(t, kr.k, append(args, "--method", "tools/call", "--tool-name", "list_accounts", "--", bin, "serve")...)
				if code != 0 {
					t.Fatalf("inspector tools/call exited %d", code)
				}
				checkAccounts(t, "inspector stdio", inspectorResult(t, out), "default", kr.want...)
			})
		})
	}
}

// TestE2EStdioRawProtocol writes JSON-RPC to the server's stdin by hand and
// checks that stdout carries nothing but JSON-RPC messages (the logs, debug
// level included, go to stderr), then that closing stdin stops the server.
func TestE2EStdioRawProtocol(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	seedGoogleGrant(t, k, "default", "alice@example.com")
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdinW.Close() })
	p := startServe(t, k, stdinR)
	stdinR.Close()

	requests := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_accounts","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`,
	}
	for _, r := range requests {
		if _, err := fmt.Fprintln(stdinW, r); err != nil {
			t.Fatalf("writing to the server's stdin: %v", err)
		}
	}
	// Wait for the five answers before closing stdin: a client does not hang
	// up on requests it is waiting for.
	byID := map[float64]map[string]any{}
	deadline := time.Now().Add(30 * time.Second)
	for len(byID) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d of 5 answers; stdout:\n%s\nstderr:\n%s", len(byID), p.stdout.String(), tail(p.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
		p.stdout.mu.Lock()
		for _, rec := range p.stdout.records {
			if id, ok := rec["id"].(float64); ok {
				byID[id] = rec
			}
		}
		p.stdout.mu.Unlock()
	}
	stdinW.Close()
	if code := p.waitExit(t, 10*time.Second); code != 0 {
		t.Errorf("mailcal serve exited %d after stdin closed, want 0", code)
	}

	// Every line on stdout is one JSON-RPC 2.0 response.
	outLines := lines([]byte(p.stdout.String()))
	if len(outLines) != 5 {
		t.Errorf("stdout has %d lines, want the 5 answers:\n%s", len(outLines), p.stdout.String())
	}
	for _, l := range outLines {
		var msg struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
			Error   json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal([]byte(l), &msg); err != nil || msg.JSONRPC != "2.0" || len(msg.ID) == 0 ||
			(msg.Result == nil) == (msg.Error == nil) {
			t.Errorf("stdout line is not a JSON-RPC 2.0 response: %s", l)
		}
	}
	result := func(id float64) json.RawMessage {
		data, _ := json.Marshal(byID[id]["result"])
		return data
	}
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
		ServerInfo      struct {
			Name string `json:"name"`
		} `json:"serverInfo"`
		Capabilities struct {
			Tools map[string]any `json:"tools"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(result(1), &init); err != nil || init.ServerInfo.Name != "mailcal" ||
		init.ProtocolVersion != "2025-11-25" || init.Capabilities.Tools == nil {
		t.Errorf("initialize result %s: want serverInfo mailcal, protocol 2025-11-25, a tools capability", result(1))
	}
	checkToolsList(t, "raw stdio", result(2))
	checkAccounts(t, "raw stdio", result(3), "default", "alice@example.com")
	if string(result(4)) != "{}" {
		t.Errorf("ping result = %s, want {}", result(4))
	}
	if byID[5]["error"] == nil && !strings.Contains(string(result(5)), `"isError":true`) {
		t.Errorf("calling an unknown tool answered %v, want an error", byID[5])
	}

	// The logs went to stderr, as JSON, debug level included.
	if len(p.logs.find("mailcal serving MCP on stdio", "tenant", "default")) != 1 {
		t.Errorf("stderr lacks the JSON start-up record; stderr:\n%s", tail(p.logs.String(), 4000))
	}
	if len(p.logs.find("tool called", "tool", "list_accounts", "tenant", "default")) != 1 {
		t.Errorf("stderr lacks the debug record of the list_accounts call; stderr:\n%s", tail(p.logs.String(), 4000))
	}
}

// TestE2EStdioNoKeyring: a first run on a machine where the file keyring has
// no passphrase. The server must start and list its tools; a tool that needs
// the keyring answers a tool error naming the missing setting, and the
// server keeps serving.
func TestE2EStdioNoKeyring(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	k.password = ""
	c := mcpgoStdio(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list without a keyring: %v", err)
	}
	checkToolsList(t, "no keyring", tools)
	for i := range 2 {
		res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "list_accounts"}})
		if err != nil {
			t.Fatalf("call %d: tools/call list_accounts: %v (want a tool error, not a protocol error)", i, err)
		}
		r := asWire[wireResult](t, "no keyring", res)
		if !r.IsError || !strings.Contains(r.text(), "MAILCAL_KEYRING_PASSWORD") {
			t.Errorf("call %d: list_accounts = isError %v, %q; want a tool error naming MAILCAL_KEYRING_PASSWORD", i, r.IsError, r.text())
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping after the failed calls: %v", err)
	}
	if _, err := c.ListTools(ctx, mcp.ListToolsRequest{}); err != nil {
		t.Errorf("tools/list after the failed calls: %v", err)
	}
	if _, err := os.Stat(k.dir); err == nil {
		entries, _ := os.ReadDir(k.dir)
		if len(entries) > 0 {
			t.Errorf("the keyring folder got %d entries without a passphrase", len(entries))
		}
	}
}

// TestE2EStdioSIGTERM: a signal stops a stdio server with a client attached,
// with exit status 0.
func TestE2EStdioSIGTERM(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdinW.Close() })
	p := startServe(t, k, stdinR, "--shutdown-timeout", "5s")
	stdinR.Close()
	fmt.Fprintln(stdinW, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stdout.String(), `"id":1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no initialize answer; stderr:\n%s", tail(p.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	t.Logf("stdio server stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	p.logs.wait(t, time.Second, "stopped")
}
