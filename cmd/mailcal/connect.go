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

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/tenant"
)

// providerFunc returns the providers configured by the environment.
func providerFunc(e env) func(string) (*oauth.Provider, error) {
	return func(name string) (*oauth.Provider, error) {
		switch name {
		case "google":
			return oauth.Google(e.getenv)
		case "microsoft":
			return nil, errors.New("Microsoft 365 accounts are not supported yet: connect a Google account (google, gmail or calendar)")
		}
		return nil, fmt.Errorf("unknown provider %q: use google, gmail, calendar or microsoft", name)
	}
}

const connectHelp = `
Usage: mailcal connect PROVIDER [--tenant NAME] [--scopes LIST] [--no-browser] [--login-hint EMAIL]

Connect a mail/calendar account: opens the provider's consent page in a
browser, waits for the answer on a loopback address (127.0.0.1, random
port), keeps the grant in the keyring and prints the account on stdout.

PROVIDER: google (Gmail and Google Calendar), gmail (mail scopes only) or
calendar (calendar scopes only).
LIST: comma-separated from mail.read, mail.send, mail.modify, calendar.read,
calendar.write; default: mail.read, mail.send, calendar.read (those the
provider alias allows).

If the browser runs on another machine, open the printed URL there and, when
it lands on an unreachable http://127.0.0.1:... page, paste that page's full
URL here.

Needs an OAuth client: MAILCAL_GOOGLE_CLIENT_ID and MAILCAL_GOOGLE_CLIENT_SECRET.
`

func cmdConnect(ctx context.Context, args []string, e env) error {
	fs := newFlags("connect", connectHelp, e)
	tenantName := fs.String("tenant", tenant.Default, "tenant to connect the account to")
	scopeList := fs.String("scopes", "", "comma-separated scopes (default: read and send)")
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
	_, limit, err := oauth.ResolveProvider(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	scopes, err := oauth.ParseScopes(*scopeList, limit)
	if err != nil {
		return fmt.Errorf("%w: --scopes: %v", errUsage, err)
	}
	a, err := newApp(e)
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
	flow, err := a.flows.Begin(ctx, oauth.Request{Tenant: *tenantName, Provider: pos[0], Scopes: scopes, LoginHint: *loginHint, RedirectURI: redirect})
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
		int(oauth.StateTTL.Minutes()), redirect)
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
			_ = flows.Deny(q.Get("state"), tenantName, e)
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

func cmdDisconnect(ctx context.Context, args []string, e env) error {
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
	provider, _, err := oauth.ResolveProvider(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	a, err := newApp(e)
	if err != nil {
		return err
	}
	defer a.close()
	revokeErr, err := a.disconnect(ctx, *tenantName, provider, pos[1])
	if err != nil {
		return err
	}
	if errors.Is(revokeErr, errSharedGrant) {
		fmt.Fprintf(e.stderr, "Removed %s from tenant %q; %v.\n", pos[1], *tenantName, revokeErr)
		return nil
	}
	if revokeErr != nil {
		// The account still has access at the provider: a failure (exit 1).
		return fmt.Errorf("removed %s from mailcal, but revoking its access at %s failed: %v.\nRemove mailcal's access by hand: %s",
			pos[1], provider, revokeErr, manualRevokeURL(provider))
	}
	fmt.Fprintf(e.stderr, "Disconnected %s (%s): access revoked and removed from mailcal.\n", strings.ToLower(pos[1]), provider)
	return nil
}

func manualRevokeURL(provider string) string {
	if provider == "microsoft" {
		return "https://myaccount.microsoft.com/ → Privacy → Apps and services"
	}
	return "https://myaccount.google.com/permissions"
}

// disconnect revokes a grant upstream and deletes it locally. The returned
// revokeErr is the revocation's failure, if any; err means nothing changed.
func (a *app) disconnect(ctx context.Context, tenantName, provider, account string) (revokeErr, err error) {
	g, err := a.grants.Get(ctx, tenantName, provider, account)
	if err != nil {
		return nil, err
	}
	if g.RefreshToken != "" {
		// A provider revokes the app's whole grant for the person (Google
		// does), so revoking here would also cut off another tenant that
		// connected the same account.
		shared, err := a.connectedElsewhere(ctx, g)
		switch {
		case err != nil:
			return nil, err
		case shared:
			revokeErr = errSharedGrant
		default:
			revokeErr = a.flows.Revoke(ctx, provider, g.RefreshToken)
		}
	}
	if err := a.grants.Delete(ctx, tenantName, provider, account); err != nil && !errors.Is(err, grants.ErrNotFound) {
		return nil, err
	}
	a.forget(g)
	return revokeErr, nil
}

// errSharedGrant: the account was deleted here but not revoked upstream.
var errSharedGrant = errors.New("access at the provider was kept, because the same account is connected to another tenant of this mailcal and revoking would disconnect it there too")

// connectedElsewhere reports whether another tenant has connected the same
// provider account.
func (a *app) connectedElsewhere(ctx context.Context, g grants.Grant) (bool, error) {
	names, err := a.tenants(ctx)
	if err != nil {
		return false, err
	}
	for _, name := range names {
		if name == g.Tenant {
			continue
		}
		gs, err := a.grants.List(ctx, name)
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
