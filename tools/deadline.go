package tools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

// DefaultCallTimeout is the deadline of one tool call when Options names
// none.
const DefaultCallTimeout = 60 * time.Second

// abandonGrace is how long a call whose context ended gets to return on
// its own before it answers without its handler.
const abandonGrace = 100 * time.Millisecond

// errCallTimeout is the cause of a call's context once its deadline passed.
var errCallTimeout = errors.New("the call's deadline passed")

// bounded runs t's handler under the call deadline (Options.CallTimeout),
// which every wait of the call shares: reading the accounts, an account's
// call slot, the access token's refresh, every attempt at the provider and
// every wait between attempts. At the deadline the call answers at once
// with a timeout error saying what it was waiting for, whether the action
// may have happened and what to do, even if the handler has not returned
// (its context is cancelled and it finishes on its own): a stuck call never
// holds a stdio worker past its deadline. A cancelled call (the client gave
// up, the server is stopping) answers at once too.
func (h *handlers) bounded(t tool) server.ToolHandlerFunc {
	timeout := h.opts.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		st := &callState{}
		ctx, cancel := context.WithTimeoutCause(context.WithValue(ctx, callStateKey{}, st), timeout, errCallTimeout)
		defer cancel()
		start := time.Now()
		var answered atomic.Bool
		done := make(chan callOutcome, 1)
		go func() {
			var o callOutcome
			defer func() {
				if r := recover(); r != nil {
					slog.ErrorContext(ctx, "tool panicked", "tool", t.name, "panic", r, "stack", string(debug.Stack()))
					o = callOutcome{err: fmt.Errorf("internal error (panic: %v)", r)}
				}
				done <- o
				if answered.Load() {
					slog.WarnContext(ctx, "a tool call that had answered at its deadline has returned", "tool", t.name, "after", time.Since(start).Round(time.Millisecond))
				}
			}()
			o.res, o.err = t.handler(ctx, req)
		}()
		var o callOutcome
		select {
		case o = <-done:
		case <-ctx.Done():
			grace := time.NewTimer(abandonGrace)
			select {
			case o = <-done: // it noticed the end of its context
				grace.Stop()
			case <-grace.C:
				answered.Store(true)
				slog.WarnContext(ctx, "tool call still running at its end; answering without it", "tool", t.name,
					"cause", context.Cause(ctx), "stage", st.stage())
				o = callOutcome{err: errors.New("unfinished")}
			}
		}
		if o.err == nil && (o.res == nil || !o.res.IsError) || ctx.Err() == nil {
			return o.res, o.err
		}
		noteEnd(ctx)
		if !errors.Is(context.Cause(ctx), errCallTimeout) {
			return nil, &userError{st.cancelledText(t)}
		}
		slog.WarnContext(ctx, "tool call timed out", "tool", t.name, "timeout", timeout, "stage", st.stage())
		return nil, &userError{st.timeoutText(t, timeout)}
	}
}

type callOutcome struct {
	res *mcp.CallToolResult
	err error
}

// callState is what a running call is doing, for the error it answers if
// it runs out of time. Goroutines of one call (list_messages fans out)
// update it concurrently.
type callState struct {
	mu     sync.Mutex
	kind   stageKind
	detail string // says what the call waits for, in words
	title  string // the provider's title, once the call works with an account
	sent   bool   // a request reached the provider: a change may have happened
}

type callStateKey struct{}

type stageKind int

const (
	stageRunning  stageKind = iota
	stageAccounts           // reading the tenant's accounts
	stageSlot               // waiting for one of the account's call slots
	stageToken              // getting an access token
	stageProvider           // waiting for the provider's answer
)

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	return st
}

// setStage records what the call is waiting for (a no-op outside bounded).
func setStage(ctx context.Context, kind stageKind, title, detail string) {
	st := stateOf(ctx)
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.kind, st.detail = kind, detail
	if title != "" {
		st.title = title
	}
	if kind == stageProvider {
		st.sent = true
	}
}

func (st *callState) stage() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.detail == "" {
		return "running"
	}
	return st.detail
}

// timeoutText is the answer of a call that ran out of time: what timed
// out, whether anything may have happened, what to do.
func (st *callState) timeoutText(t tool, timeout time.Duration) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s did not finish within %s, mailcal's limit for one call (MAILCAL_CALL_TIMEOUT)", t.name, timeout)
	if st.detail != "" {
		fmt.Fprintf(&b, ": it was %s", st.detail)
	}
	b.WriteString(". ")
	b.WriteString(st.outcome(t))
	switch st.kind {
	case stageSlot:
		b.WriteString(" Try again once the account's other calls have answered.")
	case stageToken:
		fmt.Fprintf(&b, " %s's token endpoint is slow or unreachable: try again in a little while (check_account says whether the account works).", st.title)
	case stageProvider:
		fmt.Fprintf(&b, " %s is slow or not answering: try again in a little while", st.title)
		if t.hints.readOnly {
			b.WriteString(", or ask for less at once")
		}
		b.WriteString(".")
	default:
		b.WriteString(" Try again in a little while.")
	}
	return b.String()
}

// cancelledText is the answer of a call cancelled before it finished.
func (st *callState) cancelledText(t tool) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return fmt.Sprintf("%s was cancelled before it finished (the client gave up, or mailcal is stopping). %s", t.name, st.outcome(t))
}

// outcome says whether the call may have changed anything.
func (st *callState) outcome(t tool) string {
	switch {
	case t.hints.readOnly:
		return "Nothing was changed: the tool only reads."
	case st.sent && t.uncertain != "":
		return t.uncertain
	case st.sent:
		return "It may or may not have been carried out: check before calling it again."
	case st.title != "":
		return fmt.Sprintf("Nothing was done: no request had reached %s yet.", st.title)
	}
	return "It may or may not have been carried out: check before calling it again."
}

// stagedSource records in the call's state when the call waits for an
// access token and when its request goes to the provider (the request is
// sent as soon as the token is there).
type stagedSource struct {
	providers.TokenSource
	title string
	// The stages' texts, made once a call (a call may send many requests).
	tokenStage, providerStage string
}

func newStagedSource(src providers.TokenSource, title, account string) stagedSource {
	return stagedSource{TokenSource: src, title: title,
		tokenStage:    "getting an access token for " + account + " from " + title,
		providerStage: "waiting for " + title + " to answer"}
}

func (s stagedSource) Token(ctx context.Context) (*oauth2.Token, error) {
	setStage(ctx, stageToken, s.title, s.tokenStage)
	tok, err := s.TokenSource.Token(ctx)
	if err == nil {
		setStage(ctx, stageProvider, s.title, s.providerStage)
	}
	return tok, err
}
