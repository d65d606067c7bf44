package keyring

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailcal/mailcal/auth/store"
)

// TestPing: a file keyring answers Ping while its folder can be read, and
// fails it once the folder is gone (replaced by a file: root reads any
// folder, whatever its mode).
func TestPing(t *testing.T) {
	noTTY(t)
	dir := filepath.Join(t.TempDir(), "keyring")
	s := New(openFile(t, Config{Dir: dir, Password: "correct horse"}))
	ctx := context.Background()
	if err := store.Ping(ctx, s); err != nil {
		t.Fatalf("Ping of a working keyring: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := store.Ping(ctx, s); err == nil {
		t.Fatal("Ping of a keyring whose folder is gone answered nil")
	}
}
