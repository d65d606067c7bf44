package keyring

// Pruning registered OAuth clients that no token names (the layout is in
// oauthitems.go).
//
// Which clients are in use is read from the families' heads, each of which
// names the clients of its tokens (PutOAuthToken writes the head before
// the token), not from the tokens: a family rotating its refresh token
// keeps hundreds of spent ones, and the heads are few and read on every
// PruneOAuth pass already. A head written before heads named clients, or
// a damaged one, is read through its family's tokens instead. Revoked
// families are passed over: their tokens are deleted, or taken as gone.
//
// The heads are read without the store lock. The deletes take it, a batch
// of clients at a time, and under it read the heads of families begun
// since (no token is put meanwhile), so a client whose first sign-in began
// while the prune ran is kept. What can still slip through: a token of
// another client put into a family begun earlier (mailcal never mixes
// clients in a family), which then names a pruned client, as the contract
// allows.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// pruneClientBatch is how many clients one hold of the store lock deletes
// at most, so that other writers are not held up for a long prune.
const pruneClientBatch = 100

// PruneOAuthClients implements store.OAuthServer.
func (s *Store) PruneOAuthClients(ctx context.Context, createdBefore time.Time) (int, error) {
	used := map[string]bool{} // client keys a token names
	seen := map[string]bool{} // heads read
	if err := s.clientsInUse(ctx, used, seen); err != nil {
		return 0, err
	}
	keys, err := s.kv.List(ctx, oauthClientPrefix)
	if err != nil {
		return 0, err
	}
	var unused []string
	for _, k := range keys {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	n := 0
	for len(unused) > 0 {
		batch := unused[:min(pruneClientBatch, len(unused))]
		unused = unused[len(batch):]
		m, err := s.pruneClients(ctx, batch, createdBefore, used, seen)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pruneClients deletes the clients among keys created before createdBefore
// that no family read so far, nor one begun since, names.
func (s *Store) pruneClients(ctx context.Context, keys []string, createdBefore time.Time, used, seen map[string]bool) (int, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if err := s.clientsInUse(ctx, used, seen); err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		if used[key] {
			continue
		}
		data, err := s.read(ctx, key)
		var c store.OAuthClient
		if err == nil && data != nil {
			c, err = decodeClient(key, data)
		}
		if err != nil {
			if skip(ctx, err) {
				continue // a damaged item is left for a person to look at
			}
			return n, err
		}
		if data == nil || !c.CreatedAt.Before(createdBefore) {
			continue
		}
		if err := s.kv.Delete(ctx, key); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// clientsInUse adds to used the key of every client named by a family
// whose head is not in seen, and adds those heads to seen.
func (s *Store) clientsInUse(ctx context.Context, used, seen map[string]bool) error {
	heads, err := s.kv.List(ctx, oauthFamilyPrefix)
	if err != nil {
		return err
	}
	for _, key := range heads {
		if seen[key] {
			continue
		}
		f, err := s.readFamily(ctx, key)
		if errors.Is(err, store.ErrDamaged) {
			slog.WarnContext(ctx, "keyring store: a damaged OAuth family head; its tokens name the clients kept", "item", key, "error", err.Error())
		}
		switch {
		case err != nil && !errors.Is(err, store.ErrDamaged):
			return err
		case err == nil && f == nil:
			// deleted since the list
		case err == nil && f.revoked():
			// its tokens are deleted, or gone all the same
		case err == nil && f.Clients != nil:
			for _, c := range f.Clients {
				used[oauthClientPrefix+c] = true
			}
		default: // a head that predates clients, or is damaged
			if err := s.clientsOfTokens(ctx, strings.TrimPrefix(key, oauthFamilyPrefix), used); err != nil {
				return err
			}
		}
		seen[key] = true
	}
	return nil
}

// clientsOfTokens adds to used the key of the client of each token of a
// family, read through its members. A damaged token is passed over, with
// a warning: its client cannot be known.
func (s *Store) clientsOfTokens(ctx context.Context, family string, used map[string]bool) error {
	if store.ValidOAuthFamily(family) != nil {
		return nil // not a key PutOAuthToken writes: it has no members
	}
	members, err := s.kv.List(ctx, oauthMembersPrefix(family))
	if err != nil {
		return err
	}
	for _, k := range members {
		m, ok := parseMember(k)
		if !ok || m.family != family {
			continue
		}
		key := oauthTokenKey(m.hash)
		data, err := s.read(ctx, key)
		var t store.OAuthToken
		if err == nil && data != nil {
			t, err = decodeToken(key, data)
		}
		if err != nil {
			if skip(ctx, err) {
				continue
			}
			return err
		}
		if data != nil {
			used[oauthClientKey(t.Client)] = true
		}
	}
	return nil
}
