package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/seal"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// dbLike is a store that keeps data keys and is not the memory store: what
// a database store looks like to sealerFor.
type dbLike struct{ *memory.Store }

func (dbLike) Backend() string { return "postgres" }

// wrapped hides the store behind a wrapper, as the storecount build does.
type wrapped struct{ store.Store }

func (w wrapped) Unwrap() store.Store { return w.Store }

func randomKey(t *testing.T) string {
	raw := make([]byte, 32)
	rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func mustSealer(t *testing.T, cfg *config, st store.Store) grants.Sealer {
	t.Helper()
	s, err := sealerFor(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func configWith(t *testing.T, vars map[string]string) *config {
	t.Helper()
	cfg, err := loadConfig(env{getenv: func(n string) string { return vars[n] }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestSealerFor(t *testing.T) {
	key := randomKey(t)
	none, withKey := configWith(t, nil), configWith(t, map[string]string{seal.EnvKey: key})

	for _, c := range []struct {
		name   string
		st     store.Store
		cfg    *config
		sealed bool
	}{
		{"keyring", openKeyring(withKey), withKey, false},
		{"memory without a key", memory.New(), none, false},
		{"memory with a key", memory.New(), withKey, true},
		{"database", dbLike{memory.New()}, withKey, true},
		{"database behind a wrapper", wrapped{dbLike{memory.New()}}, withKey, true},
	} {
		s, err := sealerFor(c.cfg, c.st)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, ok := s.(*seal.Sealer); ok != c.sealed || (!c.sealed && s != grants.Plain) {
			t.Errorf("%s: sealer %T, want sealed %v", c.name, s, c.sealed)
		}
	}
	_, err := sealerFor(none, dbLike{memory.New()})
	if err == nil || !strings.Contains(err.Error(), seal.EnvKey) || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("database without a key: %v", err)
	}
	// An ill-formed key stops every command at the start, naming the
	// variable and not the value.
	_, err = loadConfig(env{getenv: func(n string) string {
		if n == seal.EnvKey {
			return "c2VjcmV0LXZhbHVl"
		}
		return ""
	}})
	if err == nil || !strings.Contains(err.Error(), seal.EnvKey) || strings.Contains(err.Error(), "c2VjcmV0LXZhbHVl") {
		t.Errorf("ill-formed key: %v", err)
	}
}

// Forgetting a tenant (tenant remove, and tenant add over leftovers)
// destroys its data key: what was sealed under it no longer opens.
func TestForgetTenantDestroysDataKey(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	cfg := configWith(t, map[string]string{seal.EnvKey: randomKey(t)})
	a := newAppWith(cfg, dbLike{st})
	defer a.close()
	sealer := mustSealer(t, cfg, dbLike{st})
	k := store.GrantKey{Tenant: "acme", Provider: "google", Account: "a@example.com"}
	sealed, err := sealer.Seal(ctx, k, []byte("refresh-token"))
	if err != nil {
		t.Fatal(err)
	}
	other := store.GrantKey{Tenant: "acme-2", Provider: "google", Account: "a@example.com"}
	if _, err := sealer.Seal(ctx, other, []byte("refresh-token")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := a.forgetAccounts(ctx, "acme", env{stdout: &out, stderr: &out}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetDataKey(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("acme's data key after forgetting it: %v", err)
	}
	if _, err := st.GetDataKey(ctx, "acme-2"); err != nil {
		t.Errorf("acme-2's data key: %v", err)
	}
	// In any process (one that holds the key in memory drops it when it
	// next asks the store).
	if _, err := mustSealer(t, cfg, dbLike{st}).Open(ctx, k, sealed); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("a token of the removed tenant: %v", err)
	}
	// A tenant without a key is forgotten all the same.
	if err := a.forgetAccounts(ctx, "nobody", env{stdout: &out, stderr: &out}); err != nil {
		t.Error(err)
	}
}

func TestKeysRotate(t *testing.T) {
	ctx := t.Context()
	oldKey, newKey := randomKey(t), randomKey(t)
	dir := t.TempDir()
	newFile := filepath.Join(dir, "new")
	if err := os.WriteFile(newFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	cfg := configWith(t, map[string]string{seal.EnvKey: oldKey})
	a := newAppWith(cfg, dbLike{st})
	defer a.close()
	sealer := mustSealer(t, cfg, dbLike{st})
	var sealed [][]byte
	ks := []store.GrantKey{{Tenant: "a", Provider: "google", Account: "x@example.com"}, {Tenant: "b", Provider: "microsoft", Account: "y@example.com"}}
	for _, k := range ks {
		b, err := sealer.Seal(ctx, k, []byte("token of "+k.Tenant))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, b)
	}
	next, err := seal.ReadMasterKeyFile(newFile, "--new-key-file")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := rotateKeys(ctx, env{stdout: &out, stderr: &errOut}, a, next); err != nil {
		t.Fatal(err, errOut.String())
	}
	if !strings.Contains(out.String(), "Re-wrapped 2 data key(s) under "+next.ID()+"; 0 already") {
		t.Errorf("report: %q", out.String())
	}
	after := mustSealer(t, configWith(t, map[string]string{seal.EnvKey: newKey}), dbLike{st})
	for i, k := range ks {
		if got, err := after.Open(ctx, k, sealed[i]); err != nil || string(got) != "token of "+k.Tenant {
			t.Errorf("%s under the new key: %q, %v", k, got, err)
		}
	}
	out.Reset()
	if err := rotateKeys(ctx, env{stdout: &out, stderr: &errOut}, a, next); err != nil || !strings.Contains(out.String(), "Re-wrapped 0 data key(s)") || !strings.Contains(out.String(), "2 already") {
		t.Errorf("second run: %q, %v", out.String(), err)
	}
}

// The command's refusals, through the command line.
func TestKeysRotateCommandErrors(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, []byte(randomKey(t)), 0o644)
	os.Chmod(loose, 0o644)
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(randomKey(t)), 0o600)
	keyring := map[string]string{
		"MAILCAL_KEYRING_BACKEND": "file", "MAILCAL_KEYRING_DIR": filepath.Join(dir, "keyring"),
		"MAILCAL_KEYRING_PASSWORD": "test-passphrase", seal.EnvKey: randomKey(t),
	}
	for _, c := range []struct {
		vars map[string]string
		args []string
		says string
	}{
		{keyring, []string{"keys"}, "needs a subcommand: rotate"},
		{keyring, []string{"keys", "spin"}, `unknown keys subcommand "spin"`},
		{keyring, []string{"keys", "rotate"}, "needs --new-key-file"},
		{keyring, []string{"keys", "rotate", "--new-key-file", loose}, "chmod 600"},
		{map[string]string{}, []string{"keys", "rotate", "--new-key-file", good}, "needs the current master key in " + seal.EnvKey},
		{keyring, []string{"keys", "rotate", "--new-key-file", good}, "the keyring encrypts refresh tokens itself"},
	} {
		_, stderr, code := runInProcess(t, c.vars, c.args...)
		if code == 0 || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d, stderr %q; want it to say %q", c.args, code, stderr, c.says)
		}
	}
}
