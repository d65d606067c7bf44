package tools

import (
	"context"
	"sync"

	"github.com/mailcal/mailcal/auth/grants"
)

// perAccountCalls bounds the provider calls running at once for one account
// (each may fan out further, as list_messages does): many agents or a busy
// one share a mailbox's per-user rate limit instead of tripping it.
const perAccountCalls = 4

// accountLimiter hands out per-account slots.
type accountLimiter struct {
	mu    sync.Mutex
	slots map[string]chan struct{}
}

// acquire waits for a slot of g's account, at most until ctx ends, and
// returns the function that gives it back.
func (l *accountLimiter) acquire(ctx context.Context, g grants.Grant) (func(), error) {
	key := g.Tenant + "\x00" + g.Provider + "\x00" + g.Account
	l.mu.Lock()
	if l.slots == nil {
		l.slots = map[string]chan struct{}{}
	}
	ch, ok := l.slots[key]
	if !ok {
		ch = make(chan struct{}, perAccountCalls)
		l.slots[key] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, userErrorf("%s has %d calls running already and this one gave up waiting: %v", g.Account, perAccountCalls, ctx.Err())
	}
}
