package keyring

// The file backend: one encrypted file per item in a folder (fileformat.go),
// in place of 99designs/keyring's, which writes items in place (a crash or
// a second writer could leave an empty or torn item) and derives a key for
// every read.
//
//   - Atomic writes (atomicfile.go): a temporary file in the folder,
//     fsynced, renamed over the item, the folder fsynced. A crash at any
//     point leaves the old item or the new one.
//   - One key derivation per process (Argon2id, salt in the folder's
//     header), AES-256-GCM per item with its name as additional data.
//   - Damage contained: an item that cannot be read fails alone, with why
//     (damaged, cut short, another passphrase, another item's copy); the
//     passphrase is checked once, against the header, or against several
//     items of the previous release when there is no header yet.
//   - Read-only: a folder mailcal cannot write to (or a full disk) opens
//     read-only: reads are served, writes refused with an error naming the
//     folder.
//
// Names starting with '#' are the backend's own ("#keyring.json", "#lock",
// "#tmp-…" while a write is in progress): never items.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/99designs/keyring"
)

type fileKeyring struct {
	dir      string
	password string   // for items of the previous release
	key      *fileKey // nil while the folder has no header (read-only)
	readOnly string   // why writes are refused; "" when they are not

	legacyMu sync.Mutex
	legacy   map[string]legacyItem // previous-release items read, by name
}

// legacyItem caches a previous-release item (each read of one costs a
// PBKDF2 derivation) until its file changes.
type legacyItem struct {
	sum   [32]byte
	value []byte
}

var _ keyring.Keyring = (*fileKeyring)(nil)

// legacyChecks bounds how many previous-release items opening tries when
// there is no header to check the passphrase against.
const legacyChecks = 8

// openFileKeyring opens the folder dir (created if missing). Errors:
// errWrongPassphrase (wrapped) when the passphrase is not the keyring's.
// A folder it cannot write opens read-only.
func openFileKeyring(dir, password string, locks *lockFile) (*fileKeyring, error) {
	k := &fileKeyring{dir: dir, password: password, legacy: map[string]legacyItem{}}
	if err := writableCheck(dir); err != nil {
		k.readOnly = reason(err)
	}
	header, err := os.ReadFile(filepath.Join(dir, headerName))
	switch {
	case err == nil:
		if k.key, err = openHeader(header, password); err != nil {
			return nil, k.headerError(err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := k.checkLegacyPassphrase(); err != nil {
			return nil, err
		}
		if k.readOnly == "" {
			if err := k.createHeader(locks); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("reading the file keyring's header %s: %w", filepath.Join(dir, headerName), err)
	}
	if k.readOnly == "" {
		removeStaleTemps(dir)
	}
	return k, nil
}

// headerError explains a header that cannot be used.
func (k *fileKeyring) headerError(err error) error {
	if errors.Is(err, errWrongPassphrase) {
		return wrongPassphrase(k.dir)
	}
	return fmt.Errorf("the file keyring's header %s cannot be used: %v; it holds the salt every item's key is derived from: restore it from a backup",
		filepath.Join(k.dir, headerName), err)
}

// wrongPassphrase is the error of a passphrase that is not the keyring's;
// errors.Is(err, errWrongPassphrase).
func wrongPassphrase(dir string) error { return &passphraseError{dir} }

type passphraseError struct{ dir string }

func (e *passphraseError) Error() string {
	return fmt.Sprintf("the file keyring at %s could not be decrypted with the given passphrase (%s or %s)", e.dir, EnvPassword, EnvPasswordFile)
}

func (e *passphraseError) Unwrap() error { return errWrongPassphrase }

// createHeader writes the header of a folder that has none, under the
// keyring's lock: of processes opening a new keyring at once, one writes it
// and the others read it.
func (k *fileKeyring) createHeader(locks *lockFile) error {
	ctx, cancel := contextWithTimeout(storeLockWait)
	defer cancel()
	unlock, err := locks.lock(ctx, "store")
	if err != nil {
		return fmt.Errorf("file keyring at %s: waiting for another process's write: %w", k.dir, err)
	}
	defer unlock()
	path := filepath.Join(k.dir, headerName)
	if data, err := os.ReadFile(path); err == nil {
		if k.key, err = openHeader(data, k.password); err != nil {
			return k.headerError(err)
		}
		return nil
	}
	data, key, err := newHeader(k.password)
	if err != nil {
		return err
	}
	if err := writeAtomic(k.dir, headerName, data); err != nil {
		if isNoSpace(err) || isNotWritable(err) {
			k.readOnly = reason(err)
			return nil
		}
		return fmt.Errorf("writing the file keyring's header %s: %w", path, err)
	}
	k.key = key
	return nil
}

// checkLegacyPassphrase checks the passphrase of a folder without header
// against up to legacyChecks items of the previous release: wrong when none
// decrypts and some could not be decrypted with it (a damaged item fails
// alone; items that cannot be told apart from another passphrase's do not
// blame it while another one decrypts).
func (k *fileKeyring) checkLegacyPassphrase() error {
	names, err := k.Keys()
	if err != nil {
		return err
	}
	tried, refused := 0, 0
	for _, n := range names {
		if tried == legacyChecks {
			break
		}
		data, err := os.ReadFile(filepath.Join(k.dir, n))
		if err != nil || !isLegacy(data) {
			if strings.HasPrefix(string(data), itemMagic) {
				return fmt.Errorf("the file keyring at %s holds items of this release but its header %s is missing; it holds the salt every item's key is derived from: restore it from a backup",
					k.dir, headerName)
			}
			continue
		}
		tried++
		_, err = k.legacyValue(n, data)
		switch {
		case err == nil:
			return nil
		case err == errLegacyKey:
			refused++
		}
	}
	if refused > 0 {
		return wrongPassphrase(k.dir)
	}
	return nil
}

// legacyValue decodes a previous-release item, from the cache when its file
// has not changed.
func (k *fileKeyring) legacyValue(name string, data []byte) ([]byte, error) {
	sum := sha256Sum(data)
	k.legacyMu.Lock()
	c, ok := k.legacy[name]
	k.legacyMu.Unlock()
	if ok && c.sum == sum {
		return c.value, nil
	}
	v, err := decodeLegacy(k.password, name, data)
	if err != nil {
		return nil, err
	}
	k.legacyMu.Lock()
	if len(k.legacy) > 10000 {
		clear(k.legacy)
	}
	k.legacy[name] = legacyItem{sum: sum, value: v}
	k.legacyMu.Unlock()
	return v, nil
}

// Get implements keyring.Keyring. A missing item is keyring.ErrKeyNotFound;
// one that cannot be read a *badItem.
func (k *fileKeyring) Get(name string) (keyring.Item, error) {
	if !itemName(name) {
		return keyring.Item{}, keyring.ErrKeyNotFound
	}
	data, err := os.ReadFile(filepath.Join(k.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return keyring.Item{}, keyring.ErrKeyNotFound
	}
	if err != nil {
		return keyring.Item{}, err
	}
	var value []byte
	if isLegacy(data) {
		value, err = k.legacyValue(name, data)
	} else {
		value, err = decodeItem(k.key, name, data)
	}
	if err != nil {
		return keyring.Item{}, err
	}
	return keyring.Item{Key: name, Data: value}, nil
}

// GetMetadata implements keyring.Keyring.
func (k *fileKeyring) GetMetadata(name string) (keyring.Metadata, error) {
	fi, err := os.Stat(filepath.Join(k.dir, name))
	if errors.Is(err, fs.ErrNotExist) || !itemName(name) {
		return keyring.Metadata{}, keyring.ErrKeyNotFound
	}
	if err != nil {
		return keyring.Metadata{}, err
	}
	return keyring.Metadata{ModificationTime: fi.ModTime()}, nil
}

// readOnlyError is a write refused by a read-only keyring, or one that
// failed because the folder cannot be written (the item is unchanged).
type readOnlyError struct {
	dir, why string
}

func (e *readOnlyError) Error() string {
	return fmt.Sprintf("the file keyring at %s is read-only (%s); nothing was changed: make the folder writable (or free disk space) and try again",
		e.dir, e.why)
}

// reason is an I/O error's cause without the path (the folder is named
// beside it).
func reason(err error) string {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err.Error()
	case errors.As(err, &le):
		return le.Err.Error()
	}
	return err.Error()
}

// Set implements keyring.Keyring: the item is replaced atomically.
func (k *fileKeyring) Set(it keyring.Item) error {
	if !itemName(it.Key) {
		return fmt.Errorf("file keyring: %q is not an item name", it.Key)
	}
	if k.readOnly != "" || k.key == nil {
		return &readOnlyError{dir: k.dir, why: k.readOnly}
	}
	err := writeAtomic(k.dir, it.Key, k.key.encodeItem(it.Key, it.Data))
	if isNoSpace(err) || isNotWritable(err) {
		return &readOnlyError{dir: k.dir, why: reason(err)}
	}
	return err
}

// Remove implements keyring.Keyring.
func (k *fileKeyring) Remove(name string) error {
	if !itemName(name) {
		return keyring.ErrKeyNotFound
	}
	if k.readOnly != "" {
		if _, err := os.Stat(filepath.Join(k.dir, name)); errors.Is(err, fs.ErrNotExist) {
			return keyring.ErrKeyNotFound
		}
		return &readOnlyError{dir: k.dir, why: k.readOnly}
	}
	err := os.Remove(filepath.Join(k.dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return keyring.ErrKeyNotFound
	case isNotWritable(err):
		return &readOnlyError{dir: k.dir, why: reason(err)}
	case err != nil:
		return err
	}
	return syncDir(k.dir)
}

// Keys implements keyring.Keyring: the item files of the folder.
func (k *fileKeyring) Keys() ([]string, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, e := range entries {
		if itemName(e.Name()) && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// itemName tells an item's file name from the backend's own files.
func itemName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "#") && !strings.ContainsAny(name, `/\`) && name != "." && name != ".."
}

// writableCheck is checkWritable; tests that run as root (who may write
// anywhere) replace it.
var writableCheck = checkWritable

// checkWritable tells whether items can be written in dir: it creates,
// writes and removes a temporary file (nothing is fsynced). The error says
// why not.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, tempPrefix)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte{0})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	os.Remove(f.Name())
	return err
}

// removeStaleTemps removes what writes cut short by a crash left behind:
// temporary files older than an hour (a write takes milliseconds).
func removeStaleTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
