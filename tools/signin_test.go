package tools

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
)

// signinEnv serves tenant a with three calendar accounts (alice, carol,
// and the other tenant's bob elsewhere) and a policy store.
type signinEnv struct {
	c        *client.Client
	policies *policy.Store
	grants   *grants.Store
	audit    *memAudit
}

var aliceIn = tenant.Signin{Tenant: "a", Provider: "google", Account: "alice@example.com", Client: "https://client.example/meta.json", Family: "fam"}

func newSigninEnv(t *testing.T, shared bool) *signinEnv {
	t.Helper()
	ms := memory.New()
	st := grants.New(ms, grants.Plain)
	for _, g := range []grants.Grant{
		{Tenant: "a", Provider: "google", Account: "alice@example.com", Scopes: []string{"mail.read", "calendar.read"}, Status: grants.StatusActive},
		{Tenant: "a", Provider: "google", Account: "carol@example.com", Scopes: []string{"mail.read", "calendar.read"}, Status: grants.StatusActive},
		{Tenant: "b", Provider: "google", Account: "bob@example.com", Scopes: []string{"mail.read", "calendar.read"}, Status: grants.StatusActive},
	} {
		if err := st.Put(context.Background(), g); err != nil {
			t.Fatal(err)
		}
	}
	pol := policy.New(ms, nil)
	if _, err := pol.Put(context.Background(), "a", policy.Policy{SharedAccounts: shared}); err != nil {
		t.Fatal(err)
	}
	e := &signinEnv{policies: pol, grants: st, audit: &memAudit{}}
	e.c = newClient(t, Options{
		Version: "test", Accounts: st, Connector: fakeConnector{}, Sources: &fakeTokens{},
		Providers: testRegistry(t, &fakeProvider{refuse: map[string]bool{}}), Policies: pol, Audit: e.audit,
		Now: func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) },
	}, "a")
	return e
}

// call runs a tool as s (no sign-in: the zero Signin) and returns its
// structured result, or its error text.
func (e *signinEnv) call(t *testing.T, s tenant.Signin, name string, args map[string]any) (map[string]any, string) {
	t.Helper()
	ctx := tenantCtx("a")
	if s.Account != "" {
		ctx = tenant.WithSignin(ctx, s)
	}
	res, err := e.c.CallTool(ctx, mcpCall(name, args))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		return nil, res.Content[0].(mcp.TextContent).Text
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out, ""
}

func listed(out map[string]any) []string {
	var names []string
	for _, a := range out["accounts"].([]any) {
		names = append(names, a.(map[string]any)["account"].(string))
	}
	return names
}

func TestSigninLimitedToOwnAccount(t *testing.T) {
	e := newSigninEnv(t, false)
	if out, msg := e.call(t, aliceIn, "list_events", nil); out == nil || out["account"] != aliceIn.Account {
		t.Errorf("list_events without account, signed in as alice: %v %s; want alice's (two accounts could serve it)", out, msg)
	}
	_, msg := e.call(t, aliceIn, "list_events", map[string]any{"account": "carol@example.com"})
	for _, want := range []string{"workspace policy limits it to alice@example.com", "--shared-accounts true", "--tenant a"} {
		if !strings.Contains(msg, want) {
			t.Errorf("carol's account, signed in as alice: %q; want it refused saying %q", msg, want)
		}
	}
	if out, msg := e.call(t, aliceIn, "list_events", map[string]any{"account": "all"}); out == nil || len(out["accounts"].([]any)) != 1 || listed(out)[0] != aliceIn.Account {
		t.Errorf("list_events all, signed in as alice: %v %s; want alice's only", out, msg)
	}
	if out, msg := e.call(t, aliceIn, "list_accounts", nil); out == nil || strings.Join(listed(out), ",") != aliceIn.Account {
		t.Errorf("list_accounts signed in as alice: %v %s; want alice's only", out, msg)
	}
	// Reconnecting is signing in again (only the OAuth server checks who
	// comes back): connect_account is refused, whatever the hint.
	for _, args := range []map[string]any{{"provider": "google", "login_hint": "mallory@evil.example"}, {"provider": "google"}} {
		if out, msg := e.call(t, aliceIn, "connect_account", args); out != nil || !strings.Contains(msg, "sign in again from your MCP client") {
			t.Errorf("connect_account %v, signed in as alice: %v %q; want it refused, saying to sign in again", args, out, msg)
		}
	}
	// Without a sign-in (an API key), nothing is limited.
	if out, msg := e.call(t, tenant.Signin{}, "list_accounts", nil); out == nil || len(listed(out)) != 2 {
		t.Errorf("list_accounts with an API key: %v %s; want both accounts", out, msg)
	}
	if out, msg := e.call(t, tenant.Signin{}, "list_events", map[string]any{"account": "carol@example.com"}); out == nil || out["account"] != "carol@example.com" {
		t.Errorf("carol's events with an API key: %v %s", out, msg)
	}
	if _, msg := e.call(t, tenant.Signin{}, "list_events", nil); !strings.Contains(msg, "several accounts") {
		t.Errorf("no account with an API key: %q; want the usual several-accounts error", msg)
	}
}

func TestSigninSharedAccounts(t *testing.T) {
	e := newSigninEnv(t, true)
	if out, msg := e.call(t, aliceIn, "list_events", nil); out == nil || out["account"] != aliceIn.Account {
		t.Errorf("list_events without account, shared: %v %s; want alice's still", out, msg)
	}
	if out, msg := e.call(t, aliceIn, "list_events", map[string]any{"account": "carol@example.com"}); out == nil || out["account"] != "carol@example.com" {
		t.Errorf("carol's events, shared: %v %s", out, msg)
	}
	if out, msg := e.call(t, aliceIn, "list_events", map[string]any{"account": "all"}); out == nil || len(out["accounts"].([]any)) != 2 {
		t.Errorf("list_events all, shared: %v %s; want both accounts", out, msg)
	}
	if out, msg := e.call(t, aliceIn, "list_accounts", nil); out == nil || len(listed(out)) != 2 {
		t.Errorf("list_accounts, shared: %v %s; want both", out, msg)
	}
	if out, msg := e.call(t, aliceIn, "connect_account", map[string]any{"provider": "google", "login_hint": "dave@example.com"}); out == nil {
		t.Errorf("connect_account for another mailbox, shared: %s", msg)
	}
	// The other tenant's accounts stay out of reach.
	if _, msg := e.call(t, aliceIn, "list_events", map[string]any{"account": "bob@example.com"}); !strings.Contains(msg, "not connected") {
		t.Errorf("bob's account of tenant b, shared: %q; want not connected", msg)
	}
	// The policy turned off (this process's write shows at once): limited again.
	p, _ := e.policies.Read(context.Background(), "a")
	p.SharedAccounts = false
	if _, err := e.policies.Put(context.Background(), "a", p); err != nil {
		t.Fatal(err)
	}
	if _, msg := e.call(t, aliceIn, "list_events", map[string]any{"account": "carol@example.com"}); !strings.Contains(msg, "limits it to") {
		t.Errorf("carol's events after shared_accounts was turned off: %q; want refused", msg)
	}
}

func TestSigninAccountGone(t *testing.T) {
	e := newSigninEnv(t, true)
	if err := e.grants.Delete(context.Background(), "a", "google", aliceIn.Account); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tool string
		args map[string]any
	}{{"list_events", nil}, {"check_account", nil}} {
		if _, msg := e.call(t, aliceIn, c.tool, c.args); !strings.Contains(msg, "no longer connected") || !strings.Contains(msg, "sign in again") {
			t.Errorf("%s after alice's account was disconnected: %q; want sign in again", c.tool, msg)
		}
	}
	limited := newSigninEnv(t, false)
	if err := limited.grants.Delete(context.Background(), "a", "google", aliceIn.Account); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"list_accounts", "list_events"} {
		args := map[string]any{}
		if tool == "list_events" {
			args["account"] = "all"
		}
		if _, msg := limited.call(t, aliceIn, tool, args); !strings.Contains(msg, "no longer connected") {
			t.Errorf("%s (limited) after alice's account was disconnected: %q; want sign in again", tool, msg)
		}
	}
	// A sign-in of another tenant never reaches tenant a's accounts.
	other := aliceIn
	other.Tenant = "b"
	if out, _ := e.call(t, other, "list_accounts", nil); out != nil {
		t.Errorf("a sign-in of tenant b served on tenant a: %v", out)
	}
}

// A scope missing from the signed-in account is fixed by signing in again,
// never by a connect link (it would connect whichever mailbox the person
// picked, around allowed_signins); with shared accounts, the link as for an
// API key.
func TestSigninReconnectHint(t *testing.T) {
	args := map[string]any{"to": []string{"x@example.com"}, "subject": "s", "body": "b"}
	limited := newSigninEnv(t, false)
	_, msg := limited.call(t, aliceIn, "send_email", args)
	if !strings.Contains(msg, "sign in again from your MCP client") || strings.Contains(msg, "http") {
		t.Errorf("send_email without mail.send, limited sign-in: %q; want sign in again, no link", msg)
	}
	// The audit record names who signed in, and with which client.
	limited.audit.mu.Lock()
	recs := slices.Clone(limited.audit.recs)
	limited.audit.mu.Unlock()
	if len(recs) != 1 || recs[0].SignedIn != aliceIn.Account || recs[0].Client != aliceIn.Client {
		t.Errorf("audit records of a signed-in call: %+v; want one naming %s and %s", recs, aliceIn.Account, aliceIn.Client)
	}
	carol := map[string]any{"account": "carol@example.com"}
	for k, v := range args {
		carol[k] = v
	}
	shared := newSigninEnv(t, true)
	if _, msg := shared.call(t, aliceIn, "send_email", carol); !strings.Contains(msg, "open this URL") {
		t.Errorf("send_email from carol without mail.send, shared: %q; want a connect link", msg)
	}
}
