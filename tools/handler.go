package tools

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/grants"
)

// accountArgs are the arguments of a tool that acts for one account: they
// name it (or not) and check themselves, preparing what the call needs.
type accountArgs interface {
	accountName() string
	check(now time.Time) error
}

// account is the optional "account" argument every account tool takes.
type account struct {
	Account string `json:"account,omitempty"`
}

func (a account) accountName() string { return a.Account }

// accountTool is the handler shape the account tools share: the caller's
// tenant, the arguments bound (unknown ones refused) and checked, then the
// account that has scope (or is named), before run does the call.
func accountTool[A any, P interface {
	*A
	accountArgs
}](h *handlers, scope string, run func(ctx context.Context, g grants.Grant, a P) (*mcp.CallToolResult, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		a := P(new(A))
		if err := bind(req.Params.Arguments, a); err != nil {
			return nil, err
		}
		if err := a.check(h.now()); err != nil {
			return nil, err
		}
		var need []string
		if scope != "" {
			need = []string{scope}
		}
		g, err := h.resolveAccount(ctx, t, a.accountName(), need...)
		if err != nil {
			return nil, err
		}
		return run(ctx, g, a)
	}
}
