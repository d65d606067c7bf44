package httpretry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Default is the policy every provider starts from:
//
//   - 429 Too Many Requests: RetryAlways, with the answer's Retry-After;
//   - 500, 502, 503, 504: RetryIfIdempotent, with the answer's Retry-After;
//   - a failed dial (the request never left): RetryAlways;
//   - a certificate that does not verify, or a cancelled context: Stop;
//   - any other error of the next RoundTripper (a connection reset or
//     closed, a timeout, an HTTP/2 stream error, ErrAttemptTimeout):
//     RetryIfIdempotent, as the request may have been sent;
//   - any other status: Stop.
//
// A provider's Policy handles its own cases and calls Default for the rest.
func Default(resp *http.Response, err error) (Verdict, time.Duration) {
	if err != nil {
		switch {
		case dialFailed(err):
			return RetryAlways, 0
		case errors.Is(err, context.Canceled) || badCertificate(err):
			return Stop, 0
		}
		return RetryIfIdempotent, 0
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return RetryAlways, RetryAfter(resp.Header, time.Now())
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return RetryIfIdempotent, RetryAfter(resp.Header, time.Now())
	}
	return Stop, 0
}

// dialFailed: the connection could not be opened, the request was not sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func badCertificate(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// MaxRetryAfter caps what RetryAfter returns.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads the Retry-After header of an answer (RFC 9110 §10.2.3):
// delay-seconds or an HTTP date, as a wait from now, capped at
// MaxRetryAfter. 0 when absent, unparsable, negative or in the past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if digits(v) {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil || s > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter // out of range: as large as it gets
		}
		return time.Duration(s) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(at.Sub(now), 0), MaxRetryAfter)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DefaultBackoff is the wait before retry n (1-based) when the answer named
// none: 0.5 s, 1 s, 2 s, 4 s, then 8 s, each with jitter (a uniformly random
// wait between half and all of it, so that clients that failed together do
// not come back together).
func DefaultBackoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(max(n, 1)-1, 4)
	return d/2 + rand.N(d/2+1)
}
