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

// proc is a mailcal subprocess that the test started itself: serve, or
// another command.
type proc struct {
	name   string // "mailcal serve", "mailcal connect google …"
	cmd    *exec.Cmd
	logs   *logSink       // stderr: serve's logs, the other commands' messages
	stdout *logSink       // stdout
	stdin  io.WriteCloser // a pipe to stdin, when the caller asked for one
	done   chan struct{}  // closed once the process has exited
	err    error          // Wait's answer, set before done is closed
}

// newProc prepares `mailcal ARGS` with this environment and working folder;
// start runs it.
func newProc(t *testing.T, env []string, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{
		name:   "mailcal " + strings.Join(args, " "),
		cmd:    command(context.Background(), mailcalBinary(t), args...),
		logs:   &logSink{},
		stdout: &logSink{},
		done:   make(chan struct{}),
	}
	p.cmd.Env, p.cmd.Dir = env, dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.logs
	return p
}

// stdinPipe gives the process a pipe to write its stdin to (p.stdin).
func (p *proc) stdinPipe(t *testing.T) {
	t.Helper()
	w, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = w
}

// start starts the process and arranges for it to be killed and its stderr
// checked when the test ends.
func (p *proc) start(t *testing.T) {
	t.Helper()
	for try := 0; ; try++ {
		err := p.cmd.Start()
		if err == nil {
			break
		}
		// ETXTBSY: a binary this test just copied is still open for
		// writing in a child another test forked meanwhile (golang/go#22315);
		// it is closed once that child execs. Retried with a fresh Cmd (a
		// failed Start closes its pipes: not with a stdin pipe).
		if !errors.Is(err, syscall.ETXTBSY) || p.stdin != nil || try == 50 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		c := p.cmd
		p.cmd = &exec.Cmd{Path: c.Path, Args: c.Args, Env: c.Env, Dir: c.Dir, Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr,
			ExtraFiles: c.ExtraFiles, SysProcAttr: c.SysProcAttr, Cancel: c.Cancel, WaitDelay: c.WaitDelay}
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not exit after SIGKILL", p.name)
		}
		checkStderr(t, p.name, p.logs)
	})
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
	p := newProc(t, env, dir, append([]string{"serve"}, args...)...)
	p.name = "mailcal serve"
	p.cmd.Stdin = stdin
	p.start(t)
	return p
}

// waitExit waits at most d for the process to exit and returns its exit code.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s still running %s later; stderr:\n%s", p.name, d, tail(p.logs.String(), 4000))
	}
	return exitCode(t, p.name, p.err)
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
		t.Fatalf("signalling %s: %v", p.name, err)
	}
}

// waitStderr waits until the process's stderr matches re and returns the
// submatches.
func (p *proc) waitStderr(t *testing.T, d time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(p.logs.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %s; stderr:\n%s", p.name, re, tail(p.logs.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed nothing matching %s within %s; stderr:\n%s", p.name, re, d, tail(p.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
