package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Streamable session ids carry their binding, so that any replica can
// serve a request naming a session another one opened, without a shared
// session table and without a database read on the request's path.
//
// An id is "mcs_" + 26 random characters + "_" + a letter for the
// client's elicitation capability + a MAC of both keyed by the hash of the
// API key that opened the session (32 characters). A replica that does not
// know an id accepts it only from a request authenticated with that same
// key (the MAC matches), and adopts it into its own table: the tenant's
// session cap, idle sweep and removal then apply to it there as to a
// session opened there. Another key, even the same tenant's next one,
// cannot use it. The id grants nothing by itself: every request is
// authenticated by its API key, which every replica checks against the
// shared store (a removed or replaced key is refused within about 2 s).
//
// The id also carries the elicitation capability the client declared at
// initialize (under the MAC), which only the replica that ran the
// initialize saw: an adopted session's calls get it too (carrySession), so
// that a confirmation the tenant's policy asks for is asked, never skipped
// as for a client that cannot ask. The client's answer to a server request
// comes back as another POST, though: without affinity it reaches another
// replica, the question goes unanswered and the send is not made (the
// call's deadline). Elicitation on sessions before protocol 2026-07-28
// therefore needs affinity on Mcp-Session-Id; from 2026-07-28 on, the
// answer comes with the repeated call, which any replica serves.
//
// A session opened through an OAuth sign-in (/t/{tenant}/mcp with an access
// token) is bound the same way to its sign-in instead of a key
// (sessionBinding: a hash of the token family, which every access token of
// that sign-in shares), so that any replica adopts it from that sign-in only.
//
// What is not shared: a session ended here (DELETE, idle sweep, the
// tenant's removal) is remembered here (endedIDs) and answers 404 here; a
// replica that never saw it end may still accept it. Sessions carry no
// state a call depends on (every tool call reads its tenant and grants from
// the store), so such a late acceptance serves the call like any other.
const sessionIDPrefix = "mcs_"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// boundSessionID makes a new streamable session id bound to keyHash,
// carrying the elicitation capability the client declared at initialize
// (nil: none), which a replica that adopts the session did not see.
func boundSessionID(keyHash string, elicit *mcp.ElicitationCapability) string {
	r := rand.Text()
	flag := capFlag(elicit)
	return sessionIDPrefix + r + "_" + string(flag) + sessionIDMAC(keyHash, r, flag)
}

func sessionIDMAC(keyHash, random string, flag byte) string {
	m := hmac.New(sha256.New, []byte("mailcal streamable session id\x00"+keyHash))
	m.Write([]byte(random))
	m.Write([]byte{0, flag})
	return idEncoding.EncodeToString(m.Sum(nil)[:20])
}

// capFlag encodes an elicitation capability in one letter: A (none) to H,
// by three bits: declared, form, url.
func capFlag(c *mcp.ElicitationCapability) byte {
	var bits byte
	if c != nil {
		bits = 1
		if c.Form != nil {
			bits |= 2
		}
		if c.URL != nil {
			bits |= 4
		}
	}
	return 'A' + bits
}

func flagCap(flag byte) *mcp.ElicitationCapability {
	bits := flag - 'A'
	if bits&1 == 0 {
		return nil
	}
	c := &mcp.ElicitationCapability{}
	if bits&2 != 0 {
		c.Form = &struct{}{}
	}
	if bits&4 != 0 {
		c.URL = &struct{}{}
	}
	return c
}

// boundTo reports whether id is a session id made by boundSessionID for
// the key whose hash is keyHash, and returns the elicitation capability it
// carries.
func boundTo(id, keyHash string) (ok bool, elicit *mcp.ElicitationCapability) {
	rest, ok := strings.CutPrefix(id, sessionIDPrefix)
	if !ok || len(id) > 128 || keyHash == "" {
		return false, nil
	}
	random, tail, ok := strings.Cut(rest, "_")
	if !ok || len(random) != 26 || len(tail) < 2 || tail[0] < 'A' || tail[0] > 'H' {
		return false, nil
	}
	if !hmac.Equal([]byte(tail[1:]), []byte(sessionIDMAC(keyHash, random, tail[0]))) {
		return false, nil
	}
	return true, flagCap(tail[0])
}

// endedIDs remembers the streamable sessions ended in this process, so
// that their ids keep answering 404 here rather than being adopted again.
// It is bounded: ids older than keep are forgotten, and beyond max entries
// the oldest go first.
type endedIDs struct {
	keep  time.Duration
	max   int
	at    map[string]time.Time
	order []string // in the order they ended
}

func newEndedIDs(keep time.Duration, max int) *endedIDs {
	return &endedIDs{keep: keep, max: max, at: map[string]time.Time{}}
}

func (e *endedIDs) add(id string, now time.Time) {
	if _, ok := e.at[id]; ok {
		return
	}
	e.at[id] = now
	e.order = append(e.order, id)
	e.prune(now)
}

func (e *endedIDs) has(id string) bool {
	_, ok := e.at[id]
	return ok
}

// prune forgets the ids ended more than keep ago, and the oldest beyond max.
func (e *endedIDs) prune(now time.Time) {
	n := 0
	for n < len(e.order) && (len(e.order)-n > e.max || now.Sub(e.at[e.order[n]]) >= e.keep) {
		delete(e.at, e.order[n])
		n++
	}
	if n > 0 {
		e.order = append(e.order[:0:0], e.order[n:]...)
	}
}

// carrySession is the streamable transport's context function: the tenant
// (carryTenant), and, for a session this replica adopted, the elicitation
// capability its id carries, on the request's session, which mcp-go made
// without an initialize here.
func carrySession(ctx context.Context, r *http.Request) context.Context {
	ctx = carryTenant(ctx, r)
	a := admissionFrom(r.Context())
	if a == nil || a.session == nil || !a.session.adopted || a.session.elicit == nil {
		return ctx
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		if caps := s.GetClientCapabilities(); caps.Elicitation == nil {
			caps.Elicitation = a.session.elicit
			s.SetClientCapabilities(caps)
		}
	}
	return ctx
}
