package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
)

// Streamable session ids carry their binding, so that any replica can
// serve a request naming a session another one opened, without a shared
// session table and without a database read on the request's path.
//
// An id is "mcs_" + 26 random characters + "_" + a MAC of them keyed by
// the hash of the API key that opened the session. A replica that does not
// know an id accepts it only from a request authenticated with that same
// key (the MAC matches), and adopts it into its own table: the tenant's
// session cap, idle sweep and removal then apply to it there as to a
// session opened there. Another key, even the same tenant's next one,
// cannot use it. The id grants nothing by itself: every request is
// authenticated by its API key, which every replica checks against the
// shared store (a removed or replaced key is refused within about 2 s).
//
// What is not shared: a session ended here (DELETE, idle sweep, the
// tenant's removal) is remembered here (endedIDs) and answers 404 here; a
// replica that never saw it end may still accept it. Sessions carry no
// state a call depends on (every tool call reads its tenant and grants from
// the store), so such a late acceptance serves the call like any other.
const sessionIDPrefix = "mcs_"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// boundSessionID makes a new streamable session id bound to keyHash.
func boundSessionID(keyHash string) string {
	r := rand.Text()
	return sessionIDPrefix + r + "_" + sessionIDMAC(keyHash, r)
}

func sessionIDMAC(keyHash, random string) string {
	m := hmac.New(sha256.New, []byte("mailcal streamable session id\x00"+keyHash))
	m.Write([]byte(random))
	return idEncoding.EncodeToString(m.Sum(nil)[:20])
}

// boundTo reports whether id is a session id made by boundSessionID for
// the key whose hash is keyHash.
func boundTo(id, keyHash string) bool {
	rest, ok := strings.CutPrefix(id, sessionIDPrefix)
	if !ok || len(id) > 128 || keyHash == "" {
		return false
	}
	random, mac, ok := strings.Cut(rest, "_")
	if !ok || len(random) != 26 {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(sessionIDMAC(keyHash, random)))
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
