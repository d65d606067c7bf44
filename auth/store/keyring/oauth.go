package keyring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// The Store implements store.OAuthServer (items in oauthitems.go). Every
// write runs under the keyring's "store" lock, as the other compare-and-set
// sequences do, so each method is atomic among the processes sharing the
// keyring; reads take no lock (each item is written atomically).
var _ store.OAuthServer = (*Store)(nil)

// PutOAuthClient implements store.OAuthServer. A client whose item would not
// fit in a keyring item is refused before anything is written.
func (s *Store) PutOAuthClient(ctx context.Context, c store.OAuthClient) error {
	if err := store.ValidOAuthClient(c); err != nil {
		return err
	}
	data, err := encodeClient(c)
	if err != nil {
		return err
	}
	key := oauthClientKey(c.ID)
	return s.create(ctx, key, data, func() (bool, error) {
		old, err := s.read(ctx, key)
		if errors.Is(err, store.ErrDamaged) {
			return true, nil // taken, if only by a damaged item
		}
		return old != nil, err
	}, "OAuth client "+clip(c.ID))
}

// GetOAuthClient implements store.OAuthServer.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error) {
	if err := store.ValidOAuthClient(store.OAuthClient{ID: id}); err != nil {
		return store.OAuthClient{}, err
	}
	key := oauthClientKey(id)
	data, err := s.read(ctx, key)
	if err != nil {
		return store.OAuthClient{}, err
	}
	if data == nil {
		return store.OAuthClient{}, fmt.Errorf("OAuth client %s: %w", clip(id), store.ErrNotFound)
	}
	c, err := decodeClient(key, data)
	if err == nil && c.ID != id {
		err = mismatch(key, fmt.Sprintf("OAuth client %q", clip(c.ID)))
	}
	return c, err
}

func tokenNotFound(hash string) error {
	return fmt.Errorf("OAuth token %s…: %w", hash[:8], store.ErrNotFound)
}

// getFamily reads a family's head; nil if there is none.
func (s *Store) getFamily(ctx context.Context, family string) (*familyItem, error) {
	return s.readFamily(ctx, oauthFamilyKey(family))
}

// readFamily reads the head at key (one listed under oauth-family/); nil
// if there is none.
func (s *Store) readFamily(ctx context.Context, key string) (*familyItem, error) {
	data, err := s.read(ctx, key)
	if err != nil || data == nil {
		return nil, err
	}
	f, err := decodeFamily(key, data)
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// getToken reads a token and its family's head; nil if there is no token,
// or if its family is revoked (a revocation a crash cut short leaves
// tokens behind: they are gone all the same).
func (s *Store) getToken(ctx context.Context, hash string) (*store.OAuthToken, error) {
	key := oauthTokenKey(hash)
	data, err := s.read(ctx, key)
	if err != nil || data == nil {
		return nil, err
	}
	t, err := decodeToken(key, data)
	if err != nil {
		return nil, err
	}
	f, err := s.getFamily(ctx, t.Family)
	if err != nil {
		return nil, fmt.Errorf("OAuth token %s…: its family: %w", hash[:8], err) // fail closed
	}
	if f != nil && f.revoked() {
		return nil, nil
	}
	return &t, nil
}

// PutOAuthToken implements store.OAuthServer. A token whose item would not
// fit in a keyring item is refused before anything is written.
func (s *Store) PutOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if err := store.ValidOAuthToken(t); err != nil {
		return err
	}
	data, err := encodeToken(t)
	if err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := s.read(ctx, oauthTokenKey(t.Hash))
	if errors.Is(err, store.ErrDamaged) || (err == nil && old != nil) {
		return fmt.Errorf("OAuth token %s…: %w", t.Hash[:8], store.ErrExists)
	}
	if err != nil {
		return err
	}
	head, err := s.getFamily(ctx, t.Family)
	if err != nil {
		return err // a damaged head refuses new tokens (fail closed); PruneOAuth does not remove it
	}
	f := familyItem{Family: t.Family, Tenant: t.Tenant}
	if head != nil {
		f = *head
	}
	switch {
	case f.revoked():
		return fmt.Errorf("OAuth token %s…: its family is revoked: %w", t.Hash[:8], store.ErrConflict)
	case f.Tenant != t.Tenant:
		return fmt.Errorf("OAuth token %s…: its family belongs to another tenant: %w", t.Hash[:8], store.ErrConflict)
	}
	// Head, member, token, in this order: see oauthitems.go.
	changed := head == nil
	if client := clientDigest(t.Client); head == nil {
		f.Clients = []string{client}
	} else if f.Clients != nil && !slices.Contains(f.Clients, client) {
		// A head without clients predates them: PruneOAuthClients reads
		// its tokens instead, so it stays without.
		f.Clients, changed = append(slices.Clip(f.Clients), client), true
	}
	if t.Account != "" {
		if a := (familyAccount{Provider: t.Provider, Account: t.Account}); !slices.Contains(f.Accounts, a) {
			f.Accounts, changed = append(slices.Clip(f.Accounts), a), true
		}
	}
	if t.ExpiresAt.After(f.ExpiresAt) {
		f.ExpiresAt, changed = t.ExpiresAt, true
	}
	if changed {
		fdata, err := encodeFamily(f)
		if err != nil {
			return err
		}
		if err := s.kv.Set(ctx, oauthFamilyKey(t.Family), fdata); err != nil {
			return err
		}
	}
	if err := s.kv.Set(ctx, oauthMemberKey(t.Family, t.ExpiresAt, t.Hash), []byte{}); err != nil {
		return err
	}
	return s.kv.Set(ctx, oauthTokenKey(t.Hash), data)
}

// GetOAuthToken implements store.OAuthServer. A token of a revoked family
// is not found.
func (s *Store) GetOAuthToken(ctx context.Context, hash string) (store.OAuthToken, error) {
	if err := store.ValidOAuthHash(hash); err != nil {
		return store.OAuthToken{}, err
	}
	t, err := s.getToken(ctx, hash)
	if err != nil {
		return store.OAuthToken{}, err
	}
	if t == nil {
		return store.OAuthToken{}, tokenNotFound(hash)
	}
	return *t, nil
}

// SpendOAuthToken implements store.OAuthServer: a read and a write under the
// store lock.
func (s *Store) SpendOAuthToken(ctx context.Context, hash string, at time.Time) (store.OAuthToken, bool, error) {
	if err := store.ValidOAuthHash(hash); err != nil {
		return store.OAuthToken{}, false, err
	}
	if at.IsZero() {
		return store.OAuthToken{}, false, fmt.Errorf("OAuth token %s…: spending needs a time", hash[:8])
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return store.OAuthToken{}, false, err
	}
	defer unlock()
	t, err := s.getToken(ctx, hash)
	if err != nil {
		return store.OAuthToken{}, false, err
	}
	if t == nil {
		return store.OAuthToken{}, false, tokenNotFound(hash)
	}
	if !t.SpentAt.IsZero() {
		return *t, false, nil
	}
	spent := *t
	spent.SpentAt = at.UTC()
	data, err := marshalToken(spent) // fits: encodeToken counted a spent time
	if err != nil {
		return store.OAuthToken{}, false, err
	}
	if err := s.kv.Set(ctx, oauthTokenKey(hash), data); err != nil {
		return store.OAuthToken{}, false, err
	}
	return *t, true, nil
}

// DeleteOAuthToken implements store.OAuthServer. It deletes a damaged item
// too (its member, whose name it cannot know, goes when it expires).
func (s *Store) DeleteOAuthToken(ctx context.Context, hash string) error {
	if err := store.ValidOAuthHash(hash); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	key := oauthTokenKey(hash)
	data, err := s.read(ctx, key)
	if err != nil && !errors.Is(err, store.ErrDamaged) {
		return err
	}
	if err == nil && data == nil {
		return tokenNotFound(hash)
	}
	var t *store.OAuthToken
	if err == nil {
		if d, err := decodeToken(key, data); err == nil {
			t = &d
		}
	}
	// The token before its member: a crash in between leaves a member
	// without a token, never a token no family lists.
	if err := s.kv.Delete(ctx, key); errors.Is(err, ErrNotFound) {
		return tokenNotFound(hash)
	} else if err != nil {
		return err
	}
	if t != nil {
		if err := s.kv.Delete(ctx, oauthMemberKey(t.Family, t.ExpiresAt, hash)); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
