//go:build !unix && !windows

package keyring

import (
	"errors"
	"io/fs"
	"os"
)

func syncDir(dir string) error {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func isNoSpace(error) bool { return false }

func isNotWritable(err error) bool { return errors.Is(err, fs.ErrPermission) }

func replaceFile(from, to string) error { return os.Rename(from, to) }
