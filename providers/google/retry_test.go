package google

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// script answers requests from a list of (status, reason, Retry-After)
// steps, then 200 with body ok.
type script struct {
	steps []step
	ok    string
	n     atomic.Int32
	seen  chan string // request bodies, when non-nil
}

type step struct {
	status     int
	reason     string
	retryAfter string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	if s.seen != nil {
		b, _ := io.ReadAll(r.Body)
		s.seen <- string(b)
	}
	if r.Header.Get("Authorization") != "Bearer ya29.test" {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","errors":[{"reason":"authError"}]}}`)
		return
	}
	if i < len(s.steps) {
		st := s.steps[i]
		if st.retryAfter != "" {
			w.Header().Set("Retry-After", st.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st.status)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"step %d","errors":[{"message":"step %d","domain":"usageLimits","reason":%q}]}}`, st.status, i, i, st.reason)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, s.ok)
}

func testProvider(t *testing.T, h http.Handler, opts Options) *API {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts.APIURL = srv.URL
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	p.backoff = func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	return p
}

var testToken = &oauth2.Token{AccessToken: "ya29.test", TokenType: "Bearer"}

// mailService is the client library's Gmail service of a mailbox with
// testToken.
func mailService(t *testing.T, p *API) *gmail.Service {
	t.Helper()
	svc, err := mustMail(t, p, testToken, "alice@example.com").(*mailbox).service()
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func wantKind(t *testing.T, err, kind error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, kind) {
		t.Fatalf("got %v (%T), want a *providers.Error of kind %v", err, err, kind)
	}
	if strings.Contains(pe.Error(), "ya29.") {
		t.Fatalf("error names the token: %v", pe)
	}
	return pe
}

func TestRetryGetOn429And5xx(t *testing.T) {
	s := &script{steps: []step{{429, "rateLimitExceeded", "0"}, {503, "backendError", ""}, {403, "userRateLimitExceeded", ""}, {500, "", ""}},
		ok: `{"emailAddress":"a@example.com"}`}
	p := testProvider(t, s, Options{})
	svc := mailService(t, p)
	prof, err := svc.Users.GetProfile("me").Do()
	if err != nil || prof.EmailAddress != "a@example.com" || s.n.Load() != 5 {
		t.Fatalf("profile %v %v after %d requests", prof, err, s.n.Load())
	}
}

func TestRetryBudget(t *testing.T) {
	// Retry-After beyond the budget: no wait, the 429 comes back mapped.
	s := &script{steps: []step{{429, "rateLimitExceeded", "30"}}, ok: `{}`}
	p := testProvider(t, s, Options{MaxRetryWait: 2 * time.Second})
	mb := mustMail(t, p, testToken, "alice@example.com")
	start := time.Now()
	_, err := mb.Get(context.Background(), "m1")
	pe := wantKind(t, err, providers.ErrRateLimited)
	if pe.RetryAfter != 30*time.Second || time.Since(start) > time.Second || s.n.Load() != 1 {
		t.Fatalf("retry after %v, %d requests in %v", pe.RetryAfter, s.n.Load(), time.Since(start))
	}

	// Endless 503s: retried until the budget is spent.
	steps := make([]step, 1000)
	for i := range steps {
		steps[i] = step{503, "backendError", ""}
	}
	s = &script{steps: steps, ok: `{}`}
	p = testProvider(t, s, Options{MaxRetryWait: 50 * time.Millisecond})
	_, err = mustMail(t, p, testToken, "alice@example.com").Get(context.Background(), "m1")
	wantKind(t, err, providers.ErrUnavailable)
	if n := s.n.Load(); n < 3 || n > 12 {
		t.Fatalf("%d requests", n)
	}

	// The context's deadline bounds the waits too.
	s = &script{steps: []step{{503, "", "5"}}, ok: `{}`}
	p = testProvider(t, s, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = mustMail(t, p, testToken, "alice@example.com").Get(ctx, "m1")
	wantKind(t, err, providers.ErrUnavailable)
	if time.Since(start) > 400*time.Millisecond {
		t.Fatalf("waited %v past a 500ms deadline for a 5s Retry-After", time.Since(start))
	}
}

func TestNoRetryOnPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		reason string
		kind   error
	}{
		{400, "invalidArgument", providers.ErrInvalid},
		{403, "dailyLimitExceeded", providers.ErrRateLimited},
		{403, "quotaExceeded", providers.ErrRateLimited},
		{403, "insufficientPermissions", providers.ErrForbidden},
		{403, "forbidden", providers.ErrForbidden},
		{404, "notFound", providers.ErrNotFound},
		{410, "deleted", providers.ErrNotFound},
	} {
		s := &script{steps: []step{{tc.status, tc.reason, ""}}, ok: `{}`}
		p := testProvider(t, s, Options{})
		_, err := mustMail(t, p, testToken, "alice@example.com").Get(context.Background(), "m1")
		pe := wantKind(t, err, tc.kind)
		if s.n.Load() != 1 || pe.Status != tc.status || !strings.Contains(pe.Message, "step 0") {
			t.Fatalf("%d %s: %d requests, %+v", tc.status, tc.reason, s.n.Load(), pe)
		}
	}
	// 401: no retry here (the caller refreshes and retries once).
	s := &script{ok: `{}`}
	p := testProvider(t, s, Options{})
	_, err := mustMail(t, p, &oauth2.Token{AccessToken: "ya29.bad"}, "alice@example.com").Get(context.Background(), "m1")
	wantKind(t, err, providers.ErrUnauthorized)
	if s.n.Load() != 1 {
		t.Fatalf("%d requests", s.n.Load())
	}
}

func TestPostRetriedOnlyWhenNotProcessed(t *testing.T) {
	// A send answered 429, then 200: retried with the same body.
	s := &script{steps: []step{{429, "rateLimitExceeded", "0"}, {403, "rateLimitExceeded", ""}}, ok: `{"id":"s1","threadId":"t1"}`, seen: make(chan string, 10)}
	p := testProvider(t, s, Options{})
	svc := mailService(t, p)
	if _, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: "cmF3"}).Do(); err != nil {
		t.Fatal(err)
	}
	b1, b2, b3 := <-s.seen, <-s.seen, <-s.seen
	if s.n.Load() != 3 || b1 != b2 || b2 != b3 || !strings.Contains(b1, "cmF3") {
		t.Fatalf("%d requests, bodies %q %q %q", s.n.Load(), b1, b2, b3)
	}
	// A 503 is not retried: it may have been sent.
	s = &script{steps: []step{{503, "backendError", ""}}, ok: `{}`}
	p = testProvider(t, s, Options{})
	_, err := mailService(t, p).Users.Messages.Send("me", &gmail.Message{Raw: "cmF3"}).Do()
	if err == nil || s.n.Load() != 1 {
		t.Fatalf("%v after %d requests", err, s.n.Load())
	}
	wantKind(t, mapUncertain(err, "check"), providers.ErrUncertain)
	// Unless the context marks it idempotent.
	s = &script{steps: []step{{503, "backendError", ""}}, ok: `{}`}
	p = testProvider(t, s, Options{})
	_, err = mailService(t, p).Users.Messages.Send("me", &gmail.Message{Raw: "cmF3"}).Context(httpretry.Idempotent(context.Background())).Do()
	if err != nil || s.n.Load() != 2 {
		t.Fatalf("%v after %d requests", err, s.n.Load())
	}
}

func TestNetworkErrors(t *testing.T) {
	// Nothing listens: a dial error, retried, then ErrUnavailable (not
	// uncertain, even for a send).
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p, _ := New(Options{APIURL: url, MaxRetryWait: 20 * time.Millisecond})
	p.backoff = func(int) time.Duration { return 5 * time.Millisecond }
	_, err := mustMail(t, p, testToken, "alice@example.com").Get(context.Background(), "m1")
	pe := wantKind(t, err, providers.ErrUnavailable)
	if !strings.Contains(pe.Message, "could not connect") {
		t.Fatalf("%v", pe)
	}
	_, err = mustMail(t, p, testToken, "a@example.com").Send(context.Background(), providers.OutgoingMessage{To: []providers.Address{{Email: "b@example.com"}}, Subject: "x", Text: "y"})
	wantKind(t, err, providers.ErrUnavailable)

	// A timeout after the request was sent: a send is uncertain.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	p, _ = New(Options{APIURL: slow.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}, MaxRetryWait: time.Millisecond})
	_, err = mustMail(t, p, testToken, "a@example.com").Send(context.Background(), providers.OutgoingMessage{To: []providers.Address{{Email: "b@example.com"}}, Subject: "x", Text: "y"})
	pe = wantKind(t, err, providers.ErrUncertain)
	if !strings.Contains(pe.Message, "timed out") || !strings.Contains(pe.Message, "Sent") {
		t.Fatalf("%v", pe)
	}
}

func TestRetryPolicy(t *testing.T) {
	body := func(reason string) string {
		return fmt.Sprintf(`{"error":{"code":403,"message":"m","errors":[{"domain":"usageLimits","reason":%q}]}}`, reason)
	}
	details := `{"error":{"code":403,"message":"m","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"}]}}`
	for _, tc := range []struct {
		status     int
		body       string
		retryAfter string
		want       httpretry.Verdict
		wait       time.Duration
	}{
		{403, body("rateLimitExceeded"), "", httpretry.RetryAlways, 0},
		{403, body("userRateLimitExceeded"), "3", httpretry.RetryAlways, 3 * time.Second},
		{403, details, "", httpretry.RetryAlways, 0},
		{403, body("dailyLimitExceeded"), "3", httpretry.Stop, 0},
		{403, body("quotaExceeded"), "", httpretry.Stop, 0},
		{403, body("insufficientPermissions"), "", httpretry.Stop, 0},
		{403, "<html>Forbidden</html>", "", httpretry.Stop, 0},
		{429, body("rateLimitExceeded"), "2", httpretry.RetryAlways, 2 * time.Second},
		{503, body("backendError"), "", httpretry.RetryIfIdempotent, 0},
		{500, "", "", httpretry.RetryIfIdempotent, 0},
		{400, body("invalidArgument"), "", httpretry.Stop, 0},
		{404, body("notFound"), "", httpretry.Stop, 0},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
		if tc.retryAfter != "" {
			resp.Header.Set("Retry-After", tc.retryAfter)
		}
		v, wait := retryPolicy(resp, nil)
		if v != tc.want || wait != tc.wait {
			t.Errorf("%d %s: %v %v, want %v %v", tc.status, tc.body, v, wait, tc.want, tc.wait)
		}
		// The body is still whole for the client library's error.
		if b, _ := io.ReadAll(resp.Body); string(b) != tc.body {
			t.Errorf("%d %s: body left %q", tc.status, tc.body, b)
		}
	}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	if v, _ := retryPolicy(nil, dial); v != httpretry.RetryAlways {
		t.Errorf("dial error: %v", v)
	}
	if v, _ := retryPolicy(nil, io.ErrUnexpectedEOF); v != httpretry.RetryIfIdempotent {
		t.Errorf("connection lost: %v", v)
	}
}

func TestScopeMessage(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="https://mail.google.com/ https://www.googleapis.com/auth/gmail.send"`)
		w.WriteHeader(403)
		fmt.Fprint(w, `{"error":{"code":403,"message":"Request had insufficient authentication scopes.","errors":[{"message":"Insufficient Permission","domain":"global","reason":"insufficientPermissions"}],"status":"PERMISSION_DENIED"}}`)
	})
	p := testProvider(t, h, Options{})
	_, err := mustMail(t, p, testToken, "alice@example.com").Get(context.Background(), "m1")
	pe := wantKind(t, err, providers.ErrForbidden)
	if !strings.Contains(pe.Message, "https://www.googleapis.com/auth/gmail.send") || !strings.Contains(pe.Message, "insufficient authentication scopes") {
		t.Fatalf("%v", pe)
	}
}

// TestHangingGoogleBounded: a Google that never answers costs one attempt
// timeout per request, not one per retry: the retry budget counts the time
// attempts take (it used to count only the waits between them, and a
// list_messages against a hung Google took 229 s with the defaults).
func TestHangingGoogleBounded(t *testing.T) {
	var n atomic.Int32
	block := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(block)
	// 200 ms per attempt, a budget of 300 ms and waits of 10 ms: the
	// second attempt starts at about 210 ms, a third would start past the
	// budget. Counting only waits, 30 attempts (6 s) would fit.
	p, _ := New(Options{APIURL: hung.URL, HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}, MaxRetryWait: 300 * time.Millisecond})
	p.backoff = func(int) time.Duration { return 10 * time.Millisecond }
	start := time.Now()
	_, err := mustMail(t, p, testToken, "alice@example.com").Get(context.Background(), "m1")
	took := time.Since(start)
	pe := wantKind(t, err, providers.ErrUnavailable)
	if !strings.Contains(pe.Message, "timed out") || n.Load() > 2 || took > 2*time.Second {
		t.Fatalf("%v after %d attempts in %s; want a timeout after at most 2 attempts", pe, n.Load(), took)
	}
}
