package microsoft

import (
	"sync"
	"time"
)

// maxCacheEntries bounds each cache: past it, it starts over (what it holds
// is cheap to learn again).
const maxCacheEntries = 4096

// cache keeps values briefly by key (an account, a token's hash). It is
// safe for concurrent use; the zero value with a ttl works.
type cache[V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v  V
	at time.Time
}

func (c *cache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.at) > c.ttl || now.Before(e.at) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *cache[V]) put(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCacheEntries {
		c.m = map[string]cacheEntry[V]{}
	}
	c.m[key] = cacheEntry[V]{v: v, at: now}
}
