package keyring

// The OAuth server's records (store.OAuthServer) as keyring items:
//
//	oauth-client/<hex SHA-256 of the client id>      {"id","secret_hash","metadata"|"metadata_text","created_at"}
//	oauth-token/<hash>                               {"hash","kind","family","tenant","provider","account","client",
//	                                                  "resource","scopes","redirect_uri","challenge","state",
//	                                                  "created_at","expires_at","spent_at"}
//	oauth-family/<family>                            {"family","tenant","accounts","clients","expires_at","revoked_until"}
//	oauth-member/<family>/<unix expiry>.<hash>       empty: token <hash> belongs to <family>
//
// A token is found by its hash in one read. A family is found two ways:
// its members by listing oauth-member/<family>/ (names only: the file
// backend reads its folder, decrypting nothing), which revocation and
// pruning use; its head, oauth-family/<family>, names its tenant and
// accounts (for RevokeOAuthAccount and RevokeOAuthTenant, which read every
// head), the clients its tokens name (the digest of each id, as in the
// client's key: PruneOAuthClients reads the heads, not every token), the
// latest expiry of its tokens, and its revocation mark (revoked_until). A list of hashes in the head would outgrow an item: a
// family rotating its refresh token every 15 minutes for 90 days has
// thousands of tokens. The member's name carries the token's expiry (Unix
// seconds, rounded down) so that PruneOAuth finds expired tokens without
// reading them.
//
// Order of writes, for crash safety (each write is atomic on its own, see
// Store): PutOAuthToken writes the head (tenant, account, client, expiry),
// then the member, then the token, so a token item always has a member and
// a head naming its account and client: a process killed in between
// leaves at most a member without a token, which revocation and pruning
// take as a token already gone. Revocation writes the mark first, then deletes each token before its
// member; GetOAuthToken and SpendOAuthToken read the head too and take a
// token of a marked family as gone, so a revocation cut short by a crash
// leaves no usable token. Deleting the head of an unrevoked family waits
// until every token put in it has expired (its "expires_at").
//
// A client id is hashed into its key: a metadata document's URL holds
// characters keys may not, and up to 1024 of them. The registered metadata
// is kept as JSON ("metadata") when it is compact JSON, which reads back
// byte for byte, else as a string ("metadata_text").
//
// Size. An item holds at most 2048 bytes (items.go). The contract allows
// more than that: a token with a 1024-byte client id, resource, redirect URI
// and state, and client metadata of 8 KiB. Records that do not fit are
// refused before anything is written, with an error that names the limit
// and the fields' sizes. A token's size is counted with a spent time, so a
// token that fits is never refused when it is spent. With the longest
// tenant, provider, family and account the contract allows, a token item is
// 861 bytes before its client id, resource, redirect URI, state and scopes:
// 1187 bytes are left for those (oauthitems_test.go checks it), where a
// metadata document's URL, the resource, a redirect URI and a state of 100
// bytes each take about 420 with the scope "mcp". A client item leaves
// 1874 bytes for the metadata (compact JSON) of a registered client with a
// 26-byte id and a secret.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

const (
	oauthClientPrefix = "oauth-client/"
	oauthTokenPrefix  = "oauth-token/"
	oauthFamilyPrefix = "oauth-family/"
	oauthMemberPrefix = "oauth-member/"
)

// latestTime is the longest time an item holds (RFC 3339 with
// nanoseconds), to count a token's size as it will be once spent.
var latestTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// clientDigest is the hex SHA-256 of a client id: its key's last segment,
// and how a family's head names its clients.
func clientDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func oauthClientKey(id string) string { return oauthClientPrefix + clientDigest(id) }

func oauthTokenKey(hash string) string { return oauthTokenPrefix + hash }

func oauthFamilyKey(family string) string { return oauthFamilyPrefix + family }

func oauthMembersPrefix(family string) string { return oauthMemberPrefix + family + "/" }

func oauthMemberKey(family string, expires time.Time, hash string) string {
	return oauthMembersPrefix(family) + strconv.FormatInt(expires.Unix(), 10) + "." + hash
}

// member is one oauth-member/ key, parsed.
type member struct {
	key, family, hash string
	expires           int64 // Unix seconds, rounded down
}

// parseMember reads a key under oauth-member/; false for a key that is not
// one of ours.
func parseMember(key string) (member, bool) {
	rest, ok := strings.CutPrefix(key, oauthMemberPrefix)
	family, last, ok2 := strings.Cut(rest, "/")
	secs, hash, ok3 := strings.Cut(last, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || !ok2 || !ok3 || err != nil || store.ValidOAuthFamily(family) != nil || store.ValidOAuthHash(hash) != nil {
		return member{}, false
	}
	return member{key: key, family: family, hash: hash, expires: n}, true
}

// --- clients ---

type clientItem struct {
	ID           string          `json:"id"`
	SecretHash   string          `json:"secret_hash,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	MetadataText *string         `json:"metadata_text,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
}

func encodeClient(c store.OAuthClient) ([]byte, error) {
	it := clientItem{ID: c.ID, SecretHash: c.SecretHash, CreatedAt: c.CreatedAt.UTC()}
	var compact bytes.Buffer
	switch {
	case c.Metadata == nil:
	case json.Valid(c.Metadata) && json.Compact(&compact, c.Metadata) == nil && bytes.Equal(compact.Bytes(), c.Metadata):
		it.Metadata = c.Metadata
	default:
		text := string(c.Metadata)
		it.MetadataText = &text
	}
	data, err := marshal(it)
	if err == nil && len(data) > maxValueLen {
		return nil, tooLarge("OAuth client "+clip(c.ID), len(data), fmt.Sprintf("a %d-byte client id and %d bytes of metadata", len(c.ID), len(c.Metadata)))
	}
	return data, err
}

func decodeClient(key string, data []byte) (store.OAuthClient, error) {
	var it clientItem
	if err := json.Unmarshal(data, &it); err != nil {
		return store.OAuthClient{}, damaged(key, err)
	}
	c := store.OAuthClient{ID: it.ID, SecretHash: it.SecretHash, Metadata: it.Metadata, CreatedAt: it.CreatedAt.UTC()}
	if it.MetadataText != nil {
		c.Metadata = []byte(*it.MetadataText)
	}
	if oauthClientKey(it.ID) != key || store.ValidOAuthClient(c) != nil {
		return store.OAuthClient{}, mismatch(key, fmt.Sprintf("OAuth client %q", clip(it.ID)))
	}
	return c, nil
}

// --- tokens ---

type tokenItem struct {
	Hash        string    `json:"hash"`
	Kind        string    `json:"kind"`
	Family      string    `json:"family"`
	Tenant      string    `json:"tenant"`
	Provider    string    `json:"provider,omitempty"`
	Account     string    `json:"account,omitempty"`
	Client      string    `json:"client"`
	Resource    string    `json:"resource,omitempty"`
	Scopes      []string  `json:"scopes"` // null and [] both kept
	RedirectURI string    `json:"redirect_uri,omitempty"`
	Challenge   string    `json:"challenge,omitempty"`
	State       string    `json:"state,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	SpentAt     time.Time `json:"spent_at,omitzero"`
}

func marshalToken(t store.OAuthToken) ([]byte, error) {
	return marshal(tokenItem{
		Hash: t.Hash, Kind: t.Kind, Family: t.Family, Tenant: t.Tenant, Provider: t.Provider, Account: t.Account,
		Client: t.Client, Resource: t.Resource, Scopes: t.Scopes, RedirectURI: t.RedirectURI, Challenge: t.Challenge,
		State: t.State, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), SpentAt: t.SpentAt.UTC(),
	})
}

// encodeToken is the item of a new token, refused if it would not fit
// once spent.
func encodeToken(t store.OAuthToken) ([]byte, error) {
	spent := t
	spent.SpentAt = latestTime
	worst, err := marshalToken(spent)
	if err != nil {
		return nil, err
	}
	if len(worst) > maxValueLen {
		scopeBytes := 0
		for _, s := range t.Scopes {
			scopeBytes += len(s)
		}
		return nil, tooLarge("OAuth token "+t.Hash[:8]+"…", len(worst), fmt.Sprintf(
			"a %d-byte client id, %d-byte resource, %d-byte redirect URI, %d-byte state, %d-byte account and %d scopes of %d bytes in all; counted as spent",
			len(t.Client), len(t.Resource), len(t.RedirectURI), len(t.State), len(t.Account), len(t.Scopes), scopeBytes))
	}
	return marshalToken(t)
}

func decodeToken(key string, data []byte) (store.OAuthToken, error) {
	var it tokenItem
	if err := json.Unmarshal(data, &it); err != nil {
		return store.OAuthToken{}, damaged(key, err)
	}
	t := store.OAuthToken{
		Hash: it.Hash, Kind: it.Kind, Family: it.Family, Tenant: it.Tenant, Provider: it.Provider, Account: it.Account,
		Client: it.Client, Resource: it.Resource, Scopes: it.Scopes, RedirectURI: it.RedirectURI, Challenge: it.Challenge,
		State: it.State, CreatedAt: it.CreatedAt.UTC(), ExpiresAt: it.ExpiresAt.UTC(), SpentAt: it.SpentAt.UTC(),
	}
	if store.ValidOAuthHash(it.Hash) != nil || oauthTokenKey(it.Hash) != key {
		return store.OAuthToken{}, mismatch(key, fmt.Sprintf("OAuth token %q", clip(it.Hash)))
	}
	if err := store.ValidOAuthToken(t); err != nil {
		return store.OAuthToken{}, &itemError{key: key, why: "is damaged: not a valid OAuth token record"}
	}
	return t, nil
}

// --- families ---

// familyAccount is an account a family's tokens were issued for.
type familyAccount struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
}

type familyItem struct {
	Family string `json:"family"`
	// Tenant is "" for a family revoked before any of its tokens was put.
	Tenant   string          `json:"tenant,omitempty"`
	Accounts []familyAccount `json:"accounts,omitempty"`
	// Clients are the clientDigest of each client its tokens name; nil in
	// a head written before heads named them (PruneOAuthClients then reads
	// the family's tokens).
	Clients []string `json:"clients,omitempty"`
	// ExpiresAt is the latest expiry of the tokens put in the family.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// RevokedUntil is the revocation mark; zero while the family is not
	// revoked.
	RevokedUntil time.Time `json:"revoked_until,omitzero"`
}

func (f *familyItem) revoked() bool { return !f.RevokedUntil.IsZero() }

// has reports whether the family holds tokens of k.
func (f *familyItem) has(k store.GrantKey) bool {
	return f.Tenant == k.Tenant && slices.Contains(f.Accounts, familyAccount{Provider: k.Provider, Account: k.Account})
}

func encodeFamily(f familyItem) ([]byte, error) {
	f.ExpiresAt, f.RevokedUntil = f.ExpiresAt.UTC(), f.RevokedUntil.UTC()
	data, err := marshal(f)
	if err == nil && len(data) > maxValueLen {
		return nil, tooLarge("OAuth token family "+f.Family, len(data), fmt.Sprintf("%d accounts", len(f.Accounts)))
	}
	return data, err
}

func decodeFamily(key string, data []byte) (familyItem, error) {
	var it familyItem
	if err := json.Unmarshal(data, &it); err != nil {
		return familyItem{}, damaged(key, err)
	}
	if store.ValidOAuthFamily(it.Family) != nil || oauthFamilyKey(it.Family) != key || (it.Tenant != "" && store.ValidTenant(it.Tenant) != nil) {
		return familyItem{}, mismatch(key, fmt.Sprintf("OAuth token family %q of tenant %q", clip(it.Family), clip(it.Tenant)))
	}
	it.ExpiresAt, it.RevokedUntil = it.ExpiresAt.UTC(), it.RevokedUntil.UTC()
	return it, nil
}
