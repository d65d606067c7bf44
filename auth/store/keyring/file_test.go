package keyring

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// noTTY makes the passphrase prompt fail as it does without a terminal.
func noTTY(t *testing.T) {
	t.Helper()
	in, out := ttyIn, ttyOut
	ttyIn = filepath.Join(t.TempDir(), "no-tty")
	ttyOut = ttyIn
	t.Cleanup(func() { ttyIn, ttyOut = in, out })
}

func openFile(t *testing.T, cfg Config) KV {
	t.Helper()
	cfg.Backend = "file"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(file): %v", err)
	}
	if s.Backend() != "file" {
		t.Fatalf("Backend = %q", s.Backend())
	}
	return s
}

func TestFileBackend(t *testing.T) {
	noTTY(t)
	dirs := map[string]string{}
	exerciseStore(t, func(t *testing.T, service string) KV {
		if dirs[service] == "" {
			dirs[service] = filepath.Join(t.TempDir(), "keyring")
		}
		return openFile(t, Config{Service: service, Dir: dirs[service], Password: "correct horse"})
	})
}

func TestFileBackendOnDisk(t *testing.T) {
	noTTY(t)
	dir := filepath.Join(t.TempDir(), "a", "keyring")
	s := openFile(t, Config{Dir: dir, Password: "pw"})
	mustSet(t, s, "grant/acme/Google/x@y.com", []byte("s3cret-token"))
	mustSet(t, s, "tenant/acme", []byte("hash"))

	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "#") { // the lock file
			continue
		}
		names = append(names, e.Name())
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("%s holds the secret in clear", e.Name())
		}
	}
	// One flat file per key, no probe left behind, case folded for
	// case-insensitive file systems.
	if want := []string{"grant!acme!google!x@y.com~00080000", "tenant!acme"}; !slices.Equal(names, want) {
		t.Errorf("files = %q, want %q", names, want)
	}
	if runtime.GOOS != "windows" {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: %v %v, want mode 0700", d, fi.Mode(), err)
			}
		}
	}
}

func TestFileBackendDefaultDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CONFIG_HOME decides os.UserConfigDir on linux only")
	}
	noTTY(t)
	cfgHome := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgHome)
	s := openFile(t, Config{Password: "pw"})
	mustSet(t, s, "tenant/acme", []byte("v"))
	if _, err := os.Stat(filepath.Join(cfgHome, "mailcal", "keyring", "tenant!acme")); err != nil {
		t.Error(err)
	}
}

func TestFileBackendWrongPassphrase(t *testing.T) {
	noTTY(t)
	dir := t.TempDir()
	s := openFile(t, Config{Dir: dir, Password: "right passphrase"})
	mustSet(t, s, "tenant/acme", []byte("v"))

	_, err := Open(context.Background(), Config{Backend: "file", Dir: dir, Password: "wrong passphrase"})
	want := "the file keyring at " + dir + " could not be decrypted with the given passphrase"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open with a wrong passphrase: %v; want %q", err, want)
	}
	if strings.Contains(err.Error(), "wrong passphrase") || strings.Contains(strings.ToLower(err.Error()), "keyunwrap") {
		t.Errorf("error leaks the passphrase or a raw jose error: %v", err)
	}

	// An item written with another passphrase, copied in after Open, fails
	// alone, naming itself, and does not blame the keyring's passphrase.
	other := openFile(t, Config{Dir: t.TempDir(), Password: "wrong passphrase"})
	mustSet(t, other, "tenant/x", []byte("v"))
	os.WriteFile(filepath.Join(dir, "tenant!x"), mustRead(t, filepath.Join(other.(*keyringStore).fileDir, "tenant!x")), 0o600)
	_, err = s.Get(context.Background(), "tenant/x")
	if err == nil || !strings.Contains(err.Error(), `keyring item "tenant/x"`) || !strings.Contains(err.Error(), "encrypted with another passphrase") ||
		strings.Contains(err.Error(), want) || !errors.Is(err, store.ErrDamaged) {
		t.Errorf("Get of an item with another passphrase: %v", err)
	}
	mustGet(t, s, "tenant/acme", []byte("v"))
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileBackendMissingPassphrase(t *testing.T) {
	noTTY(t)
	dir := t.TempDir()
	_, err := Open(context.Background(), Config{Backend: "file", Dir: dir})
	if err == nil {
		t.Fatal("Open without a passphrase succeeded")
	}
	for _, want := range []string{"the file keyring at " + dir + " needs a passphrase", EnvPassword, EnvPasswordFile, "no terminal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the folder got %d entries without a passphrase", len(entries))
	}
}

func TestFileBackendPasswordFile(t *testing.T) {
	noTTY(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "keyring")
	pwFile := filepath.Join(tmp, "pw")
	os.WriteFile(pwFile, []byte("from a file\r\nsecond line ignored\n"), 0o600)

	s := openFile(t, Config{Dir: dir, PasswordFile: pwFile})
	mustSet(t, s, "tenant/acme", []byte("v"))
	// The same passphrase given directly opens it: first line, newline trimmed.
	mustGet(t, openFile(t, Config{Dir: dir, Password: "from a file"}), "tenant/acme", []byte("v"))
	// Password wins over PasswordFile.
	mustGet(t, openFile(t, Config{Dir: dir, Password: "from a file", PasswordFile: filepath.Join(tmp, "missing")}), "tenant/acme", []byte("v"))

	os.WriteFile(pwFile, []byte("\n"), 0o600)
	if _, err := Open(context.Background(), Config{Backend: "file", Dir: dir, PasswordFile: pwFile}); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty passphrase file: %v", err)
	}
	_, err := Open(context.Background(), Config{Backend: "file", Dir: dir, PasswordFile: filepath.Join(tmp, "missing")})
	if err == nil || !strings.Contains(err.Error(), EnvPasswordFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing passphrase file: %v", err)
	}
}

func TestFileBackendSizeLimit(t *testing.T) {
	noTTY(t)
	s := openFile(t, Config{Dir: t.TempDir(), Password: "pw", Timeout: 5 * time.Second})
	mustSet(t, s, "k", make([]byte, 2048))
	err := s.Set(context.Background(), "k", []byte(strings.Repeat("x", 2049)))
	if err == nil || !strings.Contains(err.Error(), "2049 bytes; at most 2048 bytes are allowed") || strings.Contains(err.Error(), "xxx") {
		t.Errorf("Set of 2049 bytes: %v", err)
	}
	mustGet(t, s, "k", make([]byte, 2048))
}
