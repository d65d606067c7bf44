package microsofttest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// batchAnswers sends a $batch and returns its responses by id.
func (m *mailTest) batch(reqs []map[string]any) (answer, map[string]map[string]any) {
	m.t.Helper()
	a := m.post("/$batch", map[string]any{"requests": reqs})
	out := map[string]map[string]any{}
	list, _ := a.body["responses"].([]any)
	for _, r := range list {
		r := r.(map[string]any)
		out[str(r["id"])] = r
	}
	return a, out
}

func subStatus(r map[string]any) int {
	f, _ := r["status"].(float64)
	return int(f)
}

var immutable = map[string]string{"Prefer": `IdType="ImmutableId"`}

func TestBatchAnswersEachRequest(t *testing.T) {
	m := newMailTest(t)
	report := ImmutableID(m.fx.Messages["report"])
	other := ImmutableID(setupOther(m))
	a, rs := m.batch([]map[string]any{
		{"id": "1", "method": "PATCH", "url": "/me/messages/" + report, "headers": map[string]string{"Content-Type": "application/json", "Prefer": immutable["Prefer"]}, "body": map[string]any{"isRead": true, "categories": []string{"Work", "Blue"}}},
		{"id": "2", "method": "POST", "url": "/me/messages/" + report + "/move", "dependsOn": []string{"1"}, "headers": map[string]string{"Content-Type": "application/json", "Prefer": immutable["Prefer"]}, "body": map[string]any{"destinationId": "archive"}},
		{"id": "3", "method": "GET", "url": "/me/messages/" + other + "?$select=id", "headers": immutable},
		{"id": "4", "method": "GET", "url": "/me/messages/" + other, "dependsOn": []string{"3"}, "headers": immutable},
	})
	if a.status != 200 || len(rs) != 4 {
		t.Fatalf("$batch: %d %s", a.status, a.raw)
	}
	moved, _ := rs["2"]["body"].(map[string]any)
	if subStatus(rs["1"]) != 200 || subStatus(rs["2"]) != 201 || str(moved["id"]) != report {
		t.Errorf("PATCH then move: %v / %v (the immutable id must stay)", rs["1"], rs["2"])
	}
	errBody, _ := rs["3"]["body"].(map[string]any)
	if subStatus(rs["3"]) != 404 || !strings.Contains(fmt.Sprint(errBody), "ErrorItemNotFound") {
		t.Errorf("another mailbox's message: %v", rs["3"])
	}
	if subStatus(rs["4"]) != http.StatusFailedDependency {
		t.Errorf("a request after a failed one: %v, want 424", rs["4"])
	}
	if g := m.get("/me/mailFolders/archive/messages?$select=id,isRead,categories", "Prefer", immutable["Prefer"]); !strings.Contains(string(g.raw), report) {
		t.Errorf("the report is not in Archive: %s", g.raw)
	}
}

// setupOther adds a message to bob's mailbox and returns its id.
func setupOther(m *mailTest) string {
	return m.s.AddMessage(bob, []byte("From: x@example.com\r\nTo: "+bob+"\r\nSubject: bob's\r\n\r\nx\r\n"), Filing{})
}

func TestBatchRefusals(t *testing.T) {
	m := newMailTest(t)
	get := func(id string, deps ...string) map[string]any {
		return map[string]any{"id": id, "method": "GET", "url": "/me/mailFolders/inbox", "dependsOn": deps}
	}
	var many []map[string]any
	for i := range 21 {
		many = append(many, get(fmt.Sprint(i+1)))
	}
	for name, reqs := range map[string][]map[string]any{
		"21 requests":   many,
		"duplicate id":  {get("1"), get("1")},
		"unknown dep":   {get("1", "9")},
		"cycle":         {get("1", "2"), get("2", "1")},
		"body, no type": {{"id": "1", "method": "PATCH", "url": "/me/messages/x", "body": map[string]any{"isRead": true}}},
		"absolute url":  {{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me"}},
	} {
		if a, _ := m.batch(reqs); a.status != 400 || a.errCode() != "BadRequest" {
			t.Errorf("%s: %d %s, want 400 BadRequest", name, a.status, a.raw)
		}
	}
	if a, rs := m.batch(many[:20]); a.status != 200 || len(rs) != 20 {
		t.Errorf("20 requests: %d, %d answers", a.status, len(rs))
	}
	if a := request(t, m.s, "POST", "/$batch", "", map[string]any{"requests": many[:1]}); a.status != 401 {
		t.Errorf("no token: %d", a.status)
	}
	// A request is authorized on its own: Mail.Read may not PATCH (a fresh
	// fake: the identity platform's tokens carry every permission the
	// person consented to before).
	s2 := setup(t, Options{})
	id := s2.AddMessage(alice, []byte("From: x@example.com\r\nTo: "+alice+"\r\nSubject: hi\r\n\r\nx\r\n"), Filing{})
	ro := access(t, s2, alice, "Mail.Read")
	a := request(t, s2, "POST", "/$batch", ro, map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "PATCH", "url": "/me/messages/" + id, "headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"isRead": true}},
		{"id": "2", "method": "GET", "url": "/me/messages/" + id + "?$select=isRead"},
	}})
	if !strings.Contains(string(a.raw), `"status":403`) || !strings.Contains(string(a.raw), `"isRead":false`) {
		t.Errorf("PATCH with Mail.Read in a batch: %s", a.raw)
	}
}

// TestBatchConcurrency: the requests of a batch count against the
// mailbox's 4 concurrent requests; unchained, those past it are answered
// 429 with Retry-After; four dependsOn chains stay within it.
func TestBatchConcurrency(t *testing.T) {
	m := newMailTest(t)
	m.s.SetAPILatency(30 * time.Millisecond)
	var free, chained []map[string]any
	for i := range 12 {
		free = append(free, map[string]any{"id": fmt.Sprint(i + 1), "method": "GET", "url": "/me/mailFolders/inbox"})
		c := map[string]any{"id": fmt.Sprint(i + 1), "method": "GET", "url": "/me/mailFolders/inbox"}
		if i >= 4 {
			c["dependsOn"] = []string{fmt.Sprint(i + 1 - 4)}
		}
		chained = append(chained, c)
	}
	m.s.ResetAPIStats()
	_, rs := m.batch(chained)
	for id, r := range rs {
		if subStatus(r) != 200 {
			t.Errorf("chained request %s: %v", id, r)
		}
	}
	if n, th := m.s.MaxConcurrentMailbox(alice), m.s.Throttled(alice); n > 4 || th != 0 {
		t.Errorf("chained: %d at once, %d throttled", n, th)
	}
	_, rs = m.batch(free)
	throttled := 0
	for _, r := range rs {
		if subStatus(r) == 429 {
			throttled++
			h, _ := r["headers"].(map[string]any)
			if str(h["Retry-After"]) == "" {
				t.Errorf("a 429 without Retry-After: %v", r)
			}
		}
	}
	if throttled < 8 || m.s.Throttled(alice) != throttled {
		t.Errorf("12 unchained requests: %d answered 429 (the fake counted %d), want at least 8", throttled, m.s.Throttled(alice))
	}
	if trips := m.s.HTTPRequests("/v1.0/$batch"); trips != 2 {
		t.Errorf("%d batch round trips counted, want 2", trips)
	}
}
