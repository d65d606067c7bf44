package microsoft

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

const alice = "alice@contoso.com"

// seen is one request the fake Graph received.
type seen struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
}

// fakeGraph answers as Graph documents, per route ("GET /v1.0/me/messages"),
// with handlers the test sets; it records every request.
type fakeGraph struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	routes  map[string]http.HandlerFunc
	seen    []seen
	latency time.Duration
	// inFlight and maxInFlight count requests being answered at once.
	inFlight, maxInFlight int
}

func newFake(t testing.TB) *fakeGraph {
	f := &fakeGraph{t: t, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
	h := f.routes[r.Method+" "+r.URL.Path]
	lat := f.latency
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if lat > 0 {
		time.Sleep(lat)
	}
	if h == nil {
		graphErr(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	h(w, r)
}

// on sets the handler of a route: "GET /me/messages" (under /v1.0).
func (f *fakeGraph) on(route string, h http.HandlerFunc) {
	method, p, _ := strings.Cut(route, " ")
	f.mu.Lock()
	f.routes[method+" /v1.0"+p] = h
	f.mu.Unlock()
}

func (f *fakeGraph) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

func (f *fakeGraph) reset() {
	f.mu.Lock()
	f.seen = nil
	f.mu.Unlock()
}

// count is how many requests went to a route.
func (f *fakeGraph) count(route string) int {
	method, p, _ := strings.Cut(route, " ")
	n := 0
	for _, s := range f.requests() {
		if s.Method == method && s.Path == "/v1.0"+p {
			n++
		}
	}
	return n
}

func (f *fakeGraph) base() string { return f.srv.URL + "/v1.0" }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// graphErr writes Graph's error body.
func graphErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": "2026-11-28T10:00:00", "request-id": "5f0a8e0c-0000-0000-0000-000000000000"}}})
}

func newAPI(t testing.TB, f *fakeGraph) *API {
	t.Helper()
	a, err := New(Options{GraphURL: f.base(), MaxRetryWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a.backoff = func(n int) time.Duration { return time.Duration(n) * 5 * time.Millisecond }
	return a
}

var testToken = &oauth2.Token{AccessToken: "eyJ0eXAi.access-token-for-tests.sig", TokenType: "Bearer"}

func mustMail(t testing.TB, a *API) *mailbox {
	t.Helper()
	m, err := a.Mail(providers.StaticSource(testToken), alice)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*mailbox)
}

func mustCalendar(t testing.TB, a *API) *calendars {
	t.Helper()
	c, err := a.Calendar(providers.StaticSource(testToken))
	if err != nil {
		t.Fatal(err)
	}
	return c.(*calendars)
}

func wantKind(t *testing.T, err, kind error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(pe.Kind, kind) {
		t.Fatalf("error %v, want kind %v", err, kind)
	}
	return pe
}

func TestIdentity(t *testing.T) {
	f := newFake(t)
	a := newAPI(t, f)
	for _, c := range []struct {
		mail, upn, want string
		ok              bool
	}{
		{"Alice@Contoso.com", "alice@contoso.onmicrosoft.com", alice, true},
		{"", "someone@outlook.com", "someone@outlook.com", true},
		{"", "bob_example.com#EXT#@contoso.onmicrosoft.com", "", false},
		{"", "", "", false},
	} {
		f.on("GET /me", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("$select") != "mail,userPrincipalName" {
				t.Errorf("select %q", r.URL.Query().Get("$select"))
			}
			writeJSON(w, 200, map[string]any{"mail": c.mail, "userPrincipalName": c.upn})
		})
		got, err := a.Identity(context.Background(), providers.StaticSource(testToken))
		if c.ok && (err != nil || got != c.want) || !c.ok && err == nil {
			t.Errorf("mail %q upn %q: %q %v", c.mail, c.upn, got, err)
		}
	}
	f.on("GET /me", func(w http.ResponseWriter, r *http.Request) {
		graphErr(w, 401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
	})
	_, err := a.Identity(context.Background(), providers.StaticSource(testToken))
	wantKind(t, err, providers.ErrUnauthorized)
}

func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
		kind   error
		want   string
	}{
		{404, "ErrorItemNotFound", providers.ErrNotFound, "not found"},
		{400, "ErrorInvalidIdMalformed", providers.ErrNotFound, "malformed"},
		{403, "ErrorAccessDenied", providers.ErrForbidden, "needs the Graph permission Mail.Read (mailcal scope mail.read)"},
		{429, "ApplicationThrottled", providers.ErrRateLimited, "ApplicationThrottled"},
		{400, "ErrorInvalidRecipients", providers.ErrInvalid, "ErrorInvalidRecipients"},
		{413, "RequestEntityTooLarge", providers.ErrTooLarge, "HTTP 413"},
		{400, "ErrorMessageSizeExceeded", providers.ErrTooLarge, "ErrorMessageSizeExceeded"},
		{404, "MailboxNotEnabledForRESTAPI", providers.ErrForbidden, "no Exchange Online mailbox"},
		{503, "ServiceUnavailable", providers.ErrUnavailable, "HTTP 503"},
		{507, "ErrorQuotaExceeded", providers.ErrForbidden, "mailbox is full"},
	} {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"Retry-After": {"7"}}}
		body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": c.code,
			"message": "not found malformed refresh_token=0.AAAA-secret-secret-secret-secret-secret-1234"}})
		err := mapResponse(resp, body, scopeMailRead)
		var pe *providers.Error
		if !errors.As(err, &pe) || !errors.Is(pe.Kind, c.kind) || !strings.Contains(pe.Message, c.want) {
			t.Errorf("%d %s: %v, want %v containing %q", c.status, c.code, err, c.kind, c.want)
			continue
		}
		if strings.Contains(pe.Message, "secret-secret") {
			t.Errorf("%d %s: the message keeps a token: %s", c.status, c.code, pe.Message)
		}
		if c.status == 429 && pe.RetryAfter != 7*time.Second {
			t.Errorf("429: RetryAfter %v", pe.RetryAfter)
		}
	}
	// A body that is not Graph's still maps by status.
	err := mapResponse(&http.Response{StatusCode: 502}, []byte("<html>bad gateway</html>"), "")
	if pe := wantKindNoT(err, providers.ErrUnavailable); pe == nil || !strings.Contains(pe.Message, "HTTP 502") {
		t.Errorf("502: %v", err)
	}
}

func wantKindNoT(err, kind error) *providers.Error {
	var pe *providers.Error
	if errors.As(err, &pe) && errors.Is(pe.Kind, kind) {
		return pe
	}
	return nil
}

// TestRetryAfterThenSuccess: a 429 with Retry-After is waited for and
// retried; a 503 of a GET too; a 500 is not retried (Microsoft's decision).
func TestRetryAfterThenSuccess(t *testing.T) {
	f := newFake(t)
	a := newAPI(t, f)
	mb := mustMail(t, a)
	n := 0
	f.on("GET /me/mailFolders/inbox/messages", func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			graphErr(w, 429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
		case 2:
			graphErr(w, 503, "ServiceUnavailable", "Service Unavailable")
		default:
			writeJSON(w, 200, map[string]any{"value": []any{}})
		}
	})
	start := time.Now()
	if _, err := mb.List(context.Background(), providers.MessageQuery{Label: "inbox"}); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("took %v: Retry-After 1 was not waited for", d)
	}
	n = 0
	f.on("GET /me/mailFolders/inbox/messages", func(w http.ResponseWriter, r *http.Request) {
		n++
		graphErr(w, 500, "InternalServerError", "oops")
	})
	_, err := mb.List(context.Background(), providers.MessageQuery{Label: "inbox"})
	wantKind(t, err, providers.ErrUnavailable)
	if n != 1 {
		t.Fatalf("a 500 was tried %d times, want 1", n)
	}
}

func TestEncodeQuery(t *testing.T) {
	got := encodeQuery(url.Values{"$filter": {"isRead eq false and x ne 'a+b'"}, "$top": {"5"}})
	if want := "$filter=isRead%20eq%20false%20and%20x%20ne%20%27a%2Bb%27&$top=5"; got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
}

func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}
