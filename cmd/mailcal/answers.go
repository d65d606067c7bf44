package main

import (
	"net/http"
	"strconv"
)

// wholeAnswers sends the answer to a POST in one piece, with its length:
// mcp-go encodes a JSON-RPC answer straight into the response writer, which
// net/http then sends chunked, 2 KB a chunk and a write to the socket every
// 4 KB; held until the handler returns, a tool call's answer (7 KB on
// average under the load benchmark) goes out in one or two writes. An answer
// that streams (an SSE stream: its handler flushes) goes out as it comes
// from its first flush on, and so does one that grows past
// maxBufferedAnswer.
func wholeAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		a := &heldAnswer{w: w}
		next.ServeHTTP(a, r)
		a.finish()
	})
}

// maxBufferedAnswer bounds the bytes of an answer held back.
const maxBufferedAnswer = 1 << 20

// heldAnswer is an http.ResponseWriter that holds the status and body back
// until finish, or until a Flush (or a body past maxBufferedAnswer) makes it
// pass everything on as it comes.
type heldAnswer struct {
	w       http.ResponseWriter
	status  int
	body    []byte
	passing bool
}

func (a *heldAnswer) Header() http.Header { return a.w.Header() }

func (a *heldAnswer) WriteHeader(code int) {
	switch {
	case a.passing || code < 200: // informational answers go at once
		a.w.WriteHeader(code)
	case a.status == 0:
		a.status = code
	}
}

func (a *heldAnswer) Write(p []byte) (int, error) {
	if !a.passing && len(a.body)+len(p) > maxBufferedAnswer {
		a.pass()
	}
	if a.passing {
		return a.w.Write(p)
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	a.body = append(a.body, p...)
	return len(p), nil
}

// Flush passes what was held on and flushes: the answer streams from now on.
func (a *heldAnswer) Flush() {
	a.pass()
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (a *heldAnswer) Unwrap() http.ResponseWriter { return a.w }

func (a *heldAnswer) pass() {
	if a.passing {
		return
	}
	a.passing = true
	if a.status != 0 {
		a.w.WriteHeader(a.status)
	}
	if len(a.body) > 0 {
		_, _ = a.w.Write(a.body) // a failure shows in the next write, or nowhere: the client is gone
	}
	a.body = nil
}

// finish sends a held answer: status, Content-Length and body in one go.
func (a *heldAnswer) finish() {
	if a.passing || a.status == 0 {
		return // passed on already, or nothing written (net/http answers 200)
	}
	h := a.w.Header()
	if a.status != http.StatusNoContent && a.status != http.StatusNotModified && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
	}
	a.w.WriteHeader(a.status)
	if len(a.body) > 0 {
		_, _ = a.w.Write(a.body)
	}
}
