package oauth

import (
	"context"
	"log/slog"

	"github.com/mailcal/mailcal/auth/store"
)

// endSignins revokes the tokens mailcal's own OAuth server (auth/mcpauth)
// issued for an account that is being disconnected, when the store keeps
// them: an MCP client signed in as that account must sign in again, not
// keep calling with a token whose account is gone. A failure is logged, not
// returned: the account is disconnected either way, and the tools refuse a
// sign-in whose account is not connected.
func (f *Flows) endSignins(ctx context.Context, k store.GrantKey) {
	o, ok := f.cfg.States.(store.OAuthServer)
	if !ok {
		return
	}
	n, err := o.RevokeOAuthAccount(ctx, k)
	if err != nil {
		slog.WarnContext(ctx, "revoking the sign-ins of a disconnected account failed", "tenant", k.Tenant, "provider", k.Provider, "account", k.Account, "err", err)
		return
	}
	if n > 0 {
		slog.InfoContext(ctx, "revoked the sign-ins of a disconnected account", "tenant", k.Tenant, "provider", k.Provider, "account", k.Account, "tokens", n)
	}
}

// endTenantSignins revokes every token mailcal's OAuth server issued for a
// tenant that is being removed.
func (f *Flows) endTenantSignins(ctx context.Context, tenant string) error {
	o, ok := f.cfg.States.(store.OAuthServer)
	if !ok {
		return nil
	}
	_, err := o.RevokeOAuthTenant(ctx, tenant)
	return err
}
