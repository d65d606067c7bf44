package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// tenantRecheck is how often the tenants with something open are read
// again, so that a removed tenant's streams and sessions end within it: the
// interval at which the authenticator re-reads a tenant whose key it sees.
const tenantRecheck = 2 * time.Second

// tenantGetter reads one tenant (a *tenant.Registry).
type tenantGetter interface {
	Get(ctx context.Context, name string) (tenant.Tenant, error)
}

// start runs the idle sweep and the removed-tenant check until the
// returned stop is called; stop waits for them to end.
func (t *sessionTable) start(tenants tenantGetter, recheck time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	every := func(d time.Duration, f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					f(ctx)
				}
			}
		}()
	}
	every(min(max(t.idleTTL/4, 50*time.Millisecond), 30*time.Second), func(context.Context) { t.sweep() })
	every(recheck, func(ctx context.Context) { t.recheck(ctx, tenants) })
	return func() { cancel(); wg.Wait() }
}

// sweep ends the streamable sessions idle for the idle TTL: no request on
// them running (no call, no stream) and none finished for that long. A
// session chosen is marked ending under the lock that admits requests, so
// no call can start on it after it was chosen.
func (t *sessionTable) sweep() {
	t.mu.Lock()
	now := t.now()
	t.ended.prune(now)
	var idle []string
	for id, s := range t.sessions {
		if s.kind == streamableSession && s.registered && !s.ending && s.busy == 0 && now.Sub(s.lastUsed) >= t.idleTTL {
			s.ending = true
			idle = append(idle, id)
		}
	}
	t.mu.Unlock()
	for _, id := range idle {
		slog.Debug("closing an idle session", "idle_ttl", t.idleTTL)
		t.end(id)
	}
}

// recheck reads every tenant that has a session or a running request, and
// ends everything of one that was removed, or opened with a key it no
// longer has (not what an OAuth sign-in opened: a new key leaves sign-ins
// as they are, and each of their requests is verified anyway). A tenant
// that cannot be read now keeps what it has.
func (t *sessionTable) recheck(ctx context.Context, tenants tenantGetter) {
	for name, keys := range t.keysInUse() {
		readCtx, cancel := context.WithTimeout(store.Background(ctx), 30*time.Second) // no call waits for it
		rec, err := tenants.Get(readCtx, name)
		cancel()
		switch {
		case errors.Is(err, tenant.ErrNotFound):
			t.removed(name)
			t.endTenant(name, "")
		case err != nil:
			slog.Debug("re-reading a tenant with open sessions failed", "tenant", name, "err", err)
		default:
			for k := range keys {
				if k != rec.KeyHash {
					t.endTenant(name, rec.KeyHash)
					break
				}
			}
		}
	}
}

// keysInUse returns, for every tenant with a session or a running request,
// the hashes of the API keys they were opened with (none for sign-ins).
func (t *sessionTable) keysInUse() map[string]map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]map[string]bool{}
	add := func(name, key string, signin bool) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if !signin {
			out[name][key] = true
		}
	}
	for _, s := range t.sessions {
		add(s.tenant, s.keyHash, s.signin)
	}
	for name, l := range t.tenants {
		for a := range l.running {
			add(name, a.keyHash, a.signin)
		}
	}
	return out
}

// endTenant ends the sessions and running requests of a tenant, except
// those opened with the key whose hash is keep and, when keep is given (the
// tenant was re-keyed, not removed), those of OAuth sign-ins: its streams
// and calls are cancelled, its sessions ended (streamable ones as a DELETE
// would).
func (t *sessionTable) endTenant(name, keep string) {
	t.endWhere("tenant removed or given a new key: closing what it had open", name,
		func(tenantName, keyHash string, signin bool) bool {
			return tenantName == name && keyHash != keep && !(keep != "" && signin)
		})
}

// endSignin ends the sessions and running requests of a sign-in whose
// tokens this process revoked (a reused refresh token, /revoke): its open
// streams close at once here instead of idling out. Other replicas refuse
// its next request (its token is gone) and close its streams when idle.
func (t *sessionTable) endSignin(family string) {
	binding := signinBinding(family)
	t.endWhere("sign-in revoked: closing what it had open", "",
		func(_, keyHash string, signin bool) bool { return signin && keyHash == binding })
}

// endWhere ends the sessions and cancels the running requests that match
// (of tenant only, when it is not empty).
func (t *sessionTable) endWhere(why, tenantName string, match func(tenant, keyHash string, signin bool) bool) {
	t.mu.Lock()
	var streamable []string
	var running []*admission
	n := 0
	for id, s := range t.sessions {
		if !s.ending && match(s.tenant, s.keyHash, s.signin) {
			s.ending = true
			n++
			if s.kind == streamableSession {
				streamable = append(streamable, id)
			}
		}
	}
	for name, l := range t.tenants {
		if tenantName != "" && name != tenantName {
			continue
		}
		for a := range l.running {
			if match(name, a.keyHash, a.signin) {
				running = append(running, a)
			}
		}
	}
	t.mu.Unlock()
	if n == 0 && len(running) == 0 {
		return
	}
	slog.Info(why, "tenant", tenantName, "sessions", n, "requests", len(running))
	// SSE sessions end with their streams.
	for _, a := range running {
		a.cancel()
	}
	for _, id := range streamable {
		t.end(id)
	}
}

// endStreamable ends a streamable session through the streamable server's
// own DELETE, so that mcp-go forgets it as it does for a client's DELETE.
func endStreamable(h http.Handler, id string) {
	r, err := http.NewRequest(http.MethodDelete, "/mcp", nil)
	if err != nil {
		return
	}
	r.Header.Set("Mcp-Session-Id", id)
	h.ServeHTTP(discardResponse{http.Header{}}, r)
}

// discardResponse is a ResponseWriter that keeps nothing.
type discardResponse struct{ h http.Header }

func (d discardResponse) Header() http.Header         { return d.h }
func (d discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d discardResponse) WriteHeader(int)             {}
