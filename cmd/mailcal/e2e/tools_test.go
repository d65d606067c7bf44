//go:build unix

package e2e

// End-to-end tests of the mail and calendar tools: the real binary (built
// with -race when the tests are) against googletest on loopback, with the
// fake checking every Gmail and Calendar request against Google's discovery
// documents (a request Google would refuse fails), an account connected
// through the real OAuth flow (the HTTP API, or `mailcal connect`), the
// fixtures' mailbox and calendars, and real MCP clients: mcp-go over
// streamable HTTP and stdio, the official Go SDK and the MCP Inspector CLI.
//
// TestE2ETools shares one fake, server and account among its subtests, in
// phases: first those that count the fake's requests (nothing else runs),
// then the read-only ones in parallel, then those that send mail and create
// events (tools_mail_*_test.go, tools_calendar_test.go,
// tools_validation_test.go). TestE2EToolsScopes (a calendar-only account)
// and TestE2EToolsResilience (injected failures) have fakes of their own.
// Each ends with the leak audit (leaks_test.go) over every output.

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestE2ETools(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newToolsEnv(t, ttAllScopes)
	t.Logf("set-up (fake, server, OAuth connection) took %s", time.Since(start).Round(time.Millisecond))

	// Phase 1: the fake's request counters are this phase's alone.
	t.Run("list_messages/requests", e.testListRequests)
	t.Run("bad-input", e.testBadInput)

	// Phase 2: reads, in parallel.
	t.Run("read", func(t *testing.T) {
		t.Run("tools/list", e.testToolsList)
		t.Run("list_messages/rows", e.testListRows)
		t.Run("list_messages/pages", e.testListPages)
		t.Run("list_messages/queries", e.testListQueries)
		t.Run("get_message/bodies", e.testGetBodies)
		t.Run("get_message/long", e.testGetLong)
		t.Run("get_message/untrusted", e.testGetUntrusted)
		t.Run("list_events", e.testListEvents)
		t.Run("list_events/recurring", e.testRecurring)
		t.Run("list_events/other-calendars", e.testOtherCalendars)
		t.Run("list_calendars", e.testListCalendars)
		t.Run("go-sdk", e.testGoSDK)
		t.Run("inspector", e.testInspector)
	})

	// Phase 3: writes. Sending is sequential: the injection checks count
	// what reached the fake.
	t.Run("write", func(t *testing.T) {
		t.Run("send_email", func(t *testing.T) {
			t.Parallel()
			t.Run("new", e.testSendNew)
			t.Run("reply", e.testSendReply)
			t.Run("injection", e.testSendInjection)
		})
		t.Run("create_event", e.testCreateEvent)
	})

	// The server still answers after all of it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.c.Ping(ctx); err != nil {
		t.Errorf("ping at the end: %v", err)
	}
}

// testToolsList: every tool with the right hints and an output schema; a
// --read-only server lists none that changes anything.
func (e *ttEnv) testToolsList(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tools, err := e.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	ttCheckTools(t, "mcp-go http", tools, false)

	ro := e.stdio(t, "--read-only")
	tools, err = ro.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list --read-only: %v", err)
	}
	ttCheckTools(t, "mcp-go stdio --read-only", tools, true)
	for _, tool := range []string{"send_email", "create_event", "connect_account", "update_event", "delete_event", "respond_to_event"} {
		res, err := ro.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: map[string]any{}}})
		if err == nil && !res.IsError {
			t.Errorf("--read-only: calling %s succeeded", tool)
		}
	}
}

// testGoSDK: the official Go SDK sees the same tools and the same results.
func (e *ttEnv) testGoSDK(t *testing.T) {
	t.Parallel()
	cs := sdkHTTP(t, e.s, "/mcp", "Authorization", "Bearer "+e.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("go-sdk tools/list: %v", err)
	}
	ttCheckTools(t, "go-sdk", tools, false)
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"get_message", map[string]any{"id": e.f.Messages["report"]}},
		{"list_messages", map[string]any{"query": "has:attachment"}},
		{"list_events", map[string]any{"time_min": e.at(1, 0, 0, ttBerlin).Format(time.RFC3339), "time_max": e.at(3, 0, 0, ttBerlin).Format(time.RFC3339)}},
	} {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			t.Fatalf("go-sdk %s: %v", c.tool, err)
		}
		data, _ := json.Marshal(res)
		e.leaks.record("go-sdk "+c.tool, string(data))
		e.checkSameAsMCPGo(t, "go-sdk", c.tool, c.args, asWire[wireResult](t, "go-sdk", res))
	}
}

// checkSameAsMCPGo checks the result another client (who) got for a tool
// call: not a tool error, and the structured content mcp-go gets for the
// same call.
func (e *ttEnv) checkSameAsMCPGo(t *testing.T, who, tool string, args map[string]any, r wireResult) {
	t.Helper()
	if r.IsError {
		t.Fatalf("%s %s: tool error %s", who, tool, r.text())
	}
	mcpgo := e.ok(t, tool, args, nil)
	var a, b any
	json.Unmarshal(r.StructuredContent, &a)
	json.Unmarshal(mcpgo.StructuredContent, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s %s structured content differs from mcp-go's:\n%s\n%s", who, tool, r.StructuredContent, mcpgo.StructuredContent)
	}
}

// testInspector: the MCP Inspector CLI calls list_messages and get_message.
func (e *ttEnv) testInspector(t *testing.T) {
	t.Parallel()
	n := needNPM(t)
	base := []string{"--server-url", e.s.base + "/mcp", "--transport", "http", "--header", "Authorization: Bearer " + e.key}
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"list_messages", map[string]any{"query": "is:unread", "max_results": 5}},
		{"get_message", map[string]any{"id": e.f.Messages["umlaut"]}},
	} {
		t.Run(c.tool, func(t *testing.T) {
			t.Parallel()
			js, _ := json.Marshal(c.args)
			out, code := n.inspectorCLI(t, e.k, append(base, "--method", "tools/call", "--tool-name", c.tool, "--tool-args-json", string(js))...)
			e.leaks.record("inspector "+c.tool, string(out))
			if code != 0 {
				t.Fatalf("inspector tools/call %s exited %d", c.tool, code)
			}
			r := asWire[wireResult](t, "inspector", inspectorResult(t, out))
			e.checkSameAsMCPGo(t, "inspector", c.tool, c.args, r)
			if c.tool == "list_messages" {
				var l ttList
				json.Unmarshal(r.StructuredContent, &l)
				if len(l.Messages) != 5 || l.NextPageToken == "" {
					t.Errorf("inspector list_messages: %d rows, token %q", len(l.Messages), l.NextPageToken)
				}
			} else if !strings.Contains(r.text(), "Grüße aus München") {
				t.Errorf("inspector get_message text: %s", r.text())
			}
		})
	}
}
