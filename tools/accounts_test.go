package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
)

// newClient serves opts in-process for the given tenant.
func newClient(t testing.TB, opts Options, tenantName string) *client.Client {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := tenant.WithName(context.Background(), tenantName)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListAccounts(t *testing.T) {
	ctx := context.Background()
	gs := grants.New(memory.New(), grants.Plain)
	at := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	for _, g := range []grants.Grant{
		{Tenant: "a", Provider: "google", Account: "Alice@Example.com", Scopes: []string{"mail.read", "calendar.read"}, ConnectedAt: at, Status: grants.StatusActive, RefreshToken: "1//secret-a"},
		{Tenant: "a", Provider: "google", Account: "old@example.com", Scopes: []string{"mail.read"}, ConnectedAt: at, Status: grants.StatusNeedsReauth},
		{Tenant: "b", Provider: "google", Account: "bob@example.com", Scopes: []string{"mail.read"}, ConnectedAt: at, Status: grants.StatusActive, RefreshToken: "1//secret-b"},
	} {
		if err := gs.Put(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, Options{Version: "test", Accounts: gs, Providers: testRegistry(t, nil)}, "a")
	req := mcp.CallToolRequest{}
	req.Params.Name = "list_accounts"
	res, err := c.CallTool(tenant.WithName(ctx, "a"), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("tool error: %+v", res.Content)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var got ListAccountsResult
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Tenant != "a" || len(got.Accounts) != 2 || got.Accounts[0].Account != "alice@example.com" ||
		got.Accounts[1].Status != "needs_reauth" || got.Accounts[0].ConnectedAt != "2026-11-01T09:30:00Z" {
		t.Fatalf("structured = %s", raw)
	}
	text := res.Content[0].(mcp.TextContent).Text
	for _, want := range []string{"alice@example.com (google) active", "old@example.com (google) needs_reauth", "mail.read,calendar.read"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q lacks %q", text, want)
		}
	}
	for _, leak := range []string{"bob@", "secret"} {
		if strings.Contains(text, leak) || strings.Contains(string(raw), leak) {
			t.Errorf("result leaks %q: %s / %s", leak, text, raw)
		}
	}
}

func TestToolsAnnotated(t *testing.T) {
	c := newEnv(t, false).c // every tool served
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != 23 {
		t.Fatalf("%d tools, want 23", len(res.Tools))
	}
	for _, tl := range res.Tools {
		a := tl.Annotations
		if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: every hint must be set explicitly: %+v", tl.Name, a)
		}
		if tl.OutputSchema.Type != "object" {
			t.Errorf("%s: no output schema", tl.Name)
		}
		// Arrays are answered as [] (never null), and some clients warn on
		// union types: no "null" type anywhere in the schema.
		if out, _ := json.Marshal(tl.OutputSchema); strings.Contains(string(out), `"null"`) {
			t.Errorf("%s: output schema has a null type: %s", tl.Name, out)
		}
		if len(tl.Description) < 80 {
			t.Errorf("%s: description too thin for a model: %q", tl.Name, tl.Description)
		}
	}
}

func TestNoTenantIsAnError(t *testing.T) {
	srv, err := New(Options{Version: "test", Accounts: grants.New(memory.New(), grants.Plain), Providers: testRegistry(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "list_accounts"
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError {
		t.Fatal("a call without a tenant must fail, not fall back to a default tenant")
	}
}
