package keyring

import (
	"context"
	"errors"
	"sync/atomic"
)

// Lazy returns a KV that calls open on first use and caches a successful
// result; a failed open is not cached (the next call tries again) and its
// error is returned by that call. Concurrent first calls open once: the others
// wait for it, each up to its own context's end.
//
// Backend returns "" until a call has opened the store.
func Lazy(open func(ctx context.Context) (KV, error)) KV {
	return &lazy{open: open, sem: make(chan struct{}, 1), local: inProcessLocks("the store is no Locker")}
}

type lazy struct {
	open func(ctx context.Context) (KV, error)
	s    atomic.Pointer[KV]
	sem  chan struct{} // held while opening
	// local locks within this process for a store that is no Locker.
	local *lockFile
}

func (l *lazy) store(ctx context.Context) (KV, error) {
	if s := l.s.Load(); s != nil {
		return *s, nil
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.sem }()
	if s := l.s.Load(); s != nil {
		return *s, nil
	}
	s, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("keyring: open returned no store")
	}
	l.s.Store(&s)
	return s, nil
}

func (l *lazy) Backend() string {
	if s := l.s.Load(); s != nil {
		return (*s).Backend()
	}
	return ""
}

func (l *lazy) Get(ctx context.Context, key string) ([]byte, error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, key)
}

func (l *lazy) Set(ctx context.Context, key string, value []byte) error {
	s, err := l.store(ctx)
	if err != nil {
		return err
	}
	return s.Set(ctx, key, value)
}

func (l *lazy) Delete(ctx context.Context, key string) error {
	s, err := l.store(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, key)
}

// Lock implements Locker: it opens the store, and locks within this process
// only if the store is no Locker.
func (l *lazy) Lock(ctx context.Context, name string) (unlock func(), err error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	if lk, ok := s.(Locker); ok {
		return lk.Lock(ctx, name)
	}
	return l.local.lock(ctx, name)
}

func (l *lazy) List(ctx context.Context, prefix string) ([]string, error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	return s.List(ctx, prefix)
}
