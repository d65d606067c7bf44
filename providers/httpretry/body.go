package httpretry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
)

// replayBody is how a request's body is sent again.
type replayBody struct {
	first io.ReadCloser                 // the first attempt's body
	get   func() (io.ReadCloser, error) // a fresh body for a later attempt; nil: none (no retry)
	// getBody goes on each attempt's request, for the next RoundTripper's
	// own rewinds (e.g. HTTP/2 after a GOAWAY).
	getBody func() (io.ReadCloser, error)
}

// prepareBody makes req's body replayable: through its GetBody, or buffered
// in memory when it has none and is at most limit bytes. A larger body is
// sent once as it is. On a read error it closes the body (RoundTrip owns it).
func prepareBody(req *http.Request, limit int64) (replayBody, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		b := req.Body
		return replayBody{first: b, get: func() (io.ReadCloser, error) { return b, nil }, getBody: req.GetBody}, nil
	case req.GetBody != nil:
		return replayBody{first: req.Body, get: req.GetBody, getBody: req.GetBody}, nil
	case req.ContentLength > limit:
		return replayBody{first: req.Body}, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		req.Body.Close()
		return replayBody{}, err
	}
	if int64(len(b)) > limit {
		// Send what was read, then the rest, once.
		return replayBody{first: readCloser{io.MultiReader(bytes.NewReader(b), req.Body), req.Body}}, nil
	}
	req.Body.Close()
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	first, _ := get()
	return replayBody{first: first, get: get, getBody: get}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// PeekBody reads up to limit bytes of an answer's body for a Policy and puts
// them back: the caller reads the whole body, unchanged, afterwards (a read
// error met while peeking comes back to it after the peeked bytes). Meant for
// error answers, whose bodies are small; nil when there is no body.
func PeekBody(resp *http.Response, limit int64) []byte {
	if resp == nil || resp.Body == nil || resp.Body == http.NoBody || limit <= 0 {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	var rest io.Reader = resp.Body
	if err != nil {
		rest = errReader{err}
	}
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), rest), resp.Body}
	return b
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// handBack returns an attempt's outcome to the caller, ending the attempt's
// context (cancel; nil: none of its own) when the answer's body is closed or
// read to the end.
func handBack(resp *http.Response, err error, cancel context.CancelFunc) (*http.Response, error) {
	if cancel == nil {
		return resp, err
	}
	if resp == nil || resp.Body == nil {
		cancel()
		return resp, err
	}
	resp.Body = &cancelBody{rc: resp.Body, cancel: cancel}
	return resp, err
}

// discard drains (so that the connection is reused) and closes an answer
// that will not be handed back.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	io.CopyN(io.Discard, resp.Body, drainLimit)
	resp.Body.Close()
}

// drainLimit bounds what discard reads of an answer: beyond it, closing
// the connection is cheaper.
const drainLimit = 64 << 10

// cancelBody ends an attempt's context when the caller is done with its answer.
type cancelBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		b.cancel()
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
