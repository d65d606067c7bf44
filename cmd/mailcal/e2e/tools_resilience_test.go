//go:build unix

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EToolsResilience: Google's rate limits, outages, expired tokens and
// missing items, injected at the fake.
func TestE2EToolsResilience(t *testing.T) {
	t.Parallel()
	e := newToolsEnv(t, ttAllScopes)
	fg := e.fg
	listPath := "/gmail/v1/users/me/messages"
	lists := func() int { return fg.APIRequests(listPath) - fg.APIRequests(listPath+"/") }
	var l ttList
	e.ok(t, "list_messages", map[string]any{"max_results": 1}, &l) // the first refresh

	// 429 with Retry-After: 1 on the list: waited for, then it succeeds.
	fg.ResetAPIStats()
	fg.FailAPI(listPath, 1, 429, "rateLimitExceeded", time.Second)
	start := time.Now()
	e.ok(t, "list_messages", map[string]any{"max_results": 3}, &l)
	if d := time.Since(start); d < time.Second || len(l.Messages) != 3 || lists() != 2 {
		t.Errorf("after a 429 with Retry-After 1s: %d rows in %s with %d list requests; want 3, at least 1s, 2", len(l.Messages), d, lists())
	}

	// 403 userRateLimitExceeded on the Calendar: likewise.
	fg.ResetAPIStats()
	fg.FailAPI("/calendar/v3/calendars/", 1, 403, "userRateLimitExceeded", time.Second)
	start = time.Now()
	e.ok(t, "list_events", nil, nil)
	if d, n := time.Since(start), fg.APIRequests("/calendar/v3/calendars/"); d < time.Second || n != 2 {
		t.Errorf("after a 403 rate limit: %s and %d requests, want at least 1s and 2", d, n)
	}

	// Two 503s without Retry-After on a get: backed off, then it succeeds.
	fg.ResetAPIStats()
	fg.FailAPI(listPath+"/", 2, 503, "backendError", 0)
	var m ttMessage
	e.ok(t, "get_message", map[string]any{"id": e.f.Messages["report"]}, &m)
	if n := fg.APIRequests(listPath + "/"); m.Subject != "Q3 report draft" || n != 3 {
		t.Errorf("after two 503s: subject %q, %d requests; want 3", m.Subject, n)
	}

	// 503 on every try, Google asking for more than the retry budget: a
	// tool error saying Google is unavailable, soon.
	fg.ResetAPIStats()
	fg.FailAPI(listPath, 1000, 503, "backendError", 30*time.Second)
	start = time.Now()
	e.fails(t, "list_messages", nil, "Google is not answering properly right now", "try again", "HTTP 503")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the unavailable answer took %s: the retries are not bounded", d)
	}
	// Rate limited beyond the budget: says how long to wait.
	fg.ResetAPIStats()
	fg.FailAPI("/calendar/", 1000, 429, "rateLimitExceeded", 40*time.Second)
	e.fails(t, "list_calendars", nil, "Google is rate-limiting "+alice, "wait 40s")
	// The outage ends; the server kept serving.
	fg.ResetAPIStats()
	e.ok(t, "list_messages", map[string]any{"max_results": 2}, &l)
	e.ok(t, "list_calendars", nil, nil)

	// 503 on send: not retried (it may have been sent), and said so.
	fg.ResetAPIStats()
	sent := len(fg.SentMessages(alice))
	fg.FailAPI(listPath+"/send", 1, 503, "backendError", 0)
	send := map[string]any{"to": []string{googletest.FixtureBob}, "subject": "Status", "body": "All good."}
	e.fails(t, "send_email", send, "may have been sent", "Sent folder", "before sending it again")
	if n := fg.APIRequests(listPath + "/send"); n != 1 || len(fg.SentMessages(alice)) != sent {
		t.Errorf("a send answered 503 was tried %d times (want 1)", n)
	}
	// 429 on send: not processed, so retried.
	fg.FailAPI(listPath+"/send", 1, 429, "rateLimitExceeded", time.Second)
	e.ok(t, "send_email", send, nil)
	if n := len(fg.SentMessages(alice)); n != sent+1 {
		t.Errorf("after a 429 on send: %d messages sent, want 1", n-sent)
	}
	// 5xx on create_event: not retried either.
	fg.ResetAPIStats()
	fg.FailAPI("/calendar/v3/calendars/", 1, 500, "backendError", 0)
	if text := e.fails(t, "create_event", map[string]any{"summary": "Maybe", "start": "2030-05-01", "end": "2030-05-02"}, "may have been created"); strings.Contains(text, "sent") {
		t.Errorf("create_event's uncertain-outcome error speaks of sent mail: %s", text)
	}
	if n := fg.APIRequests("/calendar/v3/calendars/"); n != 1 {
		t.Errorf("create_event answered 500 was tried %d times, want 1", n)
	}

	// 401: Google refuses the access token; one refresh, one retry.
	for _, c := range []struct {
		tool, path string
		args       map[string]any
	}{
		{"list_messages", listPath, map[string]any{"max_results": 2}},
		{"list_events", "/calendar/", nil},
	} {
		fg.ResetAPIStats()
		refreshes := e.refreshes()
		fg.ExpireAccessTokens()
		e.ok(t, c.tool, c.args, nil)
		if n := e.refreshes() - refreshes; n != 1 {
			t.Errorf("%s with an expired token: %d refreshes, want 1", c.tool, n)
		}
		if c.tool == "list_messages" && lists() != 2 {
			t.Errorf("%s with an expired token: %d list requests, want 2 (refused, then retried)", c.tool, lists())
		}
	}
	// The refreshed token is cached: no refresh for the next calls.
	refreshes := e.refreshes()
	e.ok(t, "list_calendars", nil, nil)
	e.ok(t, "get_message", map[string]any{"id": e.f.Messages["welcome"]}, nil)
	if n := e.refreshes() - refreshes; n != 0 {
		t.Errorf("%d refreshes with a valid token", n)
	}

	// 404s: not found, naming what.
	e.fails(t, "get_message", map[string]any{"id": "00000000deadbeef"}, "not found", "00000000deadbeef")
	e.fails(t, "list_events", map[string]any{"calendar_id": "gone@group.calendar.google.com"}, "not found", "gone@group.calendar.google.com")
	e.fails(t, "create_event", map[string]any{"calendar_id": "gone@group.calendar.google.com", "summary": "x", "start": "2030-01-01", "end": "2030-01-02"}, "not found")
	fg.FailAPI(listPath+"/", 1, 404, "notFound", 0)
	e.fails(t, "get_message", map[string]any{"id": e.f.Messages["welcome"]}, "not found")

	// Still serving.
	e.ok(t, "list_messages", map[string]any{"max_results": 1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.c.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}
