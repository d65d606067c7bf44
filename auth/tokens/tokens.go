// Package tokens runs the access-token lifecycle of connected accounts: one
// long-lived, lazily created token source per account (tenant, provider,
// account), refreshed ahead of expiry by exactly one token-endpoint request
// however many callers need it, with rotated refresh tokens saved before the
// new access token is used, transient failures retried, a failed refresh
// backed off according to its cause (Config.FailureBackoff) with the error
// saying when the next one is made, and dead grants (invalid_grant) marked
// needs_reauth in the grant store so that nobody hits the token endpoint for
// them again until the account is reconnected.
//
// Crash safety: the grant store always holds a refresh token that works. A
// refresh never removes the stored refresh token; a rotated one replaces it
// (one store write) before the new access token is handed to anyone, and a
// failed write fails the call. Providers that rotate refresh tokens (e.g.
// Microsoft) keep the previous one valid after issuing a new one, so a crash
// between the token answer and the write leaves a stored refresh token that
// still works and nothing is lost. (A provider that revoked the old refresh
// token the moment it issued a new one would lose the grant in that window;
// no client can avoid that, and we keep the window to one store write.)
//
// Secrets: access tokens, refresh tokens, authorization codes and client
// secrets never appear in an error message or a log line. Token-endpoint
// errors are reduced to HTTP status, OAuth error code and description.
//
// The *oauth2.Token values handed out are shared between callers and carry
// only the access token, its type and expiry (never the refresh token); do not
// modify them.
package tokens

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// Defaults for Config.
const (
	DefaultMargin         = 5 * time.Minute
	DefaultHTTPTimeout    = 15 * time.Second
	DefaultRefreshTimeout = 30 * time.Second
	DefaultSourceTimeout  = 30 * time.Second
	DefaultRetryAttempts  = 3
	DefaultRetryBase      = 250 * time.Millisecond
	DefaultReauthRecheck  = 5 * time.Second
	DefaultFailureBackoff = time.Second
	DefaultMaxBackoff     = 30 * time.Second
)

// Config configures a Manager. Grants and Providers are required.
type Config struct {
	Grants *grants.Store
	// Providers gives each provider's OAuth client and endpoints.
	Providers *providers.Registry
	// HTTPClient gives the transport and the per-attempt timeout of
	// token-endpoint requests, which are retried by an httpretry transport
	// over it; default: a 15 s timeout.
	HTTPClient *http.Client
	// Margin: refresh this long before the access token expires; default 5m.
	// It is reduced to half the token's lifetime for short-lived tokens.
	Margin time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Tenants lists every tenant, for the health check (Run, CheckAll).
	Tenants func(ctx context.Context) ([]string, error)
	// Logger gets one line per notable event and per health-checked account;
	// default slog.Default().
	Logger *slog.Logger

	// RefreshTimeout bounds one refresh, retries included; default 30s.
	RefreshTimeout time.Duration
	// RetryAttempts is how many token-endpoint requests one refresh may make
	// on transient failures; default 3.
	RetryAttempts int
	// RetryBase is the first backoff (then ×4: 250ms, 1s, …), with ±50 %
	// jitter; a Retry-After answer header replaces it. Default 250ms.
	RetryBase time.Duration
	// ReauthRecheck: while an account needs reauth, its grant is re-read (to
	// notice a reconnect) at most this often; default 5s.
	ReauthRecheck time.Duration
	// FailureBackoff: after a refresh failed in a way that may pass (5xx,
	// timeouts, network errors, a store error), the next refresh is made
	// after a jittered delay of up to FailureBackoff, doubling with each
	// consecutive failure up to MaxBackoff; after a 429 or 503 with
	// Retry-After, when it says. Meanwhile callers get the old access token
	// while it is still valid; else they wait for the next refresh when it
	// comes before their deadline, and fail at once otherwise, the error
	// saying when it will be made. Default 1s.
	FailureBackoff time.Duration
	// MaxBackoff caps FailureBackoff's growth, and is the delay after a
	// failure that will not pass by itself (the provider refused the OAuth
	// client: invalid_client, unauthorized_client…), during which callers
	// fail at once. Default 30s. (invalid_grant is final: the account
	// needs reauth.)
	MaxBackoff time.Duration
	// SourceTimeout bounds each Token call of a Source, within the
	// caller's context; default 30s.
	SourceTimeout time.Duration
	// OnRefresh, when set, hears the outcome of every refresh this Manager
	// makes (RefreshOK, RefreshReauth, RefreshTransient, RefreshFailed,
	// RefreshShared), for
	// metrics. It must be quick.
	OnRefresh func(provider, outcome string)
	// ShareAccessTokens saves each new access token (sealed, with its
	// expiry) in the grant, and a refresh that finds there one it has not
	// used and that is not about to expire takes it instead of asking the
	// provider: with several processes on one store (replicas on a
	// database), one refresh per expiry in all instead of one per process.
	// It costs a grant write per refresh.
	ShareAccessTokens bool
}

// Outcomes of a refresh, as Config.OnRefresh gets them.
const (
	RefreshOK        = "ok"
	RefreshReauth    = "needs_reauth" // the grant is dead: the person must connect again
	RefreshTransient = "transient"    // may pass by itself (5xx, 429, timeouts, the network, the store)
	RefreshFailed    = "failed"       // will not pass by itself (the OAuth client refused, not configured)
	RefreshShared    = "shared"       // no token request: another process's new access token, taken from the store
)

// Manager hands out access tokens of connected accounts. It is safe for
// concurrent use.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	base   context.Context // long-lived; carries oauth2.HTTPClient
	cancel context.CancelFunc
	wg     sync.WaitGroup // running refreshes

	closeMu sync.Mutex // orders wg.Add against Close's wg.Wait
	closed  bool

	mu      sync.RWMutex
	entries map[key]*entry
}

// key identifies an account. Accounts are compared lower-case, as the grant
// store keeps them.
type key struct{ tenant, provider, account string }

func makeKey(tenant, provider, account string) key {
	return key{tenant, provider, strings.ToLower(account)} // no allocation when already lower-case
}

// entry is the long-lived token source of one account.
type entry struct {
	k   key
	cur atomic.Pointer[cached] // the access token in use; nil: none

	mu       sync.Mutex // guards the fields below
	flight   *flight    // the refresh in progress, if any
	reauth   *ReauthError
	reauthAt time.Time // when reauth was last confirmed
	deadRT   string    // the refresh token the provider refused
	failErr  error     // the last refresh's failure; nil after a success
	fails    int       // consecutive failed refreshes
	nextTry  time.Time // no refresh before this after a failure
	mayWait  bool      // callers may wait for nextTry (the failure may pass)
	refresh  uint64    // refreshes started, to tell one failure from the next
	lastOK   time.Time // last successful refresh
	pending  *rotation // a rotated refresh token we could not save yet
	rejected string    // the access token a provider last refused (Invalidate): never taken from the store again
}

// cached is an access token with the times computed on the Manager's clock.
type cached struct {
	tok       *oauth2.Token // handed out: no refresh token
	expiry    time.Time     // zero: unknown
	refreshAt time.Time     // refresh when now is not before this
	shared    bool          // taken from the store (another process refreshed)
}

type rotation struct{ old, new string }

// flight is one refresh; the callers that need it wait for done.
type flight struct {
	done  chan struct{}
	tok   *oauth2.Token
	err   error
	stale *oauth2.Token // on a temporary failure: the previous token, if still usable
}

// New returns a Manager. It panics if cfg.Grants or cfg.Providers is nil.
// Call Close when done with it.
func New(cfg Config) *Manager {
	if cfg.Grants == nil || cfg.Providers == nil {
		panic("tokens.New: Config.Grants and Config.Providers are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	} else if cfg.HTTPClient.Timeout <= 0 {
		// Every token-endpoint attempt has a timeout of its own.
		hc := *cfg.HTTPClient
		hc.Timeout = DefaultHTTPTimeout
		cfg.HTTPClient = &hc
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.Margin, DefaultMargin}, {&cfg.RefreshTimeout, DefaultRefreshTimeout}, {&cfg.RetryBase, DefaultRetryBase},
		{&cfg.ReauthRecheck, DefaultReauthRecheck}, {&cfg.FailureBackoff, DefaultFailureBackoff}, {&cfg.MaxBackoff, DefaultMaxBackoff},
		{&cfg.SourceTimeout, DefaultSourceTimeout},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.RetryAttempts <= 0 {
		cfg.RetryAttempts = DefaultRetryAttempts
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// Refreshes run on this context, never on a caller's: a caller that
	// gives up must not break the refresh the others wait for.
	base, cancel := context.WithCancel(context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient(cfg, log)))
	return &Manager{cfg: cfg, log: log, base: base, cancel: cancel, entries: map[key]*entry{}}
}

// Close cancels the refreshes in progress and waits for them to end. After
// Close, Token calls that need a refresh fail with ErrClosed.
func (m *Manager) Close() {
	m.closeMu.Lock()
	m.closed = true
	m.closeMu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// ErrClosed is returned by Token after Close.
var ErrClosed = errors.New("token manager closed")

// Token returns a valid access token of the account, refreshing it if it
// expires within the margin. ctx bounds only this caller's wait: a refresh
// that other callers need goes on when ctx ends.
//
// Errors: *ReauthError (errors.Is ErrNeedsReauth) when the account must be
// connected again; grants.ErrNotFound (wrapped) when it is not connected;
// *RefreshError when the token endpoint failed (RetryIn says when the next
// refresh is made; a caller that comes before then waits for it if it comes
// before ctx's deadline); providers.ErrNotConfigured (wrapped) when the
// provider's OAuth client is missing; ctx.Err() when ctx ended.
func (m *Manager) Token(ctx context.Context, tenant, provider, account string) (*oauth2.Token, error) {
	k := makeKey(tenant, provider, account)
	if t := m.cached(k); t != nil {
		return t, nil
	}
	return m.token(ctx, k, false)
}

// cached returns the account's access token if it needs no refresh: the hot
// path, one read lock, one map lookup and an atomic load, no allocation.
func (m *Manager) cached(k key) *oauth2.Token {
	m.mu.RLock()
	e := m.entries[k]
	m.mu.RUnlock()
	if e == nil {
		return nil
	}
	if c := e.cur.Load(); c != nil && m.cfg.Now().Before(c.refreshAt) {
		return c.tok
	}
	return nil
}

// Source returns the account's token source, for its provider's API
// clients: each Token call asks the Manager (bounded by the caller's
// context and Config.SourceTimeout), so refreshes, Invalidate and reauth
// apply at once; Invalidate drops a token the provider refused.
func (m *Manager) Source(tenant, provider, account string) providers.TokenSource {
	return source{m: m, k: makeKey(tenant, provider, account)}
}

type source struct {
	m *Manager
	k key
}

func (s source) Token(ctx context.Context) (*oauth2.Token, error) {
	if t := s.m.cached(s.k); t != nil {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.SourceTimeout)
	defer cancel()
	return s.m.token(ctx, s.k, false)
}

func (s source) Invalidate(accessToken string) {
	s.m.Invalidate(s.k.tenant, s.k.provider, s.k.account, accessToken)
}

// Invalidate drops the account's cached access token if it is still
// accessToken, so that the next Token call refreshes (once, however many
// callers). Call it when an API answered 401 with that token, then retry once.
func (m *Manager) Invalidate(tenant, provider, account, accessToken string) {
	m.mu.RLock()
	e := m.entries[makeKey(tenant, provider, account)]
	m.mu.RUnlock()
	if e == nil {
		return
	}
	if c := e.cur.Load(); c != nil && c.tok.AccessToken == accessToken {
		e.cur.CompareAndSwap(c, nil)
	}
	e.mu.Lock()
	e.rejected = accessToken
	e.mu.Unlock()
}

// Forget drops everything cached for the account (access token, needs-reauth
// state, failures). Call it after the account was disconnected or connected
// again. A refresh in progress still completes (and saves a rotated refresh
// token) for the callers waiting on it.
func (m *Manager) Forget(tenant, provider, account string) {
	m.mu.Lock()
	delete(m.entries, makeKey(tenant, provider, account))
	m.mu.Unlock()
}

// ForgetTenant drops everything cached for every account of a tenant: the
// tenant was removed (seen by another replica, or here). Refreshes in
// progress complete as for Forget.
func (m *Manager) ForgetTenant(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.entries {
		if k.tenant == tenant {
			delete(m.entries, k)
		}
	}
}

// entry returns the account's entry, creating it.
func (m *Manager) entry(k key) *entry {
	m.mu.RLock()
	e := m.entries[k]
	m.mu.RUnlock()
	if e != nil {
		return e
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e = m.entries[k]; e == nil {
		e = &entry{k: k}
		m.entries[k] = e
	}
	return e
}

// usable: the token may still be sent (it does not expire within 10 s, the
// margin x/oauth2 uses).
func usable(c *cached, now time.Time) bool {
	return c != nil && (c.expiry.IsZero() || now.Add(10*time.Second).Before(c.expiry))
}

// token is the slow path of Token. force refreshes even if the cached token
// is fresh, and re-reads the grant even if it was recently found dead (the
// health check); it still joins a refresh in progress.
//
// After a failed refresh, a caller that finds no usable token and may wait
// (the failure may pass, and the next refresh comes before ctx's deadline)
// waits for that refresh and answers its outcome: once, not until ctx ends.
func (m *Manager) token(ctx context.Context, k key, force bool) (*oauth2.Token, error) {
	j := m.join(k, force, nil)
	if j.f == nil && !j.retry.IsZero() {
		wait := j.retry.Sub(m.cfg.Now())
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, j.err // says when the next attempt is
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		j = m.join(k, force, &j.gen)
	}
	if j.f == nil {
		return j.tok, j.err
	}
	select {
	case <-j.f.done:
		if j.f.err != nil && j.f.stale != nil && !force {
			return j.f.stale, nil
		}
		return j.f.tok, j.f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// joined is join's answer: a refresh to wait for (f), or a token or an
// error; with an error, retry is the time of the next refresh when callers
// may wait for it, and gen identifies the failure.
type joined struct {
	f     *flight
	tok   *oauth2.Token
	err   error
	retry time.Time
	gen   uint64
}

// join answers from the entry's state, or returns the refresh to wait for
// (starting one if none is in progress). waited is set by a caller that
// waited for the next refresh after failure gen: it starts that refresh,
// unless another caller's refresh came first.
func (m *Manager) join(k key, force bool, waited *uint64) joined {
	e := m.entry(k)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := m.cfg.Now()
	if !force && e.flight == nil {
		c := e.cur.Load()
		if c != nil && now.Before(c.refreshAt) {
			return joined{tok: c.tok}
		}
		// Needs reauth: answer without contacting anyone, re-reading the
		// grant (never the token endpoint for the same dead grant) at most
		// every ReauthRecheck.
		if e.reauth != nil && now.Sub(e.reauthAt) < m.cfg.ReauthRecheck {
			return joined{err: e.reauth}
		}
		// Backing off after a failure: the old token while it works, else
		// the failure and when the next refresh will be made.
		if e.failErr != nil && now.Before(e.nextTry) && (waited == nil || *waited != e.refresh) {
			if usable(c, now) {
				return joined{tok: c.tok}
			}
			j := joined{err: retryIn(e.failErr, e.nextTry.Sub(now)), gen: e.refresh}
			if e.mayWait && waited == nil {
				j.retry = e.nextTry
			}
			return j
		}
	}
	if e.flight == nil {
		m.closeMu.Lock()
		closed := m.closed
		if !closed {
			m.wg.Add(1)
		}
		m.closeMu.Unlock()
		if closed {
			return joined{err: ErrClosed}
		}
		e.flight = &flight{done: make(chan struct{})}
		e.refresh++
		go m.run(e, e.flight)
	}
	return joined{f: e.flight}
}

// run performs one refresh for all the callers waiting on f.
func (m *Manager) run(e *entry, f *flight) {
	defer m.wg.Done()
	ctx, cancel := context.WithTimeout(m.base, m.cfg.RefreshTimeout)
	defer cancel()
	c, err := m.refresh(ctx, e)

	now := m.cfg.Now()
	e.mu.Lock()
	e.flight = nil
	var re *ReauthError
	var fe *RefreshError
	switch {
	case err == nil:
		e.cur.Store(c)
		e.reauth, e.deadRT, e.failErr, e.fails = nil, "", nil, 0
		e.lastOK = now
		f.tok = c.tok
	case errors.As(err, &re):
		m.advise(re)
		// The grant is dead: drop the token source, remember the answer.
		e.cur.Store(nil)
		e.reauth, e.reauthAt = re, now
		e.failErr, e.fails = nil, 0
		f.err = err
	default:
		e.fails++
		delay, mayWait := m.backoff(err, e.fails)
		e.failErr, e.nextTry, e.mayWait = err, now.Add(delay), mayWait
		if old := e.cur.Load(); errors.As(err, &fe) && fe.Temporary && usable(old, now) {
			f.stale = old.tok // refresh ahead of expiry failed: the old one still works
		}
		f.err = retryIn(err, delay)
		m.log.Warn("access token refresh failed", "tenant", e.k.tenant, "provider", e.k.provider, "account", e.k.account,
			"err", err, "failures", e.fails, "next_attempt_in", delay.Round(time.Millisecond).String())
	}
	e.mu.Unlock()
	// Reported before the waiters are let go, so that whoever got this
	// refresh's answer finds it counted (OnRefresh is a counter: quick).
	if m.cfg.OnRefresh != nil {
		outcome := refreshOutcome(err)
		if err == nil && c.shared {
			outcome = RefreshShared
		}
		m.cfg.OnRefresh(e.k.provider, outcome)
	}
	close(f.done)
}

// refreshOutcome classes a refresh's error for Config.OnRefresh.
func refreshOutcome(err error) string {
	var re *ReauthError
	var fe *RefreshError
	switch {
	case err == nil:
		return RefreshOK
	case errors.As(err, &re):
		return RefreshReauth
	case errors.As(err, &fe) && !fe.Temporary, errors.Is(err, providers.ErrNotConfigured), errors.Is(err, grants.ErrNotFound):
		return RefreshFailed
	case errors.As(err, &fe):
		return RefreshTransient
	}
	return RefreshTransient // a store error, a lock wait, not connected
}

// backoff is the delay before the next refresh after the n-th consecutive
// failure, err, and whether callers may wait for it. A failure that may
// pass (5xx, timeouts, network errors, a store error) is retried soon: a
// jittered delay of up to FailureBackoff, doubling with each failure, at
// most MaxBackoff, or what Retry-After asked. One that will not pass by
// itself (the OAuth client refused, the provider not configured) waits
// MaxBackoff, and nobody waits for it. An account not connected is read
// again after FailureBackoff (another process may connect it).
func (m *Manager) backoff(err error, n int) (time.Duration, bool) {
	var fe *RefreshError
	switch {
	case errors.As(err, &fe) && fe.RetryAfter > 0:
		return fe.RetryAfter, true
	case errors.As(err, &fe) && !fe.Temporary, errors.Is(err, providers.ErrNotConfigured), errors.Is(err, ErrClosed):
		return m.cfg.MaxBackoff, false
	case errors.Is(err, grants.ErrNotFound):
		return m.cfg.FailureBackoff, false
	}
	d := min(m.cfg.FailureBackoff<<min(n-1, 16), m.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1), true
}

// advise adds the provider's advice on a dead grant, if it has some.
func (m *Manager) advise(re *ReauthError) {
	if re.Advice != "" {
		return
	}
	if p, err := m.cfg.Providers.Get(re.Provider); err == nil && p.DeadGrantAdvice != nil {
		re.Advice = p.DeadGrantAdvice(providers.DeadGrant{ConnectedAt: re.ConnectedAt, FailedAt: re.FailedAt})
	}
}
