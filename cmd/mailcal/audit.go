package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/tools/audit"
)

const auditHelp = `
Usage: mailcal audit [--tenant NAME] [--since DURATION|TIME] [--json]

Print the audit log, the file MAILCAL_AUDIT_LOG names: one record per
state-changing tool call (sending, creating events, connecting accounts),
with its time, tenant, account, provider, tool, outcome (ok, refused by the
tenant's policy or the person, error), the ids the provider gave, the
recipients and the subject. Bodies, attachments and tokens are never
recorded. Without --tenant every tenant's records are shown.

--since takes a duration back from now (24h, 90m) or a time (2026-11-28 or
2026-11-28T09:00:00Z).
`

func cmdAudit(ctx context.Context, args []string, e env, c *config) error {
	fs := newFlags("audit", auditHelp, e)
	tenantName := fs.String("tenant", "", "show only this tenant's records")
	since := fs.String("since", "", "show records from this time on: a duration back from now (24h) or a time (2026-11-28, RFC 3339)")
	asJSON := fs.Bool("json", false, "print the records as they are stored, one JSON object a line")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("audit", pos); err != nil {
		return err
	}
	if *tenantName != "" {
		if err := tenant.ValidateName(*tenantName); err != nil {
			return fmt.Errorf("%w: --tenant: %v", errUsage, err)
		}
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("%w: --since: %v", errUsage, err)
	}
	switch c.auditLog {
	case "":
		return fmt.Errorf("no audit log: set %s to a file for the server to write and for this command to read", envAuditLog)
	case "-":
		return fmt.Errorf("%s is \"-\": the server writes its audit records to its stderr, which this command cannot read; set it to a file", envAuditLog)
	}
	f, err := os.Open(c.auditLog)
	if err != nil {
		return fmt.Errorf("%s: %w", envAuditLog, err)
	}
	defer f.Close()
	keep := func(r audit.Record) bool {
		return (*tenantName == "" || r.Tenant == *tenantName) && !r.Time.Before(from)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "TIME\tTENANT\tTOOL\tOUTCOME\tACCOUNT\tSIGNED IN\tRECIPIENTS\tSUBJECT\tIDS")
	}
	n := 0
	skipped, err := audit.Read(f, keep, func(r audit.Record, line []byte) error {
		n++
		if *asJSON {
			_, err := fmt.Fprintf(e.stdout, "%s\n", line)
			return err
		}
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Tenant, r.Tool, r.Outcome,
			orDash(r.Account), orDash(r.SignedIn), orDash(strings.Join(r.Recipients, ",")), orDash(oneLine(r.Subject)), orDash(strings.Join(r.IDs, ",")))
		return err
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.auditLog, err)
	}
	if !*asJSON {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if skipped > 0 {
		fmt.Fprintf(e.stderr, "%d line(s) of %s are not audit records and were skipped.\n", skipped, c.auditLog)
	}
	if n == 0 {
		fmt.Fprintln(e.stderr, "No records match.")
	}
	return nil
}

// parseSince reads --since: "" (everything), a duration back from now, a
// date (midnight UTC) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is negative; give how far back, e.g. 24h", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 90m) nor a time (2026-11-28 or 2026-11-28T09:00:00Z)", s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a subject on its row of the table.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = strings.ToValidUTF8(s[:60], "") + "…"
	}
	return s
}
