//go:build unix

package keyring

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const fileLocking = true

// tryLockByte takes an exclusive POSIX record lock on byte off of f without
// waiting; false if another process holds it.
func tryLockByte(f *os.File, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: off, Len: 1}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
			return false, nil
		}
		return false, err
	}
}

func unlockByte(f *os.File, off int64) {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart, Start: off, Len: 1}
	for errors.Is(unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk), unix.EINTR) {
	}
}

// locksUnsupported: the file system does not do record locks (NFS without
// a lock manager, some FUSE file systems).
func locksUnsupported(err error) bool {
	return errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)
}
