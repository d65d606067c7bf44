package tools

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/tools/audit"
)

// newComposeEnv is newPolicyEnv whose account may also write drafts
// (mail.modify), with messages to answer and forward.
func newComposeEnv(t *testing.T, p policy.Policy, el *elicitor) *policyEnv {
	t.Helper()
	e := newPolicyEnv(t, p, el)
	g := alice
	g.Tenant, g.Provider, g.Status = "a", "google", grants.StatusActive
	g.Scopes = append(slices.Clone(g.Scopes), providers.MailModify)
	if err := e.grants.Put(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	e.prov.messages = []providers.Message{
		{MessageSummary: providers.MessageSummary{ID: "plain", From: "Bob <bob@example.com>", To: "alice@example.com", Subject: "Plans"}},
		{MessageSummary: providers.MessageSummary{ID: "replyto", From: "List <list@example.com>", To: "alice@example.com", Subject: "Digest"},
			ReplyTo: "Owner <owner@example.com>"},
		{MessageSummary: providers.MessageSummary{ID: "group", From: "Eve Adams <eve@example.com>", To: `"Doe, Jane" <jane@example.com>, ALICE@example.com`, Subject: "Team"},
			Cc: "bob@example.com, Carol <carol@example.com>, jane@EXAMPLE.com"},
		{MessageSummary: providers.MessageSummary{ID: "mine", From: "Alice <alice@example.com>", To: "dave@example.com", Subject: "Contract"}},
		{MessageSummary: providers.MessageSummary{ID: "self", From: "alice@example.com", To: "alice@example.com", Subject: "Note"}},
		{MessageSummary: providers.MessageSummary{ID: "bad", From: "Bob <bob@example.com", To: "alice@example.com", Subject: "x"}},
		{MessageSummary: providers.MessageSummary{ID: "nobody", From: "undisclosed-recipients:;", To: "alice@example.com", Subject: "x"}},
		{MessageSummary: providers.MessageSummary{ID: "report", From: "Dave <dave@example.com>", To: "alice@example.com", Subject: "Q3 report"},
			BodyText: "Revenue is up.\nMore below.", Attachments: []providers.AttachmentInfo{{ID: "a1", Filename: "q3.pdf", MIMEType: "application/pdf", Size: 2048}}},
	}
	return e
}

func emails(as []providers.Address) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Email)
	}
	return out
}

// A reply without to goes to the original's Reply-To, else its sender (a
// message this account sent: its recipients); reply_all adds the
// original's To and Cc without the account and without repeats; the
// result lists who it went to.
func TestReplyRecipients(t *testing.T) {
	e := newComposeEnv(t, policy.Policy{}, nil)
	cases := []struct {
		name   string
		args   map[string]any
		to, cc []string
	}{
		{"sender", map[string]any{"reply_to_message_id": "plain"}, []string{"bob@example.com"}, nil},
		{"reply-to", map[string]any{"reply_to_message_id": "replyto"}, []string{"owner@example.com"}, nil},
		{"own message", map[string]any{"reply_to_message_id": "mine"}, []string{"dave@example.com"}, nil},
		{"given to", map[string]any{"reply_to_message_id": "plain", "to": []any{"zed@example.com"}}, []string{"zed@example.com"}, nil},
		{"reply all", map[string]any{"reply_to_message_id": "group", "reply_all": true},
			[]string{"eve@example.com", "jane@example.com"}, []string{"bob@example.com", "carol@example.com"}},
		{"reply all with to and cc", map[string]any{"reply_to_message_id": "group", "reply_all": true, "to": []any{"zed@example.com"}, "cc": []any{"BOB@example.com"}},
			[]string{"zed@example.com", "eve@example.com", "jane@example.com"}, []string{"BOB@example.com", "carol@example.com"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.args["body"] = "Thanks."
			n := len(e.prov.sent)
			var res SendResult
			r := e.call(t, "send_email", c.args)
			text := wantOK(t, r)
			if err := json.Unmarshal(mustJSON(t, r.StructuredContent), &res); err != nil {
				t.Fatal(err)
			}
			if len(e.prov.sent) != n+1 {
				t.Fatalf("sent %d", len(e.prov.sent)-n)
			}
			m := e.prov.sent[n]
			if !slices.Equal(emails(m.To), c.to) || !slices.Equal(emails(m.Cc), c.cc) || m.ReplyTo != c.args["reply_to_message_id"] {
				t.Errorf("to %v cc %v, want %v and %v", emails(m.To), emails(m.Cc), c.to, c.cc)
			}
			if len(res.To) != len(c.to) || !strings.Contains(text, c.to[0]) {
				t.Errorf("the result does not say who it went to: %+v / %s", res, text)
			}
		})
	}
	for _, bad := range []struct {
		name  string
		args  map[string]any
		wants []string
	}{
		{"only oneself", map[string]any{"reply_to_message_id": "self", "body": "x"}, []string{"to", "give to"}},
		{"unreadable sender", map[string]any{"reply_to_message_id": "bad", "body": "x"}, []string{"From", "give to"}},
		{"sender without an address", map[string]any{"reply_to_message_id": "nobody", "body": "x"}, []string{"to", "give to"}},
		{"reply_all without a reply", map[string]any{"to": []any{"a@example.com"}, "subject": "s", "body": "x", "reply_all": true}, []string{"reply_all"}},
		{"no to for a new message", map[string]any{"subject": "s", "body": "x"}, []string{"to", "required"}},
		{"missing original", map[string]any{"reply_to_message_id": "nope", "body": "x"}, []string{"reply_to_message_id nope", "not found"}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			n := len(e.prov.sent)
			wantError(t, e.call(t, "send_email", bad.args), bad.wants...)
			if len(e.prov.sent) != n {
				t.Error("it was sent")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The guard sees a reply's resolved recipients: reply_all to someone
// outside the allowlist is refused, naming them, and nothing is sent.
func TestReplyAllGuarded(t *testing.T) {
	e := newComposeEnv(t, policy.Policy{RecipientAllowlist: []string{"eve@example.com", "jane@example.com", "bob@example.com"}}, nil)
	wantError(t, e.call(t, "send_email", map[string]any{"reply_to_message_id": "group", "reply_all": true, "body": "x"}),
		"not sent", "carol@example.com", "recipient allowlist", "taken from the original", "without reply_all")
	if len(e.prov.sent) != 0 {
		t.Fatal("a refused reply-all was sent")
	}
	wantOK(t, e.call(t, "send_email", map[string]any{"reply_to_message_id": "group", "body": "x"}))
}

func TestForwardEmail(t *testing.T) {
	el := &elicitor{action: mcp.ElicitationResponseActionAccept}
	e := newComposeEnv(t, policy.Policy{ConfirmSends: policy.ConfirmRequired, RecipientAllowlist: []string{"*@example.com"}}, el)
	text := wantOK(t, e.call(t, "forward_email", map[string]any{"message_id": "report", "to": []any{"Bob <bob@example.com>"}, "body": "FYI, see the numbers."}))
	if !strings.Contains(text, "Forwarded from alice@example.com to 1 recipient(s) (to: Bob <bob@example.com>)") {
		t.Errorf("text %q", text)
	}
	fw := e.prov.compose.forwards
	if len(fw) != 1 || fw[0].MessageID != "report" || !fw[0].IncludeAttachments || fw[0].Note != "FYI, see the numbers." || fw[0].To[0].Email != "bob@example.com" {
		t.Fatalf("forwards %+v", fw)
	}
	if len(el.asked) != 1 {
		t.Fatalf("asked %d times", len(el.asked))
	}
	for _, want := range []string{"Send the forward", "bob@example.com", "Fwd: Q3 report", "FYI, see the numbers.", "Revenue is up.", "q3.pdf"} {
		if !strings.Contains(el.asked[0], want) {
			t.Errorf("confirmation %q lacks %q", el.asked[0], want)
		}
	}
	wantOK(t, e.call(t, "forward_email", map[string]any{"message_id": "report", "to": []any{"bob@example.com"}, "include_attachments": false}))
	if fw := e.prov.compose.forwards; len(fw) != 2 || fw[1].IncludeAttachments || strings.Contains(el.asked[1], "q3.pdf") {
		t.Errorf("include_attachments false: %+v, asked %q", fw[1], el.asked[1])
	}

	el.action = mcp.ElicitationResponseActionDecline
	wantError(t, e.call(t, "forward_email", map[string]any{"message_id": "report", "to": []any{"bob@example.com"}}), "forward was not sent", "declined")
	el.action = mcp.ElicitationResponseActionAccept
	wantError(t, e.call(t, "forward_email", map[string]any{"message_id": "report", "to": []any{"bob@example.com"}, "bcc": []any{"eve@evil.example"}}),
		"not sent", "eve@evil.example", "recipient allowlist")
	wantError(t, e.call(t, "forward_email", map[string]any{"message_id": "nope", "to": []any{"bob@example.com"}}), "message_id nope", "not found")
	wantError(t, e.call(t, "forward_email", map[string]any{"message_id": "report"}), "to", "required")
	if n := len(e.prov.compose.forwards); n != 2 {
		t.Errorf("%d forwards, want the 2 allowed", n)
	}
}

func TestDraftTools(t *testing.T) {
	e := newComposeEnv(t, policy.Policy{DraftsOnly: true}, nil)
	// drafts_only: the drafts tools are served, send_draft and
	// forward_email are not.
	list, err := e.c.ListTools(tenantCtx("a"), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	for _, n := range []string{"create_draft", "list_drafts", "update_draft", "delete_draft"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not served under drafts_only", n)
		}
	}
	for _, n := range []string{"send_draft", "forward_email", "send_email"} {
		if slices.Contains(names, n) {
			t.Errorf("%s is served under drafts_only", n)
		}
	}

	var d DraftResult
	r := e.call(t, "create_draft", map[string]any{"reply_to_message_id": "group", "reply_all": true, "body": "Draft."})
	text := wantOK(t, r)
	json.Unmarshal(mustJSON(t, r.StructuredContent), &d)
	if d.DraftID != "r1" || !slices.Equal(d.To, []string{"Eve Adams <eve@example.com>", `"Doe, Jane" <jane@example.com>`}) || len(d.Cc) != 2 ||
		!strings.Contains(text, "Nothing was sent") {
		t.Errorf("create_draft %+v / %s", d, text)
	}
	if got := e.prov.compose.drafts[0].msg; got.ReplyTo != "group" {
		t.Errorf("the reply draft lost its original: %+v", got)
	}
	wantOK(t, e.call(t, "create_draft", map[string]any{"to": []any{"bob@example.com"}, "subject": "Plan", "body": "First."}))
	text = wantOK(t, e.call(t, "list_drafts", nil))
	if !strings.Contains(text, "2 drafts") || strings.Index(text, "r2 |") > strings.Index(text, "r1 |") {
		t.Errorf("list_drafts %q", text)
	}
	wantOK(t, e.call(t, "update_draft", map[string]any{"draft_id": "r2", "to": []any{"carol@example.com"}, "body": "Second."}))
	if m := e.prov.compose.drafts[1].msg; m.Subject != "Plan" || m.Text != "Second." || len(m.To) != 1 || m.To[0].Email != "carol@example.com" {
		t.Errorf("updated %+v", m)
	}
	// Attachments: kept when left out, replaced when given, removed on
	// request.
	att := []any{map[string]any{"filename": "a.txt", "content_base64": "eA=="}}
	wantOK(t, e.call(t, "update_draft", map[string]any{"draft_id": "r2", "to": []any{"carol@example.com"}, "body": "Third.", "attachments": att}))
	wantOK(t, e.call(t, "update_draft", map[string]any{"draft_id": "r2", "to": []any{"carol@example.com"}, "body": "Fourth."}))
	if m := e.prov.compose.drafts[1].msg; m.Text != "Fourth." || len(m.Attachments) != 1 || m.Attachments[0].Filename != "a.txt" {
		t.Errorf("an update without attachments lost them: %+v", m)
	}
	wantOK(t, e.call(t, "update_draft", map[string]any{"draft_id": "r2", "to": []any{"carol@example.com"}, "body": "Fifth.", "remove_attachments": true}))
	if m := e.prov.compose.drafts[1].msg; len(m.Attachments) != 0 {
		t.Errorf("remove_attachments kept %d", len(m.Attachments))
	}
	wantError(t, e.call(t, "update_draft", map[string]any{"draft_id": "r2", "to": []any{"a@example.com"}, "body": "x", "attachments": att, "remove_attachments": true}),
		"remove_attachments", "not with attachments")
	wantError(t, e.call(t, "update_draft", map[string]any{"draft_id": "r2", "body": "x"}), "to", "required")
	wantError(t, e.call(t, "update_draft", map[string]any{"draft_id": "r9", "to": []any{"a@example.com"}, "body": "x"}), "draft_id r9", "not found")
	wantOK(t, e.call(t, "delete_draft", map[string]any{"draft_id": "r2"}))
	wantError(t, e.call(t, "delete_draft", map[string]any{"draft_id": "r2"}), "not found")
	if len(e.prov.sent) != 0 || len(e.prov.compose.sentDrafts) != 0 {
		t.Fatal("a drafts tool sent something")
	}
}

// send_draft is guarded with what the provider has in the draft: its
// recipients, subject, first lines and attachments.
func TestSendDraftGuarded(t *testing.T) {
	el := &elicitor{action: mcp.ElicitationResponseActionAccept}
	e := newComposeEnv(t, policy.Policy{ConfirmSends: policy.ConfirmRequired, RecipientAllowlist: []string{"*@example.com"}, MaxSendsPerDay: 1}, el)
	wantOK(t, e.call(t, "create_draft", map[string]any{"to": []any{"bob@example.com"}, "cc": []any{"eve@evil.example"}, "subject": "Plan", "body": "Line 1\nLine 2",
		"attachments": []any{map[string]any{"filename": "plan.txt", "content_base64": "eA=="}}}))
	wantError(t, e.call(t, "send_draft", map[string]any{"draft_id": "r1"}), "draft was not sent", "eve@evil.example", "recipient allowlist", "update_draft")
	if len(e.prov.compose.sentDrafts) != 0 || len(el.asked) != 0 {
		t.Fatal("a refused draft was sent or confirmed")
	}
	wantOK(t, e.call(t, "update_draft", map[string]any{"draft_id": "r1", "to": []any{"bob@example.com"}, "body": "Line 1\nLine 2",
		"attachments": []any{map[string]any{"filename": "plan.txt", "content_base64": "eA=="}}}))
	text := wantOK(t, e.call(t, "send_draft", map[string]any{"draft_id": "r1"}))
	if !strings.Contains(text, "Sent the draft from alice@example.com to 1 recipient(s) (to: bob@example.com)") || len(e.prov.compose.sentDrafts) != 1 {
		t.Errorf("send_draft %q, sent %v", text, e.prov.compose.sentDrafts)
	}
	for _, want := range []string{"Send the draft", "bob@example.com", "Subject: Plan", "Line 2", "plan.txt"} {
		if len(el.asked) != 1 || !strings.Contains(el.asked[0], want) {
			t.Errorf("confirmation %q lacks %q", el.asked, want)
		}
	}
	wantOK(t, e.call(t, "create_draft", map[string]any{"to": []any{"bob@example.com"}, "subject": "Again", "body": "x"}))
	wantError(t, e.call(t, "send_draft", map[string]any{"draft_id": "r2"}), "not sent", "1 sends allowed today")
	wantError(t, e.call(t, "send_draft", map[string]any{"draft_id": "r1"}), "draft_id r1", "not found")
	if len(e.prov.compose.sentDrafts) != 1 {
		t.Errorf("%d drafts sent, want 1", len(e.prov.compose.sentDrafts))
	}
}

// The audit records of the compose tools carry their ids, recipients and
// subject, never bodies or attachments; a read (list_drafts) has none.
func TestComposeAudited(t *testing.T) {
	st := memory.New()
	gs := grants.New(st, grants.Plain)
	g := alice
	g.Tenant, g.Provider, g.Status = "a", "google", grants.StatusActive
	g.Scopes = append(slices.Clone(g.Scopes), providers.MailModify)
	if err := gs.Put(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
	log := &memAudit{}
	prov := &fakeProvider{refuse: map[string]bool{}, messages: []providers.Message{{MessageSummary: providers.MessageSummary{ID: "m1", From: "Dave <dave@example.com>", Subject: "Q3"},
		BodyText: "SECRET ORIGINAL", Attachments: []providers.AttachmentInfo{{ID: "a1", Filename: "secret-name.pdf", Size: 10}}}}}
	srv, err := New(Options{Version: "test", Accounts: gs, Sources: &fakeTokens{}, Providers: testRegistry(t, prov), Now: now, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := inProcessClient(t, srv, "a")
	call := func(name string, args map[string]any) {
		t.Helper()
		res, err := c.CallTool(ctx, mcpCall(name, args))
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %s", name, err, textOf(res))
		}
	}
	call("forward_email", map[string]any{"message_id": "m1", "to": []any{"bob@example.com"}, "body": "SECRET NOTE"})
	call("create_draft", map[string]any{"to": []any{"carol@example.com"}, "subject": "Plan", "body": "SECRET BODY",
		"attachments": []any{map[string]any{"filename": "a.txt", "content_base64": "QVRUQUNITUVOVA=="}}})
	call("list_drafts", nil)
	call("update_draft", map[string]any{"draft_id": "r1", "to": []any{"dave@example.com"}, "body": "SECRET BODY 2"})
	call("send_draft", map[string]any{"draft_id": "r1"})
	if res, err := c.CallTool(ctx, mcpCall("delete_draft", map[string]any{"draft_id": "r9"})); err != nil || !res.IsError {
		t.Fatalf("delete_draft of a missing draft: %v", err)
	}

	want := []struct {
		tool, subject, recipients, ids string
	}{
		{"forward_email", "Fwd: Q3", "bob@example.com", "m1,f1,t1"},
		{"create_draft", "Plan", "carol@example.com", "r1,m-r1"},
		{"update_draft", "", "dave@example.com", "r1,m-r1"},
		{"send_draft", "Plan", "dave@example.com", "r1,m-r1,t-r1"},
		{"delete_draft", "", "", "r9"},
	}
	if len(log.recs) != len(want) {
		t.Fatalf("%d records, want %d (no read): %+v", len(log.recs), len(want), log.recs)
	}
	for i, w := range want {
		r := log.recs[i]
		if r.Tool != w.tool || r.Subject != w.subject || strings.Join(r.Recipients, ",") != w.recipients || strings.Join(r.IDs, ",") != w.ids || r.Account != "alice@example.com" {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
	}
	if r := log.recs[4]; r.Outcome != audit.OutcomeError || !strings.Contains(r.Error, "not found") {
		t.Errorf("a failed delete_draft: %+v", r)
	}
	all, _ := json.Marshal(log.recs)
	for _, secret := range []string{"SECRET", "QVRUQUNITUVOVA", "a.txt", "secret-name.pdf"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("the audit records hold %q: %s", secret, all)
		}
	}
}
