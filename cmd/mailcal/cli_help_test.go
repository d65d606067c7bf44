package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes (a command may log
// from more than one goroutine).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runInProcess runs one mailcal command line through run, as main does, with
// the given environment (nothing is read from the process's own), and returns
// its stdout, stderr and exit status. dispatch replaces the default logger:
// the test's is put back afterwards, so that nothing later logs into these
// buffers.
func runInProcess(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	prev := slog.Default()
	defer slog.SetDefault(prev)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	e := env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errOut,
		getenv: func(name string) string { return vars[name] },
	}
	code = run(ctx, args, e)
	return out.String(), errOut.String(), code
}

// TestHelpOfHelp: asking for help about help, in any spelling, prints the
// main usage once and exits 0 (it used to recurse until the stack overflowed).
func TestHelpOfHelp(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"-h"}, {"--help"}, {"-help"},
		{"help", "--help"}, {"help", "-h"}, {"help", "help"}, {"help", "-help"},
		{"-h", "-h"}, {"-h", "help"}, {"--help", "--help"}, {"--help", "-h"},
		{"help", "help", "help"},
	} {
		out, errOut, code := runInProcess(t, nil, args...)
		if code != 0 {
			t.Errorf("mailcal %s: exit %d, want 0; stderr: %s", strings.Join(args, " "), code, errOut)
		}
		if out != usage {
			t.Errorf("mailcal %s: stdout is not the main usage once:\n%s", strings.Join(args, " "), out)
		}
		if errOut != "" {
			t.Errorf("mailcal %s: stderr %q, want nothing", strings.Join(args, " "), errOut)
		}
	}
}
