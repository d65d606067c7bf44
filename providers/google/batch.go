package google

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// Gmail's HTTP batch endpoint (the Go client library has none): several
// GET calls in one request, POST {base}/batch/gmail/v1 with a
// multipart/mixed body of application/http parts, answered 200 with one
// application/http part per call, paired by Content-ID ("response-" + the
// call's). Each call has its own status: it may fail alone (a 429 inside a
// 200 batch) and counts against the quota as a call of its own. Gmail
// takes at most 100 calls a batch and advises no more than 50.
//
// The batch request goes through the account's client like any request
// (token, one refresh on a 401 of the batch, the retry transport for a 429
// or 5xx of the batch, which is safe to repeat: its calls are GETs). The
// calls that failed in a way worth retrying (429, 403 rate limits, 5xx, a
// call the answer left out) are sent again, alone, in a next batch, after
// their Retry-After or a backoff, within the retry budget; calls answered
// 401 are sent again once with a fresh token.

const (
	// maxBatchCalls is the most calls one batch carries.
	maxBatchCalls = 50
	// maxBatchAnswer bounds the bytes read of a batch's answer (a metadata
	// answer is about 1 KB a call).
	maxBatchAnswer = 8 << 20
	// maxBatchRounds bounds the batches sent for one set of calls: the
	// first and the retries of the calls that failed.
	maxBatchRounds = 5
)

// batcher sends batches of GET calls to Gmail for one account.
type batcher struct {
	hc      *http.Client // the account's client
	src     providers.TokenSource
	url     string // the batch endpoint
	prefix  string // the path of the Gmail API, before "users/…", in a call's request line
	maxWait time.Duration
	backoff func(n int) time.Duration
}

// callAnswer is the answer to one call of a batch.
type callAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a *callAnswer) response() *http.Response {
	return &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body))}
}

// err is the call's failure as the client library reports one.
func (a *callAnswer) err() error {
	return googleapi.CheckResponse(a.response())
}

// get makes the calls (paths below the Gmail API, e.g.
// "users/me/messages/ID?format=metadata") and hands each final answer, a
// 2xx, a 404 or a 410 (the item is gone), to handle with the call's index,
// in no particular order; the answer's body is valid only during handle.
// Any other outcome, once retries are spent, is the error: the failing
// call's own (a *googleapi.Error), the batch request's, handle's, or
// *providers.Error when the answers cannot be read.
func (b *batcher) get(ctx context.Context, paths []string, handle func(i int, a *callAnswer) error) error {
	if len(paths) == 0 {
		return nil
	}
	pending := make([]int, len(paths))
	for i := range pending {
		pending[i] = i
	}
	start, refreshed := time.Now(), false
	for round := 1; ; round++ {
		batch := make([]string, len(pending))
		for j, i := range pending {
			batch[j] = paths[i]
		}
		// The token this round goes with (the account's transport takes
		// the same cached one), so that a refusal invalidates that token and
		// not one another call refreshed meanwhile.
		sentWith, err := b.src.Token(ctx)
		if err != nil {
			return &providers.TokenError{Err: err}
		}
		retry, wait, backOff, unauthorized, last, err := b.round(ctx, batch, pending, refreshed, handle)
		if err != nil {
			return err
		}
		if len(retry) == 0 {
			return nil
		}
		if round >= maxBatchRounds {
			return last
		}
		if unauthorized != nil {
			// The token was refused: the next batch goes with a fresh one
			// (once; a second refusal stands), as providers.Transport does
			// for a request.
			refreshed = true
			switch err := b.refresh(ctx, sentWith.AccessToken); {
			case errors.Is(err, errNoFreshToken):
				return unauthorized // the refusal stands
			case err != nil:
				return err
			}
		}
		if backOff {
			if wait <= 0 {
				wait = b.backoff(round)
			}
			if time.Since(start)+wait > b.maxWait {
				return last
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return last
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		pending = retry
	}
}

// round sends one batch of the pending calls (paths[j] is call pending[j])
// and sorts the answers: final ones go to handle; retry lists the calls to
// send again, after wait (0: a backoff) when backOff; unauthorized is a
// call's 401 (retried once with a fresh token); last is the error to give
// if no retry is made. err ends the whole: a call's failure not worth
// retrying, the batch request's failure, handle's error.
func (b *batcher) round(ctx context.Context, paths []string, pending []int, refreshed bool, handle func(int, *callAnswer) error) (
	retry []int, wait time.Duration, backOff bool, unauthorized, last, err error) {
	buf := getBuffer()
	defer putBuffer(buf)
	answers, err := b.send(ctx, paths, buf)
	if err != nil {
		return nil, 0, false, nil, nil, err
	}
	for j, i := range pending {
		a := answers[j]
		switch {
		case a == nil:
			retry, backOff = append(retry, i), true
			last = &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail's batch answer left out calls it was sent"}
		case a.status/100 == 2 || a.status == http.StatusNotFound || a.status == http.StatusGone:
			if err := handle(i, a); err != nil {
				return nil, 0, false, nil, nil, err
			}
		case a.status == http.StatusUnauthorized && !refreshed:
			retry, unauthorized = append(retry, i), a.err()
			last = unauthorized
		default:
			v, asked := retryPolicy(a.response(), nil)
			if v == httpretry.Stop { // the calls are GETs: RetryIfIdempotent is a retry too
				return nil, 0, false, nil, nil, a.err()
			}
			retry, backOff, last = append(retry, i), true, a.err()
			wait = max(wait, asked)
		}
	}
	return retry, wait, backOff, unauthorized, last, nil
}

// refresh drops refused, the access token the calls were refused with
// (unless another call replaced it already: the source compares), and gets
// another: a failure to get one is the error; the same one again (no other
// to try) is errNoFreshToken. Invalidating the source's current token
// instead would throw away the one a concurrent call had just refreshed,
// and refresh again for every call that met the same expiry.
func (b *batcher) refresh(ctx context.Context, refused string) error {
	b.src.Invalidate(refused)
	fresh, err := b.src.Token(ctx)
	if err != nil {
		return &providers.TokenError{Err: err}
	}
	if fresh.AccessToken == refused {
		return errNoFreshToken
	}
	return nil
}

// errNoFreshToken: the token source has no other token than the refused one.
var errNoFreshToken = errors.New("no other access token")

// send sends one batch of calls and returns their answers in order (nil
// for a call the answer left out or garbled). The answer is read into buf,
// which the answers' bodies point into.
func (b *batcher) send(ctx context.Context, paths []string, buf *bytes.Buffer) ([]*callAnswer, error) {
	var id [12]byte
	rand.Read(id[:])
	boundary := "mailcal_" + hex.EncodeToString(id[:])
	var body bytes.Buffer
	body.Grow(len(paths) * (160 + len(b.prefix) + len(paths[0])))
	for i, p := range paths {
		body.WriteString("--" + boundary + "\r\nContent-Type: application/http\r\nContent-ID: <call+")
		body.WriteString(strconv.Itoa(i))
		// The call: its request line and the empty line that ends its
		// (no) headers; the CRLF before the next delimiter is the
		// delimiter's.
		body.WriteString(">\r\n\r\nGET " + b.prefix + p + " HTTP/1.1\r\n\r\n\r\n")
	}
	body.WriteString("--" + boundary + "--\r\n")
	req, err := http.NewRequestWithContext(httpretry.Idempotent(ctx), http.MethodPost, b.url, bytes.NewReader(body.Bytes()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	req.Header.Set("User-Agent", "mailcal")
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if err := googleapi.CheckResponse(resp); err != nil {
			return nil, err
		}
		return nil, badBatch(fmt.Sprintf("HTTP %d", resp.StatusCode))
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, badBatch("not multipart/mixed")
	}
	if err := readAnswer(buf, resp.Body, maxBatchAnswer); err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return nil, badBatch(fmt.Sprintf("larger than %d MB", maxBatchAnswer>>20))
		}
		return nil, err
	}
	return readAnswers(buf.Bytes(), params["boundary"], len(paths)), nil
}

// readAnswers reads the parts of a batch answer, as far as they can be
// read: a part whose Content-ID names no call sent, or a second answer to
// one, is ignored, and an unreadable part or the rest of an answer that
// breaks off count as left out. An answer whose parts carry no Content-ID
// at all is read in order (Google answers "in the same order as the
// requests") when it has one part a call.
func readAnswers(body []byte, boundary string, n int) []*callAnswer {
	answers := make([]*callAnswer, n)
	parts, _ := splitParts(body, boundary)
	positional := len(parts) == n
	for _, p := range parts {
		if headerValue(p.header, "Content-ID") != "" {
			positional = false
			break
		}
	}
	for j, p := range parts {
		i, ok := j, positional
		if !positional {
			i, ok = callIndex(headerValue(p.header, "Content-ID"), n)
		}
		if !ok || answers[i] != nil {
			continue
		}
		if a, ok := parseAnswer(p.content); ok {
			answers[i] = a
		}
	}
	return answers
}

// callIndex reads the call number of an answer's Content-ID,
// "<response-call+N>", angle brackets optional.
func callIndex(id string, n int) (int, bool) {
	id = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
	num, ok := strings.CutPrefix(id, "response-call+")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil && i >= 0 && i < n
}

func badBatch(what string) error {
	return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail's batch answer cannot be read: " + what}
}
