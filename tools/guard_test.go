package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// elicitor answers elicitations with action and records what it was asked.
type elicitor struct {
	action mcp.ElicitationResponseAction
	mu     sync.Mutex
	asked  []string
}

func (e *elicitor) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asked = append(e.asked, req.Params.Message)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: e.action}}, nil
}

type policyEnv struct {
	*env
	pol *policy.Store
	st  *memory.Store
}

// newPolicyEnv is newEnv with tenant "a"'s policy set to p, and a client
// that answers elicitations through el (nil: a client without the
// capability).
func newPolicyEnv(t *testing.T, p policy.Policy, el *elicitor) *policyEnv {
	t.Helper()
	st := memory.New()
	gs := grants.New(st, grants.Plain)
	g := alice
	g.Tenant, g.Provider, g.Status = "a", "google", grants.StatusActive
	if err := gs.Put(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
	pol := policy.New(st, now)
	if _, err := pol.Put(t.Context(), "a", p); err != nil {
		t.Fatal(err)
	}
	e := &env{prov: &fakeProvider{refuse: map[string]bool{}}, toks: &fakeTokens{}, grants: gs}
	srv, err := New(Options{Version: "test", Accounts: gs, Sources: e.toks, Providers: testRegistry(t, e.prov), Now: now, Policies: pol})
	if err != nil {
		t.Fatal(err)
	}
	var opts []client.ClientOption
	if el != nil {
		opts = append(opts, client.WithElicitationHandler(el))
	}
	c, err := client.NewInProcessClientWithOptions(srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := tenantCtx("a")
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	if el != nil {
		init.Params.Capabilities.Elicitation = &mcp.ElicitationCapability{}
	}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	e.c = c
	return &policyEnv{env: e, pol: pol, st: st}
}

func sendArgsTo(to ...string) map[string]any {
	list := make([]any, len(to))
	for i, a := range to {
		list[i] = a
	}
	return map[string]any{"to": list, "subject": "Quarterly numbers", "body": "Line 1\nLine 2"}
}

// The allowlist on every outgoing path there is today: a new message, a
// reply, an event's attendees. Refused calls name the refused addresses and
// send nothing.
func TestAllowlistOnEveryOutgoingPath(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{RecipientAllowlist: []string{"bob@example.com", "*@corp.example"}}, nil)
	paths := []struct {
		name, tool string
		args       map[string]any
	}{
		{"new message", "send_email", sendArgsTo("bob@example.com", "eve@evil.example")},
		{"cc", "send_email", map[string]any{"to": []any{"bob@example.com"}, "cc": []any{"Eve <eve@evil.example>"}, "subject": "s", "body": "b"}},
		{"bcc", "send_email", map[string]any{"to": []any{"bob@example.com"}, "bcc": []any{"eve@evil.example"}, "subject": "s", "body": "b"}},
		{"reply", "send_email", map[string]any{"to": []any{"eve@evil.example"}, "body": "b", "reply_to_message_id": "m1"}},
		{"subdomain", "send_email", sendArgsTo("eve@evil.corp.example")},
		{"event attendees", "create_event", map[string]any{"summary": "Sync", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "attendees": []any{"ann@corp.example", "eve@evil.example"}}},
		{"event attendees without emails", "create_event", map[string]any{"summary": "Sync", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "attendees": []any{"eve@evil.example"}, "send_updates": "none"}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			wantError(t, e.call(t, p.tool, p.args), "not sent", "eve@", "recipient allowlist", "bob@example.com, *@corp.example")
		})
	}
	if len(e.prov.sent) != 0 || len(e.prov.created) != 0 {
		t.Fatalf("refused calls reached the provider: %d sent, %d events", len(e.prov.sent), len(e.prov.created))
	}
	wantOK(t, e.call(t, "send_email", sendArgsTo("BOB@example.com", "ann@corp.example")))
	wantOK(t, e.call(t, "send_email", map[string]any{"to": []any{"bob@example.com"}, "body": "b", "reply_to_message_id": "m1"}))
	wantOK(t, e.call(t, "create_event", map[string]any{"summary": "Sync", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "attendees": []any{"ann@corp.example"}}))
	wantOK(t, e.call(t, "create_event", map[string]any{"summary": "Alone", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z"}))
	if len(e.prov.sent) != 2 || len(e.prov.created) != 2 {
		t.Errorf("allowed calls: %d sent, %d events; want 2 and 2", len(e.prov.sent), len(e.prov.created))
	}
}

func TestMaxRecipients(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{MaxRecipients: 2}, nil)
	wantError(t, e.call(t, "send_email", map[string]any{"to": []any{"a@x.com", "b@x.com"}, "bcc": []any{"c@x.com"}, "subject": "s", "body": "b"}),
		"not sent", "3 recipients", "at most 2", "max_recipients")
	wantOK(t, e.call(t, "send_email", sendArgsTo("a@x.com", "b@x.com")))
}

// The daily cap is counted in the store: a new server over the same store
// (a restart) sees the sends already made, and the error says when sending
// is possible again.
func TestSendCapCountedInTheStore(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{MaxSendsPerDay: 2}, nil)
	wantOK(t, e.call(t, "send_email", sendArgsTo("a@x.com")))
	wantError(t, e.call(t, "send_email", sendArgsTo("not an address")), "to[0]") // refused before counting
	wantOK(t, e.call(t, "send_email", sendArgsTo("a@x.com")))
	wantError(t, e.call(t, "send_email", sendArgsTo("a@x.com")), "not sent", "alice@example.com", "2 sends allowed today", "2026-11-23T00:00:00Z")

	again := policy.New(e.st, func() time.Time { return time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC) })
	k := store.GrantKey{Tenant: "a", Provider: "google", Account: "alice@example.com"}
	var le *policy.SendLimitError
	if err := again.CountSend(t.Context(), k, 2); !errors.As(err, &le) {
		t.Errorf("a new policy store over the same store counted a third send: %v", err)
	}
	if len(e.prov.sent) != 2 {
		t.Errorf("%d messages sent, want 2", len(e.prov.sent))
	}
}

func TestDraftsOnly(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{DraftsOnly: true}, nil)
	list, err := e.c.ListTools(tenantCtx("a"), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	if slices.Contains(names, "send_email") || !slices.Contains(names, "create_event") || !slices.Contains(names, "list_messages") {
		t.Errorf("tools/list under drafts_only = %v; want send_email left out, the rest served", names)
	}
	if _, err := e.c.CallTool(tenantCtx("a"), mcpCall("send_email", sendArgsTo("a@x.com"))); err == nil {
		t.Error("send_email was served under drafts_only")
	}
	wantError(t, e.call(t, "create_event", map[string]any{"summary": "Sync", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "attendees": []any{"a@x.com"}}),
		"not sent", "drafts_only")
	wantOK(t, e.call(t, "create_event", map[string]any{"summary": "Alone", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z"}))

	// This process's write shows at once.
	p, _ := e.pol.Get(t.Context(), "a")
	p.DraftsOnly = false
	if _, err := e.pol.Put(t.Context(), "a", p); err != nil {
		t.Fatal(err)
	}
	wantOK(t, e.call(t, "send_email", sendArgsTo("a@x.com")))
}

func TestConfirmSends(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		el := &elicitor{action: mcp.ElicitationResponseActionAccept}
		e := newPolicyEnv(t, policy.Policy{ConfirmSends: policy.ConfirmRequired}, el)
		args := sendArgsTo("bob@example.com")
		args["attachments"] = []any{map[string]any{"filename": "q3.pdf", "content_base64": "eA=="}}
		wantOK(t, e.call(t, "send_email", args))
		if len(el.asked) != 1 || len(e.prov.sent) != 1 {
			t.Fatalf("asked %d times, sent %d; want 1 and 1", len(el.asked), len(e.prov.sent))
		}
		for _, want := range []string{"alice@example.com", "bob@example.com", "Quarterly numbers", "Line 2", "q3.pdf"} {
			if !strings.Contains(el.asked[0], want) {
				t.Errorf("confirmation %q lacks %q", el.asked[0], want)
			}
		}
		if strings.Contains(el.asked[0], "eA==") {
			t.Error("the confirmation shows attachment content")
		}
	})
	for _, action := range []mcp.ElicitationResponseAction{mcp.ElicitationResponseActionDecline, mcp.ElicitationResponseActionCancel} {
		t.Run(string(action), func(t *testing.T) {
			el := &elicitor{action: action}
			e := newPolicyEnv(t, policy.Policy{ConfirmSends: policy.ConfirmElicit, MaxSendsPerDay: 1}, el)
			wantError(t, e.call(t, "send_email", sendArgsTo("bob@example.com")), "not sent", "the person")
			if len(e.prov.sent) != 0 {
				t.Fatal("a declined send was sent")
			}
			el.action = mcp.ElicitationResponseActionAccept
			wantOK(t, e.call(t, "send_email", sendArgsTo("bob@example.com"))) // the refused one was not counted
		})
	}
	t.Run("required without the capability", func(t *testing.T) {
		e := newPolicyEnv(t, policy.Policy{ConfirmSends: policy.ConfirmRequired}, nil)
		wantError(t, e.call(t, "send_email", sendArgsTo("bob@example.com")), "not sent", "confirm_sends required", "elicitation")
		if len(e.prov.sent) != 0 {
			t.Fatal("sent without a confirmation")
		}
	})
	t.Run("elicit without the capability", func(t *testing.T) {
		e := newPolicyEnv(t, policy.Policy{ConfirmSends: policy.ConfirmElicit}, nil)
		wantOK(t, e.call(t, "send_email", sendArgsTo("bob@example.com")))
	})
}

// failingPolicies fails every read: nothing may leave.
type failingPolicies struct{}

func (failingPolicies) Get(context.Context, string) (policy.Policy, error) {
	return policy.Policy{}, errors.New("store down")
}
func (failingPolicies) CountSend(context.Context, store.GrantKey, int) error { return nil }

func TestGuardFailsClosed(t *testing.T) {
	h := &handlers{opts: Options{Policies: failingPolicies{}}}
	g := alice
	g.Tenant = "a"
	err := h.guardOutgoing(context.Background(), g, outgoing{what: "the message", recipients: []string{"bob@example.com"}})
	var ue *userError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "could not be read") {
		t.Errorf("guard with an unreadable policy = %v; want a refusal", err)
	}
	// tools/list still shows send_email (a desktop whose keyring is not set
	// up yet must see every tool; its call says what to set up).
	var names []string
	for _, tl := range h.draftsOnlyFilter(map[string]bool{"send_email": true}, newListViews())(tenantCtx("a"), []mcp.Tool{{Name: "send_email"}, {Name: "list_messages"}}) {
		names = append(names, tl.Name)
	}
	if !slices.Equal(names, []string{"send_email", "list_messages"}) {
		t.Errorf("tools/list with an unreadable policy = %v; want every tool", names)
	}
}

// From protocol 2026-07-28 the confirmation is a multi round-trip request:
// the call answers "input required", and the person's answer counts only
// when it comes back with the state of the same message.
func TestConfirmSendsMultiRoundTrip(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{ConfirmSends: policy.ConfirmRequired}, nil)
	srv, err := New(Options{Version: "test", Accounts: e.grants, Sources: e.toks, Providers: testRegistry(t, e.prov),
		Now: func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }, Policies: e.pol})
	if err != nil {
		t.Fatal(err)
	}
	call := func(subject string, answer map[string]any, state string, caps map[string]any) map[string]any {
		t.Helper()
		params := map[string]any{
			"name":      "send_email",
			"arguments": map[string]any{"to": []any{"bob@example.com"}, "subject": subject, "body": "hello"},
			"_meta": map[string]any{
				"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
				"io.modelcontextprotocol/clientCapabilities": caps,
			},
		}
		if answer != nil {
			params["inputResponses"] = map[string]any{confirmID: answer}
			params["requestState"] = state
		}
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
		out, _ := json.Marshal(srv.HandleMessage(tenantCtx("a"), msg))
		var resp struct {
			Result map[string]any `json:"result"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.Result == nil {
			t.Fatalf("tools/call answered %s", out)
		}
		return resp.Result
	}
	elicit := map[string]any{"elicitation": map[string]any{}}
	first := call("Hello", nil, "", elicit)
	state, _ := first["requestState"].(string)
	if first["resultType"] != "input_required" || state == "" || len(e.prov.sent) != 0 {
		t.Fatalf("first call = %v; want input_required with a state, nothing sent", first)
	}
	accept := map[string]any{"action": "accept"}
	// The answer to one message does not send another.
	if r := call("Other subject", accept, state, elicit); r["resultType"] != "input_required" || len(e.prov.sent) != 0 {
		t.Fatalf("an accept bound to another message = %v; want the question again", r)
	}
	if r := call("Hello", map[string]any{"action": "decline"}, state, elicit); r["isError"] != true || len(e.prov.sent) != 0 {
		t.Fatalf("declined = %v", r)
	}
	if r := call("Hello", accept, state, elicit); r["isError"] == true || len(e.prov.sent) != 1 {
		t.Fatalf("accepted = %v, %d sent", r, len(e.prov.sent))
	}
	if r := call("Hello", nil, "", map[string]any{}); r["isError"] != true || !strings.Contains(fmt.Sprint(r["content"]), "confirm_sends required") {
		t.Fatalf("a modern client without elicitation = %v", r)
	}
}
