package tools

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/policy"
)

// A session that listed the tools before its tenant turned drafts_only on
// is told once, on its next request, that the list changed; listing again
// shows no send tool. Turning it off announces the change back.
func TestDraftsOnlyFlipAnnouncesListChanged(t *testing.T) {
	e := newPolicyEnv(t, policy.Policy{}, nil)
	var mu sync.Mutex
	var got []string
	e.c.OnNotification(func(n mcp.JSONRPCNotification) {
		mu.Lock()
		got = append(got, n.Method)
		mu.Unlock()
	})
	ctx := tenantCtx("a")
	names := func() []string {
		t.Helper()
		res, err := e.c.ListTools(ctx, mcp.ListToolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tl := range res.Tools {
			out = append(out, tl.Name)
		}
		return out
	}
	notified := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, m := range got {
			if m == mcp.MethodNotificationToolsListChanged {
				n++
			}
		}
		return n
	}
	waitNotified := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for notified() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := notified(); n != want {
			t.Fatalf("list_changed notifications = %d; want %d", n, want)
		}
	}
	if !slices.Contains(names(), "send_email") {
		t.Fatal("send_email not listed before drafts_only")
	}
	set := func(drafts bool) {
		t.Helper()
		p, err := e.pol.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		p.DraftsOnly = drafts
		if _, err := e.pol.Put(ctx, "a", p); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	wantOK(t, e.call(t, "list_accounts", nil))
	waitNotified(1)
	if slices.Contains(names(), "send_email") {
		t.Error("send_email still listed under drafts_only")
	}
	wantOK(t, e.call(t, "list_accounts", nil))
	set(false)
	wantOK(t, e.call(t, "list_accounts", nil))
	waitNotified(2)
	if !slices.Contains(names(), "send_email") {
		t.Error("send_email not listed again once drafts_only is off")
	}
}
