package keyring

// Locks shared by the processes of one keyring: byte-range locks on one
// lock file, one byte per lock name. The file backend's lock file is
// "#lock" in its folder; the OS keyrings' is a per-user file in the user's
// cache folder (mailcal/locks/BACKEND-SERVICE.lock), since they have no
// folder of their own. The operating system drops a process's locks when it
// dies, however it dies.
//
// Unix uses POSIX record locks (fcntl F_SETLK), which belong to the process,
// not to a file descriptor, and are all released when the process closes any
// descriptor of the file: so a process opens each lock file once (lockFiles)
// and never closes it, and orders its own goroutines with an in-process lock
// per byte before asking the kernel. Windows uses LockFileEx on the same
// bytes. Elsewhere (no file locking mailcal knows) the locks hold within the
// process only.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailcal/mailcal/auth/store/internal/keylock"
)

// Locker is a KV shared by processes: Lock holds the lock called name,
// across every process that opens the same keyring, until unlock is
// called. It waits until ctx ends. Store takes "store" around its
// read-compare-write sequences and "grant/KEY" for LockGrant.
type Locker interface {
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// lockFile hands out the locks of one lock file.
type lockFile struct {
	path   string
	f      *os.File // nil: locks within this process only
	why    string   // why f is nil ("" if it is not)
	inproc keylock.Set
	// unsupported is set when the file system refuses record locks (some
	// network file systems): from then on the locks hold in this process.
	unsupported atomic.Bool
}

// lockFiles are the lock files this process opened, each opened once.
var lockFiles struct {
	mu    sync.Mutex
	files []*lockFile
	infos []os.FileInfo
}

// inProcessLocks returns locks that hold within this process only.
func inProcessLocks(why string) *lockFile { return &lockFile{why: why} }

// openLockFile returns the locks of the file at path, creating it (and its
// folder, 0700) if needed.
func openLockFile(path string) (*lockFile, error) {
	if !fileLocking {
		return inProcessLocks("this operating system has no file locks mailcal uses"), nil
	}
	lockFiles.mu.Lock()
	defer lockFiles.mu.Unlock()
	// Never open a file this process has open already: closing the second
	// descriptor would drop the locks taken through the first.
	if fi, err := os.Stat(path); err == nil {
		for i, other := range lockFiles.infos {
			if os.SameFile(fi, other) {
				return lockFiles.files[i], nil
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &lockFile{path: path, f: f}
	lockFiles.files = append(lockFiles.files, l)
	lockFiles.infos = append(lockFiles.infos, fi)
	return l, nil
}

// lockOffset is the byte that stands for a lock name: 0 for "store", else
// one of 2^62 bytes chosen by the name's hash.
func lockOffset(name string) int64 {
	if name == "store" {
		return 0
	}
	sum := sha256.Sum256([]byte(name))
	return 1 + int64(binary.BigEndian.Uint64(sum[:8])>>2)
}

// tryLock is tryLockByte; tests replace it.
var tryLock = tryLockByte

// errLockUnavailable is an error of the lock file itself (not of waiting).
var errLockUnavailable = errors.New("the keyring's lock file cannot be locked")

// lock takes the lock called name. Waiters in this process queue; a lock
// held by another process is asked for again every few milliseconds
// (backing off to 25 ms) until ctx ends.
func (l *lockFile) lock(ctx context.Context, name string) (unlock func(), err error) {
	off := lockOffset(name)
	release, err := l.inproc.Lock(ctx, strconv.FormatInt(off, 10))
	if err != nil {
		return nil, err
	}
	if l.f == nil || l.unsupported.Load() {
		return release, nil
	}
	wait := time.Millisecond
	for {
		got, err := tryLock(l.f, off)
		if err != nil && locksUnsupported(err) {
			if !l.unsupported.Swap(true) {
				slog.Warn("keyring: the file system refuses locks; writes are serialised within this process only", "lock_file", l.path, "err", err.Error())
			}
			return release, nil
		}
		if err != nil {
			release()
			return nil, fmt.Errorf("%w (%s): %v", errLockUnavailable, l.path, err)
		}
		if got {
			break
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			release()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 25*time.Millisecond)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unlockByte(l.f, off)
			release()
		})
	}, nil
}

// userLockPath is the lock file of an OS keyring: per user, per backend and
// service.
func userLockPath(backend, service string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "mailcal", "locks", backend+"-"+service+".lock"), nil
}
