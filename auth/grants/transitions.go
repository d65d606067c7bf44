package grants

import (
	"context"
	"strconv"
	"time"
)

// Transition is a change of an account's connection status that this
// process wrote: From and To are a status ("" for no grant: a new
// connection, or a removed one). Key names it uniquely among every process
// sharing the store: the account, when it was connected and the version
// the compare-and-set produced (or removed), which only one writer can
// have got. (Versions start again after a removal; the connection time
// tells the two apart, unless both happened in one second.)
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
		Key: gr.Provider + "/" + gr.key().Account + "/" + strconv.FormatInt(connected.Unix(), 10) + "/" + what + strconv.FormatInt(version, 10),
	})
}
