// Package httpretry is the one retry loop of mailcal's HTTP clients: an
// http.RoundTripper that repeats a request while the answer says a later
// try may succeed. What "may succeed" means is the only thing a provider
// supplies, as a Policy (rclone's lib/pacer idea: one loop, each backend its
// own shouldRetry); the loop does the rest the same way for everyone:
//
//   - whether a request may be repeated at all: a Verdict of
//     RetryIfIdempotent (the request may have been applied: a 5xx, a
//     connection lost after sending) retries only idempotent requests
//     (GET, HEAD, OPTIONS, PUT, DELETE, a request carrying an
//     Idempotency-Key header, or one whose context went through
//     Idempotent); RetryAlways (the request was certainly not processed: a
//     429, a failed dial) retries any request;
//   - how long to wait: what the answer asked (Retry-After, read by
//     RetryAfter, the one parser of that header), else a jittered
//     exponential backoff; within a budget that counts attempts and waits
//     alike, an attempt limit and the request context's deadline, never
//     past it;
//   - request bodies: replayed through GetBody, or buffered (up to a bound)
//     when the request has none;
//   - discarded answers are drained and closed (their connection is
//     reused); the last answer or error is handed back as it is, so that
//     the caller maps it as if there had been one attempt;
//   - a per-attempt timeout inside the request's context, and a count of
//     the attempts a request took for the caller's error text
//     (CountAttempts).
//
// A Transport sits below authentication: oauth2.Transport{Base:
// &httpretry.Transport{…}} repeats requests with the same access token and
// keeps token-source errors (a dead grant) out of the retry loop.
package httpretry

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// Verdict is a Policy's decision about one attempt's outcome.
type Verdict int

const (
	// Stop hands the answer or error back to the caller.
	Stop Verdict = iota
	// RetryIfIdempotent retries only requests that are safe to repeat: the
	// request may have been applied (a 5xx, a connection lost or a timeout
	// after the request was sent).
	RetryIfIdempotent
	// RetryAlways retries any request: it was certainly not processed (a
	// 429, a provider's rate-limit answer, a failed dial).
	RetryAlways
)

func (v Verdict) String() string {
	switch v {
	case Stop:
		return "Stop"
	case RetryIfIdempotent:
		return "RetryIfIdempotent"
	case RetryAlways:
		return "RetryAlways"
	}
	return "Verdict(?)"
}

// Policy decides about one attempt: exactly one of resp and err is non-nil
// (as returned by the next RoundTripper). It returns its verdict and how long
// the provider asked to wait before the next attempt (0: not said; the
// Transport's Backoff is used then). A Policy may read the answer's body only
// through PeekBody, which puts it back. It is called from many goroutines at
// once.
type Policy func(resp *http.Response, err error) (Verdict, time.Duration)

// Defaults of Transport.
const (
	DefaultMaxWait     = 20 * time.Second
	DefaultBufferLimit = 64 << 20
)

// Transport is a retrying http.RoundTripper. The zero value works: it sends
// through http.DefaultTransport with the Default policy. Its fields must not
// change while it is in use; it is safe for concurrent use.
type Transport struct {
	// Next sends each attempt; nil: http.DefaultTransport.
	Next http.RoundTripper
	// Policy decides whether to retry; nil: Default.
	Policy Policy
	// MaxWait is the retry budget of one request: no retry starts more
	// than MaxWait after the first attempt did. Attempts count as well as
	// waits, so a request whose attempts keep timing out gives up as soon
	// as one whose attempts keep being refused; a wait that would end past
	// the budget is not made and the last answer is handed back. ≤ 0:
	// DefaultMaxWait. The request's context bounds it too: no wait runs
	// past its deadline.
	MaxWait time.Duration
	// MaxAttempts bounds the attempts of one request (1: no retry);
	// ≤ 0: only MaxWait and the context bound them.
	MaxAttempts int
	// AttemptTimeout bounds each attempt, from sending the request to
	// closing (or reading to its end) the body of the answer, within the
	// request's context (whose deadline still applies); an attempt that
	// runs out fails with ErrAttemptTimeout. 0: no per-attempt bound.
	AttemptTimeout time.Duration
	// Backoff is the wait before retry n (n = 1 before the second attempt)
	// when the Policy names none; nil: DefaultBackoff.
	Backoff func(n int) time.Duration
	// BufferLimit bounds the request bodies without GetBody that are
	// buffered in memory to be replayed; a larger body is sent once and
	// not retried. ≤ 0: DefaultBufferLimit (64 MiB).
	BufferLimit int64
	// OnRetry, when set, is called before each wait (for logs and metrics)
	// with the request, the number of the attempt that failed (1-based),
	// its answer or error and the wait ahead. The answer is discarded
	// afterwards: OnRetry may PeekBody it but must not keep or close it.
	OnRetry func(req *http.Request, attempt int, resp *http.Response, err error, wait time.Duration)
}

// ErrAttemptTimeout is the error of an attempt that ran past
// Transport.AttemptTimeout while the request's own context was still alive.
// It matches context.DeadlineExceeded with errors.Is and is a net.Error
// whose Timeout() is true.
var ErrAttemptTimeout error = attemptTimeoutError{}

type attemptTimeoutError struct{}

func (attemptTimeoutError) Error() string        { return "attempt timed out" }
func (attemptTimeoutError) Timeout() bool        { return true }
func (attemptTimeoutError) Temporary() bool      { return true }
func (attemptTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

type idempotentKey struct{}

// Idempotent marks the requests made with the returned context as safe to
// repeat although their method is not (e.g. an OAuth token-endpoint POST, or
// a POST carrying a client-chosen id): RetryIfIdempotent retries them too.
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// isIdempotent: the methods RFC 9110 defines as idempotent, the
// Idempotency-Key headers net/http's own retries honour, or Idempotent.
func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	if _, ok := req.Header["X-Idempotency-Key"]; ok {
		return true
	}
	v, _ := req.Context().Value(idempotentKey{}).(bool)
	return v
}

type attemptKey struct{}

// Attempt is the number of the attempt (1-based) a request sent by a
// Transport is, for the RoundTrippers under it (a metric of retries): 1 for
// a request no Transport sent.
func Attempt(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}

type counterKey struct{}

type counter struct {
	n      atomic.Int64
	parent *counter
}

// CountAttempts returns a context whose requests count their attempts, and
// a function that reports the count so far: after a request made with ctx
// it says how many attempts it took ("failed after 3 attempts"). Requests
// made concurrently with one context add up. A count in an enclosing
// context (an earlier CountAttempts) counts these attempts too.
func CountAttempts(ctx context.Context) (context.Context, func() int) {
	c := &counter{}
	c.parent, _ = ctx.Value(counterKey{}).(*counter)
	return context.WithValue(ctx, counterKey{}, c), func() int { return int(c.n.Load()) }
}

func countAttempt(ctx context.Context) {
	c, _ := ctx.Value(counterKey{}).(*counter)
	for ; c != nil; c = c.parent {
		c.n.Add(1)
	}
}

// RoundTrip sends req, repeating it as the Policy allows, and returns the
// last answer or error as the next RoundTripper gave it. It returns the
// context's error when the context ends during a wait.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	body, err := prepareBody(req, t.bufferLimit())
	if err != nil {
		return nil, err
	}
	next, policy, backoff := t.Next, t.Policy, t.Backoff
	if next == nil {
		next = http.DefaultTransport
	}
	if policy == nil {
		policy = Default
	}
	if backoff == nil {
		backoff = DefaultBackoff
	}
	maxWait := t.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	idem := isIdempotent(req)
	start := time.Now()
	for n := 1; ; n++ {
		actx, cancel := ctx, context.CancelFunc(nil)
		if t.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeoutCause(ctx, t.AttemptTimeout, ErrAttemptTimeout)
		}
		// A shallow copy with the attempt's context and body: RoundTrippers
		// change no request, so the attempts share the caller's headers
		// and URL (Clone copied them for every attempt of every request).
		if n > 1 {
			actx = context.WithValue(actx, attemptKey{}, n)
		}
		r := req.WithContext(actx)
		r.Body, r.GetBody = body.first, body.getBody
		if n > 1 {
			b, err := body.get()
			if err != nil {
				return handBack(nil, err, cancel)
			}
			r.Body = b
		}
		countAttempt(ctx)
		resp, err := next.RoundTrip(r)
		if ctx.Err() != nil {
			return handBack(resp, err, cancel)
		}
		v, asked := policy(resp, err)
		retry := v == RetryAlways || v == RetryIfIdempotent && idem
		if !retry || body.get == nil || t.MaxAttempts > 0 && n >= t.MaxAttempts {
			return handBack(resp, err, cancel)
		}
		wait := asked
		if wait <= 0 {
			wait = backoff(n)
		}
		if time.Since(start)+wait > maxWait {
			return handBack(resp, err, cancel)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return handBack(resp, err, cancel)
		}
		if t.OnRetry != nil {
			t.OnRetry(req, n, resp, err, wait)
		}
		discard(resp)
		if cancel != nil {
			cancel()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// CloseIdleConnections closes the idle connections of Next, when it has
// that method (http.Client.CloseIdleConnections calls it).
func (t *Transport) CloseIdleConnections() {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if c, ok := next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *Transport) bufferLimit() int64 {
	if t.BufferLimit <= 0 {
		return DefaultBufferLimit
	}
	return t.BufferLimit
}
