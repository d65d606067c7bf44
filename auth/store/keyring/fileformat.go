package keyring

// The file backend's formats.
//
// The folder's header, "#keyring.json", written once when the keyring is
// created (or first opened by this release) and never changed:
//
//	{"format":"mailcal file keyring","version":1,"kdf":"argon2id",
//	 "time":2,"memory_kib":19456,"threads":1,"salt":B64,"check":B64}
//
// The key is Argon2id(passphrase, salt) with those parameters (one of
// OWASP's equivalent recommendations: 19 MiB, two passes, about 50 ms;
// the header keeps them, so a later release can raise them for new
// keyrings), derived once per process and
// keyring; "check" is an AES-256-GCM box of a known text that tells a wrong
// passphrase at open, whatever the items.
//
// An item file, one per key, named by codec (file name = item name):
//
//	"MCK1" | key id (8 bytes) | name length (2 bytes, big endian) | name |
//	nonce (12 bytes) | AES-256-GCM(value), with everything before the nonce
//	as additional data
//
// The key id (the first 8 bytes of HMAC-SHA256(key, "mailcal keyring key
// id")) tells an item encrypted under another passphrase or keyring from a
// damaged one; the name, authenticated, tells an item copied or renamed from
// another key.
//
// Items of the previous release (99designs/keyring's file backend: a JWE,
// PBES2-HS256+A128KW with A256GCM, of the JSON of a keyring.Item) are read
// as they are and written in this format on their next write.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/99designs/keyring"
	jose "github.com/dvsekhvalnov/jose2go"
	"golang.org/x/crypto/argon2"
)

const (
	headerName   = "#keyring.json"
	headerFormat = "mailcal file keyring"
	itemMagic    = "MCK1"
	checkText    = "mailcal file keyring check"
	nonceLen     = 12
	keyIDLen     = 8
)

// kdfParams are the Argon2id parameters of a header.
type kdfParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// newKDF is what a new header gets.
var newKDF = kdfParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

type fileHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	KDF     string `json:"kdf"`
	kdfParams
	Salt  []byte `json:"salt"`
	Check []byte `json:"check"`
}

// fileKey is a keyring's derived key, ready to use.
type fileKey struct {
	aead cipher.AEAD
	id   [keyIDLen]byte
}

// derived caches keys by (salt, parameters, passphrase): a process derives
// each keyring's key once, however often it opens it. n counts derivations.
var derived struct {
	mu   sync.Mutex
	keys map[[32]byte]*fileKey
	n    int
}

func deriveKey(password string, salt []byte, p kdfParams) (*fileKey, error) {
	if p.Time < 1 || p.Time > 16 || p.MemoryKiB < 8*1024 || p.MemoryKiB > 1024*1024 || p.Threads < 1 {
		return nil, fmt.Errorf("unsupported key derivation parameters %+v", p)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d/%d/%d/%x/", p.Time, p.MemoryKiB, p.Threads, salt)
	h.Write([]byte(password))
	var ck [32]byte
	h.Sum(ck[:0])
	derived.mu.Lock()
	defer derived.mu.Unlock()
	if k := derived.keys[ck]; k != nil {
		return k, nil
	}
	derived.n++
	raw := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &fileKey{aead: aead}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("mailcal keyring key id"))
	copy(k.id[:], mac.Sum(nil))
	if derived.keys == nil || len(derived.keys) > 64 {
		derived.keys = map[[32]byte]*fileKey{}
	}
	derived.keys[ck] = k
	return k, nil
}

// newHeader makes the header of a new keyring, and its key.
func newHeader(password string) ([]byte, *fileKey, error) {
	h := fileHeader{Format: headerFormat, Version: 1, KDF: "argon2id", kdfParams: newKDF, Salt: make([]byte, 16)}
	rand.Read(h.Salt)
	k, err := deriveKey(password, h.Salt, h.kdfParams)
	if err != nil {
		return nil, nil, err
	}
	h.Check = k.seal([]byte(checkText), []byte(headerName))
	data, err := json.Marshal(h)
	return data, k, err
}

// errWrongPassphrase: the header's check does not open with the key.
var errWrongPassphrase = errors.New("wrong passphrase")

// openHeader reads a header and derives its key; errWrongPassphrase if the
// passphrase is not the keyring's.
func openHeader(data []byte, password string) (*fileKey, error) {
	var h fileHeader
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("it is not the JSON of a header (%v)", sanitize(err))
	}
	if h.Format != headerFormat || h.Version != 1 || h.KDF != "argon2id" || len(h.Salt) < 16 {
		return nil, fmt.Errorf("format %q version %d, key derivation %q: not one this release reads", clip(h.Format), h.Version, clip(h.KDF))
	}
	k, err := deriveKey(password, h.Salt, h.kdfParams)
	if err != nil {
		return nil, err
	}
	if got, err := k.open(h.Check, []byte(headerName)); err != nil || string(got) != checkText {
		return nil, errWrongPassphrase
	}
	return k, nil
}

// seal is nonce | AES-GCM(plain) with additional data ad.
func (k *fileKey) seal(plain, ad []byte) []byte {
	nonce := make([]byte, nonceLen, nonceLen+len(plain)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plain, ad)
}

func (k *fileKey) open(box, ad []byte) ([]byte, error) {
	if len(box) < nonceLen+k.aead.Overhead() {
		return nil, errors.New("too short")
	}
	return k.aead.Open(nil, box[:nonceLen], box[nonceLen:], ad)
}

// encodeItem is the file of item name holding value.
func (k *fileKey) encodeItem(name string, value []byte) []byte {
	head := make([]byte, 0, len(itemMagic)+keyIDLen+2+len(name))
	head = append(head, itemMagic...)
	head = append(head, k.id[:]...)
	head = binary.BigEndian.AppendUint16(head, uint16(len(name)))
	head = append(head, name...)
	return append(head, k.seal(value, head)...)
}

// badItem is why an item file cannot be read; file.go turns it into the
// store's itemError, naming the item.
type badItem struct{ why string }

func (e *badItem) Error() string { return e.why }

// isLegacy tells an item file of the previous release: a JWE, whose
// header starts with the base64url of `{"`.
func isLegacy(data []byte) bool { return bytes.HasPrefix(data, []byte("eyJ")) }

// decodeItem reads the item file data of name, in this format, with key k
// (nil: the folder has no header, so no item can be in this format). Items
// of the previous format go to decodeLegacy.
func decodeItem(k *fileKey, name string, data []byte) ([]byte, error) {
	switch {
	case len(data) == 0:
		return nil, &badItem{"is empty (0 bytes): a write was cut short by an earlier release, which wrote items in place"}
	case !bytes.HasPrefix(data, []byte(itemMagic)):
		return nil, &badItem{"is damaged: not a keyring item"}
	}
	rest := data[len(itemMagic):]
	if len(rest) < keyIDLen+2 {
		return nil, &badItem{"is damaged: cut short"}
	}
	id, n := rest[:keyIDLen], int(binary.BigEndian.Uint16(rest[keyIDLen:]))
	rest = rest[keyIDLen+2:]
	if len(rest) < n {
		return nil, &badItem{"is damaged: cut short"}
	}
	if got := string(rest[:n]); got != name {
		return nil, &badItem{fmt.Sprintf("holds the item %q: copied or renamed from another item, not trusted", clip(got))}
	}
	if k == nil {
		return nil, &badItem{fmt.Sprintf("cannot be decrypted: the keyring's header %s, which holds the salt of its key, is missing", headerName)}
	}
	if !bytes.Equal(id, k.id[:]) {
		return nil, &badItem{"was encrypted with another passphrase or another keyring's key (copied from another keyring?), not this keyring's"}
	}
	plain, err := k.open(rest[n:], data[:len(itemMagic)+keyIDLen+2+n])
	if err != nil {
		return nil, &badItem{"is damaged: its content does not authenticate (changed or cut short)"}
	}
	return plain, nil
}

// errLegacyKey: a previous-release item whose key does not unwrap with the
// passphrase (the passphrase is not the one it was written with, or the
// item is damaged there).
var errLegacyKey = &badItem{"could not be decrypted: it was written (by an earlier release) with another passphrase than this keyring's, or is damaged"}

// decodeLegacy reads an item written by 99designs/keyring's file backend.
// The header is checked first: no other algorithm, no compression, and a
// bounded PBKDF2 iteration count, whatever a damaged item says.
func decodeLegacy(password, name string, data []byte) (value []byte, err error) {
	damaged := &badItem{"is damaged: not a keyring item of the previous format"}
	token := strings.TrimSpace(string(data))
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		return nil, damaged
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg string  `json:"alg"`
		Enc string  `json:"enc"`
		Zip string  `json:"zip"`
		P2c float64 `json:"p2c"`
	}
	if err != nil || json.Unmarshal(hb, &h) != nil || h.Alg != string(jose.PBES2_HS256_A128KW) || h.Enc != string(jose.A256GCM) ||
		h.Zip != "" || h.P2c < 1 || h.P2c > 1e6 {
		return nil, damaged
	}
	defer func() {
		if recover() != nil {
			value, err = nil, damaged
		}
	}()
	payload, _, err := jose.DecodeBytes(token, password)
	if err != nil {
		if strings.Contains(err.Error(), "KeyUnwrap") {
			return nil, errLegacyKey
		}
		return nil, damaged
	}
	var it keyring.Item
	if json.Unmarshal(payload, &it) != nil {
		return nil, damaged
	}
	if it.Key != name {
		return nil, &badItem{fmt.Sprintf("holds the item %q: copied or renamed from another item, not trusted", clip(it.Key))}
	}
	if it.Data == nil {
		it.Data = []byte{}
	}
	return it.Data, nil
}
