package main

import (
	"context"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mailcal/mailcal/auth/tenant"
)

// sessionTenants remembers which tenant opened each MCP session, so that a
// request naming a session (Mcp-Session-Id, or ?sessionId= on /message) is
// accepted only from that same tenant: another tenant's valid key must not
// let it post into, or listen on, someone else's session.
type sessionTenants struct {
	m sync.Map // session id -> tenant name
}

func newSessionTenants() *sessionTenants { return &sessionTenants{} }

func (s *sessionTenants) hooks() *server.Hooks {
	h := &server.Hooks{}
	h.AddOnRegisterSession(func(ctx context.Context, sess server.ClientSession) {
		if name, ok := tenant.FromContext(ctx); ok {
			s.m.Store(sess.SessionID(), name)
		}
	})
	h.AddOnUnregisterSession(func(ctx context.Context, sess server.ClientSession) {
		s.m.Delete(sess.SessionID())
	})
	return h
}

// guard answers 404 to a request for a session that belongs to another
// tenant, exactly as for a session that does not exist. Both places a
// session can be named are checked: /message uses ?sessionId= whatever
// Mcp-Session-Id says, /mcp the header.
func (s *sessionTenants) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := tenant.FromContext(r.Context())
		for _, id := range []string{r.Header.Get("Mcp-Session-Id"), r.URL.Query().Get("sessionId")} {
			if owner, ok := s.m.Load(id); id != "" && ok && owner != name {
				tenant.WriteError(w, http.StatusNotFound, "session_not_found", "no such session")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
