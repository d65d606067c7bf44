//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EEncryptionKeySettings: the master key variables through the built
// binary. An ill-formed key or a key file others may read stops every
// command, naming the variable and never the key; with a keyring store (which
// encrypts itself) a good key changes nothing, and keys rotate says it has
// nothing to rotate.
func TestE2EEncryptionKeySettings(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	run := func(extra []string, args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := command(ctx, mailcalBinary(t), args...)
		cmd.Env, cmd.Dir = k.env(extra...), k.home
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	key := func() string {
		raw := make([]byte, 32)
		rand.Read(raw)
		return base64.StdEncoding.EncodeToString(raw)
	}
	writeKey := func(name string, mode os.FileMode) string {
		p := filepath.Join(k.home, name)
		if err := os.WriteFile(p, []byte(key()+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := base64.StdEncoding.EncodeToString([]byte("not-32-bytes-long"))
	loose := writeKey("loose.key", 0o644)
	for _, c := range []struct {
		env  []string
		says []string
	}{
		{[]string{"MAILCAL_ENCRYPTION_KEY=" + short}, []string{"MAILCAL_ENCRYPTION_KEY holds 17 bytes", "openssl rand -base64 32"}},
		{[]string{"MAILCAL_ENCRYPTION_KEY_FILE=" + loose}, []string{"MAILCAL_ENCRYPTION_KEY_FILE", "mode 0644", "chmod 600"}},
		{[]string{"MAILCAL_ENCRYPTION_KEY=" + key(), "MAILCAL_ENCRYPTION_KEY_FILE=" + loose}, []string{"both MAILCAL_ENCRYPTION_KEY and MAILCAL_ENCRYPTION_KEY_FILE"}},
		{[]string{"MAILCAL_ENCRYPTION_KEY_OLD=" + key()}, []string{"MAILCAL_ENCRYPTION_KEY_OLD is set but MAILCAL_ENCRYPTION_KEY is not"}},
	} {
		_, errOut, err := run(c.env, "tenant", "list")
		if err == nil {
			t.Errorf("%v: tenant list succeeded", c.env)
		}
		for _, want := range c.says {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: stderr does not say %q:\n%s", c.env, want, errOut)
			}
		}
		if strings.Contains(errOut, short) {
			t.Errorf("the key's value is in stderr:\n%s", errOut)
		}
	}

	good := []string{"MAILCAL_ENCRYPTION_KEY_FILE=" + writeKey("master.key", 0o600)}
	if _, errOut, err := run(good, "tenant", "add", "acme"); err != nil {
		t.Fatalf("tenant add with a key set: %v\n%s", err, errOut)
	}
	if _, errOut, err := run(good, "tenant", "remove", "acme"); err != nil {
		t.Fatalf("tenant remove with a key set: %v\n%s", err, errOut)
	}
	_, errOut, err := run(good, "keys", "rotate", "--new-key-file", writeKey("new.key", 0o400))
	if err == nil || !strings.Contains(errOut, "the keyring encrypts refresh tokens itself") {
		t.Errorf("keys rotate over a keyring: %v\n%s", err, errOut)
	}
}
