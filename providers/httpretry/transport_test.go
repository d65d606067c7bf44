package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// answer is one scripted reply of a server.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// server answers its script in order, then 200 "ok"; it records request
// bodies and counts requests and connections.
type server struct {
	*httptest.Server
	script   []answer
	n        atomic.Int32
	newConns atomic.Int32
	closed   atomic.Int32
	mu       sync.Mutex
	bodies   []string
}

func newServer(t *testing.T, script ...answer) *server {
	t.Helper()
	s := &server{script: script}
	s.Server = httptest.NewUnstartedServer(s)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.newConns.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	if i >= len(s.script) {
		fmt.Fprint(w, "ok")
		return
	}
	a := s.script[i]
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	if a.body == "" {
		a.body = fmt.Sprintf("answer %d", i)
	}
	fmt.Fprint(w, a.body)
}

func (s *server) requests() int { return int(s.n.Load()) }

func (s *server) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// repeat is a script of n times the same answer.
func repeat(n int, a answer) []answer {
	s := make([]answer, n)
	for i := range s {
		s[i] = a
	}
	return s
}

// fast returns a Transport over its own connection pool with 1 ms waits.
func fast(t *testing.T) *Transport {
	t.Helper()
	next := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(next.CloseIdleConnections)
	return &Transport{Next: next, Backoff: func(int) time.Duration { return time.Millisecond }}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// send makes one request through tr and returns its status and body.
func send(t *testing.T, tr http.RoundTripper, req *http.Request) (int, string, error) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func newRequest(t *testing.T, ctx context.Context, method, url, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestStatuses(t *testing.T) {
	for _, tc := range []struct {
		status          int
		getTries, posts int // requests made by a GET and by a POST
	}{
		{429, 2, 2},
		{500, 2, 1}, {502, 2, 1}, {503, 2, 1}, {504, 2, 1},
		{400, 1, 1}, {401, 1, 1}, {403, 1, 1}, {404, 1, 1}, {409, 1, 1}, {501, 1, 1},
	} {
		for _, method := range []string{"GET", "POST"} {
			s := newServer(t, answer{status: tc.status})
			ctx, attempts := CountAttempts(context.Background())
			status, body, err := send(t, fast(t), newRequest(t, ctx, method, s.URL, "x"))
			want := tc.getTries
			if method == "POST" {
				want = tc.posts
			}
			wantStatus, wantBody := 200, "ok"
			if want == 1 {
				wantStatus, wantBody = tc.status, "answer 0"
			}
			if err != nil || status != wantStatus || body != wantBody || s.requests() != want || attempts() != want {
				t.Errorf("%s answered %d: got %d %q %v after %d requests (%d counted), want %d %q after %d",
					method, tc.status, status, body, err, s.requests(), attempts(), wantStatus, wantBody, want)
			}
		}
	}
}

func TestIdempotency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		header  string
		mark    bool
		retried bool
	}{
		{"GET", "GET", "", false, true},
		{"HEAD", "HEAD", "", false, true},
		{"OPTIONS", "OPTIONS", "", false, true},
		{"PUT", "PUT", "", false, true},
		{"DELETE", "DELETE", "", false, true},
		{"POST", "POST", "", false, false},
		{"PATCH", "PATCH", "", false, false},
		{"POST marked", "POST", "", true, true},
		{"PATCH marked", "PATCH", "", true, true},
		{"POST Idempotency-Key", "POST", "Idempotency-Key", false, true},
		{"POST X-Idempotency-Key", "POST", "X-Idempotency-Key", false, true},
	} {
		s := newServer(t, answer{status: 503})
		ctx := context.Background()
		if tc.mark {
			ctx = Idempotent(ctx)
		}
		req := newRequest(t, ctx, tc.method, s.URL, "")
		if tc.header != "" {
			req.Header.Set(tc.header, "k1")
		}
		status, _, err := send(t, fast(t), req)
		want, wantStatus := 1, 503
		if tc.retried {
			want, wantStatus = 2, 200
		}
		if err != nil || status != wantStatus || s.requests() != want {
			t.Errorf("%s: %d %v after %d requests, want %d after %d", tc.name, status, err, s.requests(), wantStatus, want)
		}
	}
}

func TestWaitsAskedOrBackoff(t *testing.T) {
	// The wait the policy names is the one made; Backoff is not asked.
	s := newServer(t, answer{status: 503})
	tr := fast(t)
	tr.Backoff = func(int) time.Duration { t.Error("backoff called"); return 0 }
	tr.Policy = func(resp *http.Response, err error) (Verdict, time.Duration) {
		if resp != nil && resp.StatusCode == 503 {
			return RetryAlways, 150 * time.Millisecond
		}
		return Stop, 0
	}
	start := time.Now()
	if status, _, err := send(t, tr, newRequest(t, context.Background(), "POST", s.URL, "x")); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("retried after %v, the policy asked 150ms", d)
	}

	// Without one (no header, garbage, 0), Backoff gives the waits, with
	// the retry number.
	s = newServer(t, answer{status: 503}, answer{status: 429, retryAfter: "soon"}, answer{status: 503, retryAfter: "0"})
	tr = fast(t)
	var ns []int
	tr.Backoff = func(n int) time.Duration { ns = append(ns, n); return time.Millisecond }
	if status, _, err := send(t, tr, newRequest(t, context.Background(), "GET", s.URL, "")); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if fmt.Sprint(ns) != "[1 2 3]" {
		t.Fatalf("backoff asked for %v", ns)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	s := newServer(t, answer{status: 429, retryAfter: "1"})
	tr := fast(t)
	var waits []time.Duration
	tr.OnRetry = func(_ *http.Request, _ int, _ *http.Response, _ error, wait time.Duration) {
		waits = append(waits, wait)
	}
	start := time.Now()
	if status, _, err := send(t, tr, newRequest(t, context.Background(), "POST", s.URL, "x")); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if d := time.Since(start); d < time.Second || len(waits) != 1 || waits[0] != time.Second {
		t.Fatalf("retried after %v (waits %v), Retry-After said 1s", d, waits)
	}
}

func TestBudget(t *testing.T) {
	// A Retry-After beyond MaxWait: no wait; the 429 comes back as it is.
	s := newServer(t, answer{status: 429, retryAfter: "30", body: "slow down"})
	tr := fast(t)
	tr.MaxWait = 2 * time.Second
	resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", s.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" || string(b) != "slow down" || s.requests() != 1 {
		t.Fatalf("%d %q %q after %d requests", resp.StatusCode, resp.Header.Get("Retry-After"), b, s.requests())
	}

	// Endless 503s with waits of n ms: 1+2+…+9 = 45 ms fit in 50 ms, the
	// tenth wait would not: at most 10 attempts (fewer when the attempts
	// themselves take time), the last 503 handed back.
	s = newServer(t, repeat(100, answer{status: 503})...)
	tr = fast(t)
	tr.MaxWait = 50 * time.Millisecond
	tr.Backoff = func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	status, body, err := send(t, tr, newRequest(t, context.Background(), "GET", s.URL, ""))
	if n := s.requests(); err != nil || status != 503 || body != fmt.Sprintf("answer %d", n-1) || n < 2 || n > 10 {
		t.Fatalf("%d %q %v after %d requests", status, body, err, n)
	}
}

// TestBudgetCountsAttempts: attempts that each take 40 ms with waits of
// 1 ms, in a budget of 100 ms: no retry starts after 100 ms, so at most 3
// attempts (fewer on a loaded machine; the waits alone would allow 100).
func TestBudgetCountsAttempts(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		time.Sleep(40 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	tr := fast(t)
	tr.MaxWait = 100 * time.Millisecond
	tr.Backoff = func(int) time.Duration { return time.Millisecond }
	start := time.Now()
	status, _, err := send(t, tr, newRequest(t, context.Background(), "GET", srv.URL, ""))
	if err != nil || status != 503 || n.Load() > 3 {
		t.Fatalf("%d %v after %d attempts in %s, want at most 3 attempts", status, err, n.Load(), time.Since(start))
	}
}

func TestMaxAttempts(t *testing.T) {
	s := newServer(t, repeat(100, answer{status: 503})...)
	tr := fast(t)
	tr.MaxAttempts = 3
	ctx, attempts := CountAttempts(context.Background())
	status, body, err := send(t, tr, newRequest(t, ctx, "GET", s.URL, ""))
	if err != nil || status != 503 || body != "answer 2" || s.requests() != 3 || attempts() != 3 {
		t.Fatalf("%d %q %v after %d requests (%d counted)", status, body, err, s.requests(), attempts())
	}
}

func TestDeadline(t *testing.T) {
	// A wait that would pass the context's deadline is not made: the 503
	// comes back (not the context's error).
	s := newServer(t, answer{status: 503, retryAfter: "5"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	status, _, err := send(t, fast(t), newRequest(t, ctx, "GET", s.URL, ""))
	if err != nil || status != 503 || s.requests() != 1 {
		t.Fatalf("%d %v after %d requests", status, err, s.requests())
	}

	// Waits of 600 ms within a 1 s deadline: one wait, then the second
	// answer comes back, before the deadline.
	s = newServer(t, repeat(100, answer{status: 503})...)
	tr := fast(t)
	tr.Backoff = func(int) time.Duration { return 600 * time.Millisecond }
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	status, _, err = send(t, tr, newRequest(t, ctx, "GET", s.URL, ""))
	if err != nil || status != 503 || s.requests() != 2 {
		t.Fatalf("%d %v after %d requests", status, err, s.requests())
	}
}

func TestCancelDuringWait(t *testing.T) {
	s := newServer(t, answer{status: 503, retryAfter: "10"})
	tr := fast(t)
	tr.MaxWait = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr.OnRetry = func(*http.Request, int, *http.Response, error, time.Duration) {
		time.AfterFunc(20*time.Millisecond, cancel)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(newRequest(t, ctx, "GET", s.URL, ""))
		if resp != nil {
			resp.Body.Close()
			err = fmt.Errorf("got an answer: %d", resp.StatusCode)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || s.requests() != 1 {
			t.Fatalf("%v after %d requests", err, s.requests())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the context was cancelled")
	}
}

// closeCounter counts Close calls on a request body.
type closeCounter struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestBodyReplay(t *testing.T) {
	const text = `{"raw":"cmF3"}`
	// No GetBody: buffered, and every attempt sends the same bytes.
	s := newServer(t, answer{status: 429}, answer{status: 429})
	src := &closeCounter{Reader: strings.NewReader(text)}
	req := newRequest(t, context.Background(), "POST", s.URL, "")
	req.Body, req.ContentLength = src, int64(len(text))
	if status, _, err := send(t, fast(t), req); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if got := s.seen(); fmt.Sprint(got) != fmt.Sprint([]string{text, text, text}) || src.closed.Load() == 0 {
		t.Fatalf("bodies %q; original closed %d times", got, src.closed.Load())
	}

	// GetBody: used for each later attempt.
	s = newServer(t, answer{status: 429}, answer{status: 429})
	req = newRequest(t, context.Background(), "POST", s.URL, text)
	var gets atomic.Int32
	get := req.GetBody
	req.GetBody = func() (io.ReadCloser, error) { gets.Add(1); return get() }
	if status, _, err := send(t, fast(t), req); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if got := s.seen(); len(got) != 3 || got[2] != text || gets.Load() < 2 {
		t.Fatalf("bodies %q, GetBody called %d times", got, gets.Load())
	}

	// Beyond BufferLimit without GetBody: sent once, whole, not retried;
	// whether its length is known or not.
	for _, length := range []int64{int64(len(text)), -1} {
		s = newServer(t, answer{status: 429})
		tr := fast(t)
		tr.BufferLimit = 4
		src = &closeCounter{Reader: strings.NewReader(text)}
		req = newRequest(t, context.Background(), "POST", s.URL, "")
		req.Body, req.ContentLength = src, length
		if status, _, err := send(t, tr, req); err != nil || status != 429 {
			t.Fatalf("length %d: %d %v", length, status, err)
		}
		if got := s.seen(); len(got) != 1 || got[0] != text || src.closed.Load() == 0 {
			t.Fatalf("length %d: bodies %q; original closed %d times", length, got, src.closed.Load())
		}
	}

	// A body that cannot be read: no request, the error, the body closed.
	s = newServer(t)
	boom := errors.New("disk on fire")
	src = &closeCounter{Reader: io.MultiReader(strings.NewReader("ab"), errReader{boom})}
	req = newRequest(t, context.Background(), "POST", s.URL, "")
	req.Body = src
	if _, _, err := send(t, fast(t), req); !errors.Is(err, boom) || s.requests() != 0 || src.closed.Load() != 1 {
		t.Fatalf("%v after %d requests; body closed %d times", err, s.requests(), src.closed.Load())
	}

	// GetBody failing on a retry: its error.
	s = newServer(t, answer{status: 429})
	req = newRequest(t, context.Background(), "POST", s.URL, text)
	req.GetBody = func() (io.ReadCloser, error) { return nil, boom }
	if _, _, err := send(t, fast(t), req); !errors.Is(err, boom) || s.requests() != 1 {
		t.Fatalf("%v after %d requests", err, s.requests())
	}
}

func TestAttemptCounting(t *testing.T) {
	s := newServer(t, answer{status: 503}, answer{status: 429})
	outer, total := CountAttempts(context.Background())
	ctx, first := CountAttempts(outer)
	if _, _, err := send(t, fast(t), newRequest(t, ctx, "GET", s.URL, "")); err != nil || first() != 3 {
		t.Fatalf("%v: %d attempts counted, want 3", err, first())
	}
	ctx, second := CountAttempts(outer)
	if _, _, err := send(t, fast(t), newRequest(t, ctx, "GET", s.URL, "")); err != nil || second() != 1 || total() != 4 || first() != 3 {
		t.Fatalf("%v: counted %d, %d, total %d", err, first(), second(), total())
	}

	// Concurrent requests with one context add up.
	s = newServer(t, repeat(10, answer{status: 503})...)
	ctx, all := CountAttempts(context.Background())
	tr := fast(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, _, err := send(t, tr, newRequest(t, ctx, "GET", s.URL, "")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if all() != 20 || s.requests() != 20 {
		t.Fatalf("%d attempts counted, %d requests; want 20", all(), s.requests())
	}
}

func TestAttemptTimeout(t *testing.T) {
	// The first attempt hangs; the second answers.
	release := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then a closed connection ends r.Context()
		if n.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	defer close(release)
	tr := fast(t)
	tr.AttemptTimeout = 100 * time.Millisecond
	if status, body, err := send(t, tr, newRequest(t, context.Background(), "GET", srv.URL, "")); err != nil || status != 200 || body != "ok" || n.Load() != 2 {
		t.Fatalf("GET: %d %q %v after %d requests", status, body, err, n.Load())
	}
	// A POST may have been applied: not retried; the error says why.
	n.Store(0)
	_, _, err := send(t, tr, newRequest(t, context.Background(), "POST", srv.URL, "x"))
	var ne net.Error
	if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || n.Load() != 1 {
		t.Fatalf("POST: %v after %d requests", err, n.Load())
	}
}

func TestAttemptTimeoutCoversTheBody(t *testing.T) {
	// The answer's body stays readable after RoundTrip returns, within the
	// attempt's time; a body that stalls past it fails with the timeout.
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "head;")
		w.(http.Flusher).Flush()
		if r.URL.Path == "/stall" {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(w, "tail")
	}))
	defer srv.Close()
	defer close(stall)
	tr := fast(t)
	tr.AttemptTimeout = 2 * time.Second
	var attemptCtx context.Context
	next := tr.Next
	tr.Next = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attemptCtx = r.Context()
		return next.RoundTrip(r)
	})
	resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL, ""))
	if err != nil || attemptCtx.Err() != nil {
		t.Fatalf("%v; attempt context: %v", err, attemptCtx.Err())
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "head;tail" || attemptCtx.Err() == nil {
		t.Fatalf("%q %v; attempt context %v after Close", b, err, attemptCtx.Err())
	}
	// Closed unread, the attempt ends too.
	resp, err = tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if attemptCtx.Err() == nil {
		t.Fatal("the attempt's context lives on after Close")
	}
	tr.AttemptTimeout = 100 * time.Millisecond
	_, body, err := send(t, tr, newRequest(t, context.Background(), "GET", srv.URL+"/stall", ""))
	if !errors.Is(err, ErrAttemptTimeout) || body != "head;" {
		t.Fatalf("%q %v", body, err)
	}
}

func TestDialError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens
	tr := fast(t)
	tr.MaxAttempts = 3
	ctx, attempts := CountAttempts(context.Background())
	_, _, err := send(t, tr, newRequest(t, ctx, "POST", url, "x"))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || attempts() != 3 {
		t.Fatalf("%v after %d attempts, want a dial error after 3 (a POST that never left is retried)", err, attempts())
	}
}

func TestOnRetry(t *testing.T) {
	s := newServer(t, answer{status: 503, retryAfter: "0"}, answer{status: 429})
	tr := fast(t)
	var log []string
	tr.OnRetry = func(req *http.Request, n int, resp *http.Response, err error, wait time.Duration) {
		log = append(log, fmt.Sprintf("%s %d %d %q %v %v", req.Method, n, resp.StatusCode, PeekBody(resp, 100), err, wait))
	}
	if status, _, err := send(t, tr, newRequest(t, context.Background(), "GET", s.URL, "")); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if want := `[GET 1 503 "answer 0" <nil> 1ms GET 2 429 "answer 1" <nil> 1ms]`; fmt.Sprint(log) != want {
		t.Fatalf("%v, want %v", log, want)
	}
}

func TestZeroTransport(t *testing.T) {
	s := newServer(t, answer{status: 429, retryAfter: "0"})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	if status, body, err := send(t, tr, newRequest(t, context.Background(), "GET", s.URL, "")); err != nil || status != 200 || body != "ok" || s.requests() != 2 {
		t.Fatalf("%d %q %v after %d requests", status, body, err, s.requests())
	}
}

func TestDiscardedAnswersReuseTheConnection(t *testing.T) {
	s := newServer(t, repeat(5, answer{status: 503, body: strings.Repeat("e", 4<<10)})...)
	if status, _, err := send(t, fast(t), newRequest(t, context.Background(), "GET", s.URL, "")); err != nil || status != 200 {
		t.Fatalf("%d %v", status, err)
	}
	if s.requests() != 6 || s.newConns.Load() != 1 {
		t.Fatalf("%d requests over %d connections: discarded answers were not drained", s.requests(), s.newConns.Load())
	}
}

func TestNoLeaks(t *testing.T) {
	s := newServer(t, repeat(1000, answer{status: 503})...)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	tr := fast(t)
	tr.MaxAttempts = 3
	settle := func() int {
		tr.CloseIdleConnections()
		return runtime.NumGoroutine()
	}
	base := settle()
	// Contexts that never end, as most callers' (an ended one would close
	// a connection left open).
	for i := range 30 {
		switch i % 3 {
		case 0: // retries exhausted; the last answer closed unread
			if resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", s.URL, "")); err == nil {
				resp.Body.Close()
			}
		case 1: // attempt timeouts
			tr.AttemptTimeout = 20 * time.Millisecond
			tr.RoundTrip(newRequest(t, context.Background(), "GET", hang.URL, ""))
			tr.AttemptTimeout = 0
		case 2: // cancelled during a wait
			ctx, cancel := context.WithCancel(context.Background())
			tr.OnRetry = func(*http.Request, int, *http.Response, error, time.Duration) { cancel() }
			tr.RoundTrip(newRequest(t, ctx, "GET", s.URL, ""))
			tr.OnRetry = nil
		}
	}
	// The server sees closed connections, and their goroutines end, a
	// moment later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, open := settle(), s.newConns.Load()-s.closed.Load()
		if n <= base && open == 0 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d connections open; %d goroutines, %d before:\n%s", open, n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
