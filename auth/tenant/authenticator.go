package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Authenticator resolves API keys to tenants from memory: a known key costs
// one SHA-256 and one map lookup in an immutable snapshot, with no lock and
// no store read, however many tenants there are.
//
// What it reads, and when (every read is single-flight, none on the path
// of a known key that was verified recently):
//
//   - Every tenant, at the first request, then in the background every
//     refresh interval (10 minutes; this only forgets removed tenants that
//     nobody uses: a tenant in use is verified on its own, and an unknown
//     key reloads).
//   - A tenant whose key matched, when its last read is older than verify
//     (1.5 s): in the background, the request goes on. Older than
//     verifyMax (2 s) with no such read under way (the tenant was idle),
//     the request waits for that read. So a removed tenant's key, or a
//     replaced one, is refused within about 2 s (plus the time a read takes
//     on a busy store).
//   - A tenant whose key matched within keepWarm (10 s), every verify, by a
//     timer: its requests find it verified however they are spaced, and
//     wait for no read. When the store is slow, the timer waits four times
//     as long as the last read took, and a removed tenant's key is refused
//     that much later.
//   - Every tenant, when a key is not recognised (so that a tenant added by
//     `mailcal tenant add` while the server runs is accepted at once): at
//     most every minReload (2 s), whatever the number of wrong keys; the
//     requests that come meanwhile wait for the read under way or are
//     refused from memory. Each source address may send only so many wrong
//     keys (wrongKeyBurst, then one every wrongKeyEvery); beyond that it
//     gets a *RateLimitError and nothing is looked up or read.
//   - Registry.Add and Registry.Remove in this process take effect at once.
type Authenticator struct {
	reg                      *Registry
	refresh, minReload       time.Duration
	verify, verifyMax        time.Duration
	readTimeout, listTimeout time.Duration // of one tenant's read, of every tenant's
	keepWarm                 time.Duration
	now                      func() time.Time
	wrong                    *Limiter

	snap  atomic.Pointer[snapshot]
	dirty atomic.Bool // this process added a tenant: the next miss reloads at once

	mu       sync.Mutex // guards the fields below; never taken for a known key
	flight   *reload    // the reload of every tenant running, if any
	lastMiss time.Time
}

// snapshot is every tenant as one reload found them. It is never changed
// but for its entries' atomic fields.
type snapshot struct {
	byHash map[[sha256.Size]byte]*entry
	byName map[string]*entry
	at     time.Time // when the reload finished
}

type entry struct {
	name     string
	hash     [sha256.Size]byte
	verified atomic.Int64 // unix nanoseconds: when a read last found this tenant with this key
	removed  atomic.Bool  // a read found it gone or given another key
	used     atomic.Int64 // unix nanoseconds of the last request, to 100 ms
	warming  atomic.Bool  // a keep-warm verification is scheduled
	took     atomic.Int64 // how long the last verification took, in nanoseconds
	paced    atomic.Bool  // the scheduled verification waits longer than verify: the store is slow

	mu    sync.Mutex // guards check
	check *reload    // the verification running, if any
}

// reload is one read of the store; its waiters wait for done.
type reload struct {
	done       chan struct{}
	err        error
	background bool // started for no request in particular
}

// RateLimitError is returned by AuthenticateFrom for a source address that
// sent too many wrong keys.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many requests with a wrong API key from this address; try again in %s", e.RetryAfter.Round(time.Second))
}

// NewAuthenticator returns an authenticator over reg.
func NewAuthenticator(reg *Registry) *Authenticator {
	a := &Authenticator{
		reg: reg, refresh: 10 * time.Minute, minReload: 2 * time.Second, listTimeout: 2 * time.Minute,
		verify: 1500 * time.Millisecond, verifyMax: 2 * time.Second, readTimeout: 30 * time.Second, keepWarm: 10 * time.Second,
		now: time.Now, wrong: NewLimiter(wrongKeyBurst, wrongKeyEvery),
	}
	reg.watch(a.changed)
	return a
}

// keySum hashes a presented key (a variable, so that tests can count).
var keySum = func(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// Authenticate returns the tenant whose key this is. An error means the
// tenants could not be read (the store is unavailable), not a wrong key.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (string, bool, error) {
	return a.AuthenticateFrom(ctx, key, "")
}

// AuthenticateFrom is Authenticate for a request from source (see
// Source): a source that sent too many wrong keys gets a *RateLimitError
// for its next wrong ones (a right key still passes). "" is not limited.
func (a *Authenticator) AuthenticateFrom(ctx context.Context, key, source string) (string, bool, error) {
	if key == "" || len(key) > 256 {
		return "", false, nil
	}
	s, err := a.current(ctx)
	if err != nil {
		return "", false, err
	}
	sum := keySum(key)
	if e := s.byHash[sum]; e != nil && !e.removed.Load() {
		return a.confirm(ctx, e)
	}
	if source != "" {
		if wait, ok := a.wrong.Take(source, a.now()); !ok {
			return "", false, &RateLimitError{RetryAfter: wait}
		}
	}
	f := a.startReload(reloadMiss)
	if f == nil {
		return "", false, nil
	}
	if err := wait(ctx, f); err != nil {
		return "", false, err
	}
	if e := a.snap.Load().byHash[sum]; e != nil && !e.removed.Load() {
		return e.name, true, nil
	}
	return "", false, nil
}

// current returns the snapshot, reading every tenant first if there is
// none yet, and starting a background reload when it is older than refresh.
func (a *Authenticator) current(ctx context.Context) (*snapshot, error) {
	s := a.snap.Load()
	if s == nil {
		if f := a.startReload(reloadFirst); f != nil {
			if err := wait(ctx, f); err != nil && a.snap.Load() == nil {
				return nil, err
			}
		}
		return a.snap.Load(), nil
	}
	if a.now().Sub(s.at) >= a.refresh {
		a.startReload(reloadRefresh)
	}
	return s, nil
}

// Why every tenant is read.
const (
	reloadFirst   = iota // no snapshot yet
	reloadRefresh        // the snapshot is older than refresh: in the background
	reloadMiss           // a key was not recognised
)

// startReload returns the running reload of every tenant, joining the one
// running or starting one if why still needs it (checked under the lock, so
// that callers that saw the same old state start one read); nil if none is
// needed or due.
func (a *Authenticator) startReload(why int) *reload {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.flight != nil {
		return a.flight
	}
	s, now := a.snap.Load(), a.now()
	switch {
	case why == reloadFirst && s != nil,
		why == reloadRefresh && s != nil && now.Sub(s.at) < a.refresh,
		why == reloadMiss && !a.dirty.Load() && now.Sub(a.lastMiss) < a.minReload:
		return nil
	case why == reloadMiss:
		a.lastMiss = now
	}
	f := &reload{done: make(chan struct{}), background: why == reloadRefresh}
	a.flight = f
	a.dirty.Store(false)
	go func() {
		ctx, cancel := a.readContext(f.background, a.listTimeout)
		defer cancel()
		err := a.load(ctx)
		a.mu.Lock()
		a.flight = nil
		a.mu.Unlock()
		f.err = err
		close(f.done)
	}()
	return f
}

// readContext is the context of a read no caller owns.
func (a *Authenticator) readContext(background bool, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	if background {
		ctx = store.Background(ctx)
	}
	return ctx, cancel
}

// load reads every tenant into a new snapshot.
func (a *Authenticator) load(ctx context.Context) error {
	tenants, err := a.reg.List(ctx)
	if err != nil {
		slog.WarnContext(ctx, "reading tenants failed", "err", err)
		return err
	}
	now := a.now()
	old := a.snap.Load()
	s := &snapshot{byHash: make(map[[sha256.Size]byte]*entry, len(tenants)), byName: make(map[string]*entry, len(tenants)), at: now}
	for _, t := range tenants {
		var h [sha256.Size]byte
		if n, err := hex.Decode(h[:], []byte(t.KeyHash)); err != nil || n != sha256.Size {
			continue
		}
		var e *entry
		if old != nil {
			e = old.byHash[h] // the same tenant and key: keep its entry (and its timer)
		}
		if e == nil || e.name != t.Name || e.removed.Load() {
			e = &entry{name: t.Name, hash: h}
		}
		e.verified.Store(now.UnixNano())
		s.byHash[h], s.byName[t.Name] = e, e
	}
	a.snap.Store(s)
	return nil
}

// confirm answers for a known key, reading its tenant again as described
// on Authenticator.
func (a *Authenticator) confirm(ctx context.Context, e *entry) (string, bool, error) {
	now := a.now().UnixNano()
	if now-e.used.Load() > int64(100*time.Millisecond) {
		e.used.Store(now)
		a.warm(e)
	}
	age := time.Duration(now - e.verified.Load())
	if age < a.verify {
		return e.name, true, nil
	}
	// A tenant in use has a timer that verifies it: leave it to the timer,
	// also past verifyMax when the timer is paced to a slow store.
	if e.warming.Load() && (age < a.verifyMax || e.paced.Load()) {
		return e.name, true, nil
	}
	f := a.startVerify(e, age < a.verifyMax)
	if age < a.verifyMax || f.background {
		// Recent enough, or a read started in time is under way (a slow
		// store does not stall a busy tenant's requests).
		return e.name, true, nil
	}
	if err := wait(ctx, f); err != nil {
		return "", false, err
	}
	if e.removed.Load() {
		return "", false, nil
	}
	return e.name, true, nil
}

// startVerify returns the running read of e's tenant, starting one if none
// runs. A tenant found gone or with another key is refused from then on
// (and every tenant is read again, for its new key); a failed read keeps
// serving on what is known and is tried again after verify.
func (a *Authenticator) startVerify(e *entry, background bool) *reload {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.check != nil {
		return e.check
	}
	f := &reload{done: make(chan struct{}), background: background}
	e.check = f
	go func() {
		ctx, cancel := a.readContext(background, a.readTimeout)
		defer cancel()
		start := time.Now()
		t, err := a.reg.Get(ctx, e.name)
		e.took.Store(int64(time.Since(start)))
		switch {
		case errors.Is(err, ErrNotFound):
			e.removed.Store(true)
		case err == nil && t.KeyHash != hex.EncodeToString(e.hash[:]):
			e.removed.Store(true)
			a.dirty.Store(true) // its new key is accepted at its first use
		case err != nil:
			slog.WarnContext(ctx, "re-reading a tenant failed; serving it on what is known", "tenant", e.name, "err", err)
		}
		e.verified.Store(a.now().UnixNano())
		e.mu.Lock()
		e.check = nil
		e.mu.Unlock()
		a.warm(e)
		close(f.done)
	}()
	return f
}

// warm schedules the next verification of a tenant used within keepWarm,
// unless one is scheduled: verify after the last one ended, or four times
// as long as it took when the store is slow (at most keepWarm), so that a
// slow store is not buried under verifications.
func (a *Authenticator) warm(e *entry) {
	if a.keepWarm <= 0 || e.removed.Load() || a.now().UnixNano()-e.used.Load() >= int64(a.keepWarm) ||
		!e.warming.CompareAndSwap(false, true) {
		return
	}
	pause := max(a.verify, min(4*time.Duration(e.took.Load()), a.keepWarm))
	e.paced.Store(pause > a.verify)
	time.AfterFunc(pause, func() {
		e.warming.Store(false)
		if time.Duration(a.now().UnixNano()-e.verified.Load()) < a.verify/2 {
			a.warm(e) // verified meanwhile (a reload)
			return
		}
		a.startVerify(e, true)
	})
}

// changed is told by the registry of this process's adds and removes.
func (a *Authenticator) changed(name string, removed bool) {
	if removed {
		if s := a.snap.Load(); s != nil {
			if e := s.byName[name]; e != nil {
				e.removed.Store(true)
			}
		}
		return
	}
	a.dirty.Store(true)
}

func wait(ctx context.Context, f *reload) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
