package main

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// sessionTable keeps the MCP sessions of the HTTP transports (streamable
// and legacy SSE) and the requests running on them, per tenant. It is
//
//   - the streamable transport's session-id manager: an id is valid from the
//     initialize that made it until DELETE, an idle sweep, the tenant's
//     removal or the end of the process, and answers 404 after that (mcp-go's
//     default manager checks only an id's format, so an ended id kept
//     answering 200);
//   - the binding of a session to the API key (or OAuth sign-in) that
//     opened it: another key, even the same tenant's next one, or another
//     sign-in gets 404 as for a session that does not exist (admit.go);
//   - the per-tenant caps on live sessions and open streams (admit.go);
//   - the idle sweep, which never ends a session while a request on it runs,
//     and the end of everything a removed tenant had open (sweep.go).
//
// Streamable session ids carry their binding to the key (sessionids.go):
// a replica that never saw a session adopts it from a request with the
// right key, so /mcp needs no affinity behind a load balancer. Legacy SSE
// sessions live in this process's memory only: their /message requests
// must reach the replica holding the stream.
type sessionTable struct {
	maxSessions int // live sessions per tenant, streamable and SSE
	maxStreams  int // open streams per tenant: GET /sse, GET /mcp, subscriptions/listen
	idleTTL     time.Duration
	now         func() time.Time
	// end ends a streamable session the way a DELETE does, so that mcp-go
	// forgets it too; set once the streamable server exists.
	end func(id string)
	// removed hears that the recheck found a tenant removed (by any
	// process); set before start.
	removed func(tenant string)

	mu       sync.Mutex
	sessions map[string]*liveSession
	tenants  map[string]*tenantLoad
	ended    *endedIDs // streamable sessions ended here, not to be adopted again
}

type sessionKind int

const (
	streamableSession sessionKind = iota
	sseSession
)

// liveSession is one session, from the moment its id is made.
type liveSession struct {
	id         string
	kind       sessionKind
	tenant     string
	keyHash    string                     // of the API key that opened it, or of its sign-in (sessionBinding)
	signin     bool                       // opened through an OAuth sign-in: keyHash is not a key's
	registered bool                       // mcp-go registered it: its initialize went through
	adopted    bool                       // opened on another replica (sessionids.go)
	elicit     *mcp.ElicitationCapability // what its id says the client declared, if adopted
	ending     bool                       // being ended: refused from now on
	busy       int                        // requests on it now running: calls and streams
	lastUsed   time.Time
	streams    map[*admission]struct{} // its open streams, ended with it
}

// tenantLoad is what one tenant has open.
type tenantLoad struct {
	sessions int // live sessions, and admitted requests about to open one
	streams  int
	running  map[*admission]struct{}
}

// admission is one running request on an MCP endpoint (admit.go).
type admission struct {
	tenant  string
	keyHash string // sessionBinding: the API key's hash or the sign-in's
	signin  bool   // authenticated through an OAuth sign-in
	cancel  context.CancelFunc
	opens   bool                       // holds a session slot of its tenant until it has a session
	elicit  *mcp.ElicitationCapability // what the initialize it carries declared
	stream  bool
	session *liveSession // the session it names or opened, if any
}

type admissionKey struct{}

func admissionFrom(ctx context.Context) *admission {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	return a
}

func newSessionTable(maxSessions, maxStreams int, idleTTL time.Duration) *sessionTable {
	return &sessionTable{
		maxSessions: maxSessions, maxStreams: maxStreams, idleTTL: idleTTL, now: time.Now,
		end: func(string) {}, removed: func(string) {},
		sessions: map[string]*liveSession{}, tenants: map[string]*tenantLoad{},
		ended: newEndedIDs(max(idleTTL, time.Hour), 100_000),
	}
}

// hooks tell the table when mcp-go registers and forgets a session.
func (t *sessionTable) hooks() *server.Hooks {
	h := &server.Hooks{}
	h.AddOnRegisterSession(func(ctx context.Context, sess server.ClientSession) {
		t.registered(admissionFrom(ctx), sess.SessionID())
	})
	h.AddOnUnregisterSession(func(ctx context.Context, sess server.ClientSession) {
		t.terminate(sess.SessionID())
	})
	return h
}

func (t *sessionTable) load(name string) *tenantLoad {
	l := t.tenants[name]
	if l == nil {
		l = &tenantLoad{running: map[*admission]struct{}{}}
		t.tenants[name] = l
	}
	return l
}

// attach makes s the session of a: the request that opened it, or a call
// or stream on it.
func (t *sessionTable) attach(a *admission, s *liveSession) {
	a.session = s
	s.busy++
	if a.stream {
		s.streams[a] = struct{}{}
	}
}

// newSession records a session the request a opened; the session slot a
// held becomes the session's.
func (t *sessionTable) newSession(id string, kind sessionKind, a *admission) *liveSession {
	s := &liveSession{id: id, kind: kind, tenant: a.tenant, keyHash: a.keyHash, signin: a.signin, lastUsed: t.now(), streams: map[*admission]struct{}{}}
	t.sessions[id] = s
	if a.opens {
		a.opens = false
	} else {
		t.load(a.tenant).sessions++
	}
	t.attach(a, s)
	return s
}

// generate makes the id of a new streamable session for the request a.
func (t *sessionTable) generate(a *admission) string {
	id := boundSessionID(a.keyHash, a.elicit)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.newSession(id, streamableSession, a)
	return id
}

// registered records that mcp-go registered a session: a streamable one
// whose id generate made, or an SSE one, new here.
func (t *sessionTable) registered(a *admission, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions[id]; s != nil {
		s.registered = true
		return
	}
	if a == nil || a.session != nil {
		return // not an HTTP session (stdio)
	}
	t.newSession(id, sseSession, a).registered = true
}

// terminate forgets a session and ends its streams.
func (t *sessionTable) terminate(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions[id]; s != nil {
		t.removeLocked(s)
	}
}

func (t *sessionTable) removeLocked(s *liveSession) {
	delete(t.sessions, s.id)
	if s.kind == streamableSession {
		t.ended.add(s.id, t.now())
	}
	l := t.load(s.tenant)
	l.sessions--
	for a := range s.streams {
		a.cancel()
	}
	t.tidyLocked(s.tenant, l)
}

func (t *sessionTable) tidyLocked(name string, l *tenantLoad) {
	if l.sessions == 0 && l.streams == 0 && len(l.running) == 0 {
		delete(t.tenants, name)
	}
}

// release ends the admission of a request that finished.
func (t *sessionTable) release(a *admission) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.load(a.tenant)
	delete(l.running, a)
	if a.stream {
		l.streams--
	}
	if a.opens {
		l.sessions-- // it opened none
	}
	if s := a.session; s != nil && t.sessions[s.id] == s {
		s.busy--
		s.lastUsed = t.now()
		delete(s.streams, a)
		if !s.registered {
			t.removeLocked(s) // its initialize failed
		}
	}
	t.tidyLocked(a.tenant, l)
}

// count returns the number of live sessions (for tests).
func (t *sessionTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// --- the streamable transport's session-id manager

var errNoSession = errors.New("session not found")

// ResolveSessionIdManager gives mcp-go the manager for one request: bound
// to the request's admission, so that the id it makes is that request's
// tenant's and key's. The sweep and shutdown ask with no request.
func (t *sessionTable) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	m := sessionIDs{t: t}
	if r != nil {
		m.a = admissionFrom(r.Context())
	}
	return m
}

type sessionIDs struct {
	t *sessionTable
	a *admission
}

func (m sessionIDs) Generate() string {
	if m.a == nil {
		// Not through admit: an id no request will be able to use.
		return "mcs_" + rand.Text()
	}
	return m.t.generate(m.a)
}

func (m sessionIDs) Validate(id string) (bool, error) {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	s := m.t.sessions[id]
	if s == nil || s.ending || (m.a != nil && s.keyHash != m.a.keyHash) {
		return false, errNoSession
	}
	return false, nil
}

func (m sessionIDs) Terminate(id string) (bool, error) {
	if _, err := m.Validate(id); err != nil && m.a != nil {
		return false, err
	}
	m.t.terminate(id)
	return false, nil
}
