//go:build !unix && !windows

package keyring

import "os"

// No file locking on this operating system: locks hold within the process.
const fileLocking = false

func tryLockByte(*os.File, int64) (bool, error) { return true, nil }

func unlockByte(*os.File, int64) {}

func locksUnsupported(error) bool { return false }
