package grants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// Transition is a change of an account's connection status that this
// process wrote: From and To are a status ("" for no grant: a new
// connection, or a removed one). Key names it uniquely among every process
// sharing the store: the account, when it was connected (to the
// microsecond every store keeps) and the version the compare-and-set
// produced (or removed), which only one writer can have got. Versions start
// again after a removal; the connection time tells a reconnect from the
// connection before it. An account too long for the key is named by a hash.
type Transition struct {
	Tenant, Provider, Account string
	From, To                  string
	// Reason is the new status's reason (already redacted: the token
	// manager stores none of a token's text).
	Reason string
	Key    string
}

// OnTransition sets the function told of each status transition this
// process writes, after the write. It is called synchronously, with the
// writer's context: keep it short and bounded. Set it before use.
func (g *Store) OnTransition(fn func(context.Context, Transition)) { g.onTransition = fn }

func (g *Store) transition(ctx context.Context, gr Grant, connected time.Time, from, to string, version int64, what string) {
	if g.onTransition == nil || from == to {
		return
	}
	g.onTransition(ctx, Transition{
		Tenant: gr.Tenant, Provider: gr.Provider, Account: gr.key().Account, From: from, To: to, Reason: gr.StatusReason,
		Key: transitionKey(gr.Provider, gr.key().Account, connected, what, version),
	})
}

// transitionKey is a Transition's Key, at most store.MaxDeliveryKeyLen
// characters.
func transitionKey(provider, account string, connected time.Time, what string, version int64) string {
	tail := "/" + strconv.FormatInt(connected.Truncate(time.Microsecond).UnixMicro(), 10) + "/" + what + strconv.FormatInt(version, 10)
	if len(provider)+1+len(account)+len(tail) > store.MaxDeliveryKeyLen {
		sum := sha256.Sum256([]byte(account))
		account = "sha256:" + hex.EncodeToString(sum[:16])
	}
	return provider + "/" + account + tail
}
