//go:build windows

package keyring

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/windows"
)

// syncDir does nothing: Windows cannot fsync a folder (NTFS journals its
// metadata).
func syncDir(string) error { return nil }

func isNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

func isNotWritable(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, windows.ERROR_WRITE_PROTECT)
}
