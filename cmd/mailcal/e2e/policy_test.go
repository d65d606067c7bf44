//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// policyAccount is alice connected to tenant "a" of a running server at
// one provider's fake, for the guard-rail tests that run for every
// provider.
type policyAccount struct {
	*harness
	name      string // the provider
	key       string
	s         *httpServer
	c         *mcpclient.Client
	day       time.Time // midnight of the fixtures' day
	reply     string    // a message of alice's to reply to
	report    string    // alice's message with a PDF attached
	sentCount func() int
	events    func() int // events alice created
}

// policyProviders open a policyAccount at each provider, with every
// tool's scopes (drafts included); extraEnv adds to the server's
// environment.
var policyProviders = []struct {
	name string
	open func(t *testing.T, extraEnv ...string) *policyAccount
}{
	{"google", func(t *testing.T, extraEnv ...string) *policyAccount {
		fx := newGoogleFixture(t, googletest.Options{}, extraEnv...)
		fx.fg.VerifyDiscovery(t)
		f := fx.fg.LoadFixtures(alice)
		a := &policyAccount{harness: fx.harness, name: "google", day: f.Day, reply: f.Messages["welcome"], report: f.Messages["report"],
			sentCount: func() int { return len(fx.fg.SentMessages(alice)) },
			events:    func() int { return len(fx.fg.Events(alice, "primary")) }}
		a.key, a.s, a.c = fx.connectAlice(t, provScopes)
		return a
	}},
	{"microsoft", func(t *testing.T, extraEnv ...string) *policyAccount {
		fx := newMicrosoftFixture(t, microsofttest.Options{}, extraEnv...)
		f := fx.fm.LoadFixtures(alice)
		a := &policyAccount{harness: fx.harness, name: "microsoft", day: f.Day, reply: microsofttest.ImmutableID(f.Messages["welcome"]),
			report:    microsofttest.ImmutableID(f.Messages["report"]),
			sentCount: func() int { return len(fx.fm.Sent(alice)) },
			events:    func() int { return len(fx.fm.CreatedEvents(alice)) }}
		a.key, a.s = fx.addTenant(t, "a"), fx.startHTTP(t)
		fx.connectHTTP(t, a.s, a.key, alice, provScopes)
		a.c = mcpgoHTTP(t, a.s, "/mcp", "Authorization", "Bearer "+a.key, false)
		return a
	}},
}

// putPolicy sets tenant "a"'s policy through PUT /api/policy (the server's
// own write: in force at once) and returns the answer.
func (a *policyAccount) putPolicy(t *testing.T, s *httpServer, body string) map[string]any {
	t.Helper()
	r := a.do(t, s, "PUT", "/api/policy", strings.NewReader(body), "Authorization", "Bearer "+a.key, "Content-Type", "application/json")
	var out map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("PUT /api/policy = %d %s", r.status, r.body)
	}
	return out
}

func (a *policyAccount) at(n, h int) string {
	return time.Date(a.day.Year(), a.day.Month(), a.day.Day()+n, h, 0, 0, 0, time.UTC).Format(time.RFC3339)
}

// The recipient allowlist on every outgoing path there is (send_email new
// and reply, create_event's attendees), the daily cap counted in the store
// across a restart (send_draft counted too), and the audit log of it all,
// through the built binary, for a Google and a Microsoft account.
func TestPolicyAllowlistCapAndAudit(t *testing.T) {
	for _, p := range policyProviders {
		t.Run(p.name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "audit.log")
			testPolicyAllowlistCapAndAudit(t, p.open(t, "MAILCAL_AUDIT_LOG="+logPath), logPath)
		})
	}
}

func testPolicyAllowlistCapAndAudit(t *testing.T, e *policyAccount, logPath string) {
	p := e.putPolicy(t, e.s, `{"recipient_allowlist":["bob@example.com","*@corp.example"],"max_sends_per_day":2}`)
	if p["version"] != 1.0 {
		t.Fatalf("PUT /api/policy = %v", p)
	}
	out, _, code := e.run(t, "policy", "show", "--tenant", "a", "--json")
	if code != 0 || !strings.Contains(out, `"*@corp.example"`) || !strings.Contains(out, `"max_sends_per_day": 2`) {
		t.Fatalf("mailcal policy show = %d %s; want the policy the API stored", code, out)
	}

	start, end := e.at(1, 10), e.at(1, 11)
	refused := []struct {
		name, tool string
		args       map[string]any
	}{
		{"new message", "send_email", map[string]any{"to": []any{"bob@example.com"}, "cc": []any{"eve@evil.example"}, "subject": "Plans", "body": "BODY-TEXT"}},
		{"reply", "send_email", map[string]any{"to": []any{"Eve <eve@evil.example>"}, "body": "BODY-TEXT", "reply_to_message_id": e.reply}},
		{"event invitation", "create_event", map[string]any{"summary": "Sync", "start": start, "end": end, "attendees": []any{"ann@corp.example", "eve@evil.example"}}},
	}
	events := e.events()
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			e.callFails(t, e.c, r.tool, r.args, "not sent", "eve@evil.example", "recipient allowlist")
		})
	}
	if n := e.sentCount(); n != 0 {
		t.Fatalf("%s received %d messages from refused calls", e.name, n)
	}
	if n := e.events(); n != events {
		t.Fatalf("a refused invitation created an event (%d events, were %d)", n, events)
	}

	e.callOK(t, e.c, "send_email", map[string]any{"to": []any{"bob@example.com"}, "subject": "Plans", "body": "BODY-TEXT"}, nil)
	e.callOK(t, e.c, "create_event", map[string]any{"summary": "Sync", "start": start, "end": end, "attendees": []any{"ann@corp.example"}}, nil)
	var d struct {
		DraftID string `json:"draft_id"`
	}
	e.callOK(t, e.c, "create_draft", map[string]any{"to": []any{"bob@example.com"}, "subject": "Later", "body": "BODY-TEXT"}, &d)
	msg := e.callFails(t, e.c, "send_email", map[string]any{"to": []any{"bob@example.com"}, "body": "BODY-TEXT", "reply_to_message_id": e.reply},
		"not sent", "2 sends allowed today", "max_sends_per_day")
	if !regexp.MustCompile(`possible again from \d{4}-\d\d-\d\dT00:00:00Z`).MatchString(msg) {
		t.Errorf("the cap's error %q does not say when sending is possible again", msg)
	}

	// A restart: the count is the store's, not the process's.
	e.s.proc.signal(t, syscall.SIGTERM)
	if code := e.s.proc.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("serve exited %d on SIGTERM", code)
	}
	s2 := e.startHTTP(t)
	c2 := mcpgoHTTP(t, s2, "/mcp", "Authorization", "Bearer "+e.key, false)
	e.callFails(t, c2, "send_email", map[string]any{"to": []any{"bob@example.com"}, "subject": "Again", "body": "BODY-TEXT"}, "not sent", "2 sends allowed today")
	e.callFails(t, c2, "send_draft", map[string]any{"draft_id": d.DraftID}, "draft was not sent", "2 sends allowed today")
	if n := e.sentCount(); n != 1 {
		t.Errorf("%s received %d messages, want the 1 allowed", e.name, n)
	}

	fi, err := os.Stat(logPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log: %v, %v; want a file of mode 0600", fi, err)
	}
	out, _, code = e.run(t, "audit", "--tenant", "a", "--since", "1h", "--json")
	if code != 0 {
		t.Fatalf("mailcal audit exited %d", code)
	}
	var outcomes []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Tool, Outcome, Account, Provider, Subject string
			IDs, Recipients                           []string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if r.Account != alice || r.Provider != e.name {
			t.Errorf("audit record %s lacks the account or provider", line)
		}
		if r.Tool == "send_draft" && (!slices.Contains(r.IDs, d.DraftID) || !slices.Equal(r.Recipients, []string{"bob@example.com"}) || r.Subject != "Later") {
			t.Errorf("the refused send_draft's record lacks its draft, recipients or subject: %s", line)
		}
		outcomes = append(outcomes, r.Tool+":"+r.Outcome)
	}
	want := "send_email:refused send_email:refused create_event:refused send_email:ok create_event:ok create_draft:ok send_email:refused send_email:refused send_draft:refused"
	if strings.Join(outcomes, " ") != want {
		t.Errorf("audit outcomes = %v, want %s", outcomes, want)
	}
	raw, _ := os.ReadFile(logPath)
	if strings.Contains(string(raw), "BODY-TEXT") {
		t.Error("the audit log holds a message body")
	}
	table, _, _ := e.run(t, "audit", "--tenant", "b")
	if strings.Contains(table, "send_email") {
		t.Errorf("mailcal audit --tenant b shows tenant a's records: %s", table)
	}
}

// confirm_sends with the official Go SDK's client: accepted, declined, and a
// client without the elicitation capability under "required" and under
// "elicit", for a Google and a Microsoft account.
func TestPolicyConfirmSendsElicitation(t *testing.T) {
	for _, p := range policyProviders {
		t.Run(p.name, func(t *testing.T) { testPolicyConfirmSendsElicitation(t, p.open(t)) })
	}
}

func testPolicyConfirmSendsElicitation(t *testing.T, e *policyAccount) {
	e.putPolicy(t, e.s, `{"confirm_sends":"required"}`)
	var mu sync.Mutex
	var asked []string
	answer := "accept"
	opts := &sdk.ClientOptions{ElicitationHandler: func(ctx context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, req.Params.Message)
		return &sdk.ElicitResult{Action: answer}, nil
	}}
	asking := sdkClientWith(t, e.s, e.key, opts)
	call := func(cs *sdk.ClientSession, tool string, args map[string]any) (string, bool) {
		t.Helper()
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		var text strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*sdk.TextContent); ok {
				text.WriteString(tc.Text)
			}
		}
		return text.String(), !res.IsError
	}
	send := func(cs *sdk.ClientSession, subject string) (string, bool) {
		t.Helper()
		return call(cs, "send_email", map[string]any{
			"to": []any{"bob@example.com"}, "subject": subject, "body": "First line\nSecond line",
			"attachments": []any{map[string]any{"filename": "notes.txt", "content_base64": "aGk="}},
		})
	}

	if text, ok := send(asking, "Accepted"); !ok {
		t.Fatalf("an accepted send failed: %s", text)
	}
	mu.Lock()
	if len(asked) != 1 || !strings.Contains(asked[0], "bob@example.com") || !strings.Contains(asked[0], "Accepted") ||
		!strings.Contains(asked[0], "Second line") || !strings.Contains(asked[0], "notes.txt") {
		t.Errorf("the person was asked %q", asked)
	}
	mu.Unlock()
	// A forward and a draft sent are asked about too: the forward with the
	// original's attachment, the draft with what the provider has in it.
	if text, ok := call(asking, "forward_email", map[string]any{"message_id": e.report, "to": []any{"bob@example.com"}, "body": "FYI"}); !ok {
		t.Fatalf("an accepted forward failed: %s", text)
	}
	var d struct {
		DraftID string `json:"draft_id"`
	}
	r := e.callOK(t, e.c, "create_draft", map[string]any{"to": []any{"bob@example.com"}, "subject": "Drafted", "body": "Draft line"}, &d)
	if text, ok := call(asking, "send_draft", map[string]any{"draft_id": d.DraftID}); !ok {
		t.Fatalf("an accepted send_draft failed: %s (%s)", text, r.text())
	}
	mu.Lock()
	// The subject as the provider writes it.
	fwd := map[string]string{"google": "Subject: Fwd: Q3 report draft", "microsoft": "Subject: FW: Q3 report draft"}[e.name]
	if len(asked) != 3 || !strings.Contains(asked[1], "Send the forward") || !strings.Contains(asked[1], "Q3-report-draft.pdf") || !strings.Contains(asked[1], "FYI") ||
		!strings.Contains(asked[1], fwd) ||
		!strings.Contains(asked[2], "Send the draft") || !strings.Contains(asked[2], "Drafted") || !strings.Contains(asked[2], "Draft line") {
		t.Errorf("the person was asked %q", asked)
	}
	answer = "decline"
	mu.Unlock()
	if text, ok := send(asking, "Declined"); ok || !strings.Contains(text, "declined") {
		t.Errorf("a declined send answered ok=%v %q", ok, text)
	}
	if n := e.sentCount(); n != 3 {
		t.Fatalf("%s received %d messages, want only the 3 accepted", e.name, n)
	}

	silent := sdkClientWith(t, e.s, e.key, nil)
	if text, ok := send(silent, "Unconfirmed"); ok || !strings.Contains(text, "confirm_sends required") {
		t.Errorf("a client without elicitation under required answered ok=%v %q", ok, text)
	}
	e.putPolicy(t, e.s, `{"confirm_sends":"elicit"}`)
	if text, ok := send(silent, "Unasked"); !ok {
		t.Errorf("a client without elicitation under elicit: %s", text)
	}
	if n := e.sentCount(); n != 4 {
		t.Errorf("%s received %d messages, want 4", e.name, n)
	}
}

// sdkClientWith connects the Go SDK's streamable client with opts.
func sdkClientWith(t *testing.T, s *httpServer, key string, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	tr := &sdk.StreamableClientTransport{Endpoint: s.base + "/mcp", HTTPClient: httpClientWith("Authorization", "Bearer "+key), MaxRetries: -1}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "mailcal-e2e", Version: "1"}, opts).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("go-sdk connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}
