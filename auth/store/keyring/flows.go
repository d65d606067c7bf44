package keyring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcal/mailcal/auth/store"
)

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
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := s.findFlow(ctx, f.ID)
	if err != nil {
		return err
	}
	if old != "" {
		return fmt.Errorf("flow state %s…: %w", f.ID[:8], store.ErrExists)
	}
	return s.kv.Set(ctx, flowKey(f.Tenant, f.ID), data)
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
	if err != nil {
		return store.FlowState{}, err
	}
	if data == nil {
		return store.FlowState{}, notFound
	}
	// Another process may take it between the read and the delete: the
	// delete then finds nothing, and this take gets nothing.
	if err := s.kv.Delete(ctx, key); errors.Is(err, ErrNotFound) {
		return store.FlowState{}, notFound
	} else if err != nil {
		return store.FlowState{}, err
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
