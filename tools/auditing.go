package tools

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/tools/audit"
)

// AuditLog takes one record per state-changing call (audit.Log).
type AuditLog interface {
	Write(audit.Record) error
}

// auditEntry is what a call tells its audit record as it goes: the
// handler may still be running when a timed-out call is recorded.
type auditEntry struct {
	mu         sync.Mutex
	account    string
	provider   string
	ids        []string
	actions    []string
	recipients []string
	subject    string
	refused    bool
	timedOut   bool // the call answered at its deadline (bounded)
	cancelled  bool // the call was cancelled before it finished (bounded)
}

type auditKey struct{}

func auditOf(ctx context.Context) *auditEntry {
	e, _ := ctx.Value(auditKey{}).(*auditEntry)
	return e
}

// withAuditEntry returns the call's audit entry, made and put in the
// context by the first of audited and observed to see the call.
func withAuditEntry(ctx context.Context) (context.Context, *auditEntry) {
	if e := auditOf(ctx); e != nil {
		return ctx, e
	}
	e := &auditEntry{}
	return context.WithValue(ctx, auditKey{}, e), e
}

func noteAccount(ctx context.Context, g grants.Grant) {
	if e := auditOf(ctx); e != nil {
		e.mu.Lock()
		e.account, e.provider = g.Account, g.Provider
		e.mu.Unlock()
	}
}

func noteOutgoing(ctx context.Context, o outgoing) {
	if e := auditOf(ctx); e != nil {
		e.mu.Lock()
		e.recipients, e.subject = slices.Clone(o.recipients), o.subject
		e.mu.Unlock()
	}
}

func noteIDs(ctx context.Context, ids ...string) {
	if e := auditOf(ctx); e != nil {
		e.mu.Lock()
		for _, id := range ids {
			if id != "" {
				e.ids = append(e.ids, id)
			}
		}
		e.mu.Unlock()
	}
}

func noteActions(ctx context.Context, actions []string) {
	if e := auditOf(ctx); e != nil {
		e.mu.Lock()
		e.actions = append(e.actions, actions...)
		e.mu.Unlock()
	}
}

// refusal marks err, a refusal of the tenant's policy or the person, as
// such in the call's audit record, and returns it.
func refusal(ctx context.Context, err error) error {
	if e := auditOf(ctx); e != nil {
		e.mu.Lock()
		e.refused = true
		e.mu.Unlock()
	}
	return err
}

// audited records each call of a tool that changes something in the audit
// log, once it has answered (a call that timed out too, with what it knew).
func audited(name string, log AuditLog, now func() time.Time, next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx, e := withAuditEntry(ctx) // observed's, when metrics are on
		res, err := next(ctx, req)
		if err == nil && res != nil && res.NeedsInput() {
			return res, err // not an outcome yet: the client calls again with the input
		}
		t, _ := tenant.FromContext(ctx)
		r := audit.Record{Time: now(), Tenant: t, Tool: name, Outcome: audit.OutcomeOK}
		if si, ok := tenant.SigninFrom(ctx); ok {
			r.SignedIn, r.Client = si.Account, clipText(si.Client, 200)
		}
		var ue *userError
		switch {
		case errors.As(err, &ue):
			r.Outcome, r.Error = audit.OutcomeError, ue.msg
		case err != nil:
			r.Outcome, r.Error = audit.OutcomeError, providers.Redact(err.Error())
		case res != nil && res.IsError:
			r.Outcome, r.Error = audit.OutcomeError, resultText(res)
		}
		e.mu.Lock()
		if e.refused && r.Outcome == audit.OutcomeError {
			r.Outcome = audit.OutcomeRefused
		}
		r.Account, r.Provider, r.Subject = e.account, e.provider, e.subject
		r.IDs, r.Recipients, r.Actions = slices.Clone(e.ids), slices.Clone(e.recipients), slices.Clone(e.actions)
		e.mu.Unlock()
		if werr := log.Write(r); werr != nil {
			slog.ErrorContext(ctx, "audit log: a record was not written", "tool", name, "tenant", t, "err", werr)
		}
		return res, err
	}
}

// resultText is a result's text.
func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
