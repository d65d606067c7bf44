//go:build unix

package e2e

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// command returns an exec.Cmd for a subprocess of the tests: in its own
// session, without a controlling terminal, so that nothing (the file
// keyring's passphrase prompt, say) can wait for input from the developer's
// terminal.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// checkStderr fails the test on a data race reported by a -race binary, and
// shows the stderr of a failed test.
func checkStderr(t *testing.T, name string, logs *logSink) {
	t.Helper()
	out := logs.String()
	if strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
		t.Errorf("%s: data race or panic in the server:\n%s", name, out)
	} else if t.Failed() {
		t.Logf("%s stderr:\n%s", name, tail(out, 8000))
	}
}

// proc is a `mailcal serve` subprocess that the test started itself.
type proc struct {
	cmd    *exec.Cmd
	logs   *logSink
	stdout *logSink
	done   chan struct{} // closed once the process has exited
	err    error         // Wait's answer, set before done is closed
}

// startServe starts `mailcal serve ARGS` and arranges for it to be killed
// and checked when the test ends.
func startServe(t *testing.T, k *testKeyring, stdin io.Reader, args ...string) *proc {
	t.Helper()
	return startServeWith(t, k.env(), k.home, stdin, args...)
}

// startServeWith is startServe with an environment and working folder of
// the caller's.
func startServeWith(t *testing.T, env []string, dir string, stdin io.Reader, args ...string) *proc {
	t.Helper()
	cmd := command(context.Background(), mailcalBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env, cmd.Dir = env, dir
	p := &proc{cmd: cmd, logs: &logSink{}, stdout: &logSink{}, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, p.stdout, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("mailcal serve did not exit after SIGKILL")
		}
		checkStderr(t, "mailcal serve", p.logs)
	})
	return p
}

// waitExit waits at most d for the process to exit and returns its exit code.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("mailcal serve still running %s later; stderr:\n%s", d, tail(p.logs.String(), 4000))
	}
	return exitCode(t, "mailcal serve", p.err)
}

// exitCode is the exit code of a finished command (Wait's error).
func exitCode(t *testing.T, name string, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		t.Fatalf("waiting for %s: %v", name, err)
		return -1
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling mailcal serve: %v", err)
	}
}

// oauthCLI is a running mailcal command other than serve.
type oauthCLI struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *logSink
	stdin          io.WriteCloser // nil unless asked for
	done           chan struct{}
	err            error
}

// wait returns the command's exit code, failing the test if it runs longer
// than d.
func (c *oauthCLI) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("%s still running %s later; stderr:\n%s", c.name, d, tail(c.stderr.String(), 4000))
	}
	return exitCode(t, c.name, c.err)
}

// waitStderr waits until the command's stderr matches re and returns the
// submatches.
func (c *oauthCLI) waitStderr(t *testing.T, d time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(c.stderr.String()); m != nil {
			return m
		}
		select {
		case <-c.done:
			t.Fatalf("%s exited before printing %s; stderr:\n%s", c.name, re, tail(c.stderr.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed nothing matching %s within %s; stderr:\n%s", c.name, re, d, tail(c.stderr.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
