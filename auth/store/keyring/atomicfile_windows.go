//go:build windows

package keyring

import (
	"errors"
	"io/fs"
	"os"
	"time"

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

// replaceFile renames from over to (MoveFileEx, replacing). A reader that
// has the item open (without FILE_SHARE_DELETE, as Go opens files) makes
// the rename fail for as long as it reads: try again for up to a second.
func replaceFile(from, to string) error {
	var err error
	for wait := time.Millisecond; ; wait *= 2 {
		if err = os.Rename(from, to); err == nil || wait > 256*time.Millisecond ||
			!(errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)) {
			return err
		}
		time.Sleep(wait)
	}
}
