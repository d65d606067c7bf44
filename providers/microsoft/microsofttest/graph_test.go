package microsofttest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// wantError checks a Graph error answer: status, code, and the body's
// shape (innerError with date, request-id, client-request-id).
func wantError(t *testing.T, a answer, status int, code string) {
	t.Helper()
	e, _ := a.body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if a.status != status || e["code"] != code || str(e["message"]) == "" || str(inner["date"]) == "" ||
		str(inner["request-id"]) == "" || inner["request-id"] != a.header.Get("request-id") || str(inner["client-request-id"]) == "" {
		t.Fatalf("got %d %s, want %d %s", a.status, a.raw, status, code)
	}
}

func TestAuthentication(t *testing.T) {
	s := setup(t, Options{})
	s.LoadFixtures(alice)
	a := request(t, s, "GET", "/me/messages", "", nil)
	wantError(t, a, 401, "InvalidAuthenticationToken")
	if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), `Bearer realm="", authorization_uri="`) {
		t.Fatalf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
	}
	tok := access(t, s, alice, "Mail.Read")
	a = request(t, s, "GET", "/me/messages?$top=1", tok, nil, "client-request-id", "my-request-1")
	if a.status != 200 || a.header.Get("client-request-id") != "my-request-1" || a.header.Get("request-id") == "" {
		t.Fatalf("a good token: %d %v %s", a.status, a.header, a.raw)
	}
	s.ExpireAccessTokens()
	wantError(t, request(t, s, "GET", "/me/messages", tok, nil), 401, "InvalidAuthenticationToken")
	tok = access(t, s, alice, "Mail.Read")
	s.RevokeUser(alice)
	a = request(t, s, "GET", "/me/messages", tok, nil, "client-request-id", "my-request-2")
	wantError(t, a, 401, "InvalidAuthenticationToken")
	if e := a.body["error"].(map[string]any)["innerError"].(map[string]any); e["client-request-id"] != "my-request-2" {
		t.Fatalf("client-request-id not echoed: %v", e)
	}
}

func TestPermissions(t *testing.T) {
	s := setup(t, Options{})
	fx := s.LoadFixtures(alice)
	read := access(t, s, bob, "Mail.Read") // bob's token: no User.Read, no Mail.Send
	wantError(t, request(t, s, "GET", "/me", read, nil), 403, "Authorization_RequestDenied")
	wantError(t, request(t, s, "POST", "/me/sendMail", read, map[string]any{"message": map[string]any{}}), 403, "ErrorAccessDenied")
	wantError(t, request(t, s, "POST", "/me/messages", read, map[string]any{}), 403, "ErrorAccessDenied")
	wantError(t, request(t, s, "GET", "/me/calendarView", read, nil), 403, "ErrorAccessDenied")
	cal := access(t, s, alice, "Calendars.Read", "MailboxSettings.Read")
	wantError(t, request(t, s, "POST", "/me/events", cal, map[string]any{}), 403, "ErrorAccessDenied")
	if a := request(t, s, "GET", "/me/mailboxSettings", cal, nil); a.status != 200 || a.body["timeZone"] != "W. Europe Standard Time" {
		t.Fatalf("mailbox settings %d %s", a.status, a.raw)
	}
	// Another user's mailbox, an unknown user, another user's message id,
	// a malformed id, a path Graph does not know.
	mine := access(t, s, alice, "Mail.Read", "User.Read")
	wantError(t, request(t, s, "GET", "/users/"+bob+"/messages", mine, nil), 403, "ErrorAccessDenied")
	wantError(t, request(t, s, "GET", "/users/nobody@contoso.example/messages", mine, nil), 404, "ErrorInvalidUser")
	wantError(t, request(t, s, "GET", "/me/messages/"+fx.Messages["report"], read, nil), 404, "ErrorItemNotFound")
	wantError(t, request(t, s, "GET", "/me/messages/not-an-id", mine, nil), 400, "ErrorInvalidIdMalformed")
	wantError(t, request(t, s, "GET", "/me/mesages", mine, nil), 400, "BadRequest")
	wantError(t, request(t, s, "DELETE", "/me/mailFolders", mine, nil), 405, "BadRequest")
	// The own mailbox by UPN, by id, and the user's profile.
	for _, who := range []string{alice, "ALICE@contoso.example", s.Account(alice).GraphID()} {
		if a := request(t, s, "GET", "/users/"+who+"/messages/"+fx.Messages["report"], mine, nil); a.status != 200 || a.body["subject"] != "Q3 report draft" {
			t.Fatalf("/users/%s: %d %s", who, a.status, a.raw)
		}
	}
	a := request(t, s, "GET", "/me?$select=mail,userPrincipalName", mine, nil)
	if a.status != 200 || a.body["mail"] != alice || a.body["id"] != s.Account(alice).GraphID() || a.body["displayName"] != nil {
		t.Fatalf("/me $select: %d %s", a.status, a.raw)
	}
	wantError(t, request(t, s, "GET", "/me?$select=shoeSize", mine, nil), 400, "RequestBroker--ParseUri")
	// A personal account: a short id and, as commonly seen, no mail.
	a = request(t, s, "GET", "/me", access(t, s, zoe, "User.Read"), nil)
	if a.status != 200 || a.body["mail"] != nil || a.body["userPrincipalName"] != zoe || len(str(a.body["id"])) != 16 {
		t.Fatalf("personal /me: %d %s", a.status, a.raw)
	}
}

func TestInjectedFailures(t *testing.T) {
	m := newMailTest(t)
	m.s.FailAPI("/v1.0/me/messages", 1, 503, "ServiceNotAvailable", 1500*time.Millisecond)
	m.s.FailAPI("/v1.0/me/calendarView", 1, 504, "GatewayTimeout", 0)
	a := m.get("/me/messages")
	wantError(t, a, 503, "ServiceNotAvailable")
	if a.header.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
	}
	if a := m.get("/me/messages?$top=1"); a.status != 200 {
		t.Fatalf("after the failure: %d", a.status)
	}
	wantError(t, m.get("/me/calendarView"), 504, "GatewayTimeout")
	if n := m.s.APIRequests("/v1.0/me/messages"); n != 2 {
		t.Fatalf("APIRequests %d", n)
	}
	m.s.FailAPI("/", 5, 429, "TooManyRequests", time.Second)
	m.s.ResetAPIStats()
	if a := m.get("/me/messages?$top=1"); a.status != 200 || m.s.APIRequests("/") != 1 {
		t.Fatal("ResetAPIStats kept failures or counts")
	}
}

// TestMailboxConcurrency: past 4 requests in flight for a mailbox Graph
// answers 429 ApplicationThrottled with Retry-After; another mailbox is not
// affected. Admitted requests are held (latency) until cancelled, so the
// counts do not depend on timing.
func TestMailboxConcurrency(t *testing.T) {
	const limit = 4 // "Outlook service limits"
	s := setup(t, Options{})
	s.LoadFixtures(alice)
	s.LoadFixtures(bob)
	ta, tb := access(t, s, alice, "Mail.Read"), access(t, s, bob, "Mail.Read")
	s.SetAPILatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		status     int
		retryAfter string
		err        error
	}
	send := func(tok string) result {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.GraphURL()+"/me/messages?$top=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return result{err: err}
		}
		resp.Body.Close()
		return result{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	}
	const n = 8
	var wg sync.WaitGroup
	results := make([]result, n+1)
	for i := range n {
		wg.Go(func() { results[i] = send(ta) })
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("4 refused", func() bool { return s.Throttled(alice) == n-limit })
	wg.Go(func() { results[n] = send(tb) })
	waitFor("bob's request in", func() bool { return s.MaxConcurrentMailbox(bob) == 1 })
	if s.Throttled(bob) != 0 || s.Throttled(alice) != n-limit || s.MaxConcurrentMailbox(alice) != limit+1 {
		t.Fatalf("throttled alice %d bob %d, max alice %d", s.Throttled(alice), s.Throttled(bob), s.MaxConcurrentMailbox(alice))
	}
	cancel()
	wg.Wait()
	refused := 0
	for _, r := range results[:n] {
		switch {
		case r.err != nil: // held, then cancelled
		case r.status == 429 && r.retryAfter != "":
			refused++
		default:
			t.Fatalf("unexpected answer %+v", r)
		}
	}
	if refused != n-limit || results[n].err == nil {
		t.Fatalf("%d refused; bob's %+v", refused, results[n])
	}
	// Once the mailbox is free again, requests pass.
	s.SetAPILatency(0)
	waitFor("the held requests to end", func() bool {
		return request(t, s, "GET", "/me/messages?$top=1", ta, nil).status == 200
	})
	a := request(t, s, "GET", "/me/messages?$top=1", ta, nil, "client-request-id", "x")
	if a.status != 200 {
		t.Fatalf("after: %d", a.status)
	}
}

// TestThrottleAnswer checks the 429's body and header.
func TestThrottleAnswer(t *testing.T) {
	m := newMailTest(t)
	m.s.FailAPI("/", 1, 429, "ApplicationThrottled", 3*time.Second)
	a := m.get("/me/messages")
	wantError(t, a, 429, "ApplicationThrottled")
	if a.header.Get("Retry-After") != "3" || a.errMessage() != "Application is over its MailboxConcurrency limit." {
		t.Fatalf("429: %v %s", a.header, a.raw)
	}
}
