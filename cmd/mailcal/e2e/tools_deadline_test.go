//go:build unix

package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// e2eCallTimeout is the call deadline of the deadline tests' servers.
const e2eCallTimeout = 3 * time.Second

// withinDeadline bounds how long a call may take against a hung upstream:
// its deadline, and 2 s for the answer to come back on a loaded machine.
const withinDeadline = e2eCallTimeout + 2*time.Second

// timedResult is one call's answer and how long it took; err is set when
// no answer came within the client's limit (a minute).
type timedResult struct {
	wireResult
	took time.Duration
	err  error
}

func (h *harness) timedCall(c *mcpclient.Client, tool string, args map[string]any) timedResult {
	start := time.Now()
	w, err := h.callTool(c, tool, args)
	return timedResult{w, time.Since(start), err}
}

// checkTimedOut fails unless r is a timeout error of tool that came within
// withinDeadline and says each of wants.
func checkTimedOut(t *testing.T, tool string, r timedResult, wants ...string) {
	t.Helper()
	switch {
	case r.err != nil:
		t.Errorf("%s against a hung Google: no answer: %v", tool, r.err)
		return
	case !r.IsError:
		t.Errorf("%s against a hung Google succeeded: %s", tool, r.text())
	case r.took > withinDeadline:
		t.Errorf("%s against a hung Google answered after %s, want within its deadline (%s) + 2s", tool, r.took.Round(time.Millisecond), e2eCallTimeout)
	}
	for _, w := range append([]string{tool + " did not finish within 3s", "MAILCAL_CALL_TIMEOUT"}, wants...) {
		if !strings.Contains(r.text(), w) {
			t.Errorf("%s: the timeout error does not say %q: %s", tool, w, r.text())
		}
	}
}

// TestE2EHangingGoogle: with Google's APIs never answering, every tool call
// answers a timeout error within its deadline (MAILCAL_CALL_TIMEOUT=3s),
// saying what it waited for and whether anything may have happened; a
// fifth call for an account whose four slots are held gives up at its
// deadline too; a hung token endpoint is bounded likewise; and once Google
// answers again, so does mailcal. (Before: one list_messages took 229 s and
// a fifth call waited for a slot with no end.)
func TestE2EHangingGoogle(t *testing.T) {
	t.Parallel()
	e := newToolsEnv(t, ttAllScopes, "MAILCAL_CALL_TIMEOUT=3s")
	e.ok(t, "list_messages", map[string]any{"max_results": 1}, nil) // the first refresh
	e.fg.SetAPILatency(time.Hour)

	calls := []struct {
		tool  string
		args  map[string]any
		wants []string
	}{
		{"list_messages", nil, []string{"waiting for Google to answer", "Nothing was changed"}},
		{"get_message", map[string]any{"id": e.f.Messages["report"]}, []string{"waiting for Google to answer"}},
		{"list_events", nil, []string{"waiting for Google to answer"}},
		{"send_email", map[string]any{"to": []string{googletest.FixtureBob}, "subject": "Hi", "body": "Hello"},
			[]string{"may or may not have been sent", "before sending it again"}},
		{"create_event", map[string]any{"summary": "Maybe", "start": "2030-05-01", "end": "2030-05-02"},
			[]string{"may or may not have been created"}},
	}
	results := make([]timedResult, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { results[i] = e.timedCall(e.c, c.tool, c.args) })
		// Four calls take alice's four slots; the fifth waits for one.
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	var longest time.Duration
	for i, c := range calls {
		longest = max(longest, results[i].took)
		if i == len(calls)-1 {
			// The fifth call got a slot when the first calls gave up, then
			// waited for Google: either way it ends at its own deadline.
			checkTimedOut(t, c.tool, results[i])
			continue
		}
		checkTimedOut(t, c.tool, results[i], c.wants...)
	}
	t.Logf("the longest of %d calls against a hung Google took %s (deadline %s)", len(calls), longest.Round(time.Millisecond), e2eCallTimeout)

	// Google answers again: so does mailcal, at once.
	e.fg.SetAPILatency(0)
	e.ok(t, "list_messages", map[string]any{"max_results": 2}, nil)

	// The token endpoint hangs: the call gives up at its deadline, saying so.
	e.fg.SetTokenDelay(time.Hour)
	e.fg.ExpireAccessTokens()
	checkTimedOut(t, "list_calendars", e.timedCall(e.c, "list_calendars", nil),
		"getting an access token for "+alice+" from Google", "token endpoint is slow or unreachable")
}

// TestE2EStdioHungCallsDoNotBlockOthers: through the binary on stdio, eight
// list_messages calls hung on Google (all of mailcal's eight stdio workers,
// before) do not block a ninth call: list_accounts answers before any of
// them, and each of them answers a timeout error at its deadline.
func TestE2EStdioHungCallsDoNotBlockOthers(t *testing.T) {
	t.Parallel()
	e := newToolsEnv(t, ttAllScopes, "MAILCAL_CALL_TIMEOUT=3s")
	c := e.stdio(t, "--tenant", "a")
	e.callOK(t, c, "list_messages", map[string]any{"max_results": 1}, nil)
	e.fg.SetAPILatency(time.Hour)

	var mu sync.Mutex
	var order []string
	done := func(name string) {
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	results := make([]timedResult, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i] = e.timedCall(c, "list_messages", nil)
			done("list_messages")
		})
	}
	// Wait until the hung calls hold alice's four slots (the others wait
	// for one), then call a ninth tool.
	for deadline := time.Now().Add(e2eCallTimeout); e.fg.APIRequests("/gmail/v1/users/me/messages") < 1+4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	ninth := e.timedCall(c, "list_accounts", nil)
	done("list_accounts")
	wg.Wait()
	if ninth.err != nil || ninth.IsError || !strings.Contains(ninth.text(), alice) {
		t.Errorf("list_accounts beside eight hung calls: %v %s", ninth.err, ninth.text())
	}
	if order[0] != "list_accounts" {
		t.Errorf("answers came in the order %v: list_accounts waited for the hung calls", order)
	}
	longest := time.Duration(0)
	for _, r := range results {
		longest = max(longest, r.took)
		checkTimedOut(t, "list_messages", r)
	}
	t.Logf("stdio: list_accounts answered in %s beside eight hung calls, which answered within %s (deadline %s)",
		ninth.took.Round(time.Millisecond), longest.Round(time.Millisecond), e2eCallTimeout)

	e.fg.SetAPILatency(0)
	e.callOK(t, c, "list_messages", map[string]any{"max_results": 1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

// TestE2ETokenEndpointRecovers: Google's token endpoint answers 503 for one
// refresh (three attempts), then recovers. The failed call says when the
// next refresh is; the calls right after it are not failed at once (they
// were, for 2 s): they wait for that refresh, made once, and succeed.
func TestE2ETokenEndpointRecovers(t *testing.T) {
	t.Parallel()
	e := newToolsEnv(t, ttAllScopes)
	e.ok(t, "list_calendars", nil, nil) // the first refresh
	refreshes := e.refreshes()
	e.fg.ExpireAccessTokens()
	e.fg.FailTokenRequests(3, 503)
	e.fails(t, "list_calendars", nil, "Google's token endpoint answered HTTP 503", "mailcal tries again in 1s", "call again after that")
	var wg sync.WaitGroup
	results := make([]timedResult, 4)
	for i := range results {
		wg.Go(func() { results[i] = e.timedCall(e.c, "list_calendars", nil) })
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.IsError {
			t.Errorf("call %d right after the failed refresh: %v %s; want it to wait for the next refresh", i, r.err, r.text())
		}
	}
	if n := e.refreshes() - refreshes; n != 4 {
		t.Errorf("%d refresh requests, want 4 (three failed attempts, then one refresh for every waiting call)", n)
	}
}
