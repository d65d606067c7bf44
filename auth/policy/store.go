package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Backend is what Store needs of a store.
type Backend interface {
	store.Policies
	store.Counters
}

// Every outgoing call reads its tenant's policy, so Get answers from memory:
//
//   - A policy read is served as it is for fresh.
//   - From fresh to ttl it is still served, and the call starts one read in
//     the background (another process's change shows within fresh plus one
//     read for a busy tenant).
//   - Past ttl it is not served: callers wait for a read, one read however
//     many callers (single flight); a caller that gives up does not cancel
//     it for the others. A failed read is not cached: enforcement fails
//     closed on it.
//   - This process's writes (Put, Delete) replace the entry at once, and a
//     read that was running meanwhile is not cached.
const (
	fresh       = 2 * time.Second
	ttl         = 10 * time.Second
	readTimeout = 30 * time.Second
	// maxCached bounds the cache; past it, it starts again empty.
	maxCached = 10000
)

// Store reads and writes tenants' policies and counts sends.
type Store struct {
	b   Backend
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	p      *Policy   // nil: not read yet
	at     time.Time // when the read finished
	gen    uint64    // bumped by this process's writes
	flight *flight
}

type flight struct {
	done chan struct{}
	p    Policy
	err  error
}

// New returns a Store over b; now is the clock (nil: time.Now).
func New(b Backend, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{b: b, now: now, entries: map[string]*entry{}}
}

// Get returns the tenant's policy (the zero policy, normalized, when none is
// stored), from memory when it is recent enough (see above).
func (s *Store) Get(ctx context.Context, tenant string) (Policy, error) {
	s.mu.Lock()
	e := s.entries[tenant]
	if e == nil {
		if len(s.entries) >= maxCached {
			s.entries = map[string]*entry{}
		}
		e = &entry{}
		s.entries[tenant] = e
	}
	if e.p != nil {
		age := s.now().Sub(e.at)
		if age < ttl {
			p := clone(*e.p)
			if age >= fresh && e.flight == nil {
				s.start(e, tenant, true)
			}
			s.mu.Unlock()
			return p, nil
		}
	}
	f := e.flight
	if f == nil {
		f = s.start(e, tenant, false)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return Policy{}, f.err
		}
		return clone(f.p), nil
	case <-ctx.Done():
		return Policy{}, fmt.Errorf("reading the policy of tenant %s: %w", tenant, ctx.Err())
	}
}

// start begins a read of the tenant's policy; s.mu is held.
func (s *Store) start(e *entry, tenant string, background bool) *flight {
	f := &flight{done: make(chan struct{})}
	e.flight = f
	gen := e.gen
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		if background {
			ctx = store.Background(ctx)
		}
		p, err := s.read(ctx, tenant)
		cancel()
		f.p, f.err = p, err
		s.mu.Lock()
		if e.flight == f {
			e.flight = nil
		}
		if err == nil && e.gen == gen {
			e.p, e.at = &p, s.now()
		}
		s.mu.Unlock()
		close(f.done)
	}()
	return f
}

func (s *Store) read(ctx context.Context, tenant string) (Policy, error) {
	sp, err := s.b.GetPolicy(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		return fromStore(store.Policy{Tenant: tenant}), nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("reading the policy of tenant %s: %w", tenant, err)
	}
	return fromStore(sp), nil
}

// Read returns the tenant's policy as stored now, bypassing the cache (the
// CLI and the REST API show this).
func (s *Store) Read(ctx context.Context, tenant string) (Policy, error) { return s.read(ctx, tenant) }

// Put normalizes p and writes it if the stored version is p.Version
// (store.ErrConflict otherwise); it returns the policy as written.
func (s *Store) Put(ctx context.Context, tenant string, p Policy) (Policy, error) {
	if err := p.Normalize(); err != nil {
		return Policy{}, err
	}
	p.UpdatedAt = s.now().UTC()
	v, err := s.b.PutPolicy(ctx, toStore(tenant, p))
	if err != nil {
		return Policy{}, err
	}
	p.Version = v
	s.remember(tenant, &p)
	return clone(p), nil
}

// Delete removes the tenant's policy (a tenant being removed); none stored
// is no error.
func (s *Store) Delete(ctx context.Context, tenant string) error {
	err := s.b.DeletePolicy(ctx, tenant)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.remember(tenant, nil)
	return nil
}

// remember makes this process's write the cached policy (nil: forget it).
func (s *Store) remember(tenant string, p *Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[tenant]
	if e == nil {
		if p == nil {
			return
		}
		e = &entry{}
		s.entries[tenant] = e
	}
	e.gen++
	e.flight = nil // a running read is neither cached nor joined
	if p == nil {
		e.p = nil
		return
	}
	c := clone(*p)
	e.p, e.at = &c, s.now()
}

// SendLimitError: an account reached its sends for the day.
type SendLimitError struct {
	Account string
	Limit   int
	Next    time.Time // when sending is possible again
}

func (e *SendLimitError) Error() string {
	return fmt.Sprintf("%s has made its %d sends allowed today (the tenant's max_sends_per_day, which counts messages and events with attendees); sending is possible again from %s (midnight UTC)",
		e.Account, e.Limit, e.Next.Format(time.RFC3339))
}

// SendsCounter is the counter of an account's sends.
const SendsCounter = "sends"

// CountSend counts one send of the account today against limit (0: no
// limit, nothing counted). At the limit: a *SendLimitError.
func (s *Store) CountSend(ctx context.Context, k store.GrantKey, limit int) error {
	if limit <= 0 {
		return nil
	}
	day, next := Day(s.now())
	_, err := s.b.IncrementCounter(ctx, store.CounterKey{GrantKey: k, Name: SendsCounter}, day, int64(limit))
	if errors.Is(err, store.ErrLimit) {
		return &SendLimitError{Account: k.Account, Limit: limit, Next: next}
	}
	if err != nil {
		return fmt.Errorf("counting the send against max_sends_per_day: %w", err)
	}
	return nil
}

// SentToday returns how many sends of the account are counted today.
func (s *Store) SentToday(ctx context.Context, k store.GrantKey) (int64, error) {
	day, _ := Day(s.now())
	return s.b.GetCounter(ctx, store.CounterKey{GrantKey: k, Name: SendsCounter}, day)
}

func clone(p Policy) Policy {
	p.RecipientAllowlist = append([]string{}, p.RecipientAllowlist...)
	p.AllowedSignins = append([]string{}, p.AllowedSignins...)
	return p
}
