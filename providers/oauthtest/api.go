package oauthtest

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIControl is what a provider fake's API handlers share for tests: the
// requests received (by path), how many were in flight at once, a latency
// added to each, and injected failures. The zero value is ready; all its
// methods are safe for concurrent use.
type APIControl struct {
	mu          sync.Mutex
	latency     time.Duration
	failures    []*InjectedFailure
	requests    []string // the path of every API call
	roundTrips  []string // the path of every HTTP request (a batch is one)
	inflight    int
	maxInflight int
}

// InjectedFailure is an answer a test asked for: the next N requests whose
// path starts with Prefix get Status, with the provider's error body for
// Reason, and Retry-After when positive.
type InjectedFailure struct {
	Prefix     string
	N          int
	Status     int
	Reason     string
	RetryAfter time.Duration
}

// Begin records a request, a call and a round trip, and counts it in
// flight; the caller calls end once it is answered.
func (c *APIControl) Begin(r *http.Request) (end func()) {
	return c.begin(r, true)
}

// BeginBatch records a batch request: a round trip whose calls are
// recorded one by one (Record) as they are served.
func (c *APIControl) BeginBatch(r *http.Request) (end func()) {
	return c.begin(r, false)
}

// Record records one call of a batch.
func (c *APIControl) Record(path string) {
	c.mu.Lock()
	c.requests = append(c.requests, path)
	c.mu.Unlock()
}

func (c *APIControl) begin(r *http.Request, call bool) (end func()) {
	c.mu.Lock()
	if call {
		c.requests = append(c.requests, r.URL.Path)
	}
	c.roundTrips = append(c.roundTrips, r.URL.Path)
	c.inflight++
	c.maxInflight = max(c.maxInflight, c.inflight)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.inflight--
		c.mu.Unlock()
	}
}

// Wait waits the latency set, if any, and reports whether the request is
// still wanted (false: its client gave up). It reads the body first, up to
// limit bytes: net/http notices a client that hung up only once the body
// is read, and a request the client gave up on must end (or Close waits
// for it).
func (c *APIControl) Wait(r *http.Request, limit int64) bool {
	c.mu.Lock()
	latency := c.latency
	c.mu.Unlock()
	if latency <= 0 {
		return true
	}
	if body, err := io.ReadAll(io.LimitReader(r.Body, limit)); err == nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// TakeFailure uses up and returns the first injected failure for path,
// nil if there is none.
func (c *APIControl) TakeFailure(path string) *InjectedFailure {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failures {
		if f.N > 0 && strings.HasPrefix(path, f.Prefix) {
			f.N--
			cp := *f
			return &cp
		}
	}
	return nil
}

// SetRetryAfter sets the Retry-After header of an injected failure (whole
// seconds, rounded up), when it has one.
func (f *InjectedFailure) SetRetryAfter(w http.ResponseWriter) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
}

// Fail adds an injected failure; rules are tried in the order added.
func (c *APIControl) Fail(prefix string, n, status int, reason string, retryAfter time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, &InjectedFailure{Prefix: prefix, N: n, Status: status, Reason: reason, RetryAfter: retryAfter})
}

// SetLatency makes every request wait d (Wait).
func (c *APIControl) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = d
}

// Requests counts the calls whose path starts with prefix: each request,
// and each call of a batch.
func (c *APIControl) Requests(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return countPrefixed(c.requests, prefix)
}

// RoundTrips counts the HTTP requests whose path starts with prefix, a
// batch once however many calls it carries.
func (c *APIControl) RoundTrips(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return countPrefixed(c.roundTrips, prefix)
}

func countPrefixed(paths []string, prefix string) int {
	n := 0
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// MaxConcurrent is the largest number of requests in flight at once.
func (c *APIControl) MaxConcurrent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxInflight
}

// Reset forgets the counted requests and the concurrency maximum, and
// drops pending failures.
func (c *APIControl) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests, c.roundTrips, c.maxInflight, c.failures = nil, nil, c.inflight, nil
}
