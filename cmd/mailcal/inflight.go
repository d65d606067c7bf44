package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// inflight counts running tool calls so that shutdown can let them finish,
// and refuses new ones once shutdown has begun.
type inflight struct {
	mu       sync.Mutex
	n        int
	draining bool
	idle     chan struct{} // closed when draining and n reaches 0
}

func newInflight() *inflight { return &inflight{idle: make(chan struct{})} }

func (f *inflight) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draining {
		return false
	}
	f.n++
	return true
}

func (f *inflight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.draining && f.n == 0 {
		close(f.idle)
	}
}

// drain refuses new calls and returns a channel closed once none runs.
func (f *inflight) drain() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.draining {
		f.draining = true
		if f.n == 0 {
			close(f.idle)
		}
	}
	return f.idle
}

// wait drains and waits for running calls, at most until ctx ends. It
// reports whether every call finished.
func (f *inflight) wait(ctx context.Context) bool {
	select {
	case <-f.drain():
		return true
	case <-ctx.Done():
		return false
	}
}

// middleware tracks every tool call.
func (f *inflight) middleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if !f.begin() {
			return mcp.NewToolResultError("mailcal is shutting down; call again in a moment"), nil
		}
		defer f.end()
		return next(ctx, req)
	}
}

// count returns the number of running calls.
func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// settled waits until no call has run for quiet, at most until ctx ends.
func (f *inflight) settled(ctx context.Context, quiet time.Duration) {
	tick := time.NewTicker(quiet / 4)
	defer tick.Stop()
	idleSince := time.Now()
	for {
		if f.count() > 0 {
			idleSince = time.Now()
		} else if time.Since(idleSince) >= quiet {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// finishOnEOF delays the end of stdin until the calls it carried have
// answered: mcp-go cancels running calls as soon as its input ends, and a
// client that writes its requests and closes stdin still wants the answers.
type finishOnEOF struct {
	r     io.Reader
	track *inflight
	grace time.Duration
}

func (f finishOnEOF) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		ctx, cancel := context.WithTimeout(context.Background(), f.grace)
		f.track.settled(ctx, 250*time.Millisecond)
		cancel()
	}
	return n, err
}
