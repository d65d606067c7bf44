package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/tenant"
)

// mcpRequest is what a request to an MCP endpoint does to sessions and
// streams.
type mcpRequest struct {
	names  string                     // the streamable session it must name: known, not ending, opened with this key
	checks []string                   // sessions it names that, if known, must be this key's
	opens  bool                       // opens a session
	elicit *mcp.ElicitationCapability // the client's, declared in the initialize it carries
	stream bool                       // opens a long-lived stream
	bad    string                     // refused as malformed, with this message
}

// classify says what a request to /mcp, /sse or /message does. Its body,
// if any, has been read whole (limitBody).
func classify(r *http.Request) mcpRequest {
	id := r.Header.Get("Mcp-Session-Id")
	switch r.URL.Path {
	case "/sse":
		return mcpRequest{opens: r.Method == http.MethodGet, stream: r.Method == http.MethodGet}
	case "/message":
		return mcpRequest{checks: []string{r.URL.Query().Get("sessionId"), id}}
	}
	// /mcp. Protocol revision 2026-07-28 has no sessions: mcp-go ignores
	// their ids, and so does this.
	version := r.Header.Get(mcp.HeaderProtocolVersion)
	switch r.Method {
	case http.MethodPost:
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Meta         *mcp.Meta `json:"_meta"`
				Capabilities struct {
					Elicitation *mcp.ElicitationCapability `json:"elicitation"`
				} `json:"capabilities"`
			} `json:"params"`
		}
		_ = json.Unmarshal(peekBody(r), &msg)
		switch {
		case mcp.IsModernProtocol(version) || mcp.IsModernProtocol(msg.Params.Meta.ProtocolVersion()):
			return mcpRequest{stream: msg.Method == string(mcp.MethodSubscriptionsListen)}
		case msg.Method == string(mcp.MethodInitialize):
			return mcpRequest{opens: true, elicit: msg.Params.Capabilities.Elicitation} // a new session, whatever id it carries
		case id == "":
			return mcpRequest{} // mcp-go answers it
		}
		return mcpRequest{names: id}
	case http.MethodGet:
		switch {
		case mcp.IsModernProtocol(version):
			return mcpRequest{}
		case id == "":
			// mcp-go opens a session that lives as long as this stream.
			return mcpRequest{opens: true, stream: true}
		}
		return mcpRequest{names: id, stream: true}
	case http.MethodDelete:
		switch {
		case mcp.IsModernProtocol(version):
			return mcpRequest{}
		case id == "":
			return mcpRequest{bad: "DELETE /mcp needs the Mcp-Session-Id header of the session to end"}
		}
		return mcpRequest{names: id}
	}
	return mcpRequest{}
}

// peekBody returns a request's body without consuming it.
func peekBody(r *http.Request) []byte {
	if b, ok := r.Body.(bufferedBody); ok {
		return b.data
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	data, _ := io.ReadAll(r.Body)
	r.Body = newBufferedBody(data)
	return data
}

// refusal is an answer admit gives instead of the handler's.
type refusal struct {
	status  int
	code    string
	message string
}

func (r *refusal) write(w http.ResponseWriter) { tenant.WriteError(w, r.status, r.code, r.message) }

var errUnknownSession = &refusal{http.StatusNotFound, "session_not_found",
	"no such session: it was ended (DELETE, idle longer than --session-idle-ttl, the server restarted) or was opened with another API key or sign-in; start a new one with initialize"}

// admit is the MCP endpoints' door, after authentication and limitBody: a
// request naming a session is let in only with the API key (or OAuth
// sign-in: sessionBinding) that opened it,
// and only while the session lives (404 otherwise: the MCP transport spec's
// answer for an ended session); one that would open a session or a stream
// beyond its tenant's cap gets 429 naming the flag. Every request let in
// runs on a context the table cancels when its session ends or its tenant
// is removed.
func (t *sessionTable) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := tenant.FromContext(r.Context())
		req := classify(r)
		if req.bad != "" {
			tenant.WriteError(w, http.StatusBadRequest, "bad_request", req.bad)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		binding, signin := sessionBinding(r)
		a := &admission{tenant: name, keyHash: binding, signin: signin, cancel: cancel, opens: req.opens, stream: req.stream, elicit: req.elicit}
		if no := t.enter(a, req); no != nil {
			no.write(w)
			return
		}
		defer t.release(a)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, admissionKey{}, a)))
	})
}

// enter admits a, or says why not.
func (t *sessionTable) enter(a *admission, req mcpRequest) *refusal {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range req.checks {
		if s := t.sessions[id]; id != "" && s != nil && s.keyHash != a.keyHash {
			return errUnknownSession
		}
	}
	var s *liveSession
	l := t.load(a.tenant)
	if req.names != "" {
		s = t.sessions[req.names]
		// The id's MAC is checked only for an id this replica does not know
		// (a known session's key is compared below): not on every request,
		// under the table's lock.
		var adopt bool
		var elicit *mcp.ElicitationCapability
		if s == nil && !t.ended.has(req.names) {
			adopt, elicit = boundTo(req.names, a.keyHash)
		}
		if adopt {
			// Opened on another replica with this key: adopted here.
			if l.sessions >= t.maxSessions {
				t.tidyLocked(a.tenant, l)
				return tooManySessions(a.tenant, l.sessions)
			}
			s = &liveSession{id: req.names, kind: streamableSession, tenant: a.tenant, keyHash: a.keyHash, signin: a.signin,
				registered: true, adopted: true, elicit: elicit, lastUsed: t.now(), streams: map[*admission]struct{}{}}
			t.sessions[s.id] = s
			l.sessions++
		}
		if s == nil || s.ending || s.keyHash != a.keyHash || s.kind != streamableSession {
			t.tidyLocked(a.tenant, l)
			return errUnknownSession
		}
	}
	switch {
	case a.opens && l.sessions >= t.maxSessions:
		t.tidyLocked(a.tenant, l)
		return tooManySessions(a.tenant, l.sessions)
	case a.stream && l.streams >= t.maxStreams:
		t.tidyLocked(a.tenant, l)
		return &refusal{http.StatusTooManyRequests, "too_many_streams", fmt.Sprintf(
			"tenant %s has %d open MCP streams (GET /sse, GET /mcp, subscriptions/listen), the most this server allows (--max-streams-per-tenant); close one first",
			a.tenant, l.streams)}
	}
	if a.opens {
		l.sessions++
	}
	if a.stream {
		l.streams++
	}
	l.running[a] = struct{}{}
	if s != nil {
		t.attach(a, s)
	}
	return nil
}

func tooManySessions(name string, n int) *refusal {
	return &refusal{http.StatusTooManyRequests, "too_many_sessions", fmt.Sprintf(
		"tenant %s has %d live MCP sessions, the most this server allows (--max-sessions-per-tenant); end sessions you no longer use (DELETE /mcp, or close the SSE stream) or wait until idle ones are closed",
		name, n)}
}
