package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/mailcal/mailcal/auth/tenant"
)

// bodyGrace is how much longer than --read-timeout a body may take for
// every bodyGraceBytes that arrive: a large body on a slow link (down to
// about 1 Mbit/s) is not a slow sender, and a sender keeps its connection
// only as long as the bytes it actually sends earn it.
const (
	bodyGrace      = time.Second
	bodyGraceBytes = 128 << 10
	// drainLimit is how much of an oversized body is read so that its
	// sender sees the 413.
	drainLimit = 1 << 20
)

// readDeadline bounds the time a request body takes to arrive, for every
// request: authenticated or not, read by a handler or not. The headers are
// bounded by the server's ReadHeaderTimeout; a body must then arrive within
// timeout, plus bodyGrace for every bodyGraceBytes received. A handler that
// reads a body too slow gets a read error (limitBody answers 408).
//
// Until a body has been read whole, an answer closes the connection: else
// net/http reads what is left of it (up to 256 KiB, at the sender's pace, in
// the handler's goroutine) to reuse the connection, which let a request
// answered 401 hold its connection for as long as its sender liked. And
// whatever a handler left unread is not read afterwards at all.
//
// Requests without a body (GET streams) get no deadline: the server's
// background read, which notices a client going away, would take it for an
// error and end the stream.
func readDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &deadlineBody{src: r.Body, rc: http.NewResponseController(w), header: w.Header(), deadline: time.Now().Add(timeout)}
		_ = b.rc.SetReadDeadline(b.deadline)
		w.Header().Set("Connection", "close")
		r.Body = b
		next.ServeHTTP(w, r)
		if !b.done {
			_ = b.rc.SetReadDeadline(time.Now())
		}
	})
}

// errSlowBody is the error reading a body that did not arrive in time.
var errSlowBody = errors.New("the request body did not arrive within the read timeout")

// deadlineBody is a request body under readDeadline's deadline. It is read
// from the handler's goroutine, as every handler here does.
type deadlineBody struct {
	src      io.ReadCloser
	rc       *http.ResponseController
	header   http.Header
	deadline time.Time
	n        int64
	done     bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	before := b.n / bodyGraceBytes
	b.n += int64(n)
	if grace := b.n/bodyGraceBytes - before; grace > 0 && err == nil {
		b.deadline = b.deadline.Add(time.Duration(grace) * bodyGrace)
		_ = b.rc.SetReadDeadline(b.deadline)
	}
	switch {
	case err == io.EOF && !b.done:
		// The whole body is in: no deadline from here on (a long call or
		// stream must not be cut), and the connection may be reused.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
		b.header.Del("Connection")
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w (%d bytes arrived)", errSlowBody, b.n)
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.src.Close() }

// limitBody reads a request body whole, at most n bytes, before the handler
// runs: mcp-go reads bodies whole anyway, and reading it here gives an
// oversized body 413 (rather than mcp-go's 400 parse error) and a body that
// arrives too slowly 408. Put it after authentication, so that the body of a
// request without a valid key is never read.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			// An authenticated client sending a little too much gets its
			// 413 rather than a broken pipe: what is left of the body, up
			// to drainLimit, is read (within the read deadline) first.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit))
			w.Header().Set("Connection", "close")
			tenant.WriteError(w, http.StatusRequestEntityTooLarge, "request_too_large",
				fmt.Sprintf("request body over %d bytes (--max-request-bytes)", n))
		}
		if r.ContentLength > n {
			tooLarge()
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		var buf bytes.Buffer
		if r.ContentLength > 0 {
			buf.Grow(int(r.ContentLength))
		}
		_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, n))
		var over *http.MaxBytesError
		switch {
		case errors.As(err, &over):
			tooLarge()
			return
		case errors.Is(err, errSlowBody):
			w.Header().Set("Connection", "close")
			tenant.WriteError(w, http.StatusRequestTimeout, "request_timeout", err.Error()+" (--read-timeout); send it faster or in smaller requests")
			return
		case err != nil:
			w.Header().Set("Connection", "close")
			tenant.WriteError(w, http.StatusBadRequest, "bad_request", "reading the request body failed")
			return
		}
		r.Body = newBufferedBody(buf.Bytes())
		r.ContentLength = int64(buf.Len())
		next.ServeHTTP(w, r)
	})
}

// bufferedBody is a request body read whole; admit looks into it.
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

func newBufferedBody(data []byte) bufferedBody { return bufferedBody{bytes.NewReader(data), data} }

func (bufferedBody) Close() error { return nil }
