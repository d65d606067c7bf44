package keyring

// Policies and counters as keyring items:
//
//	policy/<tenant>                                  {"tenant","version","recipient_allowlist","max_sends_per_day",
//	                                                  "max_recipients","drafts_only","confirm_sends","allowed_signins",
//	                                                  "shared_accounts","updated_at"}
//	counter/<name>/<tenant>/<provider>/<account>     {"tenant","provider","account","name","period","count"}
//
// "shared_accounts" is left out when false, so an item written before the
// field existed reads as false, and a policy that does not share accounts
// is written as older releases wrote it.
//
// A counter's account is hashed into its key as a grant's is (grantKey) when
// it cannot be part of one. A
// policy within store.ValidPolicy's limits fits in an item: its lists take
// at most 1200 bytes, the rest about 300.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

const (
	policyPrefix  = "policy/"
	counterPrefix = "counter/"
)

func policyKey(tenant string) string { return policyPrefix + tenant }

// counterKey is the key a counter is stored under: its account hashed when
// the plain key would not be a valid one (as grantKey does).
func counterKey(k store.CounterKey) string {
	base := counterPrefix + k.Name + "/" + k.Tenant + "/" + k.Provider + "/"
	if key := base + k.Account; validateKey(key) == nil {
		return key
	}
	sum := sha256.Sum256([]byte(k.Account))
	return base + hashedAccount + "/" + hex.EncodeToString(sum[:])
}

type policyItem struct {
	Tenant             string    `json:"tenant"`
	Version            int64     `json:"version"`
	RecipientAllowlist []string  `json:"recipient_allowlist,omitempty"`
	MaxSendsPerDay     int       `json:"max_sends_per_day,omitempty"`
	MaxRecipients      int       `json:"max_recipients,omitempty"`
	DraftsOnly         bool      `json:"drafts_only,omitempty"`
	ConfirmSends       string    `json:"confirm_sends,omitempty"`
	AllowedSignins     []string  `json:"allowed_signins,omitempty"`
	SharedAccounts     bool      `json:"shared_accounts,omitempty"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func decodePolicy(key string, data []byte) (store.Policy, error) {
	var it policyItem
	if err := json.Unmarshal(data, &it); err != nil {
		return store.Policy{}, damaged(key, err)
	}
	if store.ValidTenant(it.Tenant) != nil || policyKey(it.Tenant) != key {
		return store.Policy{}, mismatch(key, fmt.Sprintf("the policy of %q", clip(it.Tenant)))
	}
	if it.Version <= 0 {
		return store.Policy{}, &itemError{key: key, why: "is damaged: its version is not positive"}
	}
	return store.Policy{
		Tenant: it.Tenant, Version: it.Version, RecipientAllowlist: it.RecipientAllowlist,
		MaxSendsPerDay: it.MaxSendsPerDay, MaxRecipients: it.MaxRecipients, DraftsOnly: it.DraftsOnly,
		ConfirmSends: it.ConfirmSends, AllowedSignins: it.AllowedSignins, SharedAccounts: it.SharedAccounts,
		UpdatedAt: it.UpdatedAt.UTC(),
	}, nil
}

// getPolicy reads a policy; nil if there is none.
func (s *Store) getPolicy(ctx context.Context, tenant string) (*store.Policy, error) {
	data, err := s.read(ctx, policyKey(tenant))
	if err != nil || data == nil {
		return nil, err
	}
	p, err := decodePolicy(policyKey(tenant), data)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPolicy implements store.Policies.
func (s *Store) GetPolicy(ctx context.Context, tenant string) (store.Policy, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return store.Policy{}, err
	}
	p, err := s.getPolicy(ctx, tenant)
	if err != nil {
		return store.Policy{}, err
	}
	if p == nil {
		return store.Policy{}, fmt.Errorf("policy of %s: %w", tenant, store.ErrNotFound)
	}
	return *p, nil
}

// PutPolicy implements store.Policies: a compare-and-set under the store lock.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy) (int64, error) {
	if err := store.ValidPolicy(p); err != nil {
		return 0, err
	}
	data, err := marshal(policyItem{
		Tenant: p.Tenant, Version: p.Version + 1, RecipientAllowlist: p.RecipientAllowlist,
		MaxSendsPerDay: p.MaxSendsPerDay, MaxRecipients: p.MaxRecipients, DraftsOnly: p.DraftsOnly,
		ConfirmSends: p.ConfirmSends, AllowedSignins: p.AllowedSignins, SharedAccounts: p.SharedAccounts,
		UpdatedAt: p.UpdatedAt.UTC(),
	})
	if err != nil {
		return 0, err
	}
	if len(data) > maxValueLen {
		return 0, tooLarge("the policy of "+p.Tenant, len(data), "its lists")
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	cur, err := s.getPolicy(ctx, p.Tenant)
	if err != nil {
		return 0, err // a damaged item: DeletePolicy removes it
	}
	var stored int64
	if cur != nil {
		stored = cur.Version
	}
	if stored != p.Version {
		return 0, fmt.Errorf("policy of %s: version %d, the write expected %d: %w", p.Tenant, stored, p.Version, store.ErrConflict)
	}
	if err := s.kv.Set(ctx, policyKey(p.Tenant), data); err != nil {
		return 0, err
	}
	return p.Version + 1, nil
}

// DeletePolicy implements store.Policies; it deletes a damaged item too.
func (s *Store) DeletePolicy(ctx context.Context, tenant string) error {
	if err := store.ValidTenant(tenant); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	err = s.kv.Delete(ctx, policyKey(tenant))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("policy of %s: %w", tenant, store.ErrNotFound)
	}
	return err
}

type counterItem struct {
	Tenant   string `json:"tenant"`
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Name     string `json:"name"`
	Period   string `json:"period"`
	Count    int64  `json:"count"`
}

// getCount reads k's count in period: 0 when there is no item or it holds
// another period.
func (s *Store) getCount(ctx context.Context, k store.CounterKey, period string) (int64, error) {
	key := counterKey(k)
	data, err := s.read(ctx, key)
	if err != nil || data == nil {
		return 0, err
	}
	var it counterItem
	if err := json.Unmarshal(data, &it); err != nil {
		return 0, damaged(key, err)
	}
	got := store.CounterKey{GrantKey: store.GrantKey{Tenant: it.Tenant, Provider: it.Provider, Account: it.Account}, Name: it.Name}
	if got != k {
		return 0, mismatch(key, fmt.Sprintf("counter %q", clip(got.String())))
	}
	if it.Count < 0 {
		return 0, &itemError{key: key, why: "is damaged: a negative count"}
	}
	if it.Period != period {
		return 0, nil
	}
	return it.Count, nil
}

// IncrementCounter implements store.Counters: a read and a write under the
// store lock, so atomic among the processes of the keyring. A damaged item
// fails the call (fail closed: a send cap that cannot be read is not
// passed); deleting the item restarts the count.
func (s *Store) IncrementCounter(ctx context.Context, k store.CounterKey, period string, limit int64) (int64, error) {
	if err := store.ValidCounter(k, period); err != nil {
		return 0, err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n, err := s.getCount(ctx, k, period)
	if err != nil {
		return 0, err
	}
	if n >= limit {
		return n, fmt.Errorf("counter %s: %d counted in %s, the limit is %d: %w", k, n, period, limit, store.ErrLimit)
	}
	data, err := marshal(counterItem{Tenant: k.Tenant, Provider: k.Provider, Account: k.Account, Name: k.Name, Period: period, Count: n + 1})
	if err != nil {
		return 0, err
	}
	if err := s.kv.Set(ctx, counterKey(k), data); err != nil {
		return 0, err
	}
	return n + 1, nil
}

// GetCounter implements store.Counters.
func (s *Store) GetCounter(ctx context.Context, k store.CounterKey, period string) (int64, error) {
	if err := store.ValidCounter(k, period); err != nil {
		return 0, err
	}
	return s.getCount(ctx, k, period)
}
