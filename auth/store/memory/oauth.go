package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

var _ store.OAuthServer = (*Store)(nil)

// oauthFamily is what the store keeps of a family besides its tokens: the
// latest expiry of any token put in it (a revocation by account or tenant
// keeps the family revoked that long) and, once revoked, until when.
type oauthFamily struct {
	expires time.Time
	revoked time.Time // zero: not revoked
}

// PutOAuthClient implements store.OAuthServer.
func (s *Store) PutOAuthClient(ctx context.Context, c store.OAuthClient) error {
	if err := s.lock(ctx, store.ValidOAuthClient(c)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.oauthClients[c.ID]; ok {
		return fmt.Errorf("OAuth client %s: %w", c.ID, store.ErrExists)
	}
	c.Metadata = slices.Clone(c.Metadata)
	c.CreatedAt = c.CreatedAt.UTC()
	s.oauthClients[c.ID] = c
	return nil
}

// GetOAuthClient implements store.OAuthServer.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error) {
	if err := s.lock(ctx, store.ValidOAuthClient(store.OAuthClient{ID: id})); err != nil {
		return store.OAuthClient{}, err
	}
	defer s.mu.Unlock()
	c, ok := s.oauthClients[id]
	if !ok {
		return store.OAuthClient{}, fmt.Errorf("OAuth client %s: %w", id, store.ErrNotFound)
	}
	c.Metadata = slices.Clone(c.Metadata)
	return c, nil
}

// PutOAuthToken implements store.OAuthServer: under the store's mutex, so
// a put and its family's revocation never interleave.
func (s *Store) PutOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if err := s.lock(ctx, store.ValidOAuthToken(t)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	f := s.oauthFamilies[t.Family]
	if !f.revoked.IsZero() {
		return fmt.Errorf("OAuth token %s…: its family was revoked: %w", t.Hash[:8], store.ErrConflict)
	}
	if _, ok := s.oauthTokens[t.Hash]; ok {
		return fmt.Errorf("OAuth token %s…: %w", t.Hash[:8], store.ErrExists)
	}
	t.Scopes = slices.Clone(t.Scopes)
	t.CreatedAt, t.ExpiresAt = utc(t.CreatedAt), utc(t.ExpiresAt)
	t.SpentAt = utc(t.SpentAt)
	s.oauthTokens[t.Hash] = t
	if t.ExpiresAt.After(f.expires) {
		f.expires = t.ExpiresAt
	}
	s.oauthFamilies[t.Family] = f
	return nil
}

// GetOAuthToken implements store.OAuthServer.
func (s *Store) GetOAuthToken(ctx context.Context, hash string) (store.OAuthToken, error) {
	if err := s.lock(ctx, store.ValidOAuthHash(hash)); err != nil {
		return store.OAuthToken{}, err
	}
	defer s.mu.Unlock()
	t, ok := s.oauthTokens[hash]
	if !ok {
		return store.OAuthToken{}, fmt.Errorf("OAuth token %s…: %w", hash[:8], store.ErrNotFound)
	}
	t.Scopes = slices.Clone(t.Scopes)
	return t, nil
}

// SpendOAuthToken implements store.OAuthServer.
func (s *Store) SpendOAuthToken(ctx context.Context, hash string, at time.Time) (store.OAuthToken, bool, error) {
	valid := store.ValidOAuthHash(hash)
	if valid == nil && at.IsZero() {
		valid = fmt.Errorf("OAuth token %s…: spending needs a time", hash[:8])
	}
	if err := s.lock(ctx, valid); err != nil {
		return store.OAuthToken{}, false, err
	}
	defer s.mu.Unlock()
	t, ok := s.oauthTokens[hash]
	if !ok {
		return store.OAuthToken{}, false, fmt.Errorf("OAuth token %s…: %w", hash[:8], store.ErrNotFound)
	}
	first := t.SpentAt.IsZero()
	if first {
		spent := t
		spent.SpentAt = at.UTC()
		s.oauthTokens[hash] = spent
	}
	t.Scopes = slices.Clone(t.Scopes)
	return t, first, nil
}

// DeleteOAuthToken implements store.OAuthServer.
func (s *Store) DeleteOAuthToken(ctx context.Context, hash string) error {
	if err := s.lock(ctx, store.ValidOAuthHash(hash)); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.oauthTokens[hash]; !ok {
		return fmt.Errorf("OAuth token %s…: %w", hash[:8], store.ErrNotFound)
	}
	delete(s.oauthTokens, hash)
	return nil
}

// RevokeOAuthFamily implements store.OAuthServer. The mark lasts until
// `until` or the latest expiry of the family's tokens, whichever is later.
func (s *Store) RevokeOAuthFamily(ctx context.Context, family string, until time.Time) (int, error) {
	if err := s.lock(ctx, store.ValidOAuthFamily(family)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.revokeFamilies(map[string]bool{family: true}, utc(until)), nil
}

// RevokeOAuthAccount implements store.OAuthServer.
func (s *Store) RevokeOAuthAccount(ctx context.Context, k store.GrantKey) (int, error) {
	if err := s.lock(ctx, store.ValidGrantKey(k)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	families := map[string]bool{}
	for _, t := range s.oauthTokens {
		if t.Tenant == k.Tenant && t.Provider == k.Provider && t.Account == k.Account {
			families[t.Family] = true
		}
	}
	return s.revokeFamilies(families, time.Time{}), nil
}

// RevokeOAuthTenant implements store.OAuthServer.
func (s *Store) RevokeOAuthTenant(ctx context.Context, tenant string) (int, error) {
	if err := s.lock(ctx, store.ValidTenant(tenant)); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	families := map[string]bool{}
	for _, t := range s.oauthTokens {
		if t.Tenant == tenant {
			families[t.Family] = true
		}
	}
	return s.revokeFamilies(families, time.Time{}), nil
}

// revokeFamilies marks families revoked until `until` or their latest
// expiry, whichever is later, deletes their tokens and returns how many
// went. The caller holds s.mu.
func (s *Store) revokeFamilies(families map[string]bool, until time.Time) int {
	for fam := range families {
		f := s.oauthFamilies[fam]
		f.revoked = latest(f.revoked, f.expires, until)
		if f.revoked.IsZero() {
			f.revoked = time.Unix(0, 0).UTC()
		}
		s.oauthFamilies[fam] = f
	}
	n := 0
	for h, t := range s.oauthTokens {
		if families[t.Family] {
			delete(s.oauthTokens, h)
			n++
		}
	}
	return n
}

// PruneOAuth implements store.OAuthServer. A family that is not revoked
// and whose tokens have all expired goes too, uncounted: it is only the
// bookkeeping of its tokens' expiry.
func (s *Store) PruneOAuth(ctx context.Context, before time.Time) (int, error) {
	if err := s.lock(ctx, nil); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for h, t := range s.oauthTokens {
		if t.ExpiresAt.Before(before) {
			delete(s.oauthTokens, h)
			n++
		}
	}
	for fam, f := range s.oauthFamilies {
		switch {
		case !f.revoked.IsZero() && f.revoked.Before(before):
			delete(s.oauthFamilies, fam)
			n++
		case f.revoked.IsZero() && f.expires.Before(before):
			delete(s.oauthFamilies, fam)
		}
	}
	return n, nil
}

// PruneOAuthClients implements store.OAuthServer under the store's mutex:
// no token is put while it runs, so none names a client it deletes.
func (s *Store) PruneOAuthClients(ctx context.Context, createdBefore time.Time) (int, error) {
	if err := s.lock(ctx, nil); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	used := map[string]bool{}
	for _, t := range s.oauthTokens {
		used[t.Client] = true
	}
	n := 0
	for id, c := range s.oauthClients {
		if c.CreatedAt.Before(createdBefore) && !used[id] {
			delete(s.oauthClients, id)
			n++
		}
	}
	return n, nil
}

// utc is t in UTC, a zero time kept zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// latest is the latest of times.
func latest(times ...time.Time) time.Time {
	var out time.Time
	for _, t := range times {
		if t.After(out) {
			out = t
		}
	}
	return out
}
