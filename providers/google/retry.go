package google

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mailcal/mailcal/providers/httpretry"
)

// retryPolicy is Google's retry decision for httpretry.Transport: a 403
// whose reason is a short-term rate limit was not processed and is retried
// for every request, honouring Retry-After; other 403s are not retried.
// The rest is httpretry.Default: 429 for every request, 500/502/503/504 and
// network errors for idempotent ones, a failed dial for every request.
func retryPolicy(resp *http.Response, err error) (httpretry.Verdict, time.Duration) {
	if err == nil && resp.StatusCode == http.StatusForbidden {
		if retryableRateReason(errorReason(httpretry.PeekBody(resp, 1<<20))) {
			return httpretry.RetryAlways, httpretry.RetryAfter(resp.Header, time.Now())
		}
		return httpretry.Stop, 0
	}
	return httpretry.Default(resp, err)
}

// retryableRateReason reports whether a 403 reason is a short-term rate limit
// worth waiting for. dailyLimitExceeded and quotaExceeded (Calendar's usage
// limits, lifted after hours) are not.
func retryableRateReason(reason string) bool {
	return reason == "rateLimitExceeded" || reason == "userRateLimitExceeded"
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
