package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// writeCountingListener counts the writes to its connections.
type writeCountingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeCountingConn{Conn: c, writes: &l.writes}, nil
}

type writeCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *writeCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// serveAnswers serves h behind wholeAnswers and counts the socket writes.
func serveAnswers(t *testing.T, h http.HandlerFunc) (*httptest.Server, *writeCountingListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(wholeAnswers(h))
	l := &writeCountingListener{Listener: srv.Listener}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, l
}

func post(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestWholeAnswers: an answer written in pieces goes out in one piece with
// its length, in at most two writes to the socket (net/http's 4 KB buffer
// takes the header and the first bytes), where it went chunked in five.
func TestWholeAnswers(t *testing.T) {
	body := strings.Repeat(`{"text":"0123456789abcdef"},`, 400) // 11 KB
	write := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < len(body); i += 700 { // as an encoder writes
			w.Write([]byte(body[i:min(i+700, len(body))]))
		}
	}
	srv, l := serveAnswers(t, write)
	resp, got := post(t, srv.URL)
	if got != body || resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer: %d bytes, Content-Length %d, Transfer-Encoding %v", len(got), resp.ContentLength, resp.TransferEncoding)
	}
	if n := l.writes.Load(); n > 2 {
		t.Errorf("%d writes to the socket for an 11 KB answer, want at most 2", n)
	}
	// Without wholeAnswers, for comparison: chunked, in more writes.
	plain := httptest.NewUnstartedServer(http.HandlerFunc(write))
	pl := &writeCountingListener{Listener: plain.Listener}
	plain.Listener = pl
	plain.Start()
	defer plain.Close()
	if resp, _ := post(t, plain.URL); resp.ContentLength != -1 || pl.writes.Load() <= 2 {
		t.Errorf("without wholeAnswers: Content-Length %d in %d writes; the comparison no longer holds", resp.ContentLength, pl.writes.Load())
	}

	// GET is passed through as it is.
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Errorf("GET: Content-Length %d, want the handler's chunked answer", resp.ContentLength)
	}
}

func TestWholeAnswersStatuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		status  int
		length  string
		content string
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, 200, "0", ""},
		{"202 without a body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }, 202, "0", ""},
		{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, 204, "", ""},
		{"a second WriteHeader is ignored", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "gone")
		}, 404, "4", "gone"},
		{"Write before WriteHeader is a 200", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }, 200, "2", "ok"},
	} {
		srv, _ := serveAnswers(t, tc.h)
		resp, got := post(t, srv.URL)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Length") != tc.length || got != tc.content {
			t.Errorf("%s: %d, Content-Length %q, %q; want %d %q %q", tc.name, resp.StatusCode, resp.Header.Get("Content-Length"), got, tc.status, tc.length, tc.content)
		}
	}
}

// TestWholeAnswersStream: an answer that flushes streams from then on (the
// client reads the first event while the handler still runs), and one that
// grows past maxBufferedAnswer goes out as it comes.
func TestWholeAnswersStream(t *testing.T) {
	release := make(chan struct{})
	srv, _ := serveAnswers(t, func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through wholeAnswers: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	})
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(release)
	if err != nil || line != "data: first\n" || resp.ContentLength != -1 {
		t.Fatalf("first event: %q %v, Content-Length %d", line, err, resp.ContentLength)
	}

	big := strings.Repeat("x", maxBufferedAnswer+100)
	srv, _ = serveAnswers(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 64 << 10 {
			io.WriteString(w, big[i:min(i+64<<10, len(big))])
		}
	})
	resp, got := post(t, srv.URL)
	if got != big || resp.ContentLength != -1 {
		t.Fatalf("a large answer: %d bytes, Content-Length %d; want %d, streamed", len(got), resp.ContentLength, len(big))
	}
}
