package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// backoffFunc is the wait before retry number n (1-based) when the answer
// named no Retry-After.
type backoffFunc func(n int) time.Duration

// defaultBackoff: 0.5 s, 1 s, 2 s, ... capped at 8 s, each with jitter
// (a uniformly random wait between half and all of it).
func defaultBackoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 4)
	return d/2 + rand.N(d/2+1)
}

type ctxKey int

const idempotentKey ctxKey = 0

// withIdempotent marks the requests made with ctx as safe to repeat even when
// their method is not (e.g. a POST carrying a client-chosen id): they are
// retried on 5xx and network errors too.
func withIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey, true)
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	v, _ := req.Context().Value(idempotentKey).(bool)
	return v
}

// retryTransport retries a request while Google's answer says a later try
// may succeed: 429 and 403 with a rate-limit reason for every request (the
// request was not processed), and 500/502/503/504 and network errors for
// idempotent requests only. It waits Retry-After when given (seconds or an
// HTTP date), else an exponential backoff with jitter, and gives up, handing
// back the last answer, when the total wait would pass maxWait or the
// request's context deadline. A request body must be replayable (GetBody).
type retryTransport struct {
	attempt *http.Client // one attempt: oauth2 transport, per-attempt timeout
	maxWait time.Duration
	backoff backoffFunc
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idem := idempotent(req)
	req = req.Clone(ctx) // shallow for the body: bufferBody replaces it
	if err := bufferBody(req); err != nil {
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	var waited time.Duration
	for n := 1; ; n++ {
		r := req
		if n > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.attempt.Do(r)
		if err != nil {
			// The per-attempt client wraps errors in *url.Error; the outer
			// client wraps again. Hand back the cause.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
		}
		retry, wait := t.decide(resp, err, idem)
		if !retry || !replayable || ctx.Err() != nil {
			return resp, err
		}
		if wait <= 0 {
			wait = t.backoff(n)
		}
		if waited+wait > t.maxWait {
			return resp, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
		waited += wait
	}
}

// maxBufferedBody bounds the request bodies bufferBody keeps in memory to
// replay them.
const maxBufferedBody = 64 << 20

// bufferBody makes a request body replayable: the client library sets no
// GetBody on its JSON requests (only on media uploads). Bodies above
// maxBufferedBody are left as they are (and not retried).
func bufferBody(req *http.Request) error {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return nil
	}
	if req.ContentLength > maxBufferedBody {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxBufferedBody+1))
	req.Body.Close()
	if err != nil {
		return err
	}
	if len(b) > maxBufferedBody {
		return errors.New("request body too large to buffer")
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// decide says whether to retry and how long Google asked to wait (0: not
// said).
func (t *retryTransport) decide(resp *http.Response, err error, idem bool) (bool, time.Duration) {
	if err != nil {
		// A failed dial never reached Google: safe for any request.
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return true, 0
		}
		return idem, 0
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, retryAfter(resp.Header, time.Now())
	case http.StatusForbidden:
		if reason := peekReason(resp); retryableRateReason(reason) {
			return true, retryAfter(resp.Header, time.Now())
		}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return idem, retryAfter(resp.Header, time.Now())
	}
	return false, 0
}

// retryableRateReason reports whether a 403 reason is a short-term rate limit
// worth waiting for. dailyLimitExceeded and quotaExceeded (Calendar's usage
// limits, lifted after hours) are not.
func retryableRateReason(reason string) bool {
	return reason == "rateLimitExceeded" || reason == "userRateLimitExceeded"
}

// peekReason reads the first error reason of a Google JSON error body and
// puts the body back for the caller.
func peekReason(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	if err != nil {
		return ""
	}
	return errorReason(b)
}

// errorReason extracts the reason of a Google API error body:
// {"error":{"errors":[{"reason":...}], "details":[{"reason":...}]}}.
func errorReason(body []byte) string {
	var e struct {
		Error struct {
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
			Details []struct {
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	for _, it := range e.Error.Errors {
		if it.Reason != "" {
			return it.Reason
		}
	}
	// Newer answers carry only google.rpc.ErrorInfo details.
	for _, d := range e.Error.Details {
		switch d.Reason {
		case "RATE_LIMIT_EXCEEDED":
			return "rateLimitExceeded"
		case "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
			return "insufficientPermissions"
		}
	}
	return ""
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
// 0 when absent or unparsable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 1<<30/2)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
