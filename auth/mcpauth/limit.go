package mcpauth

import (
	"sync"
	"time"
)

// maxSources bounds the source addresses a limiter remembers.
const maxSources = 10000

// sourceLimiter is a token bucket per source address: burst requests at
// once, then one every interval. It limits what anyone may do without
// credentials: registering clients, and beginning sign-ins (each stores a
// pending flow, and a tenant's oldest pending flows give way to new ones).
type sourceLimiter struct {
	burst float64
	every time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newSourceLimiter(burst int, every time.Duration) *sourceLimiter {
	return &sourceLimiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

// take spends one of source's requests, or says how long until it has
// one. Past maxSources, sources whose bucket is full again are forgotten;
// if none is, a new source waits like an exhausted one.
func (l *sourceLimiter) take(source string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[source]
	if b == nil {
		if len(l.buckets) >= maxSources {
			full := time.Duration(l.burst) * l.every
			for k, o := range l.buckets {
				if now.Sub(o.at) >= full {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= maxSources {
				return l.every, false
			}
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
