//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/keyring"
)

// testKeyring is an isolated file keyring and the environment that selects it.
type testKeyring struct {
	home     string // HOME and working folder of the subprocesses
	dir      string // MAILCAL_KEYRING_DIR
	password string // MAILCAL_KEYRING_PASSWORD; empty: unset
}

func newKeyring(t *testing.T) *testKeyring {
	t.Helper()
	home := t.TempDir()
	return &testKeyring{home: home, dir: filepath.Join(home, "keyring"), password: randomHex(t, 16)}
}

// env is the complete environment of a subprocess: nothing is inherited but
// PATH, so a developer's own MAILCAL_* settings or D-Bus session cannot leak in.
func (k *testKeyring) env(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + k.home,
		"XDG_CONFIG_HOME=" + filepath.Join(k.home, ".config"),
		"TMPDIR=" + os.TempDir(),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"MAILCAL_KEYRING_BACKEND=file",
		"MAILCAL_KEYRING_DIR=" + k.dir,
		"MAILCAL_LOG_FORMAT=json",
		"MAILCAL_LOG_LEVEL=debug",
		// The race detector on two busy cores slows the file keyring's key
		// derivation a lot; a slow keyring is not what these tests test.
		"MAILCAL_KEYRING_TIMEOUT=30s",
		// A -race binary otherwise sleeps a second before it exits.
		"GORACE=atexit_sleep_ms=0",
	}
	if k.password != "" {
		env = append(env, "MAILCAL_KEYRING_PASSWORD="+k.password)
	}
	return append(env, extra...)
}

// mailcalEnv is the MAILCAL_* and D-Bus part of env, for clients (the
// Inspector) that start the server with an environment of their own.
func (k *testKeyring) mailcalEnv() []string {
	var out []string
	for _, kv := range k.env() {
		if strings.HasPrefix(kv, "MAILCAL_") || strings.HasPrefix(kv, "DBUS_") {
			out = append(out, kv)
		}
	}
	return out
}

func (k *testKeyring) getenv(name string) string {
	for _, kv := range k.env() {
		if n, v, _ := strings.Cut(kv, "="); n == name {
			return v
		}
	}
	return ""
}

// run runs one mailcal command to completion.
func (k *testKeyring) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := command(ctx, mailcalBinary(t), args...)
	cmd.Env, cmd.Dir = k.env(), k.home
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// addTenant runs `mailcal tenant add NAME` and returns the printed API key.
func (k *testKeyring) addTenant(t *testing.T, name string) string {
	t.Helper()
	out, errOut, err := k.run(t, "tenant", "add", name)
	if err != nil {
		t.Fatalf("mailcal tenant add %s: %v\nstderr: %s", name, err, errOut)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "mck_") || strings.ContainsAny(key, " \n") {
		t.Fatalf("mailcal tenant add %s printed %q on stdout; want only the API key", name, out)
	}
	return key
}

// grants opens the test's file keyring in this process, as mailcal does,
// and returns its grants.
func (k *testKeyring) grants(t *testing.T, ctx context.Context) *grants.Store {
	t.Helper()
	s, err := k.openGrants(ctx)
	if err != nil {
		t.Fatalf("opening the test keyring: %v", err)
	}
	return s
}

func (k *testKeyring) openGrants(ctx context.Context) (*grants.Store, error) {
	cfg, err := keyring.ConfigFromEnv(k.getenv)
	if err != nil {
		return nil, err
	}
	s, err := keyring.OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return grants.New(s, grants.Plain), nil
}

// putGrant stores a connected account the way `connect` would.
func (k *testKeyring) putGrant(t *testing.T, g grants.Grant) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.grants(t, ctx).Put(ctx, g); err != nil {
		t.Fatalf("seeding a grant: %v", err)
	}
}

// grant reads a connected account from the keyring, as putGrant writes one.
func (k *testKeyring) grant(t *testing.T, tenantName, provider, account string) grants.Grant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := k.grants(t, ctx).Get(ctx, tenantName, provider, account)
	if err != nil {
		t.Fatalf("reading the grant of %s/%s: %v", tenantName, account, err)
	}
	return g
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
