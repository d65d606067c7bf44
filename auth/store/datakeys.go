package store

import (
	"context"
	"fmt"
	"time"
)

// DataKey is a tenant's data key as stored: only wrapped (encrypted) under
// a master key, never in the clear. The sealing layer (not the store)
// generates, wraps and unwraps it; the store keeps the bytes it is given.
type DataKey struct {
	Tenant string
	// Version is the store's: 0 for a key never stored; each write stores
	// Version+1 (a re-wrap under a new master key is a compare-and-set).
	Version int64
	// MasterKeyID names the master key Wrapped is encrypted under (a
	// fingerprint of it, never the key), so that a rotation knows which
	// keys are still under the old one.
	MasterKeyID string
	// Wrapped is the data key encrypted under the master key (nonce and
	// tag included), opaque to the store.
	Wrapped   []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DataKeys keeps the tenants' wrapped data keys: the keys refresh tokens
// are sealed with in a store that does not encrypt them itself (a
// database). Implementations: store/memory and store/postgres. It is an
// optional contract, not part of Store: the keyring encrypts what it holds
// and has none (refresh tokens there are stored as the grants layer's
// plain sealer leaves them).
type DataKeys interface {
	// GetDataKey returns a tenant's key; ErrNotFound if it has none.
	GetDataKey(ctx context.Context, tenant string) (DataKey, error)
	// PutDataKey writes k if the stored key's version is k.Version (0: none
	// may be stored, so that two processes creating a tenant's first key at
	// once keep one) and returns the new version. ErrConflict otherwise
	// (ErrExists is not used: a caller reads again and uses the stored key).
	PutDataKey(ctx context.Context, k DataKey) (int64, error)
	// DeleteDataKey destroys a tenant's key (the tenant is being removed:
	// whatever was sealed with it can no longer be opened); ErrNotFound if
	// there is none.
	DeleteDataKey(ctx context.Context, tenant string) error
	// ListDataKeys returns every tenant's key, for a rotation of the master
	// key, ordered by tenant.
	ListDataKeys(ctx context.Context) ([]DataKey, error)
}

// ValidDataKey reports what every implementation must be able to hold.
func ValidDataKey(k DataKey) error {
	if err := ValidTenant(k.Tenant); err != nil {
		return err
	}
	if k.Version < 0 {
		return fmt.Errorf("data key of %s: version %d is negative", k.Tenant, k.Version)
	}
	if k.MasterKeyID == "" || len(k.MasterKeyID) > 128 {
		return fmt.Errorf("data key of %s: the master key id must be 1 to 128 bytes", k.Tenant)
	}
	if len(k.Wrapped) == 0 || len(k.Wrapped) > 1024 {
		return fmt.Errorf("data key of %s: the wrapped key must be 1 to 1024 bytes", k.Tenant)
	}
	return nil
}
