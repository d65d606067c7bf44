// Package keylock is a set of named in-process locks whose waiters give up
// when their context ends: what the stores build their per-key locks on.
package keylock

import (
	"context"
	"sync"
)

// Set is a set of named locks; the zero value is ready to use. A name's
// lock exists while it is held or waited for.
type Set struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	sem  chan struct{} // holds one token while the lock is held
	refs int           // holders and waiters
}

// Lock takes the lock of name and returns the function that releases it
// (once: later calls do nothing). It waits until ctx ends, then returns
// ctx.Err().
func (s *Set) Lock(ctx context.Context, name string) (unlock func(), err error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*entry{}
	}
	e := s.locks[name]
	if e == nil {
		e = &entry{sem: make(chan struct{}, 1)}
		s.locks[name] = e
	}
	e.refs++
	s.mu.Unlock()

	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		s.release(name, e)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.sem
			s.release(name, e)
		})
	}, nil
}

func (s *Set) release(name string, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(s.locks, name)
	}
}

// Len is the number of names held or waited for (for tests).
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.locks)
}
