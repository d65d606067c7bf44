package tools

import (
	"context"
	"strings"
	"sync"

	"github.com/mailcal/mailcal/auth/grants"
)

// account: "all". list_events and find_free_time ask every calendar
// account of the tenant at once and merge the answers; an account that
// fails is reported in the result, the others still answer. Every other
// tool refuses "all" (accountTool).

// allAccounts is the account argument's value that means every account.
const allAccounts = "all"

func isAll(name string) bool { return strings.EqualFold(strings.TrimSpace(name), allAccounts) }

// accountOrAll is the account argument of the tools that take "all".
type accountOrAll struct {
	Account string `json:"account,omitempty" arg:"max=254,kind=token" jsonschema:"email address of the account to use, or \"all\" for every connected account that can {account_can}, merged (each row names its account); may be left out when one connected account can {account_can}, or on a connection signed in through OAuth, where the signed-in account is used"`
}

func (a accountOrAll) accountName() string { return a.Account }

// allAccountsConcurrency bounds the accounts asked at once by one call;
// each account's requests also wait for its own slots (accountLimiter).
const allAccountsConcurrency = 8

// AccountStatus is how one account of an "all" call fared.
type AccountStatus struct {
	Account  string `json:"account"`
	Provider string `json:"provider"`
	// Error says why the account's answer is missing ("" when it answered).
	Error string `json:"error,omitempty"`
}

// multiAccountTool declares a tool that acts for one account, like
// accountTool, or, with account "all", for every account of the tenant
// that has the tool's scope and does not need to be reconnected (those
// that need it are reported as skipped).
func multiAccountTool[A any, R any](h *handlers, d decl,
	one func(ctx context.Context, g grants.Grant, a *A) (R, string, error),
	all func(ctx context.Context, gs []grants.Grant, skipped []AccountStatus, a *A) (R, string, error),
) tool {
	return tenantTool(h, d, func(ctx context.Context, t string, a *A) (R, string, error) {
		var zero R
		var need []string
		if d.scope != "" {
			need = []string{d.scope}
		}
		name := ""
		if n, ok := any(a).(named); ok {
			name = n.accountName()
		}
		if !isAll(name) {
			g, err := h.resolveAccount(ctx, t, name, need...)
			if err != nil {
				return zero, "", err
			}
			noteAccount(ctx, g)
			return one(ctx, g, a)
		}
		setStage(ctx, stageAccounts, "", "reading the connected accounts")
		gs, err := h.opts.Accounts.List(ctx, t)
		if err != nil {
			return zero, "", err
		}
		// A sign-in limited to its own account: "all" is that one.
		if s, limited, err := h.limitedTo(ctx, t); err != nil {
			return zero, "", err
		} else if limited {
			g, ok := ownGrant(gs, s)
			if !ok {
				return zero, "", errSigninGone(s)
			}
			gs = []grants.Grant{g}
		}
		var able []grants.Grant
		var skipped []AccountStatus
		for _, g := range gs {
			switch {
			case len(h.missingScopes(g, need)) > 0:
			case g.Status != grants.StatusActive:
				skipped = append(skipped, AccountStatus{Account: g.Account, Provider: g.Provider,
					Error: "skipped: the account must be reconnected (status " + string(g.Status) + "); connect_account does it"})
			default:
				able = append(able, g)
			}
		}
		if len(able) == 0 {
			if len(skipped) > 0 {
				return zero, "", userErrorf("account \"all\": no connected account that can %s works now: %s", d.vars["account_can"], statusList(skipped))
			}
			return zero, "", userErrorf("account \"all\": no connected account can %s: connect one with connect_account and scope %s", d.vars["account_can"], d.scope)
		}
		return all(ctx, able, skipped, a)
	})
}

func statusList(s []AccountStatus) string {
	parts := make([]string, 0, len(s))
	for _, a := range s {
		parts = append(parts, a.Account+" ("+a.Error+")")
	}
	return strings.Join(parts, "; ")
}

// fanOut runs fn for every account, at most allAccountsConcurrency at
// once, and returns each account's result and error in gs's order. It
// returns once every fn has returned: fn must end when ctx does (provider
// calls do).
func fanOut[T any](ctx context.Context, gs []grants.Grant, fn func(context.Context, grants.Grant) (T, error)) ([]T, []error) {
	out := make([]T, len(gs))
	errs := make([]error, len(gs))
	sem := make(chan struct{}, allAccountsConcurrency)
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = context.Cause(ctx)
				return
			}
			out[i], errs[i] = fn(ctx, g)
		}()
	}
	wg.Wait()
	return out, errs
}
