package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// The variables a master key is read from (cmd/mailcal reads the
// environment through MasterKeysFromEnv).
const (
	EnvKey        = "MAILCAL_ENCRYPTION_KEY"
	EnvKeyFile    = "MAILCAL_ENCRYPTION_KEY_FILE"
	EnvKeyOld     = "MAILCAL_ENCRYPTION_KEY_OLD"
	EnvKeyOldFile = "MAILCAL_ENCRYPTION_KEY_OLD_FILE"
)

// KeySize is the size of a master key and of a data key: AES-256.
const KeySize = 32

// MasterKey wraps the tenants' data keys. Its ID is a fingerprint (an
// HMAC of a fixed label under the key: it tells keys apart and reveals
// nothing of the key); the key itself is kept only as a cipher.
type MasterKey struct {
	id   string
	aead cipher.AEAD
}

// ID names the key in stored data keys (store.DataKey.MasterKeyID).
func (m *MasterKey) ID() string { return m.id }

// String names the key by its id, so that printing one shows no secret.
func (m *MasterKey) String() string { return "master key " + m.id }

// NewMasterKey makes a master key of 32 bytes. The caller may zero key
// afterwards: nothing keeps it.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("a master key is %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("mailcal master key id v1"))
	return &MasterKey{id: "mk1-" + hex.EncodeToString(mac.Sum(nil)[:8]), aead: aead}, nil
}

// ParseMasterKey reads a master key written in base64 (standard or URL
// alphabet, padded or not; surrounding spaces and a final newline ignored).
// what names where it came from (a variable, a file) in the error, which
// never quotes the value.
func ParseMasterKey(text, what string) (*MasterKey, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("%s is empty: want the base64 of 32 random bytes (openssl rand -base64 32)", what)
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(text); err == nil {
			break
		}
	}
	defer clear(key)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64: want the base64 of 32 random bytes (openssl rand -base64 32)", what)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%s holds %d bytes: want the base64 of exactly 32 random bytes (openssl rand -base64 32)", what, len(key))
	}
	return NewMasterKey(key)
}

// ReadMasterKeyFile reads a master key from a file holding its base64. A
// file that others than its owner and group may read (or anyone but its
// owner may write) is refused on Unix: a key readable by every local user
// protects nothing. Mounted secrets (a Kubernetes secret volume, a Docker
// secret) are files of mode 0400 or 0440 when set up so.
func ReadMasterKeyFile(path, what string) (*MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", what, path, unwrapPathError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", what, path, unwrapPathError(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file", what, path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o026 != 0 {
		return nil, fmt.Errorf("%s: %s has mode %04o, which lets other users read or change the key: chmod 600 (or 640, 440) it",
			what, path, st.Mode().Perm())
	}
	if st.Size() > 1024 {
		return nil, fmt.Errorf("%s: %s is %d bytes: want one line, the base64 of 32 random bytes", what, path, st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1025))
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", what, path, unwrapPathError(err))
	}
	return ParseMasterKey(string(b), what+" ("+path+")")
}

// unwrapPathError drops the path an *fs.PathError repeats.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// MasterKeys are the master keys a process holds: Current wraps new data
// keys (and opens those under it); Old, during a rotation, only opens.
type MasterKeys struct {
	Current *MasterKey
	Old     *MasterKey
}

// Set tells whether a current key is configured.
func (k MasterKeys) Set() bool { return k.Current != nil }

// MasterKeysFromEnv reads MAILCAL_ENCRYPTION_KEY or _FILE (not both) and,
// for a process serving during a rotation, MAILCAL_ENCRYPTION_KEY_OLD or
// _OLD_FILE. Nothing set is not an error (the store in use may not need a
// key); an old key without a current one is.
func MasterKeysFromEnv(get func(string) string) (MasterKeys, error) {
	cur, err := keyFromEnv(get, EnvKey, EnvKeyFile)
	if err != nil {
		return MasterKeys{}, err
	}
	old, err := keyFromEnv(get, EnvKeyOld, EnvKeyOldFile)
	if err != nil {
		return MasterKeys{}, err
	}
	if old != nil && cur == nil {
		return MasterKeys{}, fmt.Errorf("%s is set but %s is not: the old key is only read beside the current one", EnvKeyOld, EnvKey)
	}
	if old != nil && old.ID() == cur.ID() {
		old = nil
	}
	return MasterKeys{Current: cur, Old: old}, nil
}

func keyFromEnv(get func(string) string, value, file string) (*MasterKey, error) {
	v, f := get(value), strings.TrimSpace(get(file))
	switch {
	case v != "" && f != "":
		return nil, fmt.Errorf("both %s and %s are set: set one", value, file)
	case v != "":
		return ParseMasterKey(v, value)
	case f != "":
		return ReadMasterKeyFile(f, file)
	}
	return nil, nil
}
