package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/seal"
	"github.com/mailcal/mailcal/auth/store"
)

// sealerFor chooses how the refresh tokens in st are protected at rest: a
// store that keeps tenants' data keys (a database) does not encrypt what it
// holds, so its tokens are sealed per tenant under a data key wrapped by the
// master key (MAILCAL_ENCRYPTION_KEY), which it then requires; the keyrings
// encrypt their items themselves and get them as they are. The memory store
// (tests; nothing leaves the process) seals only when a key is set.
func sealerFor(cfg *config, st store.Store) (grants.Sealer, error) {
	dk, ok := dataKeys(st)
	if !ok || (!cfg.masterKeys.Set() && st.Backend() == "memory") {
		if cfg.masterKeys.Set() {
			slog.Debug("the master key is not used: the keyring encrypts refresh tokens itself", "variable", seal.EnvKey)
		}
		return grants.Plain, nil
	}
	s, err := seal.New(dk, cfg.masterKeys, seal.Options{})
	if err != nil {
		return nil, fmt.Errorf("the %s store keeps refresh tokens: %w", st.Backend(), err)
	}
	return s, nil
}

// dataKeys returns the store's data keys, if it keeps them (seen through a
// wrapper such as the storecount build's).
func dataKeys(st store.Store) (store.DataKeys, bool) {
	for {
		if dk, ok := st.(store.DataKeys); ok {
			return dk, true
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			return nil, false
		}
		st = u.Unwrap()
	}
}

// destroyDataKey destroys a tenant's data key, if the store keeps one (the
// tenant is removed, or added again after an older mailcal left its key
// behind): whatever was sealed under it can no longer be opened. A server
// that still holds the key in memory drops it when it next asks the store
// (auth/seal: within 10 minutes; the tenant's accounts are gone already,
// and its API key refused within 2 s).
func (a *app) destroyDataKey(ctx context.Context, tenantName string) error {
	dk, ok := dataKeys(a.store)
	if !ok {
		return nil
	}
	if err := dk.DeleteDataKey(ctx, tenantName); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("destroying the data key of tenant %s: %w", tenantName, err)
	}
	return nil
}
