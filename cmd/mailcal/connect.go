package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"runtime"
	"strings"

	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/registry"
)

const connectHelp = `
Usage: mailcal connect PROVIDER [--tenant NAME] [--scopes LIST] [--read-only] [--no-browser] [--login-hint EMAIL]

Connect a mail/calendar account: opens the provider's consent page in a
browser, waits for the answer on a loopback address (127.0.0.1, or
localhost where the provider requires it; a random port), keeps the grant
in the keyring and prints the account on stdout.

PROVIDER: {providers}.
LIST: comma-separated from {scopes}; default: what every tool
served by default needs ({default}); with --read-only: {readonly}
(those the provider alias allows).

If the browser runs on another machine, open the printed URL there and, when
it lands on an unreachable http://127.0.0.1:... (or http://localhost:...)
page, paste that page's full URL here.

Needs the provider's OAuth client: {clients}.
`

// helpText fills a command help's {placeholders} from the provider specs.
func helpText(help string) string {
	var clients []string
	for _, s := range registry.Specs() {
		var envs []string
		for _, st := range s.Settings {
			if strings.HasSuffix(st.Env, "_CLIENT_ID") || strings.HasSuffix(st.Env, "_CLIENT_SECRET") {
				envs = append(envs, st.Env)
			}
		}
		clients = append(clients, s.Title+": "+strings.Join(envs, " and "))
	}
	return strings.NewReplacer(
		"{providers}", providerHelp(),
		"{scopes}", strings.Join(providers.AllScopes, ", "),
		"{default}", strings.Join(providers.DefaultScopes, ", "),
		"{readonly}", strings.Join(providers.ReadOnlyScopes, ", "),
		"{clients}", strings.Join(clients, "; "),
	).Replace(help)
}

// providerHelp lists the provider names and aliases with what they give.
func providerHelp() string {
	var parts []string
	for _, s := range registry.Specs() {
		parts = append(parts, fmt.Sprintf("%s (%s)", s.Name, s.Products))
		for _, a := range s.Aliases {
			parts = append(parts, fmt.Sprintf("%s (%s)", a.Name, a.What))
		}
	}
	return strings.Join(parts, ", ")
}

func cmdConnect(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("connect", helpText(connectHelp), e)
	tenantName := fs.String("tenant", tenant.Default, "tenant to connect the account to")
	scopeList := fs.String("scopes", "", "comma-separated scopes (default: what every tool needs)")
	readOnly := fs.Bool("read-only", false, "by default, ask only for read access (for a server run with --read-only)")
	noBrowser := fs.Bool("no-browser", false, "print the URL only; do not open a browser")
	loginHint := fs.String("login-hint", "", "email address of the account to connect (preselects it)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("connect", pos, "PROVIDER"); err != nil {
		return err
	}
	if err := tenant.ValidateName(*tenantName); err != nil {
		return fmt.Errorf("%w: --tenant: %v", errUsage, err)
	}
	_, limit, err := c.providers.Resolve(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	scopes, err := providers.ParseScopes(*scopeList, limit, *readOnly)
	if err != nil {
		return fmt.Errorf("%w: --scopes: %v", errUsage, err)
	}
	a, err := newApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.close()
	lb := &oauth.Loopback{Flows: a.flows}
	defer lb.Close()
	redirect, err := lb.RedirectURI()
	if err != nil {
		return fmt.Errorf("listening for the callback on 127.0.0.1: %w", err)
	}
	flow, err := a.flows.Begin(ctx, oauth.Request{Tenant: *tenantName, Provider: pos[0], Scopes: scopes, LoginHint: *loginHint, RedirectURI: redirect, Wait: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "To connect your account, open this URL in a browser:\n\n  %s\n\n", flow.URL)
	if !*noBrowser {
		if err := openBrowser(flow.URL); err != nil {
			fmt.Fprintf(e.stderr, "(Could not open a browser: %v. Open the URL yourself.)\n", err)
		}
	}
	fmt.Fprintf(e.stderr, "Waiting up to %d minutes. If your browser is on another machine, paste here the URL it was sent to (it starts with %s).\n",
		int(oauth.StateTTL.Minutes()), flow.RedirectURI)
	go readPastedCallback(ctx, e.stdin, a.flows, *tenantName, e.stderr)

	res := flow.Wait(ctx)
	if res.Err != nil {
		return res.Err
	}
	g := res.Grant
	fmt.Fprintln(e.stdout, g.Account)
	fmt.Fprintf(e.stderr, "Connected %s (%s) to tenant %q with scopes %s.\n", g.Account, g.Provider, g.Tenant, strings.Join(g.Scopes, ", "))
	if len(res.Missing) > 0 {
		fmt.Fprintf(e.stderr, "Not granted: %s. Run connect again and tick those boxes if you need them.\n", strings.Join(res.Missing, ", "))
	}
	return nil
}

// readPastedCallback completes the flow from a callback URL pasted on stdin,
// for a browser on another machine.
func readPastedCallback(ctx context.Context, stdin io.Reader, flows *oauth.Flows, tenantName string, stderr io.Writer) {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 8192), 8192)
	for sc.Scan() && ctx.Err() == nil {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		u, err := url.Parse(line)
		if err != nil || u.Query().Get("state") == "" {
			fmt.Fprintln(stderr, "That is not the callback URL: paste the whole address the browser was sent to (with ?state=...&code=...).")
			continue
		}
		q := u.Query()
		if e := q.Get("error"); e != "" {
			_ = flows.Deny(ctx, q.Get("state"), tenantName, e)
			return
		}
		if res := flows.Complete(ctx, q.Get("state"), tenantName, q.Get("code")); res.Err != nil {
			fmt.Fprintln(stderr, "That URL did not complete the connection:", res.Err)
			continue
		}
		return
	}
}

func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

const disconnectHelp = `
Usage: mailcal disconnect PROVIDER ACCOUNT [--tenant NAME]

Revoke the account's grant at the provider, then delete it from the keyring.
If the revocation fails, the account is deleted locally all the same, and the
command says how to revoke access by hand and exits with status 1. An account
also connected to another tenant is only deleted from this one: revoking it
would disconnect it there too.
`

func cmdDisconnect(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("disconnect", disconnectHelp, e)
	tenantName := fs.String("tenant", tenant.Default, "tenant the account belongs to")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("disconnect", pos, "PROVIDER", "ACCOUNT"); err != nil {
		return err
	}
	if err := tenant.ValidateName(*tenantName); err != nil {
		return fmt.Errorf("%w: --tenant: %v", errUsage, err)
	}
	p, _, err := c.providers.Resolve(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	a, err := newApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.close()
	d, err := a.flows.Disconnect(ctx, *tenantName, p.Name, pos[1])
	if err != nil {
		return err
	}
	return reportDisconnected(e, *tenantName, d)
}

// reportDisconnected says what became of an account's access; a failed
// revocation is an error (exit status 1), a revocation skipped on purpose
// is not.
func reportDisconnected(e env, tenantName string, d oauth.Disconnected) error {
	switch {
	case d.Revoked:
		fmt.Fprintf(e.stderr, "Disconnected %s (%s): access revoked and removed from tenant %q.\n", d.Account, d.Provider, tenantName)
	case errors.Is(d.RevokeErr, oauth.ErrSharedGrant):
		fmt.Fprintf(e.stderr, "Removed %s (%s) from tenant %q; %v.\n", d.Account, d.Provider, tenantName, d.RevokeErr)
	case errors.Is(d.RevokeErr, oauth.ErrNoRevocation):
		fmt.Fprintf(e.stderr, "Removed %s (%s) from tenant %q. %s offers no way for an app to revoke its access: remove it by hand at %s\n",
			d.Account, d.Provider, tenantName, d.Provider, d.RevokeHelp)
	default:
		fmt.Fprintf(e.stderr, "Removed %s (%s) from tenant %q, but revoking its access at the provider failed: %v.\nRemove mailcal's access by hand: %s\n",
			d.Account, d.Provider, tenantName, d.RevokeErr, d.RevokeHelp)
		return errReported
	}
	return nil
}
