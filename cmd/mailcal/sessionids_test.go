package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/tenant"
)

// TestBoundSessionID: an id is bound to the key hash it was made for, and
// malformed or tampered ids are not.
func TestBoundSessionID(t *testing.T) {
	a, b := tenant.HashKey("key-a"), tenant.HashKey("key-b")
	id := boundSessionID(a, nil)
	if ok, elicit := boundTo(id, a); !ok || elicit != nil {
		t.Fatalf("%s: bound %v, elicitation %+v; want bound to the key it was made for, no elicitation", id, ok, elicit)
	}
	if ok, _ := boundTo(id, b); ok {
		t.Errorf("%s is bound to another key", id)
	}
	if ok, _ := boundTo(id, ""); ok {
		t.Errorf("%s is bound to no key", id)
	}
	for _, c := range []*mcp.ElicitationCapability{{}, {Form: &struct{}{}}, {URL: &struct{}{}}, {Form: &struct{}{}, URL: &struct{}{}}} {
		ok, got := boundTo(boundSessionID(a, c), a)
		if !ok || got == nil || (got.Form != nil) != (c.Form != nil) || (got.URL != nil) != (c.URL != nil) {
			t.Errorf("elicitation %+v came back as %+v (bound %v)", c, got, ok)
		}
	}
	rest := strings.TrimPrefix(id, sessionIDPrefix)
	random, tail, _ := strings.Cut(rest, "_")
	mac := tail[1:]
	flipped := []byte(mac)
	flipped[0] ^= 1
	// The capability is under the MAC: a client cannot change it.
	if ok, _ := boundTo(sessionIDPrefix+random+"_B"+mac, a); ok {
		t.Error("an id with its elicitation flag changed is accepted")
	}
	for _, bad := range []string{
		"", "mcs_", "mcs_X", rest, sessionIDPrefix + random, sessionIDPrefix + random + "_",
		sessionIDPrefix + random + "_A" + string(flipped),
		sessionIDPrefix + random[1:] + "A_A" + mac,
		sessionIDPrefix + random + "_A" + mac + "A",
		sessionIDPrefix + random + "_" + mac,
		sessionIDPrefix + random + "_Z" + mac,
	} {
		if ok, _ := boundTo(bad, a); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if boundSessionID(a, nil) == id {
		t.Error("two ids alike")
	}
}

// TestSessionAdopted: a session opened on another replica (an id bound to
// the tenant's key that this server never made) is accepted from that key,
// counted against the tenant's cap, refused to another key, and once ended
// here answers 404 here.
func TestSessionAdopted(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{maxSessions: 2}, "a", "b")
	elsewhere := boundSessionID(tenant.HashKey(ts.keys["a"]), nil)
	if code, body := ts.on(t, "POST", elsewhere, "b"); code != http.StatusNotFound {
		t.Errorf("b's key on a's session from elsewhere: %d %s, want 404", code, body)
	}
	if code, body := ts.on(t, "POST", elsewhere, "a"); code != http.StatusOK {
		t.Fatalf("a's key on a's session from elsewhere: %d %s, want 200", code, body)
	}
	if n := ts.sessions.count(); n != 1 {
		t.Errorf("%d sessions after the adoption, want 1", n)
	}
	ts.open(t, "a")
	third := boundSessionID(tenant.HashKey(ts.keys["a"]), nil)
	if code, body := ts.on(t, "POST", third, "a"); code != http.StatusTooManyRequests || !strings.Contains(body, "too_many_sessions") {
		t.Errorf("a third session at a cap of 2: %d %s, want 429 too_many_sessions", code, body)
	}
	if code, body := ts.on(t, "DELETE", elsewhere, "a"); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	for _, m := range []string{"POST", "GET", "DELETE"} {
		if code, body := ts.on(t, m, elsewhere, "a"); code != http.StatusNotFound {
			t.Errorf("%s after DELETE: %d %s, want 404", m, code, body)
		}
	}
}

// TestEndedIDsBounded: ended ids are forgotten after keep, and beyond max
// the oldest first.
func TestEndedIDsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	e := newEndedIDs(time.Minute, 3)
	for _, id := range []string{"a", "b", "c", "d"} {
		e.add(id, now)
	}
	if e.has("a") || !e.has("b") || !e.has("d") || len(e.at) != 3 || len(e.order) != 3 {
		t.Errorf("beyond max: has a %v b %v d %v, %d entries", e.has("a"), e.has("b"), e.has("d"), len(e.at))
	}
	e.add("e", now.Add(30*time.Second))
	e.prune(now.Add(61 * time.Second))
	if e.has("c") || e.has("d") || !e.has("e") || len(e.order) != 1 {
		t.Errorf("after keep: c %v d %v e %v", e.has("c"), e.has("d"), e.has("e"))
	}
}

// tenantsLeft is a tenant store holding these tenants: the others were
// removed.
type tenantsLeft []tenant.Tenant

func (l tenantsLeft) Get(_ context.Context, name string) (tenant.Tenant, error) {
	for _, t := range l {
		if t.Name == name {
			return t, nil
		}
	}
	return tenant.Tenant{}, tenant.ErrNotFound
}

// TestRecheckForgetsRemovedTenant: the recheck tells removed of a tenant
// it finds gone (so that its cached tokens and data key are dropped), not
// of one still there, nor of one given a new key.
func TestRecheckForgetsRemovedTenant(t *testing.T) {
	tbl := newSessionTable(10, 10, time.Hour)
	var removed []string
	tbl.removed = func(name string) { removed = append(removed, name) }
	for _, name := range []string{"gone", "kept", "rekeyed"} {
		tbl.generate(&admission{tenant: name, keyHash: tenant.HashKey("key-" + name), cancel: func() {}})
	}
	tbl.recheck(context.Background(), tenantsLeft{
		{Name: "kept", KeyHash: tenant.HashKey("key-kept")},
		{Name: "rekeyed", KeyHash: tenant.HashKey("another key")},
	})
	if len(removed) != 1 || removed[0] != "gone" {
		t.Errorf("removed heard of %q, want only [gone]", removed)
	}
}
