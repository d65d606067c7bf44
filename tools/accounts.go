package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
)

// AccountView is one connected account as tools show it.
type AccountView struct {
	Account     string   `json:"account" jsonschema:"the account's email address; pass it as the account argument of other tools"`
	Provider    string   `json:"provider" jsonschema:"the account's provider"`
	Status      string   `json:"status" jsonschema:"active, needs_reauth (connect again) or revoked"`
	Scopes      []string `json:"scopes" jsonschema:"what the account allows: mail.read, mail.send, mail.modify, calendar.read, calendar.write"`
	ConnectedAt string   `json:"connected_at" jsonschema:"when the account was connected (RFC 3339)"`
}

// ListAccountsResult is the structured result of list_accounts.
type ListAccountsResult struct {
	Tenant   string        `json:"tenant"`
	Accounts []AccountView `json:"accounts"`
}

type noArgs struct{}

func (h *handlers) listAccounts() tool {
	return tenantTool(h, decl{
		name: "list_accounts", title: "List connected accounts", hints: hints{readOnly: true, idempotent: true},
		desc: "List the mail and calendar accounts connected to this workspace, with their status " +
			"(active, needs_reauth, revoked) and what each allows (scopes). Call this first to learn which account " +
			"to pass as `account` to other tools, and whether an account must be reconnected. Takes no arguments.",
	}, func(ctx context.Context, t string, _ *noArgs) (ListAccountsResult, string, error) {
		setStage(ctx, stageAccounts, "", "reading the connected accounts")
		gs, err := h.opts.Accounts.List(ctx, t)
		if err != nil {
			return ListAccountsResult{}, "", err
		}
		// A sign-in limited to its own account sees that one only.
		s, limited, err := h.limitedTo(ctx, t)
		if err != nil {
			return ListAccountsResult{}, "", err
		}
		if limited {
			g, ok := ownGrant(gs, s)
			if !ok {
				return ListAccountsResult{}, "", errSigninGone(s)
			}
			gs = []grants.Grant{g}
		}
		res := ListAccountsResult{Tenant: t, Accounts: make([]AccountView, 0, len(gs))}
		for _, g := range gs {
			res.Accounts = append(res.Accounts, AccountView{
				Account: g.Account, Provider: g.Provider, Status: g.Status,
				Scopes: nonNil(g.Scopes), ConnectedAt: g.ConnectedAt.UTC().Format(time.RFC3339),
			})
		}
		return res, h.accountsText(res), nil
	})
}

func (h *handlers) accountsText(res ListAccountsResult) string {
	if len(res.Accounts) == 0 {
		return "No accounts are connected. Connect one with the connect_account tool (provider " + h.opts.Providers.Choices() + ")."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d connected account(s):\n", len(res.Accounts))
	for _, a := range res.Accounts {
		fmt.Fprintf(&b, "- %s (%s) %s; scopes: %s; connected %s\n",
			a.Account, a.Provider, a.Status, strings.Join(a.Scopes, ","), a.ConnectedAt[:min(10, len(a.ConnectedAt))])
	}
	return strings.TrimSuffix(b.String(), "\n")
}
