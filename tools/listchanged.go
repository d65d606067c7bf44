package tools

import (
	"context"
	"log/slog"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// listViews remembers, per session, whether the tools/list it last answered
// hid the send tools (drafts_only), so that a session whose tenant's policy
// has flipped since is told with notifications/tools/list_changed and lists
// again. The check runs on the session's next request: the policy may be
// changed by another process (mailcal policy set) or another replica, and
// is read through the policy cache, so a request costs a map lookup and a
// cache read. A session forgotten by the server is forgotten here.
type listViews struct {
	mu   sync.Mutex
	seen map[string]bool // session id → drafts_only as last listed
}

func newListViews() *listViews { return &listViews{seen: map[string]bool{}} }

// listed records what the session's tools/list showed.
func (v *listViews) listed(ctx context.Context, draftsOnly bool) {
	sess := server.ClientSessionFromContext(ctx)
	if sess == nil || sess.SessionID() == "" {
		return
	}
	v.mu.Lock()
	v.seen[sess.SessionID()] = draftsOnly
	v.mu.Unlock()
}

func (v *listViews) forget(id string) {
	v.mu.Lock()
	delete(v.seen, id)
	v.mu.Unlock()
}

// changed reports whether the session listed tools under another
// drafts_only than now, and records now if so (the notification is sent
// once per flip).
func (v *listViews) changed(id string, now bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	was, ok := v.seen[id]
	if !ok || was == now {
		return false
	}
	v.seen[id] = now
	return true
}

// hooks wires the views into the server: on every request but tools/list
// itself, a session whose view is out of date gets list_changed.
func (h *handlers) listChangedHooks(v *listViews, hooks *server.Hooks) {
	hooks.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		v.forget(sess.SessionID())
	})
	hooks.AddBeforeAny(func(ctx context.Context, _ any, method mcp.MCPMethod, _ any) {
		if method == mcp.MethodToolsList || method == mcp.MethodInitialize {
			return
		}
		sess := server.ClientSessionFromContext(ctx)
		if sess == nil || sess.SessionID() == "" {
			return
		}
		t, err := tenantOf(ctx)
		if err != nil {
			return
		}
		p, err := h.opts.Policies.Get(ctx, t)
		if err != nil {
			return // unreadable: the list hides nothing, and sends are refused
		}
		if !v.changed(sess.SessionID(), p.DraftsOnly) {
			return
		}
		srv := server.ServerFromContext(ctx)
		if srv == nil {
			return
		}
		if err := srv.SendNotificationToClient(ctx, mcp.MethodNotificationToolsListChanged, nil); err != nil {
			slog.DebugContext(ctx, "tools list_changed not sent", "tenant", t, "err", err)
		}
	})
}
