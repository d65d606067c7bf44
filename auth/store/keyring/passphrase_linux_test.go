package keyring

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the master side of a new pseudo-terminal and the path of its
// slave side.
func openPTY(t *testing.T) (*os.File, *os.File, string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	// Not master.Fd(): that would switch the file to blocking mode, and the
	// read deadlines in typeAt would stop working.
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil {
		t.Skipf("unlockpt/ptsname: %v", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	// Keep the slave side open between prompts: without any open slave, reads
	// on the master fail with EIO.
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening %s: %v", name, err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave, name
}

// typeAt answers each prompt that appears on the terminal with the next line,
// once the reader has turned echo off (as a person would: after the prompt).
func typeAt(t *testing.T, master, slave *os.File, lines ...string) <-chan string {
	seen := make(chan string, 1)
	master.SetReadDeadline(time.Now().Add(30 * time.Second))
	go func() {
		var out bytes.Buffer
		buf := make([]byte, 512)
		for _, line := range lines {
			for !strings.HasSuffix(strings.TrimRight(out.String(), " "), ":") {
				n, err := master.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					// Hang up, so that the prompt's read fails instead of blocking.
					master.Close()
					seen <- fmt.Sprintf("%s<read error: %v>", out.String(), err)
					return
				}
			}
			for i := 0; i < 500; i++ {
				tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
				if err != nil || tio.Lflag&unix.ECHO == 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			master.Write([]byte(line + "\n"))
			out.WriteString("<typed>")
		}
		master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		seen <- out.String()
	}()
	return seen
}

func TestFileBackendPromptsOnTerminal(t *testing.T) {
	master, slave, name := openPTY(t)
	in, out := ttyIn, ttyOut
	ttyIn, ttyOut = name, name
	defer func() { ttyIn, ttyOut = in, out }()
	dir := filepath.Join(t.TempDir(), "keyring")

	// A new keyring asks twice.
	seen := typeAt(t, master, slave, "typed secret", "typed secret")
	s, err := Open(context.Background(), Config{Backend: "file", Dir: dir})
	if err != nil {
		t.Fatalf("Open with the terminal prompt: %v", err)
	}
	screen := <-seen
	if !strings.Contains(screen, "mailcal: passphrase for the file keyring at "+dir+": ") ||
		!strings.Contains(screen, "repeat the passphrase") || strings.Contains(screen, "typed secret") {
		t.Errorf("terminal showed %q", screen)
	}
	mustSet(t, s, "tenant/acme", []byte("v"))
	mustGet(t, openFile(t, Config{Dir: dir, Password: "typed secret"}), "tenant/acme", []byte("v"))

	// An existing keyring asks once.
	seen = typeAt(t, master, slave, "typed secret")
	s, err = Open(context.Background(), Config{Backend: "file", Dir: dir})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if screen := <-seen; strings.Contains(screen, "repeat") {
		t.Errorf("asked to repeat for an existing keyring: %q", screen)
	}
	mustGet(t, s, "tenant/acme", []byte("v"))

	// Different answers to a new keyring fail.
	seen = typeAt(t, master, slave, "one", "two")
	_, err = Open(context.Background(), Config{Backend: "file", Dir: t.TempDir()})
	<-seen
	if err == nil || !strings.Contains(err.Error(), "the two passphrases differ") || strings.Contains(err.Error(), "one") {
		t.Errorf("mismatched passphrases: %v", err)
	}
}
