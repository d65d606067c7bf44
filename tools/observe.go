package tools

import (
	"context"
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/tenant"
)

// CallObserver hears about every tool call once it has answered (metrics).
// ObserveCall runs on the call's goroutine: it must be quick and must not
// block.
type CallObserver interface {
	ObserveCall(CallInfo)
}

// CallInfo is what a call was and how it ended. Provider is empty when the
// call worked with no account (list_accounts, a refused argument).
type CallInfo struct {
	Tool     string
	Provider string
	Tenant   string
	Outcome  string
	Duration time.Duration
}

// Outcomes of a call, as CallInfo.Outcome gives them.
const (
	CallOK         = "ok"
	CallError      = "tool_error"  // the tool answered an error (bad arguments, the provider's refusal, a dead grant…)
	CallRefused    = "refused"     // the tenant's policy (or the person asked to confirm) stopped it
	CallTimeout    = "timeout"     // it ran past the call deadline (MAILCAL_CALL_TIMEOUT)
	CallCancelled  = "cancelled"   // the client gave up or the server is stopping
	CallNeedsInput = "needs_input" // it asked the client for a confirmation and will be called again
)

// CallOutcomes lists every outcome, for those who pre-declare series.
var CallOutcomes = []string{CallOK, CallError, CallRefused, CallTimeout, CallCancelled, CallNeedsInput}

// observed tells obs about each call of the tool name. It shares the call's
// audit entry (which learns the account's provider and a policy refusal as
// the call goes, and bounded marks a deadline or a cancellation in it).
func observed(name string, obs CallObserver, next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		ctx, e := withAuditEntry(ctx)
		res, err := next(ctx, req)
		info := CallInfo{Tool: name, Outcome: CallOK, Duration: time.Since(start)}
		info.Tenant, _ = tenant.FromContext(ctx)
		failed := err != nil || res != nil && res.IsError
		e.mu.Lock()
		info.Provider = e.provider
		switch {
		case e.timedOut:
			info.Outcome = CallTimeout
		case e.cancelled:
			info.Outcome = CallCancelled
		case failed && e.refused:
			info.Outcome = CallRefused
		case failed:
			info.Outcome = CallError
		case res != nil && res.NeedsInput():
			info.Outcome = CallNeedsInput
		}
		e.mu.Unlock()
		obs.ObserveCall(info)
		return res, err
	}
}

// noteEnd marks in the call's audit entry that it ended at its deadline
// (cause errCallTimeout) or was cancelled.
func noteEnd(ctx context.Context) {
	e := auditOf(ctx)
	if e == nil {
		return
	}
	e.mu.Lock()
	if errors.Is(context.Cause(ctx), errCallTimeout) {
		e.timedOut = true
	} else {
		e.cancelled = true
	}
	e.mu.Unlock()
}
