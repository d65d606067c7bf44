package keyring

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// NewMemory returns an in-memory KV for unit tests of other packages. It
// applies the same key and value rules as the real backends.
func NewMemory() KV {
	return &memory{items: map[string][]byte{}, locks: inProcessLocks("a memory KV")}
}

type memory struct {
	mu    sync.Mutex
	items map[string][]byte
	locks *lockFile
}

// Lock implements Locker, within the process.
func (m *memory) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return m.locks.lock(ctx, name)
}

func (m *memory) Backend() string { return "memory" }

func (m *memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.items[key]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	return slices.Clone(v), nil
}

func (m *memory) Set(ctx context.Context, key string, value []byte) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if err := validateValue(key, value); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[key] = append([]byte{}, value...)
	return nil
}

func (m *memory) Delete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[key]; !ok {
		return fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	delete(m.items, key)
	return nil
}

func (m *memory) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := []string{}
	for k := range m.items {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}
