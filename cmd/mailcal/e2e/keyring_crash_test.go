//go:build unix

package e2e

// The file keyring under crashes and damage: kill -9 at random points while
// a server refreshes (and writes) a rotating grant; damaged items of every
// kind, the first item of the folder among them; a folder mailcal may not
// write to.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/keyring"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// itemFiles lists the keyring folder's item files (mailcal's own files,
// whose names start with '#', left out).
func (k *testKeyring) itemFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "#") {
			out = append(out, e.Name())
		}
	}
	return out
}

// damagedItems counts the empty item files and the records of tenant a and
// alice that cannot be read; it logs each.
func (fx *googleFixture) damagedItems(t *testing.T, trial int) (empty, unreadable int) {
	t.Helper()
	for _, name := range fx.k.itemFiles(t) {
		if fi, err := os.Stat(filepath.Join(fx.k.dir, name)); err == nil && fi.Size() == 0 {
			empty++
			t.Logf("trial %d: %s is empty", trial, name)
		}
	}
	if _, err := fx.k.tryGrant("a", "google", alice); err != nil {
		unreadable++
		t.Logf("trial %d: the grant cannot be read: %v", trial, err)
	}
	return empty, unreadable
}

// TestE2EKeyringKill9: a server refreshing a rotating grant as fast as it
// can is killed with SIGKILL at a random moment, 30 times; after each kill
// no item is empty or torn, and at the end the grant still works.
func TestE2EKeyringKill9(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{RotateRefreshTokens: true})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "mail.read")
	s.cmd.Process.Kill()
	<-s.done

	const trials = 30
	start := time.Now()
	var empty, unreadable, writes int
	for trial := 1; trial <= trials; trial++ {
		s := fx.startHTTP(t)
		c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
		before := fx.refreshes()
		stop := fx.refresher(t, c, 0)
		fx.waitRefreshes(t, 1)
		time.Sleep(time.Duration(rand.Int64N(int64(100 * time.Millisecond))))
		s.cmd.Process.Kill()
		<-s.done
		stop()
		writes += fx.refreshes() - before
		e, u := fx.damagedItems(t, trial)
		empty, unreadable = empty+e, unreadable+u
		if u > 0 { // go on from a working grant
			fx.restoreGrant(t)
		}
	}
	t.Logf("%d kills in %s during %d refreshes (each one keyring write): %d empty items, %d times the grant unreadable",
		trials, time.Since(start).Round(time.Millisecond), writes, empty, unreadable)
	if empty+unreadable > 0 {
		t.Errorf("want no empty or unreadable item")
	}

	// The grant works for the next server.
	s = fx.startHTTP(t)
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	fx.fg.ExpireAccessTokens()
	fx.checkOK(t, "after the kills", c, alice)
}

// restoreGrant replaces a damaged grant item with alice's grant holding the
// newest refresh token (they all stay valid: the fake keeps old ones).
func (fx *googleFixture) restoreGrant(t *testing.T) {
	t.Helper()
	os.Remove(filepath.Join(fx.k.dir, "grant!a!google!"+alice))
	rts := fx.refreshTokens()
	fx.k.putGrant(t, grants.Grant{Tenant: "a", Provider: "google", Account: alice, RefreshToken: rts[len(rts)-1],
		Scopes: []string{"mail.read"}, Status: grants.StatusActive, ConnectedAt: time.Now().UTC().Truncate(time.Second)})
}

// damageKinds are the ways an item can be damaged, each a function that
// damages the item file name of keyring k, given the file of a good item
// (good) and a keyring of another passphrase to copy from (other).
var damageKinds = map[string]func(t *testing.T, k *testKeyring, name, good string, other *testKeyring){
	"bad JSON": func(t *testing.T, k *testKeyring, name, _ string, _ *testKeyring) {
		kv := openKV(t, k)
		key := strings.ReplaceAll(name, "!", "/")
		if err := kv.Set(context.Background(), key, []byte(`{"tenant":"a","provider":`)); err != nil {
			t.Fatal(err)
		}
	},
	"another passphrase": func(t *testing.T, k *testKeyring, name, _ string, other *testKeyring) {
		kv := openKV(t, other)
		if err := kv.Set(context.Background(), strings.ReplaceAll(name, "!", "/"), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(other.dir, name), filepath.Join(k.dir, name))
	},
	"truncated": func(t *testing.T, k *testKeyring, name, _ string, _ *testKeyring) {
		fi, err := os.Stat(filepath.Join(k.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(k.dir, name), fi.Size()/2); err != nil {
			t.Fatal(err)
		}
	},
	"zero bytes": func(t *testing.T, k *testKeyring, name, _ string, _ *testKeyring) {
		if err := os.Truncate(filepath.Join(k.dir, name), 0); err != nil {
			t.Fatal(err)
		}
	},
	"names another key": func(t *testing.T, k *testKeyring, name, good string, _ *testKeyring) {
		copyFile(t, filepath.Join(k.dir, good), filepath.Join(k.dir, name))
	},
}

// openKV opens a test keyring's items in this process.
func openKV(t *testing.T, k *testKeyring) keyring.KV {
	t.Helper()
	kv, err := keyring.Open(context.Background(), keyring.Config{Backend: "file", Dir: k.dir, Password: k.password, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestE2EKeyringDamagedItems: a damaged item, whatever the damage and even
// when it is the first item of the folder, fails only itself: the keyring
// opens, `accounts` lists the other account and warns about the damaged one
// by name without blaming the passphrase, `disconnect` removes it (saying
// it could not be revoked), and a wrong passphrase is still told as such.
func TestE2EKeyringDamagedItems(t *testing.T) {
	t.Parallel()
	for kind, damage := range damageKinds {
		t.Run(strings.ReplaceAll(kind, " ", "-"), func(t *testing.T) {
			t.Parallel()
			fx := newGoogleFixture(t, googletest.Options{})
			fx.addTenant(t, "a")
			const first = "aaa@example.com" // its item is the folder's first
			for _, acc := range []string{first, bob} {
				seedGoogleGrant(t, fx.k, "a", acc)
			}
			name, good := "grant!a!google!"+first, "grant!a!google!"+bob
			if files := fx.k.itemFiles(t); len(files) == 0 || files[0] != name {
				t.Fatalf("item files %q: want %s first", files, name)
			}
			damage(t, fx.k, name, good, newKeyring(t))

			out, errOut, code := fx.run(t, "accounts", "--tenant", "a", "--json")
			if code != 0 || !strings.Contains(out, bob) || strings.Contains(out, first) {
				t.Fatalf("accounts exited %d, listing %s; want bob's account only:\n%s", code, out, errOut)
			}
			if !strings.Contains(errOut, "grant/a/google/"+first) || strings.Contains(errOut, "could not be decrypted with the given passphrase") {
				t.Errorf("accounts: the warning does not name the damaged item, or blames the passphrase:\n%s", errOut)
			}
			// Removed, but not revoked (its refresh token cannot be read):
			// exit status 1 and where to remove the access by hand.
			if _, errOut, code := fx.run(t, "disconnect", "google", first, "--tenant", "a"); code != 1 || !strings.Contains(errOut, "damaged") ||
				!strings.Contains(errOut, "myaccount.google.com") {
				t.Errorf("disconnect of the damaged account exited %d: %s", code, errOut)
			}
			if files := fx.k.itemFiles(t); slices.Contains(files, name) {
				t.Errorf("the damaged item is still there after disconnect: %q", files)
			}
			fx.k.password = "wrong"
			_, errOut, code = fx.run(t, "accounts", "--tenant", "a")
			if code == 0 || !strings.Contains(errOut, "could not be decrypted with the given passphrase") {
				t.Errorf("accounts with a wrong passphrase exited %d: %s", code, errOut)
			}
		})
	}
}

// TestE2EKeyringDamagedTenant: a damaged tenant record is left out of
// `tenant list`, keeps its name taken, and `tenant remove` removes it.
func TestE2EKeyringDamagedTenant(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	fx.addTenant(t, "a")
	fx.addTenant(t, "b")
	if err := os.Truncate(filepath.Join(fx.k.dir, "tenant!a"), 0); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := fx.run(t, "tenant", "list"); code != 0 || strings.Contains(out, "a ") || !strings.Contains(out, "b ") ||
		!strings.Contains(errOut, "tenant/a") {
		t.Errorf("tenant list exited %d: %s\n%s", code, out, errOut)
	}
	if _, errOut, code := fx.run(t, "tenant", "add", "a"); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("tenant add over the damaged record exited %d: %s", code, errOut)
	}
	if _, errOut, code := fx.run(t, "tenant", "remove", "a"); code != 0 {
		t.Errorf("tenant remove of the damaged record exited %d: %s", code, errOut)
	}
	fx.addTenant(t, "a")
}

// readOnlyCLI runs `mailcal ARGS` on a copy of the test keyring whose
// folder mailcal may read but not write: mode 0500, and when the tests run
// as root (who may write anyway), as the user nobody, owning the copy.
func (fx *googleFixture) readOnlyCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	home, err := os.MkdirTemp("", "mailcal-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(home, "keyring"), 0o700); os.RemoveAll(home) })
	dir := filepath.Join(home, "keyring")
	if err := os.CopyFS(dir, os.DirFS(fx.k.dir)); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(home, "mailcal")
	copyFile(t, mailcalBinary(t), bin)
	os.Chmod(bin, 0o755)
	env := fx.env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "MAILCAL_KEYRING_DIR="+dir)
	p := newProc(t, env, home, args...)
	p.cmd.Path, p.cmd.Args[0] = bin, bin
	if os.Geteuid() == 0 {
		const nobody = 65534
		filepath.WalkDir(home, func(path string, _ os.DirEntry, _ error) error { return os.Lchown(path, nobody, nobody) })
		p.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	n := fx.procs.Add(1)
	fx.leaks.watch(fmt.Sprintf("%s (read-only, #%d) stderr", p.name, n), p.logs.String)
	p.start(t)
	code = p.waitExit(t, 60*time.Second)
	return p.stdout.String(), p.logs.String(), code
}

// TestE2EKeyringReadOnly: a keyring folder mailcal may not write to is
// opened read-only: the accounts are listed, and a write is refused with an
// error naming the folder.
func TestE2EKeyringReadOnly(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	fx.addTenant(t, "a")
	seedGoogleGrant(t, fx.k, "a", bob)

	out, errOut, code := fx.readOnlyCLI(t, "accounts", "--tenant", "a", "--json")
	if code != 0 || !strings.Contains(out, bob) {
		t.Errorf("accounts on a read-only keyring exited %d, listing %s:\n%s", code, out, errOut)
	}
	_, errOut, code = fx.readOnlyCLI(t, "tenant", "add", "b")
	if code == 0 || !strings.Contains(errOut, "read-only") || !strings.Contains(errOut, "keyring") {
		t.Errorf("tenant add on a read-only keyring exited %d, want an error saying the keyring folder is read-only:\n%s", code, errOut)
	}
}
