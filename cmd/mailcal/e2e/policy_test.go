//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// putPolicy sets tenant "a"'s policy through PUT /api/policy (the server's
// own write: in force at once) and returns the answer.
func (e *ttEnv) putPolicy(t *testing.T, s *httpServer, body string) map[string]any {
	t.Helper()
	r := e.do(t, s, "PUT", "/api/policy", strings.NewReader(body), "Authorization", "Bearer "+e.key, "Content-Type", "application/json")
	var out map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("PUT /api/policy = %d %s", r.status, r.body)
	}
	return out
}

// The recipient allowlist on every outgoing path there is (send_email new
// and reply, create_event's attendees), the daily cap counted in the store
// across a restart, and the audit log of it all, through the built binary
// and googletest.
func TestPolicyAllowlistCapAndAudit(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.log")
	e := newToolsEnv(t, ttAllScopes, "MAILCAL_AUDIT_LOG="+logPath)
	p := e.putPolicy(t, e.s, `{"recipient_allowlist":["bob@example.com","*@corp.example"],"max_sends_per_day":2}`)
	if p["version"] != 1.0 {
		t.Fatalf("PUT /api/policy = %v", p)
	}
	out, _, code := e.run(t, "policy", "show", "--tenant", "a", "--json")
	if code != 0 || !strings.Contains(out, `"*@corp.example"`) || !strings.Contains(out, `"max_sends_per_day": 2`) {
		t.Fatalf("mailcal policy show = %d %s; want the policy the API stored", code, out)
	}

	reply := e.f.Messages["welcome"]
	start, end := e.at(1, 10, 0, time.UTC).Format(time.RFC3339), e.at(1, 11, 0, time.UTC).Format(time.RFC3339)
	refused := []struct {
		name, tool string
		args       map[string]any
	}{
		{"new message", "send_email", map[string]any{"to": []any{"bob@example.com"}, "cc": []any{"eve@evil.example"}, "subject": "Plans", "body": "BODY-TEXT"}},
		{"reply", "send_email", map[string]any{"to": []any{"Eve <eve@evil.example>"}, "body": "BODY-TEXT", "reply_to_message_id": reply}},
		{"event invitation", "create_event", map[string]any{"summary": "Sync", "start": start, "end": end, "attendees": []any{"ann@corp.example", "eve@evil.example"}}},
	}
	events := len(e.fg.Events(alice, "primary"))
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			e.fails(t, r.tool, r.args, "not sent", "eve@evil.example", "recipient allowlist")
		})
	}
	if n := len(e.fg.SentMessages(alice)); n != 0 {
		t.Fatalf("googletest received %d messages from refused calls", n)
	}
	if n := len(e.fg.Events(alice, "primary")); n != events {
		t.Fatalf("a refused invitation created an event (%d events, were %d)", n, events)
	}

	e.ok(t, "send_email", map[string]any{"to": []any{"bob@example.com"}, "subject": "Plans", "body": "BODY-TEXT"}, nil)
	e.ok(t, "create_event", map[string]any{"summary": "Sync", "start": start, "end": end, "attendees": []any{"ann@corp.example"}}, nil)
	msg := e.fails(t, "send_email", map[string]any{"to": []any{"bob@example.com"}, "body": "BODY-TEXT", "reply_to_message_id": reply},
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
	if n := len(e.fg.SentMessages(alice)); n != 1 {
		t.Errorf("googletest received %d messages, want the 1 allowed", n)
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
		var r struct{ Tool, Outcome, Account, Provider, Subject string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if r.Account != alice || r.Provider != "google" {
			t.Errorf("audit record %s lacks the account or provider", line)
		}
		outcomes = append(outcomes, r.Tool+":"+r.Outcome)
	}
	want := "send_email:refused send_email:refused create_event:refused send_email:ok create_event:ok send_email:refused send_email:refused"
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
// "elicit".
func TestPolicyConfirmSendsElicitation(t *testing.T) {
	e := newToolsEnv(t, ttAllScopes)
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
	send := func(cs *sdk.ClientSession, subject string) (string, bool) {
		t.Helper()
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "send_email", Arguments: map[string]any{
			"to": []any{"bob@example.com"}, "subject": subject, "body": "First line\nSecond line",
			"attachments": []any{map[string]any{"filename": "notes.txt", "content_base64": "aGk="}},
		}})
		if err != nil {
			t.Fatalf("send_email: %v", err)
		}
		var text strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*sdk.TextContent); ok {
				text.WriteString(tc.Text)
			}
		}
		return text.String(), !res.IsError
	}

	if text, ok := send(asking, "Accepted"); !ok {
		t.Fatalf("an accepted send failed: %s", text)
	}
	mu.Lock()
	if len(asked) != 1 || !strings.Contains(asked[0], "bob@example.com") || !strings.Contains(asked[0], "Accepted") ||
		!strings.Contains(asked[0], "Second line") || !strings.Contains(asked[0], "notes.txt") {
		t.Errorf("the person was asked %q", asked)
	}
	answer = "decline"
	mu.Unlock()
	if text, ok := send(asking, "Declined"); ok || !strings.Contains(text, "declined") {
		t.Errorf("a declined send answered ok=%v %q", ok, text)
	}
	if n := len(e.fg.SentMessages(alice)); n != 1 {
		t.Fatalf("googletest received %d messages, want only the accepted one", n)
	}

	silent := sdkClientWith(t, e.s, e.key, nil)
	if text, ok := send(silent, "Unconfirmed"); ok || !strings.Contains(text, "confirm_sends required") {
		t.Errorf("a client without elicitation under required answered ok=%v %q", ok, text)
	}
	e.putPolicy(t, e.s, `{"confirm_sends":"elicit"}`)
	if text, ok := send(silent, "Unasked"); !ok {
		t.Errorf("a client without elicitation under elicit: %s", text)
	}
	if n := len(e.fg.SentMessages(alice)); n != 2 {
		t.Errorf("googletest received %d messages, want 2", n)
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
