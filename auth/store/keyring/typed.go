package keyring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/internal/keylock"
)

// Store is the keyring's store.Store: tenants, grants and flow states kept as
// JSON items of a KV (see items.go for the layout, which older releases'
// tenant and grant items already follow).
//
// Compare-and-set (PutGrant, DeleteGrant at a version), creation (tenants,
// flow states), deletion of tenants and take (TakeFlowState) are a read, a
// comparison and a write: each runs under the keyring's "store" lock, held
// across processes when the KV is a Locker (every keyring backend is: see
// lockfile.go), so they are atomic among every process on the keyring; over
// a KV that is no Locker, among the callers of one Store only. LockGrant is
// the KV's "grant/KEY" lock.
//
// What one write is depends on the backend: the file backend replaces an
// item atomically (file.go: a crash leaves the old item or the new one);
// the OS keyrings apply each write as one operation of their own; pass
// writes the item's file with gpg, in place.
//
// A keyring call that times out may still complete afterwards: a write that
// returns such an error may or may not have happened; read again.
type Store struct {
	kv KV
	// mu is held around every read-compare-write sequence. A channel, so a
	// waiter can give up when its context ends.
	mu chan struct{}
	// grantLocks are LockGrant's locks over a KV that is no Locker.
	grantLocks keylock.Set
}

// storeLockWait bounds the wait for the "store" lock, which another process
// holds only for a read and a write.
const storeLockWait = 30 * time.Second

var _ store.Store = (*Store)(nil)

// New returns a Store over kv.
func New(kv KV) *Store {
	return &Store{kv: kv, mu: make(chan struct{}, 1)}
}

// OpenStore opens the configured keyring as Open does and returns a Store
// over it.
func OpenStore(ctx context.Context, cfg Config) (*Store, error) {
	kv, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return New(kv), nil
}

// LazyStore returns a Store that opens the configured keyring on first use,
// as Lazy does: a failed open is not cached, concurrent first calls open once,
// and Backend returns "" until the keyring is open. onOpen, if not nil, is
// called once with the backend's name when it opens.
func LazyStore(cfg Config, onOpen func(backend string)) *Store {
	return New(Lazy(func(ctx context.Context) (KV, error) {
		kv, err := Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if onOpen != nil {
			onOpen(kv.Backend())
		}
		return kv, nil
	}))
}

// Backend names the keyring backend in use; "" while a LazyStore has not
// opened it.
func (s *Store) Backend() string { return s.kv.Backend() }

// lock takes s's lock, then the keyring's "store" lock, giving up when ctx
// ends or after storeLockWait.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case s.mu <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("keyring store: waiting for an earlier write: %w", ctx.Err())
	}
	lk, ok := s.kv.(Locker)
	if !ok {
		return func() { <-s.mu }, nil
	}
	wctx, cancel := context.WithTimeout(ctx, storeLockWait)
	defer cancel()
	release, err := lk.Lock(wctx, "store")
	if err != nil {
		<-s.mu
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("keyring store: another process has held the keyring's write lock for %s", storeLockWait)
		}
		return nil, fmt.Errorf("keyring store: waiting for another process's write: %w", err)
	}
	return func() { release(); <-s.mu }, nil
}

// LockGrant implements store.Grants: the KV's lock "grant/KEY", shared by
// every process on the keyring.
func (s *Store) LockGrant(ctx context.Context, k store.GrantKey) (unlock func(), err error) {
	if err := store.ValidGrantKey(k); err != nil {
		return nil, err
	}
	name := "grant/" + grantKey(k)
	if lk, ok := s.kv.(Locker); ok {
		unlock, err = lk.Lock(ctx, name)
	} else {
		unlock, err = s.grantLocks.Lock(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("grant %s: waiting for its lock (another process may be refreshing it): %w", k, err)
	}
	return unlock, nil
}

// read returns the item under key; (nil, nil) if there is none.
func (s *Store) read(ctx context.Context, key string) ([]byte, error) {
	data, err := s.kv.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err == nil && data == nil {
		data = []byte{}
	}
	return data, err
}

// skip reports whether a listing should leave out an item that failed with
// err: items that cannot be trusted are skipped with a warning, items
// deleted meanwhile silently; other errors fail the listing.
func skip(ctx context.Context, err error) bool {
	var ie *itemError
	if errors.As(err, &ie) {
		slog.WarnContext(ctx, "keyring store: skipping an item that cannot be trusted", "item", ie.key, "error", err.Error())
		return true
	}
	return errors.Is(err, ErrNotFound)
}

// CreateTenant implements store.Tenants.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	if err := store.ValidTenant(t.Name); err != nil {
		return err
	}
	data, err := encodeTenant(t)
	if err != nil {
		return err
	}
	return s.create(ctx, tenantKey(t.Name), data, func() (bool, error) {
		old, err := s.read(ctx, tenantKey(t.Name))
		if errors.Is(err, store.ErrDamaged) {
			return true, nil // taken, by a record DeleteTenant removes
		}
		return old != nil, err
	}, "tenant "+t.Name)
}

// create writes a new item under key unless exists (asked under the lock)
// says one is there: ErrExists, naming what.
func (s *Store) create(ctx context.Context, key string, data []byte, exists func() (bool, error), what string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	there, err := exists()
	if err != nil {
		return err
	}
	if there {
		return fmt.Errorf("%s: %w", what, store.ErrExists)
	}
	return s.kv.Set(ctx, key, data)
}

// GetTenant implements store.Tenants.
func (s *Store) GetTenant(ctx context.Context, name string) (store.Tenant, error) {
	if err := store.ValidTenant(name); err != nil {
		return store.Tenant{}, err
	}
	data, err := s.read(ctx, tenantKey(name))
	if err != nil {
		return store.Tenant{}, err
	}
	if data == nil {
		return store.Tenant{}, fmt.Errorf("tenant %s: %w", name, store.ErrNotFound)
	}
	return decodeTenant(tenantKey(name), data)
}

// ListTenants implements store.Tenants. Items that cannot be trusted are
// left out, with a warning in the log.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	return listItems(ctx, s.kv, tenantPrefix, decodeTenant, func(a, b store.Tenant) int { return strings.Compare(a.Name, b.Name) })
}

// DeleteTenant implements store.Tenants. It deletes a damaged item too.
func (s *Store) DeleteTenant(ctx context.Context, name string) error {
	if err := store.ValidTenant(name); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	err = s.kv.Delete(ctx, tenantKey(name))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("tenant %s: %w", name, store.ErrNotFound)
	}
	return err
}

// listItems reads and decodes every item under prefix, sorted by less.
// Items that cannot be trusted (damaged, or naming another key) are left
// out with a warning in the log; other errors end the listing.
func listItems[T any](ctx context.Context, kv KV, prefix string, decode func(key string, data []byte) (T, error), less func(a, b T) int) ([]T, error) {
	keys, err := kv.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		data, err := kv.Get(ctx, k)
		var v T
		if err == nil {
			v, err = decode(k, data)
		}
		if err != nil {
			if skip(ctx, err) {
				continue
			}
			return nil, err
		}
		out = append(out, v)
	}
	slices.SortFunc(out, less)
	return out, nil
}

// findFlow returns the key of the flow state with this ID, whatever its
// tenant; "" if there is none.
func (s *Store) findFlow(ctx context.Context, id string) (string, error) {
	keys, err := s.kv.List(ctx, flowPrefix)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		tenant, kid, ok := strings.Cut(strings.TrimPrefix(k, flowPrefix), "/")
		if ok && kid == id && store.ValidTenant(tenant) == nil {
			return k, nil
		}
	}
	return "", nil
}

// PutFlowState implements store.FlowStates.
func (s *Store) PutFlowState(ctx context.Context, f store.FlowState) error {
	if err := store.ValidFlowState(f); err != nil {
		return err
	}
	data, err := encodeFlow(f)
	if err != nil {
		return err
	}
	return s.create(ctx, flowKey(f.Tenant, f.ID), data, func() (bool, error) {
		old, err := s.findFlow(ctx, f.ID)
		return old != "", err
	}, "flow state "+f.ID[:8]+"…")
}

// TakeFlowState implements store.FlowStates. A damaged item is taken (deleted)
// too, and its error returned.
func (s *Store) TakeFlowState(ctx context.Context, id string) (store.FlowState, error) {
	if err := store.ValidFlowID(id); err != nil {
		return store.FlowState{}, err
	}
	notFound := fmt.Errorf("flow state %s…: %w", id[:8], store.ErrNotFound)
	unlock, err := s.lock(ctx)
	if err != nil {
		return store.FlowState{}, err
	}
	defer unlock()
	key, err := s.findFlow(ctx, id)
	if err != nil {
		return store.FlowState{}, err
	}
	if key == "" {
		return store.FlowState{}, notFound
	}
	data, err := s.read(ctx, key)
	damaged := err
	if errors.Is(err, store.ErrDamaged) {
		data, err = []byte{}, nil // taken (deleted) all the same
	}
	if err != nil {
		return store.FlowState{}, err
	}
	if data == nil {
		return store.FlowState{}, notFound
	}
	// Under the store lock no other process takes it meanwhile; over a KV
	// that is no Locker one may, and the delete then finds nothing.
	if err := s.kv.Delete(ctx, key); errors.Is(err, ErrNotFound) {
		return store.FlowState{}, notFound
	} else if err != nil {
		return store.FlowState{}, err
	}
	if damaged != nil {
		return store.FlowState{}, damaged
	}
	return decodeFlow(key, data)
}

// ListFlowStates implements store.FlowStates. Items that cannot be trusted
// are left out, with a warning in the log.
func (s *Store) ListFlowStates(ctx context.Context, tenant string) ([]store.FlowState, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return nil, err
	}
	return listItems(ctx, s.kv, flowTenantPrefix(tenant), decodeFlow, func(a, b store.FlowState) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}

// Ping lists the names of the keyring's tenant items (for the file
// backend: reads its folder), decrypting nothing. It opens a lazy store.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.kv.List(ctx, tenantPrefix)
	return err
}
