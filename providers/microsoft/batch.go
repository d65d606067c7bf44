package microsoft

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// Graph's JSON batching: POST /$batch with {"requests":[{id, method, url,
// headers, body}]}, at most 20 requests a batch, answered 200 with one
// {id, status, headers, body} a request, in any order. Outlook counts each
// request of a batch against its limit of 4 concurrent requests per app
// and mailbox, answering the ones past it 429 with Retry-After; so a batch
// here is four chains of requests (each request dependsOn the one four
// before it), never more than four at once. A request whose chain broke
// before it (a message not found) is answered 424 (failed dependency) and
// is sent again, as are those answered 429, 503 or 504, after the longest
// Retry-After (or a backoff), within the retry budget and the caller's
// deadline; these go in batches of four, unchained (a chain would cascade
// one failure again). So 100 ids are 5 batches, and each unknown id among
// them adds at most one batch for the requests its chain held back.

const (
	// maxBatchRequests is Graph's limit of requests a batch.
	maxBatchRequests = 20
	// batchLanes is how many requests of a batch run at once: Outlook's
	// concurrency limit per mailbox.
	batchLanes = 4
	// maxBatchRounds bounds the rounds of retries of one set of requests.
	maxBatchRounds = 5
)

// batchReq is one request of a batch: a path under the Graph base
// ("/me/messages/{id}", escaped) and an optional JSON body.
type batchReq struct {
	method string
	path   string
	body   any
}

// batchAnswer is the final answer to one request: its status, its body
// (JSON) and, when it failed, the mapped error.
type batchAnswer struct {
	status int
	body   json.RawMessage
	err    error
}

// batch sends the requests in batches of 20, one batch after another, and
// returns each request's final answer. When a batch request itself fails
// (once retried), the error is returned if no request was answered yet;
// otherwise it becomes the answer of every request not answered, and
// nothing more is sent.
func (g *graph) batch(ctx context.Context, reqs []batchReq, need string) ([]batchAnswer, error) {
	answers := make([]batchAnswer, len(reqs))
	pending := make([]int, len(reqs))
	for i := range pending {
		pending[i] = i
	}
	start, answered := time.Now(), false
	for round := 1; len(pending) > 0; round++ {
		var retry []int
		var wait time.Duration
		backOff := false
		// The first round chains its batches of 20; the requests sent again
		// go in batches of 4, unchained, so that one failing request cannot
		// hold back the others of its chain once more.
		size := maxBatchRequests
		if round > 1 {
			size = batchLanes
		}
		for from := 0; from < len(pending); from += size {
			chunk := pending[from:min(from+size, len(pending))]
			got, err := g.sendBatch(ctx, reqs, chunk, need)
			if err != nil && !answered {
				return nil, err
			}
			if err != nil {
				for _, i := range pending[from:] {
					answers[i] = batchAnswer{err: err}
				}
				return answers, nil
			}
			answered = true
			for j, i := range chunk {
				a := got[j]
				answers[i] = a.batchAnswer
				switch {
				case a.status == http.StatusFailedDependency:
					retry = append(retry, i)
				case a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable || a.status == http.StatusGatewayTimeout:
					retry, backOff = append(retry, i), true
					wait = max(wait, a.retryAfter)
				}
			}
		}
		if len(retry) == 0 || round >= maxBatchRounds {
			break
		}
		if backOff {
			if wait <= 0 {
				wait = g.api.backoff(round)
			}
			if time.Since(start)+wait > g.api.opts.MaxRetryWait {
				break
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		pending = retry
	}
	for i := range answers {
		if answers[i].status == http.StatusFailedDependency {
			answers[i].err = &providers.Error{Kind: providers.ErrUnavailable, Status: http.StatusFailedDependency,
				Message: "not attempted: requests before it in its Microsoft Graph batch kept failing; call again for this id"}
		}
	}
	return answers, nil
}

// subAnswer is a request's answer in one batch.
type subAnswer struct {
	batchAnswer
	retryAfter time.Duration
}

// sendBatch sends one batch of the requests reqs[chunk[j]] (at most 20)
// and returns their answers in chunk's order; a request the answer left out
// is a 503, to be sent again.
func (g *graph) sendBatch(ctx context.Context, reqs []batchReq, chunk []int, need string) ([]subAnswer, error) {
	type subRequest struct {
		ID        string            `json:"id"`
		Method    string            `json:"method"`
		URL       string            `json:"url"`
		DependsOn []string          `json:"dependsOn,omitempty"`
		Headers   map[string]string `json:"headers"`
		Body      any               `json:"body,omitempty"`
	}
	body := struct {
		Requests []subRequest `json:"requests"`
	}{Requests: make([]subRequest, len(chunk))}
	for j, i := range chunk {
		r := reqs[i]
		sr := subRequest{ID: strconv.Itoa(j + 1), Method: r.method, URL: r.path, Body: r.body,
			Headers: map[string]string{"Prefer": `IdType="ImmutableId"`}}
		if r.body != nil {
			sr.Headers["Content-Type"] = "application/json"
		}
		if j >= batchLanes {
			sr.DependsOn = []string{strconv.Itoa(j + 1 - batchLanes)}
		}
		body.Requests[j] = sr
	}
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"responses"`
	}
	// Every request sent in a batch sets a state (read, categories, a
	// folder): repeating the batch changes nothing more.
	if err := g.do(ctx, req{method: http.MethodPost, path: "/$batch", body: body, idempotent: true, need: need}, &out); err != nil {
		return nil, err
	}
	answers := make([]subAnswer, len(chunk))
	seen := make([]bool, len(chunk))
	for _, r := range out.Responses {
		j, err := strconv.Atoi(r.ID)
		if err != nil || j < 1 || j > len(chunk) || seen[j-1] {
			continue
		}
		seen[j-1] = true
		a := subAnswer{batchAnswer: batchAnswer{status: r.Status, body: r.Body}}
		if r.Status < 200 || r.Status > 299 {
			h := http.Header{}
			for k, v := range r.Headers {
				h.Set(k, v)
			}
			a.retryAfter = httpretry.RetryAfter(h, time.Now())
			a.err = mapResponse(&http.Response{StatusCode: r.Status, Header: h}, r.Body, need)
		}
		answers[j-1] = a
	}
	for j := range answers {
		if !seen[j] {
			answers[j] = subAnswer{batchAnswer: batchAnswer{status: http.StatusServiceUnavailable,
				err: &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph's batch answer left this request out"}}}
		}
	}
	return answers, nil
}

// reason is a failed request's error in words for a model.
func (a batchAnswer) reason() string {
	if a.err == nil {
		return fmt.Sprintf("HTTP %d", a.status)
	}
	if a.status == 0 { // the batch request failed, not this request
		return "the batch carrying it failed, it may not have been applied (list_messages shows the message's state): " + strings.TrimSpace(a.err.Error())
	}
	return strings.TrimSpace(a.err.Error())
}
