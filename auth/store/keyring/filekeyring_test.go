package keyring

// The file backend's format, its reading of the previous release's items,
// damage contained to an item, atomic writes under crashes, and read-only
// folders.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/mailcal/mailcal/auth/store"
)

// fileDirOf is the folder of a file KV.
func fileDirOf(kv KV) string { return kv.(*keyringStore).fileDir }

// legacyItem writes an item the way the previous release did: with
// 99designs/keyring's own file backend.
func legacyItemFile(t *testing.T, dir, pw, key string, value []byte) {
	t.Helper()
	kr, err := keyring.Open(keyring.Config{AllowedBackends: []keyring.BackendType{keyring.FileBackend}, FileDir: dir,
		FilePasswordFunc: keyring.FixedStringPrompt(pw)})
	if err != nil {
		t.Fatal(err)
	}
	c := codec{slash: "!"}
	if err := kr.Set(keyring.Item{Key: c.encode(key), Data: value, Label: key}); err != nil {
		t.Fatal(err)
	}
}

func derivations() int {
	derived.mu.Lock()
	defer derived.mu.Unlock()
	return derived.n
}

func TestFileFormat(t *testing.T) {
	noTTY(t)
	dir := t.TempDir()
	n0 := derivations()
	s := openFile(t, Config{Dir: dir, Password: "pw"})
	mustSet(t, s, "grant/acme/google/x@y.com", []byte("s3cret-refresh-token"))

	var h fileHeader
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, headerName)), &h); err != nil {
		t.Fatal(err)
	}
	if h.Format != headerFormat || h.Version != 1 || h.KDF != "argon2id" || h.kdfParams != newKDF || len(h.Salt) != 16 || len(h.Check) == 0 {
		t.Errorf("header %+v", h)
	}
	item := mustRead(t, filepath.Join(dir, "grant!acme!google!x@y.com"))
	if !bytes.HasPrefix(item, []byte(itemMagic)) || !bytes.Contains(item, []byte("grant!acme!google!x@y.com")) || bytes.Contains(item, []byte("s3cret")) {
		t.Errorf("item file %q: want the magic and the item's name in clear, the value encrypted", item)
	}
	// Opened again, read again and again: the key was derived once.
	again := openFile(t, Config{Dir: dir, Password: "pw"})
	for range 20 {
		mustGet(t, again, "grant/acme/google/x@y.com", []byte("s3cret-refresh-token"))
	}
	if n := derivations() - n0; n != 1 {
		t.Errorf("%d key derivations for two opens and 21 reads, want 1", n)
	}
	// Every write makes a new nonce: the same value twice is two different files.
	mustSet(t, s, "grant/acme/google/x@y.com", []byte("s3cret-refresh-token"))
	if bytes.Equal(item, mustRead(t, filepath.Join(dir, "grant!acme!google!x@y.com"))) {
		t.Error("rewriting the same value gave the same file")
	}
}

// Items of the previous release (99designs/keyring's JWE files) are read,
// and written in the new format on their next write; the passphrase is
// checked against them when the folder has no header yet.
func TestFileReadsPreviousFormat(t *testing.T) {
	noTTY(t)
	dir := t.TempDir()
	legacyItemFile(t, dir, "pw", "tenant/acme", []byte(`{"name":"acme"}`))
	legacyItemFile(t, dir, "pw", "grant/acme/google/x@y.com", []byte("old-token"))

	if _, err := Open(context.Background(), Config{Backend: "file", Dir: dir, Password: "wrong"}); err == nil ||
		!strings.Contains(err.Error(), "could not be decrypted with the given passphrase") {
		t.Fatalf("Open with a wrong passphrase: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, headerName)); err == nil {
		t.Fatal("a wrong passphrase wrote a header")
	}
	s := openFile(t, Config{Dir: dir, Password: "pw"})
	mustGet(t, s, "tenant/acme", []byte(`{"name":"acme"}`))
	mustGet(t, s, "grant/acme/google/x@y.com", []byte("old-token"))
	if _, err := os.Stat(filepath.Join(dir, headerName)); err != nil {
		t.Errorf("opening a previous-release folder wrote no header: %v", err)
	}
	mustSet(t, s, "grant/acme/google/x@y.com", []byte("new-token"))
	if b := mustRead(t, filepath.Join(dir, "grant!acme!google!x@y.com")); !bytes.HasPrefix(b, []byte(itemMagic)) {
		t.Error("a rewritten item is still in the previous format")
	}
	if b := mustRead(t, filepath.Join(dir, "tenant!acme")); !bytes.HasPrefix(b, []byte("eyJ")) {
		t.Error("an item not written was rewritten")
	}
	again := openFile(t, Config{Dir: dir, Password: "pw"})
	mustGet(t, again, "grant/acme/google/x@y.com", []byte("new-token"))
	mustGet(t, again, "tenant/acme", []byte(`{"name":"acme"}`))
	if _, err := Open(context.Background(), Config{Backend: "file", Dir: dir, Password: "wrong"}); err == nil ||
		!strings.Contains(err.Error(), "could not be decrypted with the given passphrase") {
		t.Errorf("Open with a wrong passphrase, once there is a header: %v", err)
	}
}

// damage is one way an item file can be damaged: it changes the file of key
// in dir, given a good item's file and a folder of another passphrase.
type damage struct {
	name, why string
	do        func(t *testing.T, dir, file, good, other string)
}

var damages = []damage{
	{"zero bytes", "is empty (0 bytes)", func(t *testing.T, dir, file, _, _ string) {
		os.WriteFile(filepath.Join(dir, file), nil, 0o600)
	}},
	{"truncated", "is damaged", func(t *testing.T, dir, file, _, _ string) {
		b := mustRead(t, filepath.Join(dir, file))
		os.WriteFile(filepath.Join(dir, file), b[:len(b)/2], 0o600)
	}},
	{"garbage", "is damaged: not a keyring item", func(t *testing.T, dir, file, _, _ string) {
		os.WriteFile(filepath.Join(dir, file), []byte("\x00\x01garbage"), 0o600)
	}},
	{"a byte changed", "does not authenticate", func(t *testing.T, dir, file, _, _ string) {
		b := mustRead(t, filepath.Join(dir, file))
		b[len(b)-1] ^= 1
		os.WriteFile(filepath.Join(dir, file), b, 0o600)
	}},
	{"another passphrase", "encrypted with another passphrase", func(t *testing.T, dir, file, _, other string) {
		copyItem(t, other, file, dir, file)
	}},
	{"another item's copy", `holds the item "tenant!good"`, func(t *testing.T, dir, file, good, _ string) {
		copyItem(t, dir, good, dir, file)
	}},
}

func copyItem(t *testing.T, fromDir, from, toDir, to string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(toDir, to), mustRead(t, filepath.Join(fromDir, from)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A damaged item fails alone, with an error that names it and says why,
// whatever the damage, also when it is the folder's first item and in the
// previous release's format; it does not blame the passphrase, listings
// skip it with a warning, and it can be deleted and written again.
func TestFileDamagedItems(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	for _, legacy := range []bool{false, true} {
		for _, d := range damages {
			if legacy && d.name == "a byte changed" {
				continue // the previous format has no such check of its own
			}
			name := d.name
			if legacy {
				name += " (previous format)"
			}
			t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
				dir, other := t.TempDir(), t.TempDir()
				// "tenant!aaa" is the folder's first item, "tenant!good" a good one.
				put := func(dir, pw, key string, v []byte) {
					if legacy {
						legacyItemFile(t, dir, pw, key, v)
					} else {
						mustSet(t, openFile(t, Config{Dir: dir, Password: pw}), key, v)
					}
				}
				tenant := func(n string) []byte {
					return []byte(`{"name":"` + n + `","key_hash":"h","created_at":"2026-11-28T20:02:24Z"}`)
				}
				put(dir, "pw", "tenant/aaa", tenant("aaa"))
				put(dir, "pw", "tenant/good", tenant("good"))
				put(other, "other pw", "tenant/aaa", tenant("aaa"))
				d.do(t, dir, "tenant!aaa", "tenant!good", other)

				log := captureLog(t)
				kv, err := Open(ctx, Config{Backend: "file", Dir: dir, Password: "pw"})
				if err != nil {
					t.Fatalf("Open with a damaged first item: %v", err)
				}
				_, err = kv.Get(ctx, "tenant/aaa")
				why := d.why
				if legacy && d.name == "another passphrase" {
					why = "written (by an earlier release) with another passphrase than this keyring's, or is damaged"
				}
				if err == nil || !strings.Contains(err.Error(), `keyring item "tenant/aaa" (file `+filepath.Join(dir, "tenant!aaa")+")") ||
					!strings.Contains(err.Error(), why) || !errors.Is(err, store.ErrDamaged) || strings.Contains(err.Error(), "given passphrase") {
					t.Errorf("Get of the damaged item: %v; want it named, %q, store.ErrDamaged", err, why)
				}
				s := New(kv)
				ts, err := s.ListTenants(ctx)
				if err != nil || len(ts) != 1 || ts[0].Name != "good" {
					t.Errorf("ListTenants = %+v, %v; want the good tenant only", ts, err)
				}
				if !strings.Contains(log.String(), "tenant/aaa") {
					t.Errorf("no warning names the damaged item:\n%s", log)
				}
				if err := s.CreateTenant(ctx, store.Tenant{Name: "aaa", KeyHash: "h", CreatedAt: time.Now()}); !errors.Is(err, store.ErrExists) {
					t.Errorf("CreateTenant over the damaged item: %v, want ErrExists", err)
				}
				if err := s.DeleteTenant(ctx, "aaa"); err != nil {
					t.Errorf("DeleteTenant of the damaged item: %v", err)
				}
				if err := s.CreateTenant(ctx, store.Tenant{Name: "aaa", KeyHash: "h", CreatedAt: time.Now()}); err != nil {
					t.Errorf("CreateTenant after the delete: %v", err)
				}
			})
		}
	}
}

// A damaged flow state is taken (deleted) with its error, once.
func TestFileDamagedFlowStateTaken(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	dir := t.TempDir()
	kv := openFile(t, Config{Dir: dir, Password: "pw"})
	id := store.FlowID("state")
	mustSet(t, kv, "flow/acme/"+id, []byte("{}"))
	os.WriteFile(filepath.Join(dir, "flow!acme!"+id), []byte("MCK1 cut"), 0o600)
	s := New(kv)
	if _, err := s.TakeFlowState(ctx, id); !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), "flow/acme/"+id) {
		t.Errorf("TakeFlowState of a damaged item: %v", err)
	}
	if _, err := s.TakeFlowState(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second TakeFlowState: %v, want ErrNotFound", err)
	}
}

// The passphrase is told wrong when no item of a previous-release folder
// opens with it, even if the first is damaged; items of another passphrase
// among good ones only fail themselves.
func TestFilePassphraseCheckedAgainstSeveralItems(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tenant!aaa"), nil, 0o600) // damaged, and first
	legacyItemFile(t, dir, "other", "tenant/bbb", []byte("x"))
	legacyItemFile(t, dir, "pw", "tenant/ccc", []byte("y"))
	for _, pw := range []string{"wrong", "other"} {
		if _, err := Open(ctx, Config{Backend: "file", Dir: dir, Password: pw}); pw == "wrong" && (err == nil || !strings.Contains(err.Error(), "given passphrase")) {
			t.Errorf("Open with a passphrase no item has: %v", err)
		}
	}
	os.Remove(filepath.Join(dir, headerName)) // "other" opened it: start again
	kv := openFile(t, Config{Dir: dir, Password: "pw"})
	mustGet(t, kv, "tenant/ccc", []byte("y"))
	if _, err := kv.Get(ctx, "tenant/bbb"); err == nil || !strings.Contains(err.Error(), "another passphrase") {
		t.Errorf("Get of an item of another passphrase: %v", err)
	}
}

func TestFileHeaderProblems(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	dir := t.TempDir()
	mustSet(t, openFile(t, Config{Dir: dir, Password: "pw"}), "tenant/acme", []byte("v"))
	header := mustRead(t, filepath.Join(dir, headerName))

	os.WriteFile(filepath.Join(dir, headerName), header[:len(header)/2], 0o600)
	if _, err := Open(ctx, Config{Backend: "file", Dir: dir, Password: "pw"}); err == nil ||
		!strings.Contains(err.Error(), filepath.Join(dir, headerName)) || strings.Contains(err.Error(), "given passphrase") {
		t.Errorf("Open with a damaged header: %v; want an error naming it, not blaming the passphrase", err)
	}
	os.Remove(filepath.Join(dir, headerName))
	if _, err := Open(ctx, Config{Backend: "file", Dir: dir, Password: "pw"}); err == nil || !strings.Contains(err.Error(), "header "+headerName+" is missing") {
		t.Errorf("Open without the header of items that need it: %v", err)
	}
	os.WriteFile(filepath.Join(dir, headerName), header, 0o600)
	mustGet(t, openFile(t, Config{Dir: dir, Password: "pw"}), "tenant/acme", []byte("v"))
}

// A write cut short at any step (the process dies) leaves the old item or
// the new one, never an empty or torn one; what it leaves behind is not an
// item, and a later open removes it once it is old.
func TestFileWriteCrashes(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	crash := errors.New("crash")
	for _, at := range []string{"created", "written", "synced", "closed", "renamed"} {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			kv := openFile(t, Config{Dir: dir, Password: "pw"})
			mustSet(t, kv, "grant/a/google/x@y.com", []byte("old"))
			writeStep = func(step string) error {
				if step == at {
					return crash
				}
				return nil
			}
			err := kv.Set(ctx, "grant/a/google/x@y.com", []byte("new"))
			writeStep = nil
			if at != "renamed" && !errors.Is(err, crash) {
				t.Fatalf("Set crashing at %s: %v", at, err)
			}
			got, err := openFile(t, Config{Dir: dir, Password: "pw"}).Get(ctx, "grant/a/google/x@y.com")
			want := "old"
			if at == "renamed" {
				want = "new"
			}
			if err != nil || string(got) != want {
				t.Errorf("after a crash once %s: %q, %v; want %q", at, got, err, want)
			}
			checkList(t, kv, "", []string{"grant/a/google/x@y.com"})
			var temps []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tempPrefix) {
					temps = append(temps, e.Name())
					old := time.Now().Add(-2 * time.Hour)
					os.Chtimes(filepath.Join(dir, e.Name()), old, old)
				}
			}
			if at != "renamed" && len(temps) != 1 {
				t.Errorf("temporary files %q after a crash once %s, want one", temps, at)
			}
			openFile(t, Config{Dir: dir, Password: "pw"})
			entries, _ = os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tempPrefix) {
					t.Errorf("%s left behind after a later open", e.Name())
				}
			}
		})
	}
}

// A folder mailcal cannot write opens read-only: reads are served, writes
// refused with an error naming the folder. Detected as such when the tests
// do not run as root (who may write anyway); forced otherwise.
func TestFileReadOnly(t *testing.T) {
	noTTY(t)
	ctx := context.Background()
	dir := t.TempDir()
	s := New(openFile(t, Config{Dir: dir, Password: "pw"}))
	if err := s.CreateTenant(ctx, store.Tenant{Name: "acme", KeyHash: "h", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	why := "permission denied"
	if os.Geteuid() == 0 || os.Getenv("MAILCAL_TEST_FORCE_READONLY") != "" {
		why = "read-only file system"
		writableCheck = func(string) error { return errors.New("read-only file system") }
		t.Cleanup(func() { writableCheck = checkWritable })
	} else {
		os.Chmod(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	log := captureLog(t)
	kv := openFile(t, Config{Dir: dir, Password: "pw"})
	ro := New(kv)
	if tn, err := ro.GetTenant(ctx, "acme"); err != nil || tn.Name != "acme" {
		t.Errorf("GetTenant on a read-only keyring: %+v, %v", tn, err)
	}
	if ts, err := ro.ListTenants(ctx); err != nil || len(ts) != 1 {
		t.Errorf("ListTenants on a read-only keyring: %+v, %v", ts, err)
	}
	for what, err := range map[string]error{
		"CreateTenant": ro.CreateTenant(ctx, store.Tenant{Name: "beta", KeyHash: "h", CreatedAt: time.Now()}),
		"DeleteTenant": ro.DeleteTenant(ctx, "acme"),
	} {
		if err == nil || !strings.Contains(err.Error(), "the file keyring at "+dir+" is read-only ("+why) {
			t.Errorf("%s on a read-only keyring: %v; want it refused, naming the folder and why", what, err)
		}
	}
	if !strings.Contains(log.String(), "read-only") || !strings.Contains(log.String(), dir) {
		t.Errorf("no warning says the keyring is read-only:\n%s", log)
	}
	if names, _ := os.ReadDir(dir); !slices.ContainsFunc(names, func(e os.DirEntry) bool { return e.Name() == "tenant!acme" }) {
		t.Error("the tenant's item is gone")
	}
}
