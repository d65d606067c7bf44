package httpretry

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

type attemptRecorder struct {
	mu   sync.Mutex
	seen []int
}

func (a *attemptRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.seen = append(a.seen, Attempt(r.Context()))
	a.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestAttemptNumbers: the RoundTripper under a Transport learns which
// attempt each request is (a retry is an attempt past the first).
func TestAttemptNumbers(t *testing.T) {
	s := newServer(t, answer{status: 503}, answer{status: 429})
	rec := &attemptRecorder{}
	c := &http.Client{Transport: &Transport{Next: rec, Backoff: func(int) time.Duration { return time.Millisecond }}}
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !slices.Equal(rec.seen, []int{1, 2, 3}) {
		t.Fatalf("status %d, attempts seen %v; want 200 after attempts 1, 2, 3", resp.StatusCode, rec.seen)
	}
	if n := Attempt(t.Context()); n != 1 {
		t.Errorf("Attempt of a context no Transport made = %d, want 1", n)
	}
}
