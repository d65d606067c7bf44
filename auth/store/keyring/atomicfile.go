package keyring

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"
)

// tempPrefix starts the name of a file being written.
const tempPrefix = "#tmp-"

// writeStep, when set by a test, is called after each step of writeAtomic
// ("created", "written", "synced", "closed", "renamed"); an error it returns
// ends writeAtomic there, as if the process had died (nothing is cleaned up).
var writeStep func(step string) error

// writeAtomic replaces dir/name with data: a temporary file in dir,
// written, fsynced and closed, renamed over name, then dir fsynced (so that
// the rename survives a power cut). Readers see the old file or the new one;
// a crash at any point leaves one of them (and perhaps a temporary file,
// which Keys never lists and a later open removes).
func writeAtomic(dir, name string, data []byte) (err error) {
	step := func(s string) error {
		if writeStep != nil {
			return writeStep(s)
		}
		return nil
	}
	f, err := os.CreateTemp(dir, tempPrefix)
	if err != nil {
		return err
	}
	tmp := f.Name()
	crashed := false
	defer func() {
		if err != nil && !crashed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	fail := func(s string) bool {
		if err = step(s); err != nil {
			crashed = true
		}
		return crashed
	}
	if fail("created") {
		return err
	}
	if _, err = f.Write(data); err != nil || fail("written") {
		return err
	}
	if err = f.Sync(); err != nil || fail("synced") {
		return err
	}
	if err = f.Close(); err != nil || fail("closed") {
		return err
	}
	if err = replaceFile(tmp, filepath.Join(dir, name)); err != nil || fail("renamed") {
		return err
	}
	return syncDir(dir)
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
