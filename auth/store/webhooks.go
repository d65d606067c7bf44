package store

import (
	"context"
	"fmt"
	"time"
)

// Webhook is a tenant's webhook registration.
type Webhook struct {
	Tenant string
	URL    string
	// Secret is the signing secret as the caller sealed it (it must be
	// usable again to sign, so it is sealed, not hashed).
	Secret    []byte
	CreatedAt time.Time
	// PreviousSecret is the secret Secret replaced, sealed like it, still
	// signing beside it until PreviousUntil, so that a receiver has a
	// while to deploy the new one; empty (and PreviousUntil zero) when
	// there is none. Past PreviousUntil it is no longer used.
	PreviousSecret []byte
	PreviousUntil  time.Time
}

// Delivery is one event waiting in the outbox for its tenant's webhook.
type Delivery struct {
	// ID is the event's id, unique in the store.
	ID     string
	Tenant string
	// Key names the transition the event reports (account and grant
	// version, say): one delivery per tenant and key, ever, whichever
	// process adds it first.
	Key       string
	Body      []byte
	CreatedAt time.Time
	// Attempts made so far, NextAt when the next is due, LastError the
	// last one's failure (no secret in it: the caller's to ensure).
	Attempts  int
	NextAt    time.Time
	LastError string
	// Lease is set by ClaimDeliveries: the claimant's proof, for Complete
	// and Retry.
	Lease string
}

// Webhooks keeps webhook registrations and the outbox of their deliveries.
// An optional contract (store/memory and store/postgres have it; the
// keyring, for one machine, does not, and webhooks are refused there).
type Webhooks interface {
	// GetWebhook returns a tenant's webhook; ErrNotFound if it has none.
	GetWebhook(ctx context.Context, tenant string) (Webhook, error)
	// PutWebhook creates or replaces a tenant's webhook.
	PutWebhook(ctx context.Context, w Webhook) error
	// DeleteWebhook removes a tenant's webhook and its deliveries not yet
	// made; ErrNotFound if it has none.
	DeleteWebhook(ctx context.Context, tenant string) error
	// AddDelivery queues a delivery due at d.NextAt; ErrExists if the
	// tenant already has one with d.Key or d.ID (queued, made or dropped,
	// until pruned), atomically among every process sharing the store.
	AddDelivery(ctx context.Context, d Delivery) error
	// ClaimDeliveries leases up to max deliveries due at now (NextAt not
	// after now, not completed, no lease running) for lease, the oldest
	// due first, each to one claimant among every process: a delivery is
	// claimed again only once its lease has passed (its claimant died).
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Delivery, error)
	// CompleteDelivery marks a claimed delivery done (made, or dropped),
	// keeping its key against a second AddDelivery. ErrConflict if the
	// lease is not the delivery's current one, ErrNotFound if there is
	// no such delivery.
	CompleteDelivery(ctx context.Context, id, lease string) error
	// RetryDelivery records a failed attempt of a claimed delivery
	// (Attempts+1, lastError) and releases it until next. Errors as
	// CompleteDelivery's.
	RetryDelivery(ctx context.Context, id, lease string, next time.Time, lastError string) error
	// PruneDeliveries removes every delivery created before before, done
	// or not, and returns how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Limits of the webhook records.
const (
	MaxWebhookURLLen   = 2048
	MaxDeliveryBodyLen = 16 << 10
	MaxDeliveryKeyLen  = 200
	MaxDeliveryIDLen   = 64
	MaxDeliveryError   = 512
)

// ValidWebhook checks a webhook before it is written. The URL's shape is
// the webhook layer's to check; the store checks its size and text.
func ValidWebhook(w Webhook) error {
	if err := ValidTenant(w.Tenant); err != nil {
		return err
	}
	switch {
	case w.URL == "" || len(w.URL) > MaxWebhookURLLen || !validText(w.URL):
		return fmt.Errorf("webhook of %s: the URL must be 1 to %d bytes of valid UTF-8", w.Tenant, MaxWebhookURLLen)
	case len(w.Secret) == 0 || len(w.Secret) > MaxSecretLen:
		return fmt.Errorf("webhook of %s: the secret must be 1 to %d bytes", w.Tenant, MaxSecretLen)
	case len(w.PreviousSecret) > MaxSecretLen:
		return fmt.Errorf("webhook of %s: the previous secret must be at most %d bytes", w.Tenant, MaxSecretLen)
	case len(w.PreviousSecret) == 0 && !w.PreviousUntil.IsZero():
		return fmt.Errorf("webhook of %s: a previous secret's end without a previous secret", w.Tenant)
	case len(w.PreviousSecret) != 0 && w.PreviousUntil.IsZero():
		return fmt.Errorf("webhook of %s: a previous secret needs its end (PreviousUntil)", w.Tenant)
	}
	return nil
}

// ValidDelivery checks a delivery before it is added.
func ValidDelivery(d Delivery) error {
	if err := ValidTenant(d.Tenant); err != nil {
		return err
	}
	switch {
	case !validID(d.ID, MaxDeliveryIDLen):
		return fmt.Errorf("delivery of %s: the id must be 1 to %d printable ASCII characters", d.Tenant, MaxDeliveryIDLen)
	case !validID(d.Key, MaxDeliveryKeyLen):
		return fmt.Errorf("delivery %s: the key must be 1 to %d printable ASCII characters", d.ID, MaxDeliveryKeyLen)
	case len(d.Body) == 0 || len(d.Body) > MaxDeliveryBodyLen:
		return fmt.Errorf("delivery %s: the body must be 1 to %d bytes", d.ID, MaxDeliveryBodyLen)
	case d.Attempts < 0:
		return fmt.Errorf("delivery %s: negative attempts", d.ID)
	case len(d.LastError) > MaxDeliveryError || !validText(d.LastError):
		return fmt.Errorf("delivery %s: the last error must be at most %d bytes of valid UTF-8", d.ID, MaxDeliveryError)
	}
	return nil
}

// ValidLease checks a claim's arguments.
func ValidLease(id, lease string) error {
	if !validID(id, MaxDeliveryIDLen) || !validID(lease, MaxDeliveryIDLen) {
		return fmt.Errorf("delivery %q: invalid id or lease", clip(id))
	}
	return nil
}

// ClipError cuts a delivery's error to MaxDeliveryError bytes on a rune
// boundary.
func ClipError(s string) string {
	if len(s) <= MaxDeliveryError {
		return s
	}
	s = s[:MaxDeliveryError]
	for len(s) > 0 && !validText(s) {
		s = s[:len(s)-1]
	}
	return s
}

func validID(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
