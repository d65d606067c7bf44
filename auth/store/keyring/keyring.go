package keyring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/99designs/keyring"
)

// Open opens the configured backend, runs a write/read/delete probe (key
// "probe/<random>") and returns a Store only if the probe passed.
//
// With "auto" it tries, in order, the OS keyrings usable on this OS (keychain
// on darwin, wincred on windows, secret-service then kwallet on linux/bsd),
// then pass only if a password store is initialised (a .gpg-id exists in the
// pass dir), and finally "file"; it never picks keyctl (keys vanish on
// reboot). The first candidate whose probe passes wins; the error when
// nothing works lists each backend tried and why it failed.
func Open(ctx context.Context, cfg Config) (KV, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Backend != "auto" {
		return openBackend(ctx, cfg, cfg.Backend)
	}
	var tried []string
	for _, b := range autoCandidates(runtime.GOOS) {
		if b == "pass" {
			dir, err := cfg.passDir()
			if err != nil {
				tried = append(tried, fmt.Sprintf("pass: %v", err))
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, ".gpg-id")); err != nil {
				tried = append(tried, fmt.Sprintf("pass: skipped, no initialised password store at %s (no .gpg-id)", dir))
				continue
			}
		}
		s, err := openBackend(ctx, cfg, b)
		if err == nil {
			return s, nil
		}
		tried = append(tried, err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no usable keyring (set %s to choose one); tried:\n  %s", EnvBackend, strings.Join(tried, "\n  "))
}

// autoCandidates is the "auto" order for an OS. keyctl is never in it.
func autoCandidates(goos string) []string {
	var native []string
	switch goos {
	case "darwin", "ios":
		native = []string{"keychain"}
	case "windows":
		native = []string{"wincred"}
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		native = []string{"secret-service", "kwallet"}
	}
	return append(native, "pass", "file")
}

// openBackend opens exactly one backend and probes it (the file backend,
// which may open read-only, checks what it needs when it opens). Errors
// start with the backend's name.
func openBackend(ctx context.Context, cfg Config, backend string) (KV, error) {
	s, err := openKeyring(ctx, cfg, backend)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", backend, err)
	}
	if backend == "file" {
		if fk := s.kr.(*fileKeyring); fk.readOnly != "" {
			slog.WarnContext(ctx, "the file keyring is read-only: reads are served, writes refused", "dir", fk.dir, "why", fk.readOnly)
		}
		return s, nil
	}
	if err := s.probe(ctx); err != nil {
		return nil, fmt.Errorf("%s: probe failed: %w", backend, err)
	}
	return s, nil
}

func openKeyring(ctx context.Context, cfg Config, backend string) (*keyringStore, error) {
	bt := keyring.BackendType(backend)
	if !slices.Contains(keyring.AvailableBackends(), bt) {
		return nil, unavailable(backend)
	}
	kc := keyring.Config{
		AllowedBackends: []keyring.BackendType{bt},
		ServiceName:     cfg.Service,
	}
	c := codec{slash: "/"}
	var fileDir, pw string
	switch backend {
	case "file":
		dir, err := cfg.fileDir()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// The passphrase first: without one, nothing is written to the folder.
		if pw, err = filePassphrase(cfg, dir); err != nil {
			return nil, err
		}
		c.slash = "!"
		fileDir = dir
	case "secret-service":
		// Any other collection needs a graphical prompter to be created.
		kc.LibSecretCollectionName = "login"
		c.prefix = cfg.Service + "/"
	case "keyctl":
		kc.KeyCtlScope = "user" // a keyring named after the service, in the user keyring
		c.tagValues = true
	case "pass":
		kc.PassDir = cfg.PassDir
		kc.PassPrefix = cfg.Service
	case "kwallet":
		// ServiceName is KWallet's wallet name: keep the user's default wallet
		// and use a folder per service instead.
		kc.ServiceName = ""
		kc.KWalletAppID = cfg.Service
		kc.KWalletFolder = cfg.Service
	}
	s := newKeyringStore(nil, backend, c, cfg.Timeout)
	s.fileDir = fileDir
	s.locks = sharedLocks(backend, cfg.Service, fileDir)
	if backend == "file" {
		err := s.do(ctx, func() (err error) {
			s.kr, err = openFileKeyring(fileDir, pw, s.locks)
			return err
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	err := s.do(ctx, func() (err error) {
		s.kr, err = keyring.Open(kc)
		return err
	})
	if err != nil {
		if errors.Is(err, keyring.ErrNoAvailImpl) {
			return nil, unavailable(backend)
		}
		return nil, sanitize(err)
	}
	return s, nil
}

func unavailable(backend string) error {
	switch backend {
	case "secret-service", "kwallet":
		if runtime.GOOS == "linux" {
			return errors.New("not available: no D-Bus session bus was reachable when mailcal started (DBUS_SESSION_BUS_ADDRESS)")
		}
	case "pass":
		if runtime.GOOS != "windows" {
			return errors.New("not available: the pass program is not installed")
		}
	}
	var av []string
	for _, b := range keyring.AvailableBackends() {
		av = append(av, string(b))
	}
	return fmt.Errorf("not available on %s (available here: %s)", runtime.GOOS, strings.Join(av, ", "))
}

// keyringStore wraps a keyring.Keyring: one call at a time, each under a
// timeout, with keys encoded by codec and errors mapped.
type keyringStore struct {
	kr      keyring.Keyring
	backend string
	codec   codec
	timeout time.Duration
	fileDir string        // file backend only, for error messages
	sem     chan struct{} // a mutex that waiters can give up on
	locks   *lockFile     // what Lock hands out
}

var _ Locker = (*keyringStore)(nil)

// sharedLocks returns the locks the processes of a keyring share (see
// lockfile.go); within this process only, with a warning in the log, when
// the lock file cannot be opened.
func sharedLocks(backend, service, fileDir string) *lockFile {
	path := filepath.Join(fileDir, "#lock")
	var err error
	if backend != "file" {
		path, err = userLockPath(backend, service)
	}
	var l *lockFile
	if err == nil {
		l, err = openLockFile(path)
	}
	if err != nil {
		// A file keyring whose folder cannot be written opens read-only:
		// its locks guard no write.
		if backend != "file" || !isNotWritable(err) {
			slog.Warn("keyring: the lock file cannot be opened; writes are serialised within this process only", "backend", backend, "err", err.Error())
		}
		return inProcessLocks(err.Error())
	}
	return l
}

// Lock implements Locker.
func (s *keyringStore) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return s.locks.lock(ctx, name)
}

func newKeyringStore(kr keyring.Keyring, backend string, c codec, timeout time.Duration) *keyringStore {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return &keyringStore{kr: kr, backend: backend, codec: c, timeout: timeout, sem: make(chan struct{}, 1),
		locks: inProcessLocks("not opened by Open")}
}

// timeoutError reports a keyring call that did not finish in time.
type timeoutError struct {
	backend string
	timeout time.Duration
	busy    bool // still waiting for an earlier call
}

func (e *timeoutError) Error() string {
	busy := ""
	if e.busy {
		busy = " (an earlier call is still running)"
	}
	return fmt.Sprintf("keyring (%s) did not answer within %s%s; it may be locked or waiting for an unlock prompt",
		e.backend, e.timeout, busy)
}

func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// panicError is a panic inside the keyring library, turned into an error.
type panicError struct{ msg string }

func (e *panicError) Error() string { return e.msg }

// do runs fn in its own goroutine, after earlier calls finished, and gives up
// when s.timeout passes or ctx ends. A call that gave up keeps running in the
// background and holds the lock until it returns, so later calls wait (up to
// their own deadline) rather than pile onto a stuck backend.
func (s *keyringStore) do(ctx context.Context, fn func() error) error {
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	gaveUp := func(busy bool) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("keyring (%s): %w", s.backend, err)
		}
		return &timeoutError{backend: s.backend, timeout: s.timeout, busy: busy}
	}
	if tctx.Err() != nil {
		return gaveUp(false)
	}
	select {
	case s.sem <- struct{}{}:
	case <-tctx.Done():
		return gaveUp(true)
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-s.sem }()
		defer func() {
			if r := recover(); r != nil {
				done <- &panicError{fmt.Sprintf("keyring (%s) failed: panic: %v", s.backend, r)}
			}
		}()
		done <- fn()
	}()
	select {
	case err := <-done:
		return err
	case <-tctx.Done():
		return gaveUp(false)
	}
}

func (s *keyringStore) Backend() string { return s.backend }

func (s *keyringStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	return s.get(ctx, key)
}

func (s *keyringStore) get(ctx context.Context, key string) ([]byte, error) {
	var it keyring.Item
	err := s.do(ctx, func() (err error) {
		it, err = s.kr.Get(s.codec.encode(key))
		return err
	})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	v, ok := s.codec.decodeValue(it.Data)
	if !ok {
		return nil, fmt.Errorf("keyring (%s): get %q: the stored item is not in the expected format", s.backend, key)
	}
	return v, nil
}

func (s *keyringStore) Set(ctx context.Context, key string, value []byte) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if err := validateValue(key, value); err != nil {
		return err
	}
	return s.set(ctx, key, value)
}

func (s *keyringStore) set(ctx context.Context, key string, value []byte) error {
	item := keyring.Item{
		Key:   s.codec.encode(key),
		Data:  s.codec.encodeValue(value),
		Label: key, // shown by Keychain Access
	}
	err := s.do(ctx, func() error { return s.kr.Set(item) })
	return s.wrap("set", key, err)
}

func (s *keyringStore) Delete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	return s.delete(ctx, key)
}

func (s *keyringStore) delete(ctx context.Context, key string) error {
	name := s.codec.encode(key)
	err := s.do(ctx, func() error {
		switch s.backend {
		case "secret-service", "kwallet":
			// Their Remove succeeds for missing items.
			if _, err := s.kr.Get(name); err != nil {
				return err
			}
		}
		return s.kr.Remove(name)
	})
	return s.wrap("delete", key, err)
}

func (s *keyringStore) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := s.do(ctx, func() (err error) {
		names, err = s.kr.Keys()
		return err
	})
	if err != nil {
		return nil, s.wrap("list", prefix, err)
	}
	keys := []string{}
	for _, n := range names {
		k, ok := s.codec.decode(n)
		if ok && strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, probePrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// probe writes, reads back and deletes a random item.
func (s *keyringStore) probe(ctx context.Context) error {
	r := make([]byte, 16)
	rand.Read(r)
	key := probePrefix + hex.EncodeToString(r[:8])
	if err := s.set(ctx, key, r); err != nil {
		return err
	}
	got, err := s.get(ctx, key)
	if err != nil {
		return err
	}
	if string(got) != string(r) {
		return fmt.Errorf("keyring (%s): the probe item read back differs from what was written", s.backend)
	}
	if err := s.delete(ctx, key); err != nil {
		return err
	}
	if _, err := s.get(ctx, key); !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("keyring (%s): the probe item is still there after delete (%v)", s.backend, err)
	}
	return nil
}

// wrap turns a backend error into ours: ErrNotFound for missing items, an
// itemError naming the item for one the file backend cannot read (its
// passphrase was checked when it opened), the file backend's read-only
// refusal as it is, and no secret material.
func (s *keyringStore) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var te *timeoutError
	var pe *panicError
	var bad *badItem
	var ro *readOnlyError
	switch {
	case errors.As(err, &te), errors.As(err, &pe), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, keyring.ErrKeyNotFound),
		s.backend == "file" && op != "set" && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("key %q: %w", key, ErrNotFound)
	case errors.As(err, &bad):
		return &itemError{key: key, why: fmt.Sprintf("(file %s) %s", filepath.Join(s.fileDir, s.codec.encode(key)), bad.why)}
	case errors.As(err, &ro):
		return fmt.Errorf("keyring (%s): %s %q: %w", s.backend, op, key, err)
	}
	return fmt.Errorf("keyring (%s): %s %q: %w", s.backend, op, key, sanitize(err))
}

func isJSONError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te)
}

// sanitize drops error texts that can quote stored bytes.
func sanitize(err error) error {
	if isJSONError(err) {
		return errors.New("the stored item is not in the expected format")
	}
	return err
}
