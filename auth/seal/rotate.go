package seal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Rotation is what Rotate did.
type Rotation struct {
	// Rewrapped: keys moved under the new master key; Skipped: keys
	// already under it (an earlier, interrupted run, or a process with the
	// new key that made them); Gone: tenants removed while it ran.
	Rewrapped, Skipped, Gone int
	// Failed lists the tenants whose keys could not be moved, each with
	// why (a key under a master key not held, a damaged record).
	Failed []RotationFailure
}

// RotationFailure is one key Rotate could not move.
type RotationFailure struct {
	Tenant string
	Err    error
}

// Rotate re-wraps every tenant's data key under next, opening them with the
// keys held (the current one and the old one): the data keys and the tokens
// sealed under them stay the same, only their wrapping changes. Each key is
// written with a compare-and-set on its version, so that a key another
// process changed meanwhile is read again rather than overwritten. Keys
// already under next are skipped, so a run that stopped half way (a crash,
// a lost connection) is finished by running it again. Processes that hold
// both keys keep working throughout.
//
// It goes on past a key it cannot move and lists it in Failed; it stops on
// a failing store (the error returned) with what it did so far.
func Rotate(ctx context.Context, keys store.DataKeys, held MasterKeys, next *MasterKey) (Rotation, error) {
	var r Rotation
	if next == nil || !held.Set() {
		return r, errors.New("a rotation needs the current master key and the new one")
	}
	all, err := keys.ListDataKeys(ctx)
	if err != nil {
		return r, fmt.Errorf("listing the data keys: %w", err)
	}
	for _, rec := range all {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if err := rotateOne(ctx, keys, held, next, rec, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// rotateOne moves one tenant's key; an error stops the rotation.
func rotateOne(ctx context.Context, keys store.DataKeys, held MasterKeys, next *MasterKey, rec store.DataKey, r *Rotation) error {
	tenant := rec.Tenant
	for range 8 {
		// Under the new key already (an earlier run, or made by a process
		// holding it): nothing to open.
		if rec.MasterKeyID == next.ID() {
			r.Skipped++
			return nil
		}
		id, raw, err := held.unwrap(rec)
		if err != nil {
			r.Failed = append(r.Failed, RotationFailure{Tenant: rec.Tenant, Err: err})
			return nil
		}
		wrapped, err := wrap(next, rec.Tenant, id, raw)
		clear(raw)
		if err != nil {
			return err
		}
		upd := rec
		upd.MasterKeyID, upd.Wrapped, upd.UpdatedAt = next.ID(), wrapped, time.Now().UTC()
		_, err = keys.PutDataKey(ctx, upd)
		switch {
		case err == nil:
			r.Rewrapped++
			return nil
		case !errors.Is(err, store.ErrConflict):
			return fmt.Errorf("storing the data key of tenant %s: %w", rec.Tenant, err)
		}
		// Changed meanwhile: read it again.
		rec, err = keys.GetDataKey(ctx, tenant)
		if errors.Is(err, store.ErrNotFound) {
			r.Gone++
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the data key of tenant %s: %w", tenant, err)
		}
	}
	r.Failed = append(r.Failed, RotationFailure{Tenant: tenant, Err: errors.New("it kept changing while it was re-wrapped; run the rotation again")})
	return nil
}
