package httpretry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                                  0,
		"7":                                 7 * time.Second,
		" 7 ":                               7 * time.Second,
		"0":                                 0,
		"-1":                                0,
		"+5":                                0,
		"1.5":                               0,
		"soon":                              0,
		"86400":                             24 * time.Hour,
		"86401":                             MaxRetryAfter,
		"99999999999999999999999999":        MaxRetryAfter,
		"Tue, 03 Nov 2026 10:00:30 GMT":     30 * time.Second,
		"Tuesday, 03-Nov-26 10:01:00 GMT":   time.Minute,
		"Tue Nov  3 10:00:05 2026":          5 * time.Second,
		"Tue, 03 Nov 2026 09:00:00 GMT":     0,
		"Tue, 03 Nov 2126 10:00:00 GMT":     MaxRetryAfter,
		"Tue, 03 Nov 2026 10:00:30 +0100":   0, // not an HTTP date
		"Tue, 03 Nov 2026 10:00:30 GMT xyz": 0,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := RetryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
	if got := RetryAfter(nil, now); got != 0 {
		t.Errorf("nil header: %v", got)
	}
}

func TestDefaultBackoff(t *testing.T) {
	for n, full := range map[int]time.Duration{
		0: 500 * time.Millisecond, 1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second,
		4: 4 * time.Second, 5: 8 * time.Second, 6: 8 * time.Second, 60: 8 * time.Second,
	} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := DefaultBackoff(n)
			if d < full/2 || d > full {
				t.Fatalf("backoff %d: %v, want within [%v, %v]", n, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("backoff %d: %d distinct waits in 50: no jitter", n, len(seen))
		}
	}
}

func answerWith(status int, retryAfter string) *http.Response {
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("{}"))}
}

func TestDefaultStatuses(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		want       Verdict
		wait       time.Duration
	}{
		{429, "3", RetryAlways, 3 * time.Second},
		{429, "", RetryAlways, 0},
		{500, "", RetryIfIdempotent, 0},
		{502, "", RetryIfIdempotent, 0},
		{503, "2", RetryIfIdempotent, 2 * time.Second},
		{504, "", RetryIfIdempotent, 0},
		{200, "5", Stop, 0},
		{304, "", Stop, 0},
		{400, "", Stop, 0},
		{401, "", Stop, 0},
		{403, "5", Stop, 0},
		{404, "", Stop, 0},
		{408, "", Stop, 0},
		{501, "", Stop, 0},
		{505, "", Stop, 0},
	} {
		v, d := Default(answerWith(tc.status, tc.retryAfter), nil)
		if v != tc.want || d != tc.wait {
			t.Errorf("%d (Retry-After %q): %v %v, want %v %v", tc.status, tc.retryAfter, v, d, tc.want, tc.wait)
		}
	}
}

func TestDefaultErrors(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want Verdict
	}{
		{"dial", dial, RetryAlways},
		{"dial wrapped", fmt.Errorf("proxy: %w", dial), RetryAlways},
		{"dns", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.invalid"}}, RetryAlways},
		{"read reset", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, RetryIfIdempotent},
		{"eof", io.EOF, RetryIfIdempotent},
		{"unexpected eof", io.ErrUnexpectedEOF, RetryIfIdempotent},
		{"attempt timeout", ErrAttemptTimeout, RetryIfIdempotent},
		{"deadline", context.DeadlineExceeded, RetryIfIdempotent},
		{"http2 stream", errors.New("stream error: stream ID 3; INTERNAL_ERROR"), RetryIfIdempotent},
		{"canceled", context.Canceled, Stop},
		{"unknown authority", x509.UnknownAuthorityError{}, Stop},
		{"hostname", x509.HostnameError{Host: "example.com", Certificate: &x509.Certificate{}}, Stop},
		{"verification", &tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}, Stop},
	} {
		if v, d := Default(nil, tc.err); v != tc.want || d != 0 {
			t.Errorf("%s: %v %v, want %v", tc.name, v, d, tc.want)
		}
	}
}

func TestAttemptTimeoutError(t *testing.T) {
	err := fmt.Errorf("Get x: %w", ErrAttemptTimeout)
	var ne net.Error
	if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%v: not a timeout", err)
	}
	if errors.Is(context.DeadlineExceeded, ErrAttemptTimeout) {
		t.Fatal("every deadline is an attempt timeout")
	}
}

type closeTracker struct {
	io.Reader
	closed int
}

func (c *closeTracker) Close() error { c.closed++; return nil }

func TestPeekBody(t *testing.T) {
	const text = `{"error":"temporarily_unavailable","error_description":"try again"}`
	src := &closeTracker{Reader: strings.NewReader(text)}
	resp := &http.Response{StatusCode: 400, Body: src}
	if got := string(PeekBody(resp, 1<<10)); got != text {
		t.Fatalf("peeked %q", got)
	}
	if got := string(PeekBody(resp, 8)); got != text[:8] {
		t.Fatalf("second peek %q", got)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != text {
		t.Fatalf("caller read %q, %v", b, err)
	}
	resp.Body.Close()
	if src.closed != 1 {
		t.Fatalf("original body closed %d times", src.closed)
	}

	// A read error met while peeking reaches the caller after the bytes.
	boom := errors.New("connection reset")
	resp = &http.Response{Body: io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{boom}))}
	if got := string(PeekBody(resp, 100)); got != "abc" {
		t.Fatalf("peeked %q", got)
	}
	b, err = io.ReadAll(resp.Body)
	if string(b) != "abc" || !errors.Is(err, boom) {
		t.Fatalf("caller read %q, %v", b, err)
	}

	for _, r := range []*http.Response{nil, {}, {Body: http.NoBody}} {
		if b := PeekBody(r, 10); b != nil {
			t.Fatalf("%v: %q", r, b)
		}
	}
}

func TestVerdictString(t *testing.T) {
	if Stop.String() != "Stop" || RetryIfIdempotent.String() != "RetryIfIdempotent" || RetryAlways.String() != "RetryAlways" || Verdict(9).String() != "Verdict(?)" {
		t.Fatal("verdict names")
	}
}
