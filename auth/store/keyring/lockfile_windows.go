//go:build windows

package keyring

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

const fileLocking = true

// tryLockByte takes an exclusive lock on byte off of f with LockFileEx,
// without waiting; false if another handle holds it.
func tryLockByte(f *os.File, off int64) (bool, error) {
	ol := overlapped(off)
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	}
	return false, err
}

func unlockByte(f *os.File, off int64) {
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, overlapped(off))
}

func overlapped(off int64) *windows.Overlapped {
	return &windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(uint64(off) >> 32)}
}

// locksUnsupported: the file system does not do byte-range locks.
func locksUnsupported(err error) bool {
	return errors.Is(err, windows.ERROR_NOT_SUPPORTED) || errors.Is(err, windows.ERROR_INVALID_FUNCTION)
}
