package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// Sources hands out the token sources of connected accounts.
type Sources interface {
	Source(tenant, provider, account string) providers.TokenSource
}

// resolveAccount picks the account a call works on: the one named, or, when
// none is named, the only connected account that has every needed scope.
// A call through an OAuth sign-in works on the signed-in account unless it
// names another, which its tenant's policy must allow (signin.go).
func (h *handlers) resolveAccount(ctx context.Context, tenantName, requested string, need ...string) (grants.Grant, error) {
	setStage(ctx, stageAccounts, "", "reading the connected accounts")
	gs, err := h.opts.Accounts.List(ctx, tenantName)
	if err != nil {
		return grants.Grant{}, err
	}
	requested = strings.ToLower(strings.TrimSpace(requested))
	s, signedIn, err := signinOf(ctx, tenantName)
	if err != nil {
		return grants.Grant{}, err
	}
	if signedIn && (requested == "" || requested == s.Account) {
		g, ok := ownGrant(gs, s)
		if !ok {
			return grants.Grant{}, errSigninGone(s)
		}
		if missing := h.missingScopes(g, need); len(missing) > 0 {
			return grants.Grant{}, h.scopeError(ctx, tenantName, g, missing)
		}
		return g, nil
	}
	if signedIn {
		shared, err := h.sharesAccounts(ctx, tenantName)
		if err != nil {
			return grants.Grant{}, err
		}
		if !shared {
			return grants.Grant{}, errSigninLimited(tenantName, s, requested)
		}
	}
	if len(gs) == 0 {
		return grants.Grant{}, userErrorf("no account is connected: connect one with connect_account (provider %s)", h.opts.Providers.Choices())
	}
	names := make([]string, 0, len(gs))
	for _, g := range gs {
		names = append(names, g.Account)
	}
	if requested != "" {
		for _, g := range gs {
			if g.Account == requested {
				if missing := h.missingScopes(g, need); len(missing) > 0 {
					return grants.Grant{}, h.scopeError(ctx, tenantName, g, missing)
				}
				return g, nil
			}
		}
		return grants.Grant{}, userErrorf("account %q is not connected; connected accounts: %s", requested, strings.Join(names, ", "))
	}
	var able, active []grants.Grant
	for _, g := range gs {
		if len(h.missingScopes(g, need)) == 0 {
			able = append(able, g)
			if g.Status == grants.StatusActive {
				active = append(active, g)
			}
		}
	}
	switch {
	case len(active) == 1:
		return active[0], nil
	case len(able) == 1:
		return able[0], nil // not active: the token call explains how to reconnect
	case len(able) == 0:
		if len(gs) == 1 {
			return grants.Grant{}, h.scopeError(ctx, tenantName, gs[0], h.missingScopes(gs[0], need))
		}
		return grants.Grant{}, userErrorf("no connected account (%s) allows %s: connect one with connect_account and scopes %s",
			strings.Join(names, ", "), strings.Join(need, " and "), strings.Join(need, ","))
	default:
		several := active
		if len(several) == 0 {
			several = able
		}
		ableNames := make([]string, 0, len(several))
		for _, g := range several {
			ableNames = append(ableNames, g.Account)
		}
		return grants.Grant{}, userErrorf("several accounts can serve this call (%s): pass one as the account argument", strings.Join(ableNames, ", "))
	}
}

// missingScopes returns the scopes of need that g's provider says its
// grant lacks.
func (h *handlers) missingScopes(g grants.Grant, need []string) []string {
	p, err := h.opts.Providers.Get(g.Provider)
	if err != nil {
		return need
	}
	return p.Missing(g.Scopes, need)
}

// scopeError says which access an account lacks and how to add it.
func (h *handlers) scopeError(ctx context.Context, tenantName string, g grants.Grant, missing []string) error {
	all := append(slices.Clone(g.Scopes), missing...)
	msg := fmt.Sprintf("account %s was connected without %s access (it has: %s).", g.Account, strings.Join(missing, ", "), strings.Join(g.Scopes, ", "))
	return &userError{msg + h.reconnectHint(ctx, tenantName, g, all)}
}

// reconnectHint returns " To reconnect, ask the person to open: URL" or,
// where no URL can be made, how to do it by hand.
func (h *handlers) reconnectHint(ctx context.Context, tenantName string, g grants.Grant, scopes []string) string {
	// A sign-in limited to its account reconnects it by signing in again:
	// a link from here would connect whichever mailbox the person picks
	// (connectAllowed).
	if s, limited, err := h.limitedTo(ctx, tenantName); err != nil || limited {
		if err == nil && s.Account == g.Account && s.Provider == g.Provider {
			return " To reconnect it, sign in again from your MCP client (its reconnect or re-authenticate action, or remove and add the server)."
		}
		return " An administrator of the workspace can reconnect it."
	}
	if h.opts.Connector != nil {
		link, err := h.opts.Connector.Connect(ctx, tenantName, g.Provider, strings.Join(scopes, ","), g.Account)
		if err == nil {
			return fmt.Sprintf(" To reconnect it, ask the person to open this URL and approve (it expires in 10 minutes): %s", link.URL)
		}
		return fmt.Sprintf(" Reconnecting needs the connect_account tool, which failed: %v", err)
	}
	return fmt.Sprintf(" Reconnect it with `mailcal connect %s --login-hint %s --scopes %s`.", g.Provider, g.Account, strings.Join(scopes, ","))
}

// perAccountCalls bounds the provider calls running at once for one account
// (each may fan out further, as list_messages does): many agents or a busy
// one share a mailbox's per-user rate limit instead of tripping it.
const perAccountCalls = 4

// accountLimiter hands out per-account slots. Finding an account's slots
// takes a read lock (a write lock only for an account's first call).
type accountLimiter struct {
	mu    sync.RWMutex
	slots map[accountKey]chan struct{}
}

type accountKey struct{ tenant, provider, account string }

// acquire waits for a slot of g's account, at most until ctx ends (the
// call's deadline or its cancellation), and returns the function that gives
// it back.
func (l *accountLimiter) acquire(ctx context.Context, g grants.Grant, title string) (func(), error) {
	key := accountKey{g.Tenant, g.Provider, g.Account}
	l.mu.RLock()
	ch, ok := l.slots[key]
	l.mu.RUnlock()
	if !ok {
		l.mu.Lock()
		if l.slots == nil {
			l.slots = map[accountKey]chan struct{}{}
		}
		if ch, ok = l.slots[key]; !ok {
			ch = make(chan struct{}, perAccountCalls)
			l.slots[key] = ch
		}
		l.mu.Unlock()
	}
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	default:
	}
	setStage(ctx, stageSlot, title, fmt.Sprintf("waiting for a free slot of %s: %d of its calls were running already, and mailcal runs at most %d at once per account",
		g.Account, perAccountCalls, perAccountCalls))
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, userErrorf("%s has %d calls running already (mailcal runs at most %d at once per account) and this one stopped waiting for a free slot: %v; nothing was sent to %s",
			g.Account, perAccountCalls, perAccountCalls, context.Cause(ctx), title)
	}
}

// withAPI runs call with g's provider API and token source. At most
// perAccountCalls such calls run at once for one account.
func (h *handlers) withAPI(ctx context.Context, g grants.Grant, call func(providers.API, providers.TokenSource) error) error {
	p, err := h.opts.Providers.Get(g.Provider)
	if err != nil {
		return err
	}
	api, err := p.API()
	if err != nil {
		return err
	}
	title := p.Title
	release, err := h.limits.acquire(ctx, g, title)
	if err != nil {
		return err
	}
	defer release()
	setStage(ctx, stageRunning, title, "preparing its request to "+title)
	return call(api, newStagedSource(h.opts.Sources.Source(g.Tenant, g.Provider, g.Account), title, g.Account))
}

// onMail runs fn with the account's mailbox (see withAPI).
func onMail[T any](ctx context.Context, h *handlers, g grants.Grant, fn func(providers.Mail) (T, error)) (T, error) {
	var out T
	err := h.withAPI(ctx, g, func(api providers.API, src providers.TokenSource) error {
		m, err := api.Mail(src, g.Account)
		if err == nil {
			out, err = fn(m)
		}
		return err
	})
	return out, err
}

// onCalendar runs fn with the account's calendars (see withAPI).
func onCalendar[T any](ctx context.Context, h *handlers, g grants.Grant, fn func(providers.Calendar) (T, error)) (T, error) {
	var out T
	err := h.withAPI(ctx, g, func(api providers.API, src providers.TokenSource) error {
		c, err := api.Calendar(src)
		if err == nil {
			out, err = fn(c)
		}
		return err
	})
	return out, err
}
