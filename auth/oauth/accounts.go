package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/providers"
)

// Disconnected says what became of one account's access.
type Disconnected struct {
	Provider, Account string
	// Revoked: the provider revoked the grant. When false, RevokeErr says
	// why (no revocation endpoint, a failure, or kept on purpose) and
	// RevokeHelp where the person removes the access by hand.
	Revoked    bool
	RevokeErr  error
	RevokeHelp string
}

// ErrSharedGrant: the account was deleted here but not revoked upstream,
// because another tenant connected the same account and a provider revokes
// the app's whole grant for the person (some do).
var ErrSharedGrant = errors.New("access at the provider was kept, because the same account is connected to another tenant of this mailcal and revoking would disconnect it there too")

// ErrNoRevocation: the provider offers no way to revoke a grant.
var ErrNoRevocation = errors.New("the provider offers no way for an app to revoke its access")

// Disconnect revokes an account's grant upstream (where the provider can
// and no other tenant uses it), then deletes it. A failed revocation does
// not stop the deletion: it is reported in the result. err means nothing
// was deleted.
//
// It holds the account's grant lock (across processes) from reading the
// grant to deleting it, so that no refresh rotates the refresh token in
// between; the deletion is a compare-and-set on the version read, so that a
// reconnect in between is kept. A damaged grant is deleted without
// revocation (its refresh token cannot be read).
func (f *Flows) Disconnect(ctx context.Context, tenant, provider, account string) (Disconnected, error) {
	unlock, err := f.cfg.Grants.Lock(ctx, tenant, provider, account)
	if err != nil {
		return Disconnected{}, err
	}
	defer unlock()
	g, err := f.cfg.Grants.Get(ctx, tenant, provider, account)
	if errors.Is(err, store.ErrDamaged) {
		return f.deleteDamaged(ctx, tenant, provider, account, err)
	}
	if err != nil {
		return Disconnected{}, err
	}
	d := Disconnected{Provider: g.Provider, Account: g.Account}
	if p, err := f.cfg.Providers.Get(provider); err != nil {
		d.RevokeErr = err // a provider this build does not know: delete only
	} else {
		d.RevokeHelp = p.RevokeHelp
		d.RevokeErr = f.revoke(ctx, p, g)
	}
	d.Revoked = d.RevokeErr == nil
	// Only the grant that was read: a reconnect in between stays.
	err = f.cfg.Grants.DeleteIf(ctx, g)
	switch {
	case errors.Is(err, store.ErrConflict):
		return Disconnected{}, fmt.Errorf("account %s (%s) was connected again while it was being disconnected; the new connection was kept: %w",
			g.Account, g.Provider, err)
	case err != nil && !errors.Is(err, grants.ErrNotFound):
		return Disconnected{}, err
	}
	f.endSignins(ctx, store.GrantKey{Tenant: g.Tenant, Provider: g.Provider, Account: strings.ToLower(g.Account)})
	f.cfg.OnChanged(tenant, g.Provider, g.Account)
	return d, nil
}

// deleteDamaged deletes an account whose stored grant cannot be read: it is
// not revoked (its refresh token is unknown), and the result says where the
// person removes the access by hand.
func (f *Flows) deleteDamaged(ctx context.Context, tenant, provider, account string, damaged error) (Disconnected, error) {
	if err := f.cfg.Grants.Delete(ctx, tenant, provider, account); err != nil && !errors.Is(err, grants.ErrNotFound) {
		return Disconnected{}, err
	}
	d := Disconnected{Provider: provider, Account: strings.ToLower(account),
		RevokeErr: fmt.Errorf("its stored grant was damaged, so its access could not be revoked (%w)", damaged)}
	if p, err := f.cfg.Providers.Get(provider); err == nil {
		d.RevokeHelp = p.RevokeHelp
	}
	f.endSignins(ctx, store.GrantKey{Tenant: tenant, Provider: provider, Account: d.Account})
	f.cfg.OnChanged(tenant, provider, d.Account)
	return d, nil
}

func (f *Flows) revoke(ctx context.Context, p *providers.Provider, g grants.Grant) error {
	if !p.Revocable() {
		return ErrNoRevocation
	}
	if g.RefreshToken == "" {
		return nil
	}
	shared, err := f.connectedElsewhere(ctx, g)
	if err != nil {
		return fmt.Errorf("could not tell whether another tenant uses the account, so it was not revoked: %w", err)
	}
	if shared {
		return ErrSharedGrant
	}
	if err := p.Revoke(ctx, f.cfg.HTTPClient, p.Config, g.RefreshToken); err != nil {
		return fmt.Errorf("%s: %w", p.Title, err)
	}
	return nil
}

// revokeQuietly revokes a refresh token mailcal will not keep, logging a
// failure.
func (f *Flows) revokeQuietly(ctx context.Context, p *providers.Provider, token string) {
	if !p.Revocable() {
		return
	}
	if err := p.Revoke(context.WithoutCancel(ctx), f.cfg.HTTPClient, p.Config, token); err != nil {
		slog.WarnContext(ctx, "could not revoke the refresh token of a failed connection", "provider", p.Name, "err", err)
	}
}

// connectedElsewhere reports whether another tenant has connected the same
// provider account.
func (f *Flows) connectedElsewhere(ctx context.Context, g grants.Grant) (bool, error) {
	if f.cfg.Tenants == nil {
		return false, nil
	}
	names, err := f.cfg.Tenants(ctx)
	if err != nil {
		return false, err
	}
	for _, name := range names {
		if name == g.Tenant {
			continue
		}
		gs, err := f.cfg.Grants.List(ctx, name)
		if err != nil {
			return false, err
		}
		for _, o := range gs {
			if o.Provider == g.Provider && o.Account == g.Account && o.Status == grants.StatusActive {
				return true, nil
			}
		}
	}
	return false, nil
}

// ForgetTenant disconnects every account of a tenant (revoking where the
// provider can) and drops its waiting flows, so that nothing of it is left
// for a tenant added later under the same name. It stops at the first
// account that cannot be deleted; what was done is returned either way.
func (f *Flows) ForgetTenant(ctx context.Context, tenant string) ([]Disconnected, error) {
	if err := f.endTenantSignins(ctx, tenant); err != nil {
		return nil, fmt.Errorf("revoking the OAuth sign-ins of tenant %s: %w", tenant, err)
	}
	states, err := f.cfg.States.ListFlowStates(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, s := range states {
		if _, err := f.cfg.States.TakeFlowState(ctx, s.ID); err == nil {
			f.notify(s.ID, Result{Err: ErrUnknownState})
		}
	}
	gs, err := f.cfg.Grants.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var out []Disconnected
	for _, g := range gs {
		d, err := f.Disconnect(ctx, tenant, g.Provider, g.Account)
		if errors.Is(err, grants.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("removing account %s (%s) of tenant %s: %w", g.Account, g.Provider, tenant, err)
		}
		out = append(out, d)
	}
	return out, nil
}
