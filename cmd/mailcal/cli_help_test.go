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
		if out != usage() {
			t.Errorf("mailcal %s: stdout is not the main usage once:\n%s", strings.Join(args, " "), out)
		}
		if errOut != "" {
			t.Errorf("mailcal %s: stderr %q, want nothing", strings.Join(args, " "), errOut)
		}
	}
}

// TestCommandHelpOnce: `mailcal COMMAND --help` (and -h, -help, `mailcal help
// COMMAND`) prints the command's usage exactly once, on stdout, and exits 0.
func TestCommandHelpOnce(t *testing.T) {
	// The first line of each command's help.
	commands := map[string]string{
		"serve":      "Usage: mailcal serve ",
		"connect":    "Usage: mailcal connect ",
		"accounts":   "Usage: mailcal accounts ",
		"disconnect": "Usage: mailcal disconnect ",
		"tenant":     "  mailcal tenant add NAME ",
		"tenants":    "  mailcal tenant add NAME ",
		"version":    "Usage: mailcal version",
		"--version":  "Usage: mailcal version",
		"-v":         "Usage: mailcal version",
	}
	for cmd, first := range commands {
		for _, args := range [][]string{
			{cmd, "--help"}, {cmd, "-h"}, {cmd, "-help"}, {"help", cmd}, {"-h", cmd}, {"--help", cmd},
		} {
			line := "mailcal " + strings.Join(args, " ")
			out, errOut, code := runInProcess(t, nil, args...)
			if code != 0 {
				t.Errorf("%s: exit %d, want 0; stderr: %s", line, code, errOut)
			}
			if n := strings.Count(out, "Usage:"); n != 1 {
				t.Errorf("%s: %d occurrences of \"Usage:\" on stdout, want 1:\n%s", line, n, out)
			}
			if n := strings.Count(out, first); n != 1 {
				t.Errorf("%s: %d occurrences of %q on stdout, want 1:\n%s", line, n, first, out)
			}
			if !strings.HasPrefix(out, "Usage:") {
				t.Errorf("%s: stdout does not start with the usage:\n%s", line, out)
			}
			if errOut != "" {
				t.Errorf("%s: stderr %q, want nothing", line, errOut)
			}
		}
	}
	// Help anywhere among a command's arguments wins over them.
	for _, args := range [][]string{
		{"tenant", "add", "--help"}, {"tenant", "add", "x", "-h"},
		{"disconnect", "google", "me@example.com", "--help"}, {"serve", "--transport", "http", "--help"},
	} {
		line := "mailcal " + strings.Join(args, " ")
		out, errOut, code := runInProcess(t, nil, args...)
		if code != 0 || strings.Count(out, "Usage:") != 1 || errOut != "" {
			t.Errorf("%s: exit %d, stdout:\n%s\nstderr: %s\nwant exit 0 and the usage once on stdout", line, code, out, errOut)
		}
	}
}

// TestVersion: `mailcal version` prints the version on stdout; extra
// arguments are a usage error.
func TestVersion(t *testing.T) {
	for _, cmd := range []string{"version", "--version", "-v"} {
		out, errOut, code := runInProcess(t, nil, cmd)
		if code != 0 || out != "mailcal "+buildVersion()+"\n" || errOut != "" {
			t.Errorf("mailcal %s: exit %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
	out, errOut, code := runInProcess(t, nil, "version", "extra")
	if code != 2 || out != "" || !strings.Contains(errOut, "version takes no arguments") {
		t.Errorf("mailcal version extra: exit %d, stdout %q, stderr %q; want exit 2 and a usage error", code, out, errOut)
	}
}

// TestUnknownFlag: a wrong flag is a usage error on stderr; stdout stays
// empty (it may be a pipe expecting, say, an API key).
func TestUnknownFlag(t *testing.T) {
	for _, cmd := range []string{"serve", "connect", "accounts", "disconnect", "tenant", "version"} {
		out, errOut, code := runInProcess(t, nil, cmd, "--no-such-flag")
		if code != 2 || out != "" || !strings.Contains(errOut, "no-such-flag") {
			t.Errorf("mailcal %s --no-such-flag: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout", cmd, code, out, errOut)
		}
	}
}
