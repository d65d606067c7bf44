package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

const tenantHelp = `
Usage:
  mailcal tenant add NAME      create a tenant and print its API key once, on stdout
  mailcal tenant list          list tenants (names and creation times; keys are never shown)
  mailcal tenant remove NAME   remove a tenant: its connected accounts are revoked at
                               their providers and deleted, its API key stops working,
                               and (database store) its data key is destroyed

A tenant is a workspace of an http deployment: its own connected accounts,
reached with its own API key (Authorization: Bearer KEY or X-API-Key: KEY).
Only the key's SHA-256 hash is stored; a lost key cannot be shown again:
remove the tenant and add it again.
NAME: 1 to 63 characters of a-z, 0-9, '-' and '_'.
`

func cmdTenant(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("tenant", tenantHelp, e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: tenant needs a subcommand: add, list or remove", errUsage)
	}
	a, err := newApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.close()
	reg := a.tenants
	switch sub, rest := pos[0], pos[1:]; sub {
	case "add":
		if err := wantArgs("tenant add", rest, "NAME"); err != nil {
			return err
		}
		if err := tenant.ValidateName(rest[0]); err != nil {
			return err
		}
		if _, err := reg.Get(ctx, rest[0]); err == nil {
			return fmt.Errorf("%w: %s", tenant.ErrExists, rest[0])
		}
		// A tenant of this name removed by an older mailcal may have left
		// its accounts behind: a new tenant starts empty.
		if err := a.forgetAccounts(ctx, rest[0], e); err != nil {
			return err
		}
		key, err := reg.Add(ctx, rest[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, key)
		fmt.Fprintf(e.stderr, "Tenant %q created. The line above is its API key: it is shown only this once, keep it safe.\n", rest[0])
		return nil
	case "list", "ls":
		if err := wantArgs("tenant list", rest); err != nil {
			return err
		}
		ts, err := reg.List(ctx)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			fmt.Fprintln(e.stderr, "No tenants. Create one with `mailcal tenant add NAME`.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "remove", "rm", "delete":
		if err := wantArgs("tenant remove", rest, "NAME"); err != nil {
			return err
		}
		// A damaged record is removed like any other.
		if _, err := reg.Get(ctx, rest[0]); err != nil && !errors.Is(err, store.ErrDamaged) {
			return err
		}
		// Accounts first: if that fails the tenant is still there and the
		// command can be run again; a tenant record gone with its grants
		// left behind would hand them to the next tenant of that name.
		if err := a.forgetAccounts(ctx, rest[0], e); err != nil {
			return err
		}
		if err := reg.Remove(ctx, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Tenant %q removed; its API key no longer works.\n", rest[0])
		return nil
	default:
		return fmt.Errorf("%w: unknown tenant subcommand %q: use add, list or remove", errUsage, sub)
	}
}

// forgetAccounts deletes a tenant's policy, revokes (where the provider can)
// and deletes every account it has connected, and drops its waiting
// connections. A
// failed revocation is reported and the account deleted all the same; a
// failed deletion stops it.
func (a *app) forgetAccounts(ctx context.Context, tenantName string, e env) error {
	// Its policy too: a tenant added again under the name starts without one.
	if err := a.policies.Delete(ctx, tenantName); err != nil {
		return err
	}
	// And its webhook with the deliveries not yet made (webhooks.go).
	if err := a.forgetWebhook(ctx, tenantName); err != nil {
		return err
	}
	done, err := a.flows.ForgetTenant(ctx, tenantName)
	for _, d := range done {
		switch {
		case d.Revoked:
			fmt.Fprintf(e.stderr, "Revoked and deleted %s (%s).\n", d.Account, d.Provider)
		case errors.Is(d.RevokeErr, oauth.ErrSharedGrant):
			fmt.Fprintf(e.stderr, "Deleted %s (%s); %v.\n", d.Account, d.Provider, d.RevokeErr)
		default:
			fmt.Fprintf(e.stderr, "Deleted %s (%s), but it was not revoked at the provider: %v. Remove mailcal's access by hand: %s\n",
				d.Account, d.Provider, d.RevokeErr, d.RevokeHelp)
		}
	}
	if err != nil {
		return err
	}
	// Its accounts gone, its data key goes too: nothing sealed under it
	// can be opened again, wherever a copy of it lies.
	return a.destroyDataKey(ctx, tenantName)
}

const accountsHelp = `
Usage: mailcal accounts [--tenant NAME] [--json]

List the tenant's connected mail and calendar accounts with their status
(active, needs_reauth, revoked), scopes and when they were connected.
`

func cmdAccounts(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("accounts", accountsHelp, e)
	tenantName := fs.String("tenant", tenant.Default, "tenant whose accounts to list")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("accounts", pos); err != nil {
		return err
	}
	if err := tenant.ValidateName(*tenantName); err != nil {
		return fmt.Errorf("%w: --tenant: %v", errUsage, err)
	}
	a, err := newApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.close()
	gs, err := a.grants.List(ctx, *tenantName)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			Provider     string   `json:"provider"`
			Account      string   `json:"account"`
			Status       string   `json:"status"`
			StatusReason string   `json:"status_reason,omitempty"`
			Scopes       []string `json:"scopes"`
			ConnectedAt  string   `json:"connected_at"`
		}
		rows := make([]row, 0, len(gs))
		for _, g := range gs {
			rows = append(rows, row{g.Provider, g.Account, g.Status, g.StatusReason, g.Scopes, g.ConnectedAt.UTC().Format(time.RFC3339)})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"tenant": *tenantName, "accounts": rows})
	}
	if len(gs) == 0 {
		fmt.Fprintf(e.stderr, "No accounts connected for tenant %q.\n", *tenantName)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tACCOUNT\tSTATUS\tSCOPES\tCONNECTED")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Provider, g.Account, g.Status, strings.Join(g.Scopes, ","), g.ConnectedAt.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range gs {
		if g.Status != grants.StatusActive {
			fmt.Fprintf(e.stderr, "%s needs to be reconnected (%s): mailcal connect %s --tenant %s --login-hint %s --scopes %s\n",
				g.Account, g.StatusReason, g.Provider, *tenantName, g.Account, strings.Join(g.Scopes, ","))
		}
	}
	return nil
}
