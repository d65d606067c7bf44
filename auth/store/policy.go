package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// ErrLimit: a counter is at its limit; nothing was counted.
var ErrLimit = errors.New("limit reached")

// Policy is a tenant's guard rails as stored. The meaning of each field is
// the policy layer's (auth/policy); the store checks only what every
// implementation must be able to hold (ValidPolicy).
type Policy struct {
	Tenant string
	// Version is the store's: 0 for a policy never stored; each write stores
	// Version+1.
	Version            int64
	RecipientAllowlist []string
	MaxSendsPerDay     int
	MaxRecipients      int
	DraftsOnly         bool
	ConfirmSends       string
	AllowedSignins     []string
	// SharedAccounts: people signed in through mailcal's OAuth server may
	// use every account of the tenant, not only their own.
	SharedAccounts bool
	UpdatedAt      time.Time
}

// Policies keeps one policy per tenant.
type Policies interface {
	// GetPolicy returns a tenant's policy; ErrNotFound if none is stored.
	GetPolicy(ctx context.Context, tenant string) (Policy, error)
	// PutPolicy writes p if the stored policy's version is p.Version (0: no
	// policy may be stored) and returns the new version, p.Version+1.
	// ErrConflict otherwise, and nothing is written.
	PutPolicy(ctx context.Context, p Policy) (int64, error)
	// DeletePolicy deletes a tenant's policy, whatever its version (a damaged
	// record too); ErrNotFound if there is none.
	DeletePolicy(ctx context.Context, tenant string) error
}

// CounterKey names one counter of an account, such as its sends.
type CounterKey struct {
	GrantKey
	Name string // a-z, 0-9 and '-', like a provider name
}

func (k CounterKey) String() string { return k.GrantKey.String() + "#" + k.Name }

// Counters keeps per-account counters over periods (a UTC day, say). A
// counter holds one period: counting in another period starts it again from
// zero, so a counter never grows past one record.
type Counters interface {
	// IncrementCounter counts one event of k in period if fewer than limit
	// are counted there, and returns the count after it. At the limit it
	// counts nothing and returns the count with an error wrapping ErrLimit.
	// The check and the increment are one atomic step among every process
	// that shares the store: N callers racing for the last M slots get
	// exactly M successes.
	IncrementCounter(ctx context.Context, k CounterKey, period string, limit int64) (int64, error)
	// GetCounter returns the count of k in period (0 when nothing is counted
	// there).
	GetCounter(ctx context.Context, k CounterKey, period string) (int64, error)
}

// Limits of a policy every implementation holds. The lists' bytes are
// counted together (MaxPolicyListBytes, each entry counted with 3 bytes of
// JSON around it) so that a policy fits in one keyring item.
const (
	MaxPolicyEntries   = 64
	MaxPolicyListBytes = 1200
	MaxPeriodLen       = 32
)

var counterNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ValidPolicy checks a policy before it is written: a valid tenant, no
// negative number, lists within the limits, text every store keeps.
func ValidPolicy(p Policy) error {
	if err := ValidTenant(p.Tenant); err != nil {
		return err
	}
	switch {
	case p.Version < 0:
		return fmt.Errorf("policy of %s: negative version", p.Tenant)
	case p.MaxSendsPerDay < 0 || p.MaxRecipients < 0:
		return fmt.Errorf("policy of %s: a negative limit", p.Tenant)
	case len(p.RecipientAllowlist)+len(p.AllowedSignins) > MaxPolicyEntries:
		return fmt.Errorf("policy of %s: %d list entries; at most %d", p.Tenant, len(p.RecipientAllowlist)+len(p.AllowedSignins), MaxPolicyEntries)
	case !validText(p.ConfirmSends) || len(p.ConfirmSends) > 16:
		return fmt.Errorf("policy of %s: confirm_sends %q is not a mode", p.Tenant, clip(p.ConfirmSends))
	}
	n := 0
	for _, list := range [][]string{p.RecipientAllowlist, p.AllowedSignins} {
		for _, e := range list {
			if e == "" || len(e) > MaxAccountLen || !validText(e) {
				return fmt.Errorf("policy of %s: list entry %q is empty, longer than %d bytes, not valid UTF-8 or holds a NUL", p.Tenant, clip(e), MaxAccountLen)
			}
			n += len(e) + 3
		}
	}
	if n > MaxPolicyListBytes {
		return fmt.Errorf("policy of %s: its lists take %d bytes; at most %d", p.Tenant, n, MaxPolicyListBytes)
	}
	return nil
}

// ValidCounter checks a counter key and period.
func ValidCounter(k CounterKey, period string) error {
	if err := ValidGrantKey(k.GrantKey); err != nil {
		return err
	}
	if !counterNameRE.MatchString(k.Name) {
		return fmt.Errorf("invalid counter name %q", clip(k.Name))
	}
	if period == "" || len(period) > MaxPeriodLen || !validText(period) {
		return fmt.Errorf("counter %s: invalid period %q", k, clip(period))
	}
	return nil
}
