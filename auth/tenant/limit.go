package tenant

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Wrong keys a source address may send: a burst (a client's tests of its
// error handling fit), then one every interval.
const (
	wrongKeyBurst = 30
	wrongKeyEvery = 2 * time.Second
	// maxSources bounds the limiter's memory; past it, idle sources are
	// forgotten first.
	maxSources = 10000
)

// Source returns the address a request's wrong keys are counted against:
// its peer's IP address, or for IPv6 its /64 (one host usually has a whole
// /64). Forwarding headers are not trusted: behind a proxy, every request
// comes from the proxy, which then shares one budget of wrong keys (right
// keys are never limited).
func Source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Limiter is a token bucket per source address: burst requests at once,
// then one every interval; at most maxSources remembered. It limits what
// anyone may try without valid credentials: wrong API keys here, and in
// mailcal's OAuth server client registrations and sign-ins begun.
type Limiter struct {
	burst float64
	every time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a Limiter of burst requests, then one every interval.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

// Take spends one of source's tokens; when it has none, it reports how
// long until it has one.
func (l *Limiter) Take(source string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[source]
	if b == nil {
		if len(l.buckets) >= maxSources {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[source] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) * float64(l.every)), false
}

// prune forgets the sources whose buckets are full again, and every source
// if that is not enough.
func (l *Limiter) prune(now time.Time) {
	for s, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.every) >= l.burst {
			delete(l.buckets, s)
		}
	}
	if len(l.buckets) >= maxSources {
		clear(l.buckets)
	}
}

// Refused counts a credential refused outside AuthenticateFrom against
// source's budget of wrong keys: an OAuth access token that did not verify,
// or another tenant's key at a tenant's own endpoint. It returns a
// *RateLimitError once source has none left. "" is not limited.
func (a *Authenticator) Refused(source string) error {
	if source == "" {
		return nil
	}
	if wait, ok := a.wrong.Take(source, a.now()); !ok {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}
