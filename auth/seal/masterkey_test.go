package seal

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseMasterKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	want, err := NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(raw) + "\n",
		"  " + base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
	} {
		m, err := ParseMasterKey(text, EnvKey)
		if err != nil || m.ID() != want.ID() {
			t.Errorf("ParseMasterKey(%q) = %v, %v", text, m, err)
		}
	}
	if !strings.HasPrefix(want.ID(), "mk1-") || len(want.ID()) != 4+16 || strings.Contains(want.String(), base64.StdEncoding.EncodeToString(raw)) {
		t.Errorf("id %q, String %q", want.ID(), want.String())
	}
	other, _ := NewMasterKey([]byte("1123456789abcdef0123456789abcdef"))
	if other.ID() == want.ID() {
		t.Error("two keys share an id")
	}
	short := base64.StdEncoding.EncodeToString(raw[:16])
	for text, says := range map[string]string{
		"":                    "is empty",
		"not base64 at all!!": "is not base64",
		short:                 "holds 16 bytes",
	} {
		_, err := ParseMasterKey(text, EnvKey)
		if err == nil || !strings.Contains(err.Error(), EnvKey) || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("ParseMasterKey(%q): %v", text, err)
		}
		if err != nil && text != "" && strings.Contains(err.Error(), text) {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
}

func TestReadMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	text := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	for _, mode := range []os.FileMode{0o600, 0o400, 0o640, 0o440} {
		if _, err := ReadMasterKeyFile(write("ok", text+"\n", mode), EnvKeyFile); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
		os.Remove(filepath.Join(dir, "ok"))
	}
	if runtime.GOOS != "windows" {
		for _, mode := range []os.FileMode{0o644, 0o604, 0o660, 0o602} {
			p := write("loose", text, mode)
			_, err := ReadMasterKeyFile(p, EnvKeyFile)
			if err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), text) {
				t.Errorf("mode %04o: %v", mode, err)
			}
			os.Remove(p)
		}
	}
	_, err := ReadMasterKeyFile(filepath.Join(dir, "missing"), EnvKeyFile)
	if err == nil || !strings.Contains(err.Error(), EnvKeyFile) {
		t.Errorf("missing file: %v", err)
	}
	_, err = ReadMasterKeyFile(write("big", strings.Repeat("A", 2000), 0o600), EnvKeyFile)
	if err == nil || !strings.Contains(err.Error(), "2000 bytes") {
		t.Errorf("big file: %v", err)
	}
	_, err = ReadMasterKeyFile(write("bad", "secret-not-base64", 0o600), EnvKeyFile)
	if err == nil || !strings.Contains(err.Error(), EnvKeyFile) || strings.Contains(err.Error(), "secret-not-base64") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := ReadMasterKeyFile(dir, EnvKeyFile); err == nil {
		t.Error("a folder accepted")
	}
}

func TestMasterKeysFromEnv(t *testing.T) {
	dir := t.TempDir()
	a := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	b := base64.StdEncoding.EncodeToString([]byte("x123456789abcdef0123456789abcdef"))
	file := filepath.Join(dir, "key")
	os.WriteFile(file, []byte(b), 0o600)
	env := func(kv ...string) func(string) string {
		return func(name string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == name {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	if k, err := MasterKeysFromEnv(env()); err != nil || k.Set() {
		t.Errorf("nothing set: %+v, %v", k, err)
	}
	k, err := MasterKeysFromEnv(env(EnvKeyFile, file, EnvKeyOld, a))
	if err != nil || k.Current == nil || k.Old == nil || k.Current.ID() == k.Old.ID() {
		t.Fatalf("key file and old key: %+v, %v", k, err)
	}
	if k, _ := MasterKeysFromEnv(env(EnvKey, a, EnvKeyOld, a)); k.Old != nil {
		t.Error("an old key equal to the current one is kept")
	}
	for _, c := range []struct {
		env  []string
		says string
	}{
		{[]string{EnvKey, a, EnvKeyFile, file}, "both " + EnvKey + " and " + EnvKeyFile},
		{[]string{EnvKeyOld, a}, EnvKeyOld + " is set but " + EnvKey + " is not"},
		{[]string{EnvKey, "short"}, EnvKey},
		{[]string{EnvKey, a, EnvKeyOldFile, filepath.Join(dir, "none")}, EnvKeyOldFile},
	} {
		_, err := MasterKeysFromEnv(env(c.env...))
		if err == nil || !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), a) {
			t.Errorf("%v: %v", c.env, err)
		}
	}
}
