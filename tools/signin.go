package tools

import (
	"context"
	"log/slog"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/tenant"
)

// A call that comes through an OAuth sign-in (the tenant's own endpoint,
// /t/{tenant}/mcp, with an access token of mailcal's OAuth server) carries
// a tenant.Signin: the person signed in by connecting their own mailbox,
// and that account acts by default. Unless the tenant's policy shares
// accounts (shared_accounts), it is the only account the sign-in may use:
// naming another is refused, "all" means that one, list_accounts lists only
// it, and connect_account may only reconnect it (else a signed-in person
// could connect any mailbox to the workspace, around allowed_signins).
// A call without a sign-in (an API key, stdio) may use every account of its
// tenant, as before.

// signinOf returns the sign-in of a call on tenantName's tools, if any. A
// sign-in of another tenant is a wiring bug: refused, never served.
func signinOf(ctx context.Context, tenantName string) (tenant.Signin, bool, error) {
	s, ok := tenant.SigninFrom(ctx)
	if !ok {
		return tenant.Signin{}, false, nil
	}
	if s.Tenant != tenantName {
		slog.ErrorContext(ctx, "a call carries a sign-in of another tenant; refused", "tenant", tenantName, "signin_tenant", s.Tenant)
		return tenant.Signin{}, false, errTenant
	}
	return s, true, nil
}

// sharesAccounts reports whether the tenant's policy lets signed-in people
// use every account (shared_accounts), through the cached policy store the
// guard uses. It fails closed: a policy that cannot be read is an error,
// and no policy store means the default, not shared.
func (h *handlers) sharesAccounts(ctx context.Context, tenantName string) (bool, error) {
	if h.opts.Policies == nil {
		return false, nil
	}
	setStage(ctx, stageAccounts, "", "reading the tenant's policy")
	p, err := h.opts.Policies.Get(ctx, tenantName)
	if err != nil {
		slog.WarnContext(ctx, "policy unreadable: a signed-in call keeps to its own account", "tenant", tenantName, "err", err)
		return false, userErrorf("the workspace policy could not be read, and it says which accounts a signed-in person may use; try again in a little while")
	}
	return p.SharedAccounts, nil
}

// limitedTo returns the sign-in a call is limited to: ok is true for a call
// through a sign-in whose tenant does not share accounts.
func (h *handlers) limitedTo(ctx context.Context, tenantName string) (tenant.Signin, bool, error) {
	s, ok, err := signinOf(ctx, tenantName)
	if err != nil || !ok {
		return tenant.Signin{}, false, err
	}
	shared, err := h.sharesAccounts(ctx, tenantName)
	if err != nil {
		return tenant.Signin{}, false, err
	}
	return s, !shared, nil
}

// ownGrant returns the signed-in account's grant among gs.
func ownGrant(gs []grants.Grant, s tenant.Signin) (grants.Grant, bool) {
	for _, g := range gs {
		if g.Account == s.Account && g.Provider == s.Provider {
			return g, true
		}
	}
	return grants.Grant{}, false
}

// errSigninGone says that the signed-in account is no longer connected
// (disconnected, or its tenant's grants removed): signing in again
// connects it.
func errSigninGone(s tenant.Signin) error {
	return userErrorf("your signed-in account %s is no longer connected to this workspace: sign in again in your MCP client (signing in connects it again)", s.Account)
}

// errSigninLimited refuses another account than the signed-in one.
func errSigninLimited(tenantName string, s tenant.Signin, requested string) error {
	return userErrorf("account %q is not available to this sign-in: the workspace policy limits it to %s, the account you signed in with; leave account out to use it. "+
		"(An administrator can let signed-in people use every account of the workspace with `mailcal policy set --tenant %s --shared-accounts true`.)",
		requested, s.Account, tenantName)
}
