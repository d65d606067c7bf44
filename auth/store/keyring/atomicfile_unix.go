//go:build unix

package keyring

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // some file systems cannot sync a folder
		return err
	}
	return nil
}

// isNoSpace: the disk (or the user's quota, or the file-size limit) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG)
}

// isNotWritable: the folder or its file system may not be written.
func isNotWritable(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// replaceFile renames from over to, atomically.
func replaceFile(from, to string) error { return os.Rename(from, to) }
