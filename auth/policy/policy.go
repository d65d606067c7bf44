// Package policy is a tenant's guard rails: who mail and invitations may go
// to, how many sends a day an account may make, how many recipients a
// message may have, whether only drafts may be written, whether each send is
// confirmed by the person, and who may sign in. A policy is kept in the store
// (store.Policies), so it holds across restarts and processes; Store reads it
// through a cache that serves warm calls from memory and sees its own writes
// at once; the sends of each account are counted in the store
// (store.Counters), one atomic increment-if-below per send.
//
// The tools enforce it; this package says what a policy is, checks it and
// answers the questions enforcement asks.
package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Confirmation modes of ConfirmSends.
const (
	ConfirmOff      = "off"      // send without asking
	ConfirmElicit   = "elicit"   // ask the person through MCP elicitation when the client can; send without asking when it cannot
	ConfirmRequired = "required" // ask; refuse to send when the client cannot ask
)

// Limits of a policy's numbers.
const (
	MaxSendsPerDayLimit = 100000
	MaxRecipientsLimit  = 1000
)

// Policy is a tenant's guard rails as the CLI and the REST API show and take
// them. The zero value sets no limit.
type Policy struct {
	// RecipientAllowlist: addresses and *@domain; empty: anyone.
	RecipientAllowlist []string `json:"recipient_allowlist"`
	// MaxSendsPerDay per account, counted per UTC day; 0: no limit.
	MaxSendsPerDay int `json:"max_sends_per_day"`
	// MaxRecipients per message or event (to + cc + bcc, or attendees); 0: no limit.
	MaxRecipients int `json:"max_recipients"`
	// DraftsOnly: the tools that send are not served.
	DraftsOnly bool `json:"drafts_only"`
	// ConfirmSends: ConfirmOff ("" reads as off), ConfirmElicit or ConfirmRequired.
	ConfirmSends string `json:"confirm_sends"`
	// AllowedSignins: addresses and *@domain that may sign in through
	// mailcal's OAuth server for this tenant; empty: nobody.
	AllowedSignins []string `json:"allowed_signins"`
	// SharedAccounts: a person signed in through mailcal's OAuth server may
	// use every account of the tenant (name it in `account`, "all" means all
	// of them, list_accounts lists them); false: only their own account.
	SharedAccounts bool `json:"shared_accounts"`
	// Version is the store's (0: never stored); a write names the version
	// it read.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Normalize trims and lower-cases the lists, drops repeated entries, makes
// empty lists non-nil and an empty ConfirmSends "off", then checks the
// policy. Errors name the field.
func (p *Policy) Normalize() error {
	var err error
	if p.RecipientAllowlist, err = normalizeList("recipient_allowlist", p.RecipientAllowlist); err != nil {
		return err
	}
	if p.AllowedSignins, err = normalizeList("allowed_signins", p.AllowedSignins); err != nil {
		return err
	}
	if p.ConfirmSends == "" {
		p.ConfirmSends = ConfirmOff
	}
	switch p.ConfirmSends {
	case ConfirmOff, ConfirmElicit, ConfirmRequired:
	default:
		return fmt.Errorf("confirm_sends: %q is not one of off, elicit, required", clip(p.ConfirmSends))
	}
	if p.MaxSendsPerDay < 0 || p.MaxSendsPerDay > MaxSendsPerDayLimit {
		return fmt.Errorf("max_sends_per_day: %d; give 0 (no limit) to %d", p.MaxSendsPerDay, MaxSendsPerDayLimit)
	}
	if p.MaxRecipients < 0 || p.MaxRecipients > MaxRecipientsLimit {
		return fmt.Errorf("max_recipients: %d; give 0 (no limit) to %d", p.MaxRecipients, MaxRecipientsLimit)
	}
	if p.Version < 0 {
		return fmt.Errorf("version: %d is negative", p.Version)
	}
	n := 0
	for _, e := range slices.Concat(p.RecipientAllowlist, p.AllowedSignins) {
		n += len(e) + 3
	}
	if k := len(p.RecipientAllowlist) + len(p.AllowedSignins); k > store.MaxPolicyEntries || n > store.MaxPolicyListBytes {
		return fmt.Errorf("recipient_allowlist and allowed_signins: %d entries of %d bytes together; at most %d entries and %d bytes (use *@domain entries)",
			k, n, store.MaxPolicyEntries, store.MaxPolicyListBytes)
	}
	return nil
}

func normalizeList(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, e := range in {
		e = strings.ToLower(strings.TrimSpace(e))
		if err := checkEntry(e); err != nil {
			return nil, fmt.Errorf("%s[%d]: %q %s", field, i, clip(e), err)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// checkEntry checks a lower-case list entry: local@domain or *@domain, the
// domain of labels separated by dots, no spaces, quotes or angle brackets.
func checkEntry(e string) error {
	local, domain, ok := strings.Cut(e, "@")
	switch {
	case e == "":
		return fmt.Errorf("is empty")
	case len(e) > store.MaxAccountLen:
		return fmt.Errorf("is longer than %d characters", store.MaxAccountLen)
	case !ok || local == "" || strings.Contains(domain, "@"):
		return fmt.Errorf("is not an address (name@example.com) or a domain (*@example.com)")
	case strings.ContainsAny(e, " \t\r\n\"<>,;()[]\\") || strings.ContainsRune(local[:len(local)-1], '*') || (strings.HasSuffix(local, "*") && local != "*"):
		return fmt.Errorf("is not an address (name@example.com) or a domain (*@example.com): \"*\" stands only for a whole local part")
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("has a domain that is not a host name like example.com")
		}
	}
	return nil
}

// Allows reports whether addr (an email address, any case) is a recipient
// the allowlist permits: listed, or in a listed *@domain (that domain
// exactly, not its subdomains). An empty allowlist permits everyone.
func (p *Policy) Allows(addr string) bool {
	if len(p.RecipientAllowlist) == 0 {
		return true
	}
	addr = strings.ToLower(strings.TrimSpace(addr))
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return false
	}
	for _, e := range p.RecipientAllowlist {
		if e == addr || e == "*@"+domain {
			return true
		}
	}
	return false
}

// Refused returns the addresses the allowlist does not permit, each once,
// in their order.
func (p *Policy) Refused(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if !p.Allows(a) && !slices.Contains(out, strings.ToLower(a)) {
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

// Day is the period sends are counted in: the UTC day of t, and when the
// next one starts.
func Day(t time.Time) (period string, next time.Time) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return start.Format(time.DateOnly), start.AddDate(0, 0, 1)
}

func fromStore(sp store.Policy) Policy {
	p := Policy{
		RecipientAllowlist: slices.Clone(sp.RecipientAllowlist), MaxSendsPerDay: sp.MaxSendsPerDay,
		MaxRecipients: sp.MaxRecipients, DraftsOnly: sp.DraftsOnly, ConfirmSends: sp.ConfirmSends,
		AllowedSignins: slices.Clone(sp.AllowedSignins), SharedAccounts: sp.SharedAccounts, Version: sp.Version, UpdatedAt: sp.UpdatedAt,
	}
	if p.RecipientAllowlist == nil {
		p.RecipientAllowlist = []string{}
	}
	if p.AllowedSignins == nil {
		p.AllowedSignins = []string{}
	}
	if p.ConfirmSends == "" {
		p.ConfirmSends = ConfirmOff
	}
	return p
}

func toStore(tenant string, p Policy) store.Policy {
	return store.Policy{
		Tenant: tenant, Version: p.Version, RecipientAllowlist: p.RecipientAllowlist, MaxSendsPerDay: p.MaxSendsPerDay,
		MaxRecipients: p.MaxRecipients, DraftsOnly: p.DraftsOnly, ConfirmSends: p.ConfirmSends,
		AllowedSignins: p.AllowedSignins, SharedAccounts: p.SharedAccounts, UpdatedAt: p.UpdatedAt,
	}
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
