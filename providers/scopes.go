package providers

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Scope names, the same for every provider; each Spec maps them to its own.
const (
	MailRead      = "mail.read"
	MailSend      = "mail.send"
	MailModify    = "mail.modify"
	CalendarRead  = "calendar.read"
	CalendarWrite = "calendar.write"
)

// AllScopes lists the scope names in a stable order.
var AllScopes = []string{MailRead, MailSend, MailModify, CalendarRead, CalendarWrite}

// DefaultScopes are asked for when a connection names none: what every tool
// served by default needs. ReadOnlyScopes are those of a server started
// with --read-only, which serves only tools that change nothing.
var (
	DefaultScopes  = []string{MailRead, MailSend, MailModify, CalendarRead, CalendarWrite}
	ReadOnlyScopes = []string{MailRead, CalendarRead}
)

func validScope(s string) bool { return slices.Contains(AllScopes, s) }

// ParseScopes parses a comma-separated scope LIST. Empty means the default
// (DefaultScopes, or ReadOnlyScopes with readOnly). limit, if not empty,
// restricts the names allowed (a mail-only alias, say).
func ParseScopes(list string, limit []string, readOnly bool) ([]string, error) {
	allowed := AllScopes
	if len(limit) > 0 {
		allowed = limit
	}
	if strings.TrimSpace(list) == "" {
		def := DefaultScopes
		if readOnly {
			def = ReadOnlyScopes
		}
		var out []string
		for _, s := range def {
			if slices.Contains(allowed, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allowed, s) {
			return nil, fmt.Errorf("unknown scope %q: use a comma-separated list of %s", s, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scope given: use a comma-separated list of %s", strings.Join(allowed, ", "))
	}
	sort.Slice(out, func(i, j int) bool { return slices.Index(AllScopes, out[i]) < slices.Index(AllScopes, out[j]) })
	return out, nil
}
