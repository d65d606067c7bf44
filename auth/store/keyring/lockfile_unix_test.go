//go:build unix

package keyring

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A lock file on a file system that refuses record locks: the locks hold
// within the process, with one warning, rather than failing every write.
func TestLockFileUnsupported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "#lock")
	l, err := openLockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tryLock = func(*os.File, int64) (bool, error) { return false, unix.ENOLCK }
	t.Cleanup(func() { tryLock = tryLockByte })
	log := captureLog(t)
	ctx := context.Background()
	unlock, err := l.lock(ctx, "store")
	if err != nil {
		t.Fatalf("lock on a file system without locks: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := l.lock(short, "store"); err == nil {
		t.Error("the lock does not hold within the process")
	}
	unlock()
	unlock, err = l.lock(ctx, "grant/x")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if n := strings.Count(log.String(), "refuses locks"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, log)
	}
}
