// Package keyring keeps mailcal's small secrets (OAuth refresh tokens, tenant
// API-key hashes, waiting OAuth flows) in an OS keyring, a pass(1) store or
// an encrypted folder. It has two layers:
//
//   - KV, a key-value store of small items over github.com/99designs/keyring's
//     OS keyrings and pass, and over a file backend of our own (file.go:
//     atomic writes, one key derivation per process, damage contained to its
//     item, read-only folders; it reads the library's file format, the
//     previous release's). Open, Lazy; NewMemory for tests. It adds what the
//     library lacks: a timeout on every call, one call at a time, a
//     write/read/delete probe when opening an OS keyring, the file backend's
//     passphrase read from the environment or the terminal device, never
//     stdout, and locks shared by the processes of a keyring (Locker,
//     lockfile.go).
//   - Store, the store.Store contract over a KV (New, OpenStore, LazyStore):
//     tenants, grants with versioned compare-and-set and flow states as JSON
//     items, in the layout of earlier releases (items.go), checked against
//     their keys when read; its compare-and-set, creations and takes hold
//     across processes. It also keeps policies, counters (policy.go) and
//     the OAuth server's clients and tokens (store.OAuthServer:
//     oauthitems.go, oauth.go, oauthrevoke.go). It passes store/storetest
//     (Run and RunShared) on every backend the tests can run (memory, file,
//     secret-service, pass, keyctl), and the file backend is raced by
//     several processes in crossprocess_test.go and oauthxproc_test.go.
//
// Keys are hierarchical ("tenant/acme", "grant/acme/exmail/x@y.com"). Every
// backend stores them under a name derived from the key (see codec) so that
// List gives back exactly the keys that were set, also on case-insensitive
// stores (Windows Credential Manager, macOS file systems).
package keyring

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// ErrNotFound is returned (wrapped) by Get and Delete for a missing key. It
// is store.ErrNotFound, so errors.Is matches either.
var ErrNotFound = store.ErrNotFound

// KV keeps small secrets (≤ 2048 bytes each) under hierarchical keys like
// "tenant/acme" or "grant/acme/exmail/x@y.com".
type KV interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	// List returns the keys starting with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Backend is the name of the backend in use, e.g. "file", "secret-service".
	Backend() string
}

const (
	maxKeyLen   = 200
	maxValueLen = 2048
	// probePrefix is reserved for Open's write/read/delete probe.
	probePrefix = "probe/"

	keyRules = `keys are 1-200 bytes of A-Z a-z 0-9 . _ @ + - and "/" between segments; ` +
		`segments must not be empty, "." or ".."; "probe/" is reserved`
)

// validateKey checks a caller's key.
func validateKey(key string) error {
	if err := checkKeySyntax(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, probePrefix) {
		return fmt.Errorf("invalid key %s: the prefix %q is reserved; %s", quoteKey(key), probePrefix, keyRules)
	}
	return nil
}

// checkKeySyntax checks everything but the reserved prefix (probe keys pass).
func checkKeySyntax(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid key %s: %s; %s", quoteKey(key), why, keyRules)
	}
	if len(key) == 0 {
		return bad("empty")
	}
	if len(key) > maxKeyLen {
		return bad(fmt.Sprintf("%d bytes long", len(key)))
	}
	for i := 0; i < len(key); i++ {
		if !keyByte(key[i]) {
			return bad(fmt.Sprintf("character %q is not allowed", key[i]))
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return bad(`empty segment (leading or trailing "/", or "//")`)
		case ".", "..":
			return bad(fmt.Sprintf("segment %q", seg))
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("._@+-/", c) >= 0
}

// quoteKey quotes a (possibly invalid, possibly long) key for an error message.
func quoteKey(key string) string {
	if len(key) > 64 {
		return fmt.Sprintf("%q…", key[:64])
	}
	return fmt.Sprintf("%q", key)
}

func validateValue(key string, value []byte) error {
	if len(value) > maxValueLen {
		return fmt.Errorf("value for key %q is %d bytes; at most %d bytes are allowed", key, len(value), maxValueLen)
	}
	return nil
}

// Config selects and configures the keyring backend.
type Config struct {
	Backend      string        // "auto" (default when empty), "file", "secret-service", "pass", "keyctl", "keychain", "wincred", "kwallet"
	Service      string        // keyring service name; default "mailcal"
	Dir          string        // file backend folder; default os.UserConfigDir()+"/mailcal/keyring"
	PassDir      string        // pass store dir; default: pass's own default (PASSWORD_STORE_DIR or ~/.password-store)
	Password     string        // file backend passphrase, if known
	PasswordFile string        // file holding the passphrase (first line, trailing newline trimmed)
	Timeout      time.Duration // per keyring call; default 10s
}

const (
	defaultService = "mailcal"
	defaultTimeout = 10 * time.Second
)

// backendNames are the values Config.Backend accepts.
var backendNames = []string{"auto", "file", "secret-service", "pass", "keyctl", "keychain", "wincred", "kwallet"}

// Environment variables read by ConfigFromEnv.
const (
	EnvBackend      = "MAILCAL_KEYRING_BACKEND"
	EnvService      = "MAILCAL_KEYRING_SERVICE"
	EnvDir          = "MAILCAL_KEYRING_DIR"
	EnvPassDir      = "MAILCAL_KEYRING_PASS_DIR"
	EnvPassword     = "MAILCAL_KEYRING_PASSWORD"
	EnvPasswordFile = "MAILCAL_KEYRING_PASSWORD_FILE"
	EnvTimeout      = "MAILCAL_KEYRING_TIMEOUT"
)

// ConfigFromEnv reads MAILCAL_KEYRING_BACKEND, MAILCAL_KEYRING_SERVICE, MAILCAL_KEYRING_DIR,
// MAILCAL_KEYRING_PASS_DIR, MAILCAL_KEYRING_PASSWORD, MAILCAL_KEYRING_PASSWORD_FILE and
// MAILCAL_KEYRING_TIMEOUT (a Go duration). Errors name the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Backend:      strings.ToLower(strings.TrimSpace(getenv(EnvBackend))),
		Service:      strings.TrimSpace(getenv(EnvService)),
		Dir:          getenv(EnvDir),
		PassDir:      getenv(EnvPassDir),
		Password:     getenv(EnvPassword),
		PasswordFile: getenv(EnvPasswordFile),
	}
	if err := checkBackend(cfg.Backend); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvBackend, err)
	}
	if err := checkService(cfg.Service); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvService, err)
	}
	if s := strings.TrimSpace(getenv(EnvTimeout)); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%s: %q is not a positive Go duration such as 10s or 1m", EnvTimeout, s)
		}
		cfg.Timeout = d
	}
	return cfg, nil
}

func checkBackend(b string) error {
	if b == "" {
		return nil
	}
	for _, n := range backendNames {
		if b == n {
			return nil
		}
	}
	return fmt.Errorf("unknown keyring backend %q; allowed: %s", b, strings.Join(backendNames, ", "))
}

// checkService: the service name becomes a label prefix, a pass folder, a
// kernel keyring name and a KWallet folder, so keep it plain.
func checkService(s string) error {
	if s == "" {
		return nil
	}
	ok := len(s) <= 64 && s[0] != '.' && s[0] != '-'
	for i := 0; ok && i < len(s); i++ {
		ok = keyByte(s[i]) && s[i] != '/' && s[i] != '@' && s[i] != '+'
	}
	if !ok {
		return fmt.Errorf("invalid keyring service name %q: use 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -", s)
	}
	return nil
}

// withDefaults validates cfg and fills in the defaults that need no I/O.
func (cfg Config) withDefaults() (Config, error) {
	cfg.Backend = strings.ToLower(strings.TrimSpace(cfg.Backend))
	if cfg.Backend == "" {
		cfg.Backend = "auto"
	}
	if err := checkBackend(cfg.Backend); err != nil {
		return cfg, err
	}
	if cfg.Service == "" {
		cfg.Service = defaultService
	}
	if err := checkService(cfg.Service); err != nil {
		return cfg, err
	}
	if cfg.Timeout < 0 {
		return cfg, fmt.Errorf("keyring timeout %s is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	return cfg, nil
}

// fileDir returns the file backend's folder as an absolute path.
func (cfg Config) fileDir() (string, error) {
	dir := cfg.Dir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("file keyring: no folder configured (%s) and no user config folder: %w", EnvDir, err)
		}
		dir = filepath.Join(base, "mailcal", "keyring")
	}
	dir, err := expandHome(dir)
	if err != nil {
		return "", err
	}
	return filepath.Abs(dir)
}

// passDir returns the folder pass will use, as pass itself resolves it.
func (cfg Config) passDir() (string, error) {
	dir := cfg.PassDir
	if dir == "" {
		dir = os.Getenv("PASSWORD_STORE_DIR")
	}
	if dir == "" {
		dir = "~/.password-store"
	}
	return expandHome(dir)
}

func expandHome(dir string) (string, error) {
	if dir == "~" || strings.HasPrefix(dir, "~/") || strings.HasPrefix(dir, "~"+string(filepath.Separator)) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, dir[1:])
	}
	return dir, nil
}
