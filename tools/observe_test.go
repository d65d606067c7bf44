package tools

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store/memory"
)

type memCalls struct {
	mu    sync.Mutex
	calls []CallInfo
}

func (m *memCalls) ObserveCall(c CallInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, c)
}

func (m *memCalls) take() []CallInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.calls
	m.calls = nil
	return out
}

// TestObserverOutcomes: every call is observed once, with its tool, the
// provider of the account it used, its tenant and how it ended: ok, a tool
// error, a policy refusal (audited or not), a timeout.
func TestObserverOutcomes(t *testing.T) {
	st := memory.New()
	gs := grants.New(st, grants.Plain)
	g := alice
	g.Tenant, g.Provider, g.Status = "a", "google", grants.StatusActive
	if err := gs.Put(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	pol := policy.New(st, nil)
	if _, err := pol.Put(t.Context(), "a", policy.Policy{RecipientAllowlist: []string{"*@example.com"}}); err != nil {
		t.Fatal(err)
	}
	for _, withAudit := range []bool{false, true} {
		obs := &memCalls{}
		prov := &fakeProvider{refuse: map[string]bool{}}
		opts := Options{Version: "test", Accounts: gs, Sources: &fakeTokens{}, Providers: testRegistry(t, prov), Policies: pol, Calls: obs}
		if withAudit {
			opts.Audit = &memAudit{}
		}
		c := newClient(t, opts, "a")
		ctx := tenantCtx("a")
		call := func(name string, args map[string]any) {
			t.Helper()
			if _, err := c.CallTool(ctx, mcpCall(name, args)); err != nil {
				t.Fatal(err)
			}
		}
		call("list_messages", nil)
		call("send_email", map[string]any{"to": []any{"eve@evil.example"}, "subject": "s", "body": "b"})
		call("list_accounts", nil)
		prov.mu.Lock()
		prov.err = errors.New("upstream broke")
		prov.mu.Unlock()
		call("list_events", nil)

		got := obs.take()
		want := []CallInfo{
			{Tool: "list_messages", Provider: "google", Tenant: "a", Outcome: CallOK},
			{Tool: "send_email", Provider: "google", Tenant: "a", Outcome: CallRefused},
			{Tool: "list_accounts", Provider: "", Tenant: "a", Outcome: CallOK},
			{Tool: "list_events", Provider: "google", Tenant: "a", Outcome: CallError},
		}
		if len(got) != len(want) {
			t.Fatalf("audit %v: %d calls observed, want %d: %+v", withAudit, len(got), len(want), got)
		}
		for i, w := range want {
			d := got[i].Duration
			got[i].Duration = 0
			if got[i] != w {
				t.Errorf("audit %v: call %d: %+v, want %+v", withAudit, i, got[i], w)
			}
			if d <= 0 {
				t.Errorf("audit %v: call %d: duration %s", withAudit, i, d)
			}
		}
	}
}

func TestObserverTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := newEnv(t, false, alice)
	sp := &stuckProvider{fakeProvider: e.prov, release: make(chan struct{})}
	t.Cleanup(func() { close(sp.release) })
	obs := &memCalls{}
	c := newClient(t, Options{Version: "test", Accounts: e.grants, Sources: e.toks, Providers: testRegistry(t, sp), CallTimeout: timeout, Calls: obs}, "a")
	if _, _, err := timedCall(c, "list_messages", nil, timeout+5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := obs.take()
	if len(got) != 1 || got[0].Outcome != CallTimeout || got[0].Tool != "list_messages" || got[0].Provider != "google" || got[0].Duration < timeout {
		t.Fatalf("observed %+v, want one list_messages timeout on google of at least %s", got, timeout)
	}
}
