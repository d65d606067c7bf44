package tools

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/tools/audit"
)

var triager = grants.Grant{Account: "alice@example.com", Scopes: []string{"mail.read", "mail.modify"}}

func triageMessages() []providers.Message {
	var out []providers.Message
	for i := range 3 {
		out = append(out, providers.Message{MessageSummary: providers.MessageSummary{
			ID: fmt.Sprintf("m%d", i), Subject: fmt.Sprintf("s%d", i), Labels: []string{"INBOX", "UNREAD"}, Unread: true}})
	}
	return out
}

func TestModifyMessages(t *testing.T) {
	e := newEnv(t, false, triager)
	e.prov.messages = triageMessages()
	e.prov.triage.labels = []string{"Work"}
	res := e.call(t, "modify_messages", map[string]any{"ids": []any{"m0", "m1", "m0", "m2", "nope"}, "mark_read": true, "add_labels": []any{"work"}, "archive": true})
	text := wantOK(t, res)
	var out ModifyResult
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.Changed != 3 || out.Asked != 4 || len(out.Failed) != 1 || !slices.Equal(out.Failed[0].IDs, []string{"nope"}) ||
		!slices.Equal(out.Actions, []string{"mark_read", "archive", "add_labels:work"}) {
		t.Fatalf("result %s", raw)
	}
	for _, want := range []string{"3 of 4 message(s) changed", "no such message in this mailbox (1): nope", "mark_read, archive, add_labels:work"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q lacks %q", text, want)
		}
	}
	// The provider got the ids once each, in order.
	if got := e.prov.triage.ids[0]; !slices.Equal(got, []string{"m0", "m1", "m2", "nope"}) {
		t.Errorf("ids sent: %v", got)
	}
	m := e.prov.messages[1]
	if m.Unread || slices.Contains(m.Labels, "INBOX") || !slices.Contains(m.Labels, "Work") {
		t.Errorf("message after the change: %+v", m)
	}
}

func TestModifyMessagesRefused(t *testing.T) {
	e := newEnv(t, false, triager)
	e.prov.messages = triageMessages()
	many := make([]any, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("m%d", i)
	}
	for _, c := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"no action", map[string]any{"ids": []any{"m0"}}, []string{"at least one of mark_read"}},
		{"read and unread", map[string]any{"ids": []any{"m0"}, "mark_read": true, "mark_unread": true}, []string{"mark_read and mark_unread"}},
		{"trash and archive", map[string]any{"ids": []any{"m0"}, "trash": true, "archive": true}, []string{"trash and archive"}},
		{"trash and move", map[string]any{"ids": []any{"m0"}, "trash": true, "move_to": "Work"}, []string{"trash and move_to"}},
		{"archive and move", map[string]any{"ids": []any{"m0"}, "archive": true, "move_to": "Work"}, []string{"archive and move_to"}},
		{"add and remove", map[string]any{"ids": []any{"m0"}, "add_labels": []any{"Work"}, "remove_labels": []any{"WORK"}}, []string{"add_labels and remove_labels", "Work"}},
		{"no ids", map[string]any{"ids": []any{}, "mark_read": true}, []string{"ids"}},
		{"1001 ids", map[string]any{"ids": many, "mark_read": true}, []string{"ids", "1000"}},
		{"empty id", map[string]any{"ids": []any{"m0", " "}, "mark_read": true}, []string{"ids[1]"}},
		{"id with a line break", map[string]any{"ids": []any{"m0\r\nX"}, "mark_read": true}, []string{"ids[0]"}},
		{"unknown label", map[string]any{"ids": []any{"m0"}, "add_labels": []any{"Nope"}}, []string{"add_labels[0]", "Nope", "list_labels"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.call(t, "modify_messages", c.args), c.want...)
		})
	}
	if n := len(e.prov.triage.changes); n != 0 {
		t.Errorf("%d changes reached the provider", n)
	}
	// Without mail.modify, the scope is asked for.
	e = newEnv(t, false, alice)
	wantError(t, e.call(t, "modify_messages", map[string]any{"ids": []any{"m0"}, "mark_read": true}), "mail.modify")
}

func TestModifyMessagesNotReadOnly(t *testing.T) {
	e := newEnv(t, true, triager)
	res, err := e.c.ListTools(tenantCtx("a"), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	if slices.Contains(names, "modify_messages") || !slices.Contains(names, "list_labels") {
		t.Errorf("--read-only serves %v: want list_labels and not modify_messages", names)
	}
}

func TestListLabels(t *testing.T) {
	e := newEnv(t, false, triager)
	e.prov.messages = triageMessages()
	e.prov.triage.labels = []string{"Work"}
	res := e.call(t, "list_labels", nil)
	text := wantOK(t, res)
	var out ListLabelsResult
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Labels) != 4 || out.Labels[0].Name != "INBOX" || *out.Labels[0].Total != 3 || *out.Labels[0].Unread != 3 || out.Labels[3].Type != "user" {
		t.Fatalf("labels %s", raw)
	}
	if !strings.Contains(text, "INBOX | system | 3/3") || !strings.Contains(text, "Work | user | 0/0") {
		t.Errorf("text %q", text)
	}
}

func TestModifyMessagesAudited(t *testing.T) {
	gs := grants.New(memory.New(), grants.Plain)
	g := triager
	g.Tenant, g.Provider, g.Status = "a", "google", grants.StatusActive
	if err := gs.Put(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	log := &memAudit{}
	prov := &fakeProvider{refuse: map[string]bool{}, messages: triageMessages()}
	now := func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
	srv, err := New(Options{Version: "test", Accounts: gs, Sources: &fakeTokens{}, Providers: testRegistry(t, prov), Now: now, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := inProcessClient(t, srv, "a")
	for _, name := range []string{"list_labels", "modify_messages"} {
		if _, err := c.CallTool(ctx, mcpCall(name, map[string]any{"ids": []any{"m0", "m2"}, "trash": true})); err != nil && name == "modify_messages" {
			t.Fatal(err)
		}
	}
	if len(log.recs) != 1 {
		t.Fatalf("%d records, want 1 (list_labels changes nothing): %+v", len(log.recs), log.recs)
	}
	r := log.recs[0]
	if r.Tool != "modify_messages" || r.Outcome != audit.OutcomeOK || r.Account != "alice@example.com" ||
		!slices.Equal(r.IDs, []string{"m0", "m2"}) || !slices.Equal(r.Actions, []string{"trash"}) {
		t.Errorf("record %+v", r)
	}
}

// A provider that changes all the ids in one request without a word per
// message says so: the count is of the ids sent.
func TestModifyTextUnconfirmed(t *testing.T) {
	got := modifyText(ModifyResult{Account: "a@example.com", Actions: []string{"mark_read"}, Changed: 3, Asked: 3, Unconfirmed: true})
	for _, want := range []string{"3 of 3 message(s) changed", "does not say which ids it had", "passed over"} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q lacks %q", got, want)
		}
	}
	if got := modifyText(ModifyResult{Account: "a@example.com", Actions: []string{"mark_read"}, Changed: 3, Asked: 3}); strings.Contains(got, "passed over") {
		t.Errorf("a confirmed change reads %q", got)
	}
}
