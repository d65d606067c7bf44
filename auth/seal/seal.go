// Package seal encrypts refresh tokens for stores that keep them in the
// clear (a database): a grants.Sealer with a data key per tenant.
//
// Every token is sealed with AES-256-GCM under its tenant's 256-bit data
// key, with the tenant, provider and account as additional authenticated
// data: a sealed token copied into another tenant's or account's record
// does not open. The data keys are generated with crypto/rand and kept in
// the store (store.DataKeys) only wrapped, AES-256-GCM again, under a
// master key that never reaches the store, with the tenant and the master
// key's id as additional data. Changing the master key re-wraps the data
// keys (Rotate); the sealed tokens stay as they are.
//
// Formats (every integer big-endian, every length a uvarint):
//
//	sealed token: 0x01 | data key id (8) | nonce (12) | GCM ciphertext and tag
//	  AAD: "mailcal token v1" | 0x01 | data key id | len tenant | tenant | len provider | provider | len account | account
//	wrapped data key: 0x01 | data key id (8) | nonce (12) | GCM(data key) and tag
//	  AAD: "mailcal data key v1" | 0x01 | data key id | len tenant | tenant | len master key id | master key id
//
// The leading byte is the format's version, so that another cipher or
// layout can come later beside this one. The data key id is random, made
// with the key: it stays the same through rotations and tells a token
// sealed under a tenant's earlier key (a tenant removed and added again)
// from a damaged one.
//
// Nonces are random (96 bits): far below the 2^32 messages a GCM key may
// seal so, as a tenant's key seals one token per connection or rotation.
//
// Unwrapped data keys are kept in memory per process, bounded, and
// forgotten when a tenant is removed. The raw key bytes are zeroed once the
// cipher is made; the cipher's own key schedule cannot be zeroed from Go
// and is left to the garbage collector.
package seal

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

const (
	formatV1  = 0x01
	idSize    = 8
	nonceSize = 12
	tagSize   = 16
	header    = 1 + idSize + nonceSize
)

// ErrWrongMasterKey: a data key is wrapped under a master key this
// process does not hold (the configured key is not the one the store's
// keys were made with, or a rotation is under way and the other key is
// missing).
var ErrWrongMasterKey = errors.New("wrong master key")

// Options tune a Sealer; the zero value gives the defaults.
type Options struct {
	// MaxCached bounds the unwrapped data keys kept in memory (default
	// 4096 tenants); the least recently used goes first.
	MaxCached int
	// Recheck is how long a cached key is used for sealing before the
	// store is asked again whether it is still the tenant's key (default
	// 1 minute): a tenant removed and added again through another process
	// gets a new key.
	Recheck time.Duration
	// RecheckOpen is the same for opening (default 10 minutes): a token
	// names its key, so a cached key of that id opens it until then; past
	// it the store is asked again, so that a tenant removed through another
	// process drops out of this one's memory within that time.
	RecheckOpen time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Sealer is a grants.Sealer over a store's data keys. Safe for concurrent
// use.
type Sealer struct {
	keys                 store.DataKeys
	master               MasterKeys
	max                  int
	recheck, recheckOpen time.Duration
	now                  func() time.Time

	mu    sync.Mutex
	cache map[string]*list.Element // tenant → *dataKey in lru
	lru   list.List                // front: most recently used
}

type dataKey struct {
	tenant  string
	id      [idSize]byte
	aead    cipher.AEAD
	checked time.Time // when the store last said this is the tenant's key
}

// New returns a Sealer keeping its data keys in keys, wrapped under
// master.Current (master.Old also opens them, during a rotation).
func New(keys store.DataKeys, master MasterKeys, o Options) (*Sealer, error) {
	if !master.Set() {
		return nil, fmt.Errorf("encrypting refresh tokens needs a master key: set %s (or %s) to the base64 of 32 random bytes (openssl rand -base64 32)", EnvKey, EnvKeyFile)
	}
	s := &Sealer{keys: keys, master: master, max: o.MaxCached, recheck: o.Recheck, recheckOpen: o.RecheckOpen, now: o.Now, cache: map[string]*list.Element{}}
	if s.max <= 0 {
		s.max = 4096
	}
	if s.recheck <= 0 {
		s.recheck = time.Minute
	}
	if s.recheckOpen <= 0 {
		s.recheckOpen = 10 * time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Seal encrypts a refresh token for the account k under its tenant's data
// key, creating the tenant's first key if it has none.
func (s *Sealer) Seal(ctx context.Context, k store.GrantKey, plaintext []byte) ([]byte, error) {
	if err := validKey(k); err != nil {
		return nil, err
	}
	dk, err := s.current(ctx, k.Tenant)
	if err != nil {
		return nil, err
	}
	out := make([]byte, header, header+len(plaintext)+tagSize)
	out[0] = formatV1
	copy(out[1:], dk.id[:])
	if _, err := rand.Read(out[1+idSize : header]); err != nil {
		return nil, fmt.Errorf("making a nonce: %w", err)
	}
	return dk.aead.Seal(out, out[1+idSize:header], plaintext, tokenAAD(out[:1+idSize], k)), nil
}

// Open decrypts a token Seal made for the same account. A token of
// another account or tenant, or altered, fails with an error wrapping
// store.ErrDamaged.
func (s *Sealer) Open(ctx context.Context, k store.GrantKey, sealed []byte) ([]byte, error) {
	if err := validKey(k); err != nil {
		return nil, err
	}
	if len(sealed) < header+tagSize {
		return nil, fmt.Errorf("sealed token of %s: %d bytes, too short to be one: %w", k, len(sealed), store.ErrDamaged)
	}
	if sealed[0] != formatV1 {
		return nil, fmt.Errorf("sealed token of %s: format version %d, which this mailcal does not know (written by a newer one?): %w", k, sealed[0], store.ErrDamaged)
	}
	var id [idSize]byte
	copy(id[:], sealed[1:])
	dk, err := s.byID(ctx, k.Tenant, id)
	if err != nil {
		return nil, err
	}
	pt, err := dk.aead.Open(nil, sealed[1+idSize:header], sealed[header:], tokenAAD(sealed[:1+idSize], k))
	if err != nil {
		return nil, fmt.Errorf("sealed token of %s does not open under its tenant's data key (altered, or copied from another account's or tenant's record): %w", k, store.ErrDamaged)
	}
	return pt, nil
}

// Forget drops a tenant's key from memory (the tenant is being removed).
func (s *Sealer) Forget(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.cache[tenant]; e != nil {
		s.lru.Remove(e)
		delete(s.cache, tenant)
	}
}

// Destroy deletes a tenant's data key from the store and from memory:
// whatever was sealed under it can no longer be opened. A tenant without
// a key is not an error.
func (s *Sealer) Destroy(ctx context.Context, tenant string) error {
	s.Forget(tenant)
	err := s.keys.DeleteDataKey(ctx, tenant)
	s.Forget(tenant) // a load that raced the deletion
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("destroying the data key of tenant %s: %w", tenant, err)
	}
	return nil
}

// current returns the tenant's key for sealing: the cached one while the
// store confirmed it within Recheck, else the stored one, else a new one.
func (s *Sealer) current(ctx context.Context, tenant string) (*dataKey, error) {
	cached, checked := s.cached(tenant)
	if cached != nil && s.now().Sub(checked) < s.recheck {
		return cached, nil
	}
	for range 4 {
		rec, err := s.keys.GetDataKey(ctx, tenant)
		switch {
		case errors.Is(err, store.ErrNotFound):
			dk, err := s.create(ctx, tenant)
			if errors.Is(err, store.ErrConflict) {
				continue // another process made it first: use that one
			}
			return dk, err
		case err != nil:
			return nil, fmt.Errorf("reading the data key of tenant %s: %w", tenant, err)
		}
		if id, ok := wrappedID(rec.Wrapped); ok && cached != nil && id == cached.id {
			s.mu.Lock()
			cached.checked = s.now()
			s.mu.Unlock()
			return cached, nil
		}
		return s.unwrapAndCache(rec)
	}
	return nil, fmt.Errorf("the data key of tenant %s kept changing while it was read; try again", tenant)
}

// byID returns the tenant's key of that id, for opening.
func (s *Sealer) byID(ctx context.Context, tenant string, id [idSize]byte) (*dataKey, error) {
	cached, checked := s.cached(tenant)
	if cached != nil && cached.id == id && s.now().Sub(checked) < s.recheckOpen {
		return cached, nil
	}
	rec, err := s.keys.GetDataKey(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		s.Forget(tenant)
		return nil, fmt.Errorf("tenant %s has no data key (destroyed when the tenant was removed?): its sealed tokens cannot be opened: %w", tenant, store.ErrDamaged)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the data key of tenant %s: %w", tenant, err)
	}
	if sid, ok := wrappedID(rec.Wrapped); ok && cached != nil && sid == cached.id && sid == id {
		s.mu.Lock()
		cached.checked = s.now()
		s.mu.Unlock()
		return cached, nil
	}
	dk, err := s.unwrapAndCache(rec)
	if err != nil {
		return nil, err
	}
	if dk.id != id {
		return nil, fmt.Errorf("token sealed under data key %s of tenant %s, whose key is now %s (the tenant was removed and added again?): %w",
			hex.EncodeToString(id[:]), tenant, hex.EncodeToString(dk.id[:]), store.ErrDamaged)
	}
	return dk, nil
}

// create makes, wraps and stores a tenant's first key. ErrConflict: another
// process stored one first.
func (s *Sealer) create(ctx context.Context, tenant string) (*dataKey, error) {
	raw := make([]byte, KeySize)
	defer clear(raw)
	var id [idSize]byte
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("making a data key: %w", err)
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("making a data key: %w", err)
	}
	wrapped, err := wrap(s.master.Current, tenant, id, raw)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if _, err := s.keys.PutDataKey(ctx, store.DataKey{
		Tenant: tenant, MasterKeyID: s.master.Current.ID(), Wrapped: wrapped, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("storing the data key of tenant %s: %w", tenant, err)
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	return s.put(&dataKey{tenant: tenant, id: id, aead: aead, checked: s.now()}), nil
}

// unwrapAndCache opens a stored key with whichever master key it names.
func (s *Sealer) unwrapAndCache(rec store.DataKey) (*dataKey, error) {
	id, raw, err := s.master.unwrap(rec)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	return s.put(&dataKey{tenant: rec.Tenant, id: id, aead: aead, checked: s.now()}), nil
}

// cached returns the tenant's key in memory and when the store last
// confirmed it (checked changes under s.mu).
func (s *Sealer) cached(tenant string) (*dataKey, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.cache[tenant]
	if e == nil {
		return nil, time.Time{}
	}
	s.lru.MoveToFront(e)
	dk := e.Value.(*dataKey)
	return dk, dk.checked
}

// put caches dk as its tenant's key, evicting the least recently used
// beyond the bound.
func (s *Sealer) put(dk *dataKey) *dataKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.cache[dk.tenant]; e != nil {
		e.Value = dk
		s.lru.MoveToFront(e)
		return dk
	}
	s.cache[dk.tenant] = s.lru.PushFront(dk)
	for s.lru.Len() > s.max {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.cache, old.Value.(*dataKey).tenant)
	}
	return dk
}

// cachedLen reports how many keys are in memory (tests).
func (s *Sealer) cachedLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cache)
}

func validKey(k store.GrantKey) error {
	if err := store.ValidTenant(k.Tenant); err != nil {
		return err
	}
	if k.Provider == "" || k.Account == "" {
		return fmt.Errorf("sealing needs the provider and account of the grant (got %q, %q)", k.Provider, k.Account)
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func tokenAAD(head []byte, k store.GrantKey) []byte {
	b := make([]byte, 0, 16+len(head)+len(k.Tenant)+len(k.Provider)+len(k.Account)+8)
	b = append(b, "mailcal token v1"...)
	b = append(b, head...)
	for _, f := range []string{k.Tenant, k.Provider, k.Account} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func wrapAAD(id [idSize]byte, tenant, masterID string) []byte {
	b := make([]byte, 0, 64+len(tenant)+len(masterID))
	b = append(b, "mailcal data key v1"...)
	b = append(b, formatV1)
	b = append(b, id[:]...)
	for _, f := range []string{tenant, masterID} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// wrap encrypts a data key under a master key.
func wrap(m *MasterKey, tenant string, id [idSize]byte, raw []byte) ([]byte, error) {
	out := make([]byte, header, header+len(raw)+tagSize)
	out[0] = formatV1
	copy(out[1:], id[:])
	if _, err := rand.Read(out[1+idSize : header]); err != nil {
		return nil, fmt.Errorf("making a nonce: %w", err)
	}
	return m.aead.Seal(out, out[1+idSize:header], raw, wrapAAD(id, tenant, m.ID())), nil
}

// wrappedID reads the data key id of a wrapped key, if it is well formed.
func wrappedID(w []byte) (id [idSize]byte, ok bool) {
	if len(w) != header+KeySize+tagSize || w[0] != formatV1 {
		return id, false
	}
	copy(id[:], w[1:])
	return id, true
}

// holder returns the master key named id among those held.
func (k MasterKeys) holder(id string) *MasterKey {
	for _, m := range []*MasterKey{k.Current, k.Old} {
		if m != nil && m.ID() == id {
			return m
		}
	}
	return nil
}

// unwrap opens a stored data key: ErrWrongMasterKey when it is under a
// master key not held, store.ErrDamaged when it does not open under the
// one it names.
func (k MasterKeys) unwrap(rec store.DataKey) ([idSize]byte, []byte, error) {
	id, ok := wrappedID(rec.Wrapped)
	if !ok {
		return id, nil, fmt.Errorf("the data key of tenant %s is not in a format this mailcal knows: %w", rec.Tenant, store.ErrDamaged)
	}
	m := k.holder(rec.MasterKeyID)
	if m == nil {
		held := k.Current.ID() + " (" + EnvKey + ")"
		if k.Old != nil {
			held += " and " + k.Old.ID() + " (" + EnvKeyOld + ")"
		}
		return id, nil, fmt.Errorf("the data key of tenant %s is wrapped under master key %s, but this process holds %s: %w",
			rec.Tenant, rec.MasterKeyID, held, ErrWrongMasterKey)
	}
	raw, err := m.aead.Open(nil, rec.Wrapped[1+idSize:header], rec.Wrapped[header:], wrapAAD(id, rec.Tenant, m.ID()))
	if err != nil {
		return id, nil, fmt.Errorf("the data key of tenant %s does not open under master key %s, the one it names (altered, or copied from another tenant): %w",
			rec.Tenant, m.ID(), store.ErrDamaged)
	}
	return id, raw, nil
}
