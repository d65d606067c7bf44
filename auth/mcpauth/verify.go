package mcpauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// ErrInvalidToken is wrapped by every refusal of Verify: answer 401 with
// error="invalid_token" and the error's text (safe to show) as its
// description.
var ErrInvalidToken = errors.New("invalid_token")

const (
	// maxVerified bounds the validated tokens kept in memory.
	maxVerified = 10000
	// cacheFor is how long a validated token is trusted without reading the
	// store again: a revocation on another replica takes effect within it.
	cacheFor = 2 * time.Second
	// lookupTimeout bounds Verify's read of the store.
	lookupTimeout = 10 * time.Second
)

// Verify checks an access token presented at tenant's MCP endpoint and
// returns who signed in. It must be one of this server's access tokens,
// unexpired, issued for exactly this tenant's endpoint (RFC 8707: a token
// of tenant A is refused at B's), and the tenant must still exist. Errors
// that are not the token's fault (the store) do not wrap ErrInvalidToken.
func (s *Server) Verify(ctx context.Context, token, tenantName string) (tenant.Signin, error) {
	if !wellFormed(token, AccessPrefix) {
		return tenant.Signin{}, fmt.Errorf("%w: not an access token of this server", ErrInvalidToken)
	}
	hash := hashToken(token)
	now := s.now()
	rec, ok := s.cache.get(hash, now)
	if !ok {
		// One read of the store however many of the client's calls come
		// at once once the cached answer is old.
		// The read is not the first caller's alone: its going away must not
		// fail the others, so it runs detached, bounded on its own.
		v, err, _ := s.verifying.Do(hash, func() (any, error) {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
			defer cancel()
			return s.lookup(lctx, hash, now)
		})
		if err != nil {
			return tenant.Signin{}, err
		}
		rec = v.(store.OAuthToken)
	}
	switch {
	case !now.Before(rec.ExpiresAt):
		return tenant.Signin{}, fmt.Errorf("%w: expired; refresh it", ErrInvalidToken)
	case rec.Tenant != tenantName || rec.Resource != s.Resource(tenantName):
		return tenant.Signin{}, fmt.Errorf("%w: issued for another MCP endpoint (%s), not %s", ErrInvalidToken, rec.Resource, s.Resource(tenantName))
	}
	return tenant.Signin{Tenant: rec.Tenant, Provider: rec.Provider, Account: rec.Account, Client: rec.Client, Family: rec.Family}, nil
}

// lookup reads an access token and its tenant from the store and caches
// the token once both are good.
func (s *Server) lookup(ctx context.Context, hash string, now time.Time) (store.OAuthToken, error) {
	rec, err := s.cfg.Store.GetOAuthToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return rec, fmt.Errorf("%w: unknown, expired or revoked; refresh it or sign in again", ErrInvalidToken)
	}
	if err != nil {
		return rec, fmt.Errorf("reading the access token: %w", err)
	}
	if rec.Kind != store.OAuthAccess {
		return rec, fmt.Errorf("%w: not an access token", ErrInvalidToken)
	}
	exists, err := s.cfg.TenantExists(ctx, rec.Tenant)
	if err != nil {
		return rec, fmt.Errorf("reading the workspace: %w", err)
	}
	if !exists {
		return rec, fmt.Errorf("%w: the workspace of this sign-in no longer exists", ErrInvalidToken)
	}
	s.cache.put(hash, rec, now)
	return rec, nil
}

// verifyCache keeps validated access tokens for cacheFor.
type verifyCache struct {
	mu  sync.Mutex
	max int
	m   map[string]verified
}

type verified struct {
	rec store.OAuthToken
	at  time.Time
}

func newVerifyCache(max int) *verifyCache {
	return &verifyCache{max: max, m: map[string]verified{}}
}

func (c *verifyCache) get(hash string, now time.Time) (store.OAuthToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Sub(e.at) >= cacheFor || now.Before(e.at) {
		return store.OAuthToken{}, false
	}
	return e.rec, true
}

func (c *verifyCache) put(hash string, rec store.OAuthToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.sweepLocked(now)
	}
	if len(c.m) >= c.max {
		// Every entry is fresh: many tokens within 2 s. Forget them all
		// rather than grow: the next calls read the store.
		clear(c.m)
	}
	c.m[hash] = verified{rec: rec, at: now}
}

// dropFamily forgets a revoked family's tokens at once.
func (c *verifyCache) dropFamily(family string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.rec.Family == family {
			delete(c.m, h)
		}
	}
}

// sweep drops the stale entries.
func (c *verifyCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(now)
}

func (c *verifyCache) sweepLocked(now time.Time) {
	for h, e := range c.m {
		if now.Sub(e.at) >= cacheFor || now.Before(e.at) {
			delete(c.m, h)
		}
	}
}

func (c *verifyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
