package keyring

// Tests against real keyrings, set up by the tests themselves: GNOME Keyring
// under dbus-run-session, pass with a throwaway GnuPG home, and "auto" on a
// machine without D-Bus. They need the Debian packages dbus, gnome-keyring,
// libsecret-tools, pass and gnupg; without them they skip, unless
// MAILCAL_REQUIRE_KEYRINGS=1, which turns a skip into a failure.
//
// The keyring library looks up the D-Bus session bus when the program starts,
// so tests that need a particular bus (or none) re-execute this test binary
// with -test.run=^TestXxxInner$ and MAILCAL_STORE_INNER=TestXxxInner.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/storetest"
)

const innerEnv = "MAILCAL_STORE_INNER"

func requireKeyrings() bool { return os.Getenv("MAILCAL_REQUIRE_KEYRINGS") == "1" }

// requireTools skips (or fails, under MAILCAL_REQUIRE_KEYRINGS=1) when a
// program is missing. tools maps program → Debian package.
func requireTools(t *testing.T, tools ...[2]string) {
	t.Helper()
	if testing.Short() && !requireKeyrings() {
		t.Skip("real keyring test; skipped in -short mode")
	}
	for _, tp := range tools {
		if _, err := exec.LookPath(tp[0]); err != nil {
			msg := fmt.Sprintf("%s not found: install the Debian package %s (apt-get install -y %s)", tp[0], tp[1], tp[1])
			if requireKeyrings() {
				t.Fatal(msg + "; MAILCAL_REQUIRE_KEYRINGS=1 requires it")
			}
			t.Skip(msg)
		}
	}
}

// inner skips a test unless runInner started this process for it.
func inner(t *testing.T) {
	if os.Getenv(innerEnv) != t.Name() {
		t.Skipf("runs in a subprocess started by the test without the Inner suffix")
	}
}

// cleanEnv is this process's environment without the variables that decide
// which keyring, bus or home a subprocess uses.
func cleanEnv(extra ...string) []string {
	drop := []string{"DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR=", "XDG_DATA_HOME=", "XDG_CONFIG_HOME=", "HOME=",
		"GNUPGHOME=", "PASSWORD_STORE_DIR=", "DISPLAY=", "WAYLAND_DISPLAY=", "GNOME_KEYRING_CONTROL=", "MAILCAL_", innerEnv + "="}
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runInner runs test name of this binary in a new session (no controlling
// terminal), behind the wrapper command (e.g. dbus-run-session …), and fails
// unless it passed.
func runInner(t *testing.T, name string, env []string, wrapper ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(wrapper, exe, "-test.run=^"+name+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(env, innerEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s output:\n%s", name, out)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+name)) {
		t.Fatalf("%s did not pass (skipped?)", name)
	}
}

// checkNoStrays fails the test if processes whose environment contains marker
// (a variable naming one of this test's temporary directories) outlive it,
// and kills them.
func checkNoStrays(t *testing.T, marker string) {
	t.Helper()
	var left []int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = processesWithEnv(marker)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, pid := range left {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		t.Errorf("stray process %d (%s) outlived the test; killing it", pid, strings.TrimSpace(string(comm)))
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func processesWithEnv(marker string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(string(env), "\x00"), marker) {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !bytes.Contains(st, []byte(") Z ")) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// --- Secret Service (GNOME Keyring) ---

func TestSecretService(t *testing.T) {
	requireTools(t, [2]string{"dbus-run-session", "dbus"}, [2]string{"gnome-keyring-daemon", "gnome-keyring"},
		[2]string{"secret-tool", "libsecret-tools"}, [2]string{"bash", "bash"})
	tmp := t.TempDir()
	runtimeDir, dataHome, home := filepath.Join(tmp, "run"), filepath.Join(tmp, "data"), filepath.Join(tmp, "home")
	for _, d := range []string{runtimeDir, dataHome, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env := cleanEnv("XDG_RUNTIME_DIR="+runtimeDir, "XDG_DATA_HOME="+dataHome, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"HOME="+home, "KEYRING_TEST_PASSWORD=test-login-password")
	defer checkNoStrays(t, "XDG_RUNTIME_DIR="+runtimeDir)
	// The daemon creates the "login" collection, unlocked, with this password.
	script := `printf %s "$KEYRING_TEST_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null; unset KEYRING_TEST_PASSWORD; exec "$@"`
	runInner(t, "TestSecretServiceInner", env, "dbus-run-session", "--", "bash", "-c", script, "_")
}

func TestSecretServiceInner(t *testing.T) {
	inner(t)
	ctx := context.Background()
	exerciseStore(t, func(t *testing.T, service string) KV {
		s, err := Open(ctx, Config{Backend: "secret-service", Service: service})
		if err != nil {
			t.Fatalf("Open(secret-service): %v", err)
		}
		return s
	})

	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, err := OpenStore(ctx, Config{Backend: "secret-service", Service: "mailcal-st-" + randomHex(4)})
			if err != nil {
				t.Fatalf("OpenStore(secret-service): %v", err)
			}
			return s
		})
	})

	// What the item looks like to other Secret Service clients: label and
	// "profile" attribute "<service>/<key>", in the login collection.
	s, err := Open(ctx, Config{Backend: "secret-service"})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "grant/acme/google/x@y.com", []byte("token-value"))
	out, err := exec.Command("secret-tool", "search", "--all", "profile", "mailcal/grant/acme/google/x@y.com").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("label = mailcal/grant/acme/google/x@y.com")) {
		t.Errorf("secret-tool search: %v\n%s", err, out)
	}
	// No collection other than "login" was created (that would need a prompter).
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_DATA_HOME"), "keyrings", "*.keyring"))
	if len(files) != 1 || filepath.Base(files[0]) != "login.keyring" {
		t.Errorf("keyring files: %q, want only login.keyring", files)
	}
	mustDelete(t, s, "grant/acme/google/x@y.com")

	// Items of other programs in the login collection are not listed.
	cmd := exec.Command("secret-tool", "store", "--label=Some other app", "app", "other")
	cmd.Stdin = strings.NewReader("other secret")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool store: %v\n%s", err, out)
	}
	checkList(t, s, "", []string{})

	// auto picks the Secret Service when it works.
	noTTY(t)
	a, err := Open(ctx, Config{Dir: t.TempDir(), Password: "pw"})
	if err != nil || a.Backend() != "secret-service" {
		t.Fatalf("auto: %v, %v; want secret-service", a, err)
	}

	// A locked collection needs an unlock prompt, which cannot be shown here:
	// calls fail or time out, and do not hang.
	mustSet(t, s, "tenant/acme", []byte("v"))
	locked, err := Open(ctx, Config{Backend: "secret-service", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	call := bus.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").Call("org.freedesktop.Secret.Service.Lock", 0,
		[]dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"})
	if call.Err != nil {
		t.Fatalf("locking the login collection: %v", call.Err)
	}
	start := time.Now()
	_, err = locked.Get(ctx, "tenant/acme")
	t.Logf("Get on a locked collection after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("Get on a locked collection: %v after %s", err, time.Since(start))
	}
	start = time.Now()
	_, err = Open(ctx, Config{Backend: "secret-service", Timeout: 3 * time.Second})
	t.Logf("Open on a locked collection after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || time.Since(start) > 20*time.Second {
		t.Errorf("Open on a locked collection: %v after %s", err, time.Since(start))
	}
}

// --- pass ---

// setupPass creates a GnuPG home with a passphrase-less key and a password
// store initialised for it; GNUPGHOME and HOME are set for this test.
func setupPass(t *testing.T) (gnupgHome, storeDir string) {
	requireTools(t, [2]string{"pass", "pass"}, [2]string{"gpg", "gnupg"}, [2]string{"gpgconf", "gnupg"})
	tmp := t.TempDir()
	gnupgHome, storeDir = filepath.Join(tmp, "gnupg"), filepath.Join(tmp, "store")
	if err := os.Mkdir(gnupgHome, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", tmp) // pass and gpg must not touch the real ~/.gnupg or ~/.password-store
	t.Setenv("GNUPGHOME", gnupgHome)
	t.Setenv("PASSWORD_STORE_DIR", "")
	t.Cleanup(func() {
		// gpg starts a gpg-agent per GnuPG home; stop it.
		exec.Command("gpgconf", "--kill", "all").Run()
		checkNoStrays(t, "GNUPGHOME="+gnupgHome)
	})
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run(nil, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "test <test@example.invalid>", "rsa2048", "encrypt", "never")
	var fpr string
	for _, line := range strings.Split(run(nil, "gpg", "--batch", "--with-colons", "--list-secret-keys"), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatal("no fingerprint in gpg --list-secret-keys")
	}
	run([]string{"PASSWORD_STORE_DIR=" + storeDir}, "pass", "init", fpr)
	return gnupgHome, storeDir
}

func TestPass(t *testing.T) {
	gnupgHome, storeDir := setupPass(t)
	ctx := context.Background()
	exerciseStore(t, func(t *testing.T, service string) KV {
		s, err := Open(ctx, Config{Backend: "pass", PassDir: storeDir, Service: service})
		if err != nil {
			t.Fatalf("Open(pass): %v", err)
		}
		return s
	})

	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, err := OpenStore(ctx, Config{Backend: "pass", PassDir: storeDir, Service: "mailcal-st-" + randomHex(4)})
			if err != nil {
				t.Fatalf("OpenStore(pass): %v", err)
			}
			return s
		})
	})

	// Layout: <store>/<service>/<key>.gpg, "/" making folders.
	s, err := Open(ctx, Config{Backend: "pass", PassDir: storeDir})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "grant/acme/Google/x@y.com", []byte("v"))
	if _, err := os.Stat(filepath.Join(storeDir, "mailcal", "grant", "acme", "google", "x@y.com~00080000.gpg")); err != nil {
		t.Error(err)
	}
	mustDelete(t, s, "grant/acme/Google/x@y.com")
	if _, err := os.Stat(filepath.Join(storeDir, "mailcal", "grant")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pass rm left empty folders: %v", err)
	}

	// GNUPGHOME is honoured: with an empty GnuPG home the probe cannot
	// encrypt to the store's key, so Open fails.
	empty := filepath.Join(t.TempDir(), "gnupg")
	os.Mkdir(empty, 0o700)
	t.Setenv("GNUPGHOME", empty)
	if _, err := Open(ctx, Config{Backend: "pass", PassDir: storeDir, Timeout: 30 * time.Second}); err == nil {
		t.Error("Open(pass) with an empty GNUPGHOME succeeded")
	} else {
		t.Logf("with an empty GNUPGHOME: %v", err)
	}
	exec.Command("gpgconf", "--kill", "all").Run()
	checkNoStrays(t, "GNUPGHOME="+empty)
	t.Setenv("GNUPGHOME", gnupgHome)

	// auto picks pass when there is no OS keyring and the store is initialised.
	runInner(t, "TestAutoPassInner", cleanEnv("DBUS_SESSION_BUS_ADDRESS=disabled:", "HOME="+os.Getenv("HOME"),
		"GNUPGHOME="+gnupgHome, "PASSWORD_STORE_DIR="+storeDir))
}

func TestAutoPassInner(t *testing.T) {
	inner(t)
	noTTY(t)
	s, err := Open(context.Background(), Config{Dir: t.TempDir(), Password: "pw"})
	if err != nil || s.Backend() != "pass" {
		t.Fatalf("auto: %v, %v; want pass", s, err)
	}
	mustSet(t, s, "tenant/acme", []byte("v"))
	mustGet(t, s, "tenant/acme", []byte("v"))
	if _, err := os.Stat(filepath.Join(os.Getenv("PASSWORD_STORE_DIR"), "mailcal", "tenant", "acme.gpg")); err != nil {
		t.Error(err)
	}
	mustDelete(t, s, "tenant/acme")
}

// --- auto without an OS keyring ---

func TestAutoFallsBackToFile(t *testing.T) {
	if testing.Short() && !requireKeyrings() {
		t.Skip("subprocess test; skipped in -short mode")
	}
	tmp := t.TempDir()
	runInner(t, "TestAutoFallsBackToFileInner", cleanEnv("DBUS_SESSION_BUS_ADDRESS=disabled:", "HOME="+tmp,
		"PASSWORD_STORE_DIR="+filepath.Join(tmp, "no-store")))
}

func TestAutoFallsBackToFileInner(t *testing.T) {
	inner(t)
	// No noTTY here: runInner starts a new session, so /dev/tty cannot be opened.
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir, Password: "pw"})
	if err != nil || s.Backend() != "file" {
		t.Fatalf("auto: %v, %v; want file", s, err)
	}
	// keyctl works on many Linux machines (see TestKeyctl) but auto never picks it.
	_, err = Open(ctx, Config{Dir: t.TempDir()})
	if err == nil {
		t.Fatal("auto without a passphrase succeeded")
	}
	msg := err.Error()
	t.Logf("auto error:\n%s", msg)
	for _, want := range []string{"no usable keyring", "secret-service: not available: no D-Bus session bus",
		"kwallet: not available", "pass: skipped, no initialised password store", "file: the file keyring at", EnvPassword, "no terminal: open /dev/tty"} {
		if !strings.Contains(msg, want) {
			t.Errorf("auto error does not mention %q", want)
		}
	}
	if strings.Contains(msg, "keyctl") {
		t.Error("auto tried keyctl")
	}
}
