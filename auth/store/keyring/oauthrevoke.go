package keyring

// Revoking and pruning the OAuth server's tokens (the layout and the order
// of writes are in oauthitems.go).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// RevokeOAuthFamily implements store.OAuthServer.
func (s *Store) RevokeOAuthFamily(ctx context.Context, family string, until time.Time) (int, error) {
	if err := store.ValidOAuthFamily(family); err != nil {
		return 0, err
	}
	if until.IsZero() {
		return 0, fmt.Errorf("OAuth token family %s: a revocation needs the time until which it holds", family)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	f, err := s.getFamily(ctx, family)
	if errors.Is(err, store.ErrDamaged) {
		// Revoke all the same: a fresh mark replaces the damaged head
		// (its tenant and accounts are lost; the tokens are deleted now).
		f, err = nil, nil
	}
	if err != nil {
		return 0, err
	}
	if f == nil {
		f = &familyItem{Family: family}
	}
	return s.revoke(ctx, *f, until)
}

// revoke marks a family revoked until `until`, or a later time it was
// marked until already or its tokens' latest expiry (the contract keeps
// the mark at least that long), then deletes its tokens, each before its
// member. The caller holds the store lock.
func (s *Store) revoke(ctx context.Context, f familyItem, until time.Time) (int, error) {
	for _, t := range []time.Time{until, f.ExpiresAt} {
		if t.After(f.RevokedUntil) {
			f.RevokedUntil = t
		}
	}
	data, err := encodeFamily(f)
	if err != nil {
		return 0, err
	}
	if err := s.kv.Set(ctx, oauthFamilyKey(f.Family), data); err != nil {
		return 0, err
	}
	keys, err := s.kv.List(ctx, oauthMembersPrefix(f.Family))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		m, ok := parseMember(k)
		if !ok || m.family != f.Family {
			continue
		}
		gone, err := s.deleteMember(ctx, m)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// deleteMember deletes a member's token, then the member; gone reports
// whether there was a token.
func (s *Store) deleteMember(ctx context.Context, m member) (gone bool, err error) {
	err = s.kv.Delete(ctx, oauthTokenKey(m.hash))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	gone = err == nil
	if err := s.kv.Delete(ctx, m.key); err != nil && !errors.Is(err, ErrNotFound) {
		return gone, err
	}
	return gone, nil
}

// RevokeOAuthAccount implements store.OAuthServer: it reads every family's
// head and revokes those holding tokens of k, until their last token would
// have expired.
func (s *Store) RevokeOAuthAccount(ctx context.Context, k store.GrantKey) (int, error) {
	if err := store.ValidGrantKey(k); err != nil {
		return 0, err
	}
	return s.revokeWhere(ctx, func(f *familyItem) bool { return f.has(k) })
}

// RevokeOAuthTenant implements store.OAuthServer, as RevokeOAuthAccount does
// for every family of the tenant.
func (s *Store) RevokeOAuthTenant(ctx context.Context, tenant string) (int, error) {
	if err := store.ValidTenant(tenant); err != nil {
		return 0, err
	}
	return s.revokeWhere(ctx, func(f *familyItem) bool { return f.Tenant == tenant })
}

func (s *Store) revokeWhere(ctx context.Context, match func(*familyItem) bool) (int, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	keys, err := s.kv.List(ctx, oauthFamilyPrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		f, err := s.readFamily(ctx, key)
		if err != nil {
			if skip(ctx, err) {
				continue // a damaged head: its tokens cannot be attributed
			}
			return n, err
		}
		if f == nil || !match(f) {
			continue
		}
		until := f.ExpiresAt
		if until.IsZero() {
			until = time.Now() // not written by PutOAuthToken, which sets it
		}
		m, err := s.revoke(ctx, *f, until)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// PruneOAuth implements store.OAuthServer. It finds expired tokens by their
// members' names and takes the store lock once per family, so that other
// writers are not held up for the whole prune.
func (s *Store) PruneOAuth(ctx context.Context, before time.Time) (int, error) {
	keys, err := s.kv.List(ctx, oauthMemberPrefix)
	if err != nil {
		return 0, err
	}
	cutoff := before.Unix() // a member's second below it: expired; equal: read the token
	byFamily := map[string][]member{}
	var families []string
	for _, k := range keys {
		m, ok := parseMember(k)
		if !ok || m.expires > cutoff {
			continue
		}
		if byFamily[m.family] == nil {
			families = append(families, m.family)
		}
		byFamily[m.family] = append(byFamily[m.family], m)
	}
	n := 0
	for _, family := range families {
		pruned, err := s.pruneMembers(ctx, byFamily[family], before)
		n += pruned
		if err != nil {
			return n, err
		}
	}
	heads, err := s.kv.List(ctx, oauthFamilyPrefix)
	if err != nil {
		return n, err
	}
	for _, key := range heads {
		mark, err := s.pruneHead(ctx, key, before)
		if mark {
			n++
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pruneMembers deletes the tokens among ms that expired before `before`.
func (s *Store) pruneMembers(ctx context.Context, ms []member, before time.Time) (int, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n := 0
	for _, m := range ms {
		if m.expires == before.Unix() {
			// The same second as `before`: the token's own expiry decides.
			data, err := s.read(ctx, oauthTokenKey(m.hash))
			if err != nil && !errors.Is(err, store.ErrDamaged) {
				return n, err
			}
			if err == nil && data != nil {
				if t, err := decodeToken(oauthTokenKey(m.hash), data); err == nil && !t.ExpiresAt.Before(before) {
					continue
				}
			}
		}
		gone, err := s.deleteMember(ctx, m)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// pruneHead deletes a family's head whose revocation mark ended before
// `before` (mark reports it), or, for a family not revoked, whose every
// token expired before it. Damaged heads are left, with a warning.
func (s *Store) pruneHead(ctx context.Context, key string, before time.Time) (mark bool, err error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	f, err := s.readFamily(ctx, key)
	if err != nil {
		if skip(ctx, err) {
			return false, nil
		}
		return false, err
	}
	switch {
	case f == nil:
		return false, nil
	case f.revoked() && f.RevokedUntil.Before(before):
		mark = true
	case !f.revoked() && f.ExpiresAt.Before(before):
	default:
		return false, nil
	}
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return mark, nil
}
