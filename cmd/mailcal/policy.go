package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

const policyHelp = `
Usage:
  mailcal policy show [--tenant NAME] [--json]
  mailcal policy set [--tenant NAME] [--allow-recipients LIST] [--max-sends-per-day N]
                     [--max-recipients N] [--drafts-only[=false]] [--confirm-sends off|elicit|required]
                     [--allowed-signins LIST] [--shared-accounts true|false]

A tenant's guard rails, kept in the store: they hold across restarts and for
every server sharing it (a running server sees a change within seconds).
set changes only the fields given; an empty LIST ("") clears a list, 0 lifts
a limit.

  recipient_allowlist  addresses and *@domain (that domain only, not its
                       subdomains) that mail and event invitations may go to;
                       anything else is refused, naming the addresses. Empty:
                       anyone.
  max_sends_per_day    sends per account per UTC day (messages, and events
                       with attendees), counted in the store; 0: no limit.
  max_recipients       recipients of one message (to + cc + bcc) or attendees
                       of one event; 0: no limit.
  drafts_only          the tools that send are not served (send_email is left
                       out of the tool list; events with attendees are refused).
  confirm_sends        off; elicit: ask the person before each send through
                       MCP elicitation when the client supports it; required:
                       ask, and refuse when the client cannot.
  allowed_signins      addresses and *@domain that may sign in through
                       mailcal's OAuth server for this tenant; empty: nobody.
  shared_accounts      true: a person signed in through mailcal's OAuth
                       server may use every account of the tenant; false
                       (the default): only the account they signed in with.
`

// listFlag is a comma-separated list flag that records whether it was given.
type listFlag struct {
	set  bool
	list []string
}

func (l *listFlag) String() string { return strings.Join(l.list, ",") }

func (l *listFlag) Set(s string) error {
	l.set, l.list = true, nil
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			l.list = append(l.list, e)
		}
	}
	return nil
}

func cmdPolicy(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("policy", policyHelp, e)
	tenantName := fs.String("tenant", tenant.Default, "tenant whose policy to show or set")
	asJSON := fs.Bool("json", false, "show: print JSON (the shape of GET /api/policy)")
	var allow, signins listFlag
	fs.Var(&allow, "allow-recipients", "set: recipient_allowlist, comma-separated addresses and *@domain (\"\" clears it)")
	fs.Var(&signins, "allowed-signins", "set: allowed_signins, comma-separated addresses and *@domain (\"\" clears it)")
	maxSends := fs.Int("max-sends-per-day", 0, "set: max_sends_per_day (0: no limit)")
	maxRcpt := fs.Int("max-recipients", 0, "set: max_recipients (0: no limit)")
	draftsOnly := fs.Bool("drafts-only", false, "set: drafts_only (--drafts-only=false turns it off)")
	confirm := fs.String("confirm-sends", "", "set: confirm_sends: off, elicit or required")
	shared := fs.String("shared-accounts", "", "set: shared_accounts: true or false")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: policy needs a subcommand: show or set", errUsage)
	}
	if err := tenant.ValidateName(*tenantName); err != nil {
		return fmt.Errorf("%w: --tenant: %v", errUsage, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	a, err := newApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.close()
	if *tenantName != tenant.Default {
		if _, err := a.tenants.Get(ctx, *tenantName); err != nil {
			return fmt.Errorf("tenant %q: %w (create it with `mailcal tenant add %s`)", *tenantName, err, *tenantName)
		}
	}
	switch sub, rest := pos[0], pos[1:]; sub {
	case "show", "get":
		if err := wantArgs("policy show", rest); err != nil {
			return err
		}
		for _, n := range []string{"allow-recipients", "allowed-signins", "max-sends-per-day", "max-recipients", "drafts-only", "confirm-sends", "shared-accounts"} {
			if given[n] {
				return fmt.Errorf("%w: --%s is a flag of policy set", errUsage, n)
			}
		}
		p, err := a.policies.Read(ctx, *tenantName)
		if err != nil {
			return err
		}
		return printPolicy(e, *tenantName, p, *asJSON)
	case "set":
		if err := wantArgs("policy set", rest); err != nil {
			return err
		}
		if given["json"] {
			return fmt.Errorf("%w: --json is a flag of policy show", errUsage)
		}
		var sharedAccounts bool
		if given["shared-accounts"] {
			v, err := strconv.ParseBool(*shared)
			if err != nil {
				return fmt.Errorf("%w: --shared-accounts %q: want true or false", errUsage, clipArg(*shared))
			}
			sharedAccounts = v
		}
		change := func(p *policy.Policy) {
			if allow.set {
				p.RecipientAllowlist = allow.list
			}
			if signins.set {
				p.AllowedSignins = signins.list
			}
			if given["max-sends-per-day"] {
				p.MaxSendsPerDay = *maxSends
			}
			if given["max-recipients"] {
				p.MaxRecipients = *maxRcpt
			}
			if given["drafts-only"] {
				p.DraftsOnly = *draftsOnly
			}
			if given["confirm-sends"] {
				p.ConfirmSends = *confirm
			}
			if given["shared-accounts"] {
				p.SharedAccounts = sharedAccounts
			}
		}
		if len(given) == 0 || (len(given) == 1 && given["tenant"]) {
			return fmt.Errorf("%w: policy set needs at least one field to change (see mailcal policy --help)", errUsage)
		}
		p, err := updatePolicy(ctx, a.policies, *tenantName, change)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Policy of tenant %q saved (version %d).\n", *tenantName, p.Version)
		return printPolicy(e, *tenantName, p, false)
	default:
		return fmt.Errorf("%w: unknown policy subcommand %q: use show or set", errUsage, sub)
	}
}

// updatePolicy applies change to the stored policy as a compare-and-set,
// reading again when another writer came first (a few times).
func updatePolicy(ctx context.Context, ps *policy.Store, tenantName string, change func(*policy.Policy)) (policy.Policy, error) {
	for range 5 {
		p, err := ps.Read(ctx, tenantName)
		if err != nil {
			return policy.Policy{}, err
		}
		change(&p)
		p, err = ps.Put(ctx, tenantName, p)
		if !errors.Is(err, store.ErrConflict) {
			return p, err
		}
	}
	return policy.Policy{}, fmt.Errorf("the policy of tenant %q kept changing while it was being saved; run the command again", tenantName)
}

// clipArg shortens a flag's value for an error message.
func clipArg(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func printPolicy(e env, tenantName string, p policy.Policy, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	orNone := func(l []string, none string) string {
		if len(l) == 0 {
			return none
		}
		return strings.Join(l, ", ")
	}
	limit := func(n int) string {
		if n == 0 {
			return "no limit"
		}
		return strconv.Itoa(n)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant\t%s\n", tenantName)
	fmt.Fprintf(tw, "recipient_allowlist\t%s\n", orNone(p.RecipientAllowlist, "anyone"))
	fmt.Fprintf(tw, "max_sends_per_day\t%s\n", limit(p.MaxSendsPerDay))
	fmt.Fprintf(tw, "max_recipients\t%s\n", limit(p.MaxRecipients))
	fmt.Fprintf(tw, "drafts_only\t%t\n", p.DraftsOnly)
	fmt.Fprintf(tw, "confirm_sends\t%s\n", p.ConfirmSends)
	fmt.Fprintf(tw, "allowed_signins\t%s\n", orNone(p.AllowedSignins, "nobody (OAuth sign-in is off)"))
	fmt.Fprintf(tw, "shared_accounts\t%t\n", p.SharedAccounts)
	if p.Version > 0 {
		fmt.Fprintf(tw, "version\t%d (updated %s)\n", p.Version, p.UpdatedAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(tw, "version\t0 (never set: no limits)\n")
	}
	return tw.Flush()
}
