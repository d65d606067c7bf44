package tools

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/tools/audit"
)

type memAudit struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (m *memAudit) Write(r audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
	return nil
}

// auditTime is the clock of the audit tests.
var auditTime = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// newAuditEnv serves prov's tools to tenant "a", whose one account is
// alice's (on Google, with a refresh token that must never reach a record)
// and whose policy allows recipients *@example.com only, with every record
// in the returned log. call calls a tool, failing the test on a protocol
// error (a tool error is an answer, and is audited).
func newAuditEnv(t *testing.T, prov *fakeProvider) (call func(name string, args map[string]any), log *memAudit) {
	t.Helper()
	st := memory.New()
	gs := grants.New(st, grants.Plain)
	g := alice
	g.Tenant, g.Provider, g.Status, g.RefreshToken = "a", "google", grants.StatusActive, "1//refresh-secret"
	if err := gs.Put(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return auditTime }
	pol := policy.New(st, now)
	if _, err := pol.Put(t.Context(), "a", policy.Policy{RecipientAllowlist: []string{"*@example.com"}}); err != nil {
		t.Fatal(err)
	}
	log = &memAudit{}
	srv, err := New(Options{Version: "test", Accounts: gs, Sources: &fakeTokens{}, Providers: testRegistry(t, prov), Now: now, Policies: pol, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := inProcessClient(t, srv, "a")
	return func(name string, args map[string]any) {
		t.Helper()
		if _, err := c.CallTool(ctx, mcpCall(name, args)); err != nil {
			t.Fatal(err)
		}
	}, log
}

func TestAuditRecordsStateChangingCalls(t *testing.T) {
	call, log := newAuditEnv(t, &fakeProvider{refuse: map[string]bool{}})
	call("send_email", map[string]any{"to": []any{"bob@example.com"}, "subject": "Budget", "body": "SECRET BODY",
		"attachments": []any{map[string]any{"filename": "a.txt", "content_base64": "QVRUQUNITUVOVA=="}}})
	call("send_email", map[string]any{"to": []any{"eve@evil.example"}, "subject": "Leak", "body": "SECRET BODY"})
	call("list_messages", map[string]any{})
	call("create_event", map[string]any{"summary": "Sync", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "attendees": []any{"ann@example.com"}})

	if len(log.recs) != 3 {
		t.Fatalf("%d records, want 3 (two sends, one event; no read): %+v", len(log.recs), log.recs)
	}
	ok, refused, ev := log.recs[0], log.recs[1], log.recs[2]
	if ok.Outcome != audit.OutcomeOK || ok.Tenant != "a" || ok.Account != "alice@example.com" || ok.Provider != "google" || ok.Tool != "send_email" ||
		strings.Join(ok.Recipients, ",") != "bob@example.com" || ok.Subject != "Budget" || len(ok.IDs) == 0 || !ok.Time.Equal(auditTime) {
		t.Errorf("sent: %+v", ok)
	}
	if refused.Outcome != audit.OutcomeRefused || !strings.Contains(refused.Error, "eve@evil.example") || refused.Subject != "Leak" {
		t.Errorf("refused: %+v", refused)
	}
	if ev.Tool != "create_event" || ev.Outcome != audit.OutcomeOK || ev.Subject != "Sync" || strings.Join(ev.Recipients, ",") != "ann@example.com" || len(ev.IDs) != 1 {
		t.Errorf("event: %+v", ev)
	}
	all, _ := json.Marshal(log.recs)
	for _, secret := range []string{"SECRET BODY", "QVRUQUNITUVOVA", "ATTACHMENT", "a.txt", "refresh-secret", "tok-"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("the audit records hold %q: %s", secret, all)
		}
	}
}
