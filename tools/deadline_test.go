package tools

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/providers"
)

// stuckProvider is an API whose mail and calendar calls get their access
// token, then block until release is closed, ignoring their context: a
// handler as stuck as one can be.
type stuckProvider struct {
	*fakeProvider
	release chan struct{}
	mu      sync.Mutex
	started int
	panics  bool
}

func (s *stuckProvider) Mail(src providers.TokenSource, account string) (providers.Mail, error) {
	return stuckMail{s, src}, nil
}

func (s *stuckProvider) Calendar(src providers.TokenSource) (providers.Calendar, error) {
	return stuckCal{s, src}, nil
}

func (s *stuckProvider) block(ctx context.Context, src providers.TokenSource) error {
	if _, err := src.Token(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.started++
	panics := s.panics
	s.mu.Unlock()
	if panics {
		panic("provider bug")
	}
	<-s.release
	return nil
}

func (s *stuckProvider) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

type stuckMail struct {
	*stuckProvider
	src providers.TokenSource
}

func (m stuckMail) Send(ctx context.Context, _ providers.OutgoingMessage) (providers.SentMessage, error) {
	return providers.SentMessage{}, m.block(ctx, m.src)
}

func (m stuckMail) List(ctx context.Context, _ providers.MessageQuery) (providers.MessagePage, error) {
	return providers.MessagePage{}, m.block(ctx, m.src)
}

func (m stuckMail) Get(ctx context.Context, _ string) (providers.Message, error) {
	return providers.Message{}, m.block(ctx, m.src)
}

type stuckCal struct {
	*stuckProvider
	src providers.TokenSource
}

func (c stuckCal) ListCalendars(ctx context.Context) ([]providers.CalendarInfo, error) {
	return nil, c.block(ctx, c.src)
}

func (c stuckCal) ListEvents(ctx context.Context, _ providers.EventQuery) (providers.EventPage, error) {
	return providers.EventPage{}, c.block(ctx, c.src)
}

func (c stuckCal) CreateEvent(ctx context.Context, _ providers.NewEvent) (providers.Event, error) {
	return providers.Event{}, c.block(ctx, c.src)
}

// newStuckEnv serves alice over a stuckProvider with a call deadline of
// timeout.
func newStuckEnv(t *testing.T, timeout time.Duration) (*env, *stuckProvider) {
	t.Helper()
	e := newEnv(t, false, alice)
	sp := &stuckProvider{fakeProvider: e.prov, release: make(chan struct{})}
	t.Cleanup(func() { close(sp.release) })
	e.c = newClient(t, Options{Version: "test", Accounts: e.grants, Sources: e.toks, Providers: testRegistry(t, sp), CallTimeout: timeout}, "a")
	return e, sp
}

// timedCall calls a tool and reports how long the answer took; a call the
// server never answers fails after limit (the client gives up).
func timedCall(c *client.Client, name string, args map[string]any, limit time.Duration) (*mcp.CallToolResult, time.Duration, error) {
	ctx, cancel := context.WithTimeout(tenantCtx("a"), limit)
	defer cancel()
	start := time.Now()
	res, err := c.CallTool(ctx, mcpCall(name, args))
	return res, time.Since(start), err
}

// TestCallDeadlineStuckHandler: a call whose provider never returns (and
// ignores its context) answers at the call deadline with an error saying
// what timed out, whether anything may have happened, and what to do.
func TestCallDeadlineStuckHandler(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e, _ := newStuckEnv(t, timeout)
	send := map[string]any{"to": []any{"bob@example.com"}, "subject": "s", "body": "b"}
	for _, c := range []struct {
		tool  string
		args  map[string]any
		wants []string
	}{
		{"list_messages", nil, []string{"list_messages did not finish within 300ms", "MAILCAL_CALL_TIMEOUT", "waiting for Google to answer",
			"Nothing was changed", "try again in a little while"}},
		{"send_email", send, []string{"send_email did not finish within 300ms", "waiting for Google to answer", "may or may not have been sent", "before sending it again"}},
		{"create_event", map[string]any{"summary": "x", "start": "2030-01-01", "end": "2030-01-02"}, []string{"create_event did not finish", "may or may not have been created", "list_events"}},
	} {
		res, took, err := timedCall(e.c, c.tool, c.args, timeout+5*time.Second)
		if err != nil {
			t.Fatalf("%s with a stuck provider: no answer within %s: %v", c.tool, timeout+5*time.Second, err)
		}
		wantError(t, res, c.wants...)
		if took > timeout+2*time.Second {
			t.Errorf("%s answered after %s, want within the deadline (%s) + 2s", c.tool, took, timeout)
		}
	}
}

// TestCallDeadlineSlotWait: four stuck calls hold alice's slots; a fifth
// call for alice stops waiting for a slot at its deadline and says so, and
// that nothing reached the provider. A call that needs no slot answers at
// once meanwhile.
func TestCallDeadlineSlotWait(t *testing.T) {
	const timeout = 2 * time.Second
	e, sp := newStuckEnv(t, timeout)
	var wg sync.WaitGroup
	for range perAccountCalls {
		wg.Go(func() { timedCall(e.c, "list_messages", nil, timeout+5*time.Second) })
	}
	t.Cleanup(wg.Wait)
	for deadline := time.Now().Add(timeout); sp.count() < perAccountCalls && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := sp.count(); n != perAccountCalls {
		t.Fatalf("%d calls reached the provider, want %d", n, perAccountCalls)
	}
	res, took, err := timedCall(e.c, "list_accounts", nil, timeout)
	if err != nil || res.IsError || took > timeout/2 {
		t.Errorf("list_accounts beside four stuck calls: %v after %s (%v)", err, took, res)
	}
	for _, c := range []struct {
		tool  string
		args  map[string]any
		wants []string
	}{
		{"list_calendars", nil, []string{"list_calendars did not finish within 2s", "waiting for a free slot of alice@example.com",
			fmt.Sprintf("%d of its calls were running already", perAccountCalls), "Nothing was changed", "once the account's other calls have answered"}},
		{"send_email", map[string]any{"to": []any{"bob@example.com"}, "subject": "s", "body": "b"}, []string{"waiting for a free slot",
			"Nothing was done: no request had reached Google yet"}},
	} {
		res, took, err := timedCall(e.c, c.tool, c.args, timeout+5*time.Second)
		if err != nil {
			t.Fatalf("a fifth call for the account (%s): no answer within %s: %v", c.tool, timeout+5*time.Second, err)
		}
		wantError(t, res, c.wants...)
		if took < timeout-100*time.Millisecond || took > timeout+2*time.Second {
			t.Errorf("%s waited %s for a slot, want about the deadline (%s)", c.tool, took, timeout)
		}
	}
	if n := sp.count(); n != perAccountCalls {
		t.Errorf("%d calls reached the provider, want %d: a call that never got a slot went through", n, perAccountCalls)
	}
}

// TestCallPanicAnswered: a handler that panics (on the goroutine the
// deadline runs it on) answers an error, and the server keeps serving.
func TestCallPanicAnswered(t *testing.T) {
	e, sp := newStuckEnv(t, 5*time.Second)
	sp.panics = true
	res, _, err := timedCall(e.c, "list_messages", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, "internal error")
	if res := e.call(t, "list_accounts", nil); res.IsError || !strings.Contains(textOf(res), "alice@example.com") {
		t.Errorf("list_accounts after a panic: %s", textOf(res))
	}
}
