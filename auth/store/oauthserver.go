package store

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// OAuthClient is a client of mailcal's own OAuth server registered through
// Dynamic Client Registration (RFC 7591). Clients identified by a Client ID
// Metadata Document (an https URL as client_id) are not stored: their
// document is fetched and cached per process.
type OAuthClient struct {
	// ID is the client_id mailcal issued ("mcc_" and random characters).
	ID string
	// SecretHash is the hex SHA-256 of the client secret; "" for a public
	// client (token_endpoint_auth_method "none").
	SecretHash string
	// Metadata is the registered metadata as mailcal answered it (JSON,
	// without the secret), at most MaxOAuthClientMetadata bytes.
	Metadata  []byte
	CreatedAt time.Time
}

// OAuth token kinds.
const (
	// OAuthRequest is an authorization request waiting for the person to
	// come back from their mail provider; its Hash is the upstream flow's
	// ID (FlowID of the upstream state), and it is spent once.
	OAuthRequest = "request"
	// OAuthCode is an authorization code, spent once.
	OAuthCode = "code"
	// OAuthAccess is an access token.
	OAuthAccess = "access"
	// OAuthRefresh is a refresh token, spent once (rotation): a second
	// spend is a reuse, and its family is revoked.
	OAuthRefresh = "refresh"
)

// OAuthToken is one secret mailcal's OAuth server issued (or one request
// waiting for its sign-in), stored under its hash: the secret itself is
// never stored.
type OAuthToken struct {
	// Hash is the hex SHA-256 of the token (for an OAuthRequest, the
	// upstream flow's ID), 64 lower-case hex characters.
	Hash string
	Kind string
	// Family names one sign-in: the request, its code and every access and
	// refresh token that came from it. Revoking the family revokes them all.
	Family   string
	Tenant   string
	Provider string // "" for a request whose provider is not chosen yet
	Account  string // "" for a request
	// Client is the client_id (a DCR id or a metadata document's URL).
	Client string
	// Resource is the MCP endpoint the token is for (RFC 8707 audience).
	Resource string
	Scopes   []string
	// RedirectURI and Challenge (the PKCE S256 code challenge): a request's
	// and a code's. State: a request's, the client's state to hand back.
	RedirectURI string
	Challenge   string
	State       string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// SpentAt is zero until SpendOAuthToken spends the token.
	SpentAt time.Time
}

// OAuthServer keeps the state of mailcal's OAuth server: registered clients
// and every issued token, shared by every process (replica) of a
// deployment. An optional contract.
type OAuthServer interface {
	// PutOAuthClient stores a registered client; ErrExists if its ID is
	// taken.
	PutOAuthClient(ctx context.Context, c OAuthClient) error
	// GetOAuthClient returns a registered client; ErrNotFound if none.
	GetOAuthClient(ctx context.Context, id string) (OAuthClient, error)

	// PutOAuthToken stores a new token. ErrExists if its hash is taken;
	// ErrConflict if its family was revoked. Atomic with
	// RevokeOAuthFamily among every process sharing the store: a token put
	// while its family is being revoked is either refused or revoked with
	// the rest, never left behind.
	PutOAuthToken(ctx context.Context, t OAuthToken) error
	// GetOAuthToken returns a token by hash (expired ones too: expiry is
	// the caller's to check); ErrNotFound if there is none.
	GetOAuthToken(ctx context.Context, hash string) (OAuthToken, error)
	// SpendOAuthToken marks a token spent at `at` and returns it as it was
	// before: first is true for the one call, among every process, that
	// spent it; every other call gets first false and the record (SpentAt
	// set), which for a refresh token means reuse. ErrNotFound if there is
	// no such token. A zero `at` is refused.
	SpendOAuthToken(ctx context.Context, hash string, at time.Time) (t OAuthToken, first bool, err error)
	// DeleteOAuthToken deletes one token; ErrNotFound if there is none.
	DeleteOAuthToken(ctx context.Context, hash string) error
	// RevokeOAuthFamily deletes every token of a family and keeps the
	// family revoked (PutOAuthToken refuses it) until PruneOAuth removes
	// the mark, at least until every token of the family would have
	// expired. Returns how many tokens were deleted.
	RevokeOAuthFamily(ctx context.Context, family string, until time.Time) (int, error)
	// RevokeOAuthAccount revokes every family of an account (it was
	// disconnected): every family holding a token of the account, each
	// marked revoked until the latest expiry of the tokens it held. Returns
	// how many tokens were deleted.
	RevokeOAuthAccount(ctx context.Context, k GrantKey) (int, error)
	// RevokeOAuthTenant revokes every family of a tenant (it was removed),
	// as RevokeOAuthAccount does, and returns how many tokens were deleted.
	RevokeOAuthTenant(ctx context.Context, tenant string) (int, error)
	// PruneOAuth deletes every token that expired before `before` and the
	// revocation marks whose `until` is before it; returns how many
	// records (tokens and marks) went.
	PruneOAuth(ctx context.Context, before time.Time) (int, error)
	// PruneOAuthClients deletes every registered client created before
	// createdBefore that no stored token names as its Client (a token of
	// any kind, spent or not, expired but not yet pruned or not; a revoked
	// family's tokens are deleted and so name nothing), and returns how
	// many went: open registration must not grow the store without bound.
	// A client's first token put while the prune runs may still name it
	// afterwards (the token and the delete are not serialized on every
	// store): that token then fails with invalid_client at /token and the
	// person signs in again, the client having registered anew. Callers
	// choose createdBefore well behind the time a client needs between
	// registering and its first authorization request.
	PruneOAuthClients(ctx context.Context, createdBefore time.Time) (int, error)
}

// Limits of the OAuth server's records.
const (
	MaxOAuthClientIDLen    = 1024 // a metadata document's URL
	MaxOAuthClientMetadata = 8 << 10
	MaxOAuthURILen         = 1024 // a redirect URI, a resource
	MaxOAuthStateLen       = 1024
	MaxOAuthScopesLen      = 16
)

var (
	hashRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	familyRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	clientRE  = regexp.MustCompile(`^[\x21-\x7e]+$`)
	oauthKind = []string{OAuthRequest, OAuthCode, OAuthAccess, OAuthRefresh}
)

// ValidOAuthHash checks a token's hash given to a lookup (GetOAuthToken,
// SpendOAuthToken, DeleteOAuthToken): 64 lower-case hex characters.
func ValidOAuthHash(hash string) error {
	if !hashRE.MatchString(hash) {
		return fmt.Errorf("invalid OAuth token hash %q: want 64 lower-case hex characters", clip(hash))
	}
	return nil
}

// ValidOAuthFamily checks a family given to RevokeOAuthFamily: 16 to 64
// characters of base64url.
func ValidOAuthFamily(family string) error {
	if !familyRE.MatchString(family) {
		return fmt.Errorf("invalid OAuth token family %q: want 16 to 64 characters of A-Z, a-z, 0-9, '-' and '_'", clip(family))
	}
	return nil
}

// ValidOAuthClient checks a registered client before it is written.
func ValidOAuthClient(c OAuthClient) error {
	switch {
	case len(c.ID) > MaxOAuthClientIDLen || !clientRE.MatchString(c.ID):
		return fmt.Errorf("invalid OAuth client id %q", clip(c.ID))
	case c.SecretHash != "" && !hashRE.MatchString(c.SecretHash):
		return fmt.Errorf("OAuth client %s: the secret hash is not a hex SHA-256", clip(c.ID))
	case len(c.Metadata) > MaxOAuthClientMetadata:
		return fmt.Errorf("OAuth client %s: %d bytes of metadata; at most %d", clip(c.ID), len(c.Metadata), MaxOAuthClientMetadata)
	case !validText(string(c.Metadata)):
		return fmt.Errorf("OAuth client %s: the metadata is not valid UTF-8 or holds a NUL", clip(c.ID))
	}
	return nil
}

// ValidOAuthToken checks a token before it is written.
func ValidOAuthToken(t OAuthToken) error {
	switch {
	case !hashRE.MatchString(t.Hash):
		return fmt.Errorf("invalid OAuth token hash %q", clip(t.Hash))
	case !slices.Contains(oauthKind, t.Kind):
		return fmt.Errorf("OAuth token %s…: unknown kind %q", t.Hash[:8], clip(t.Kind))
	case !familyRE.MatchString(t.Family):
		return fmt.Errorf("OAuth token %s…: invalid family %q", t.Hash[:8], clip(t.Family))
	case len(t.Client) > MaxOAuthClientIDLen || !clientRE.MatchString(t.Client):
		return fmt.Errorf("OAuth token %s…: invalid client id %q", t.Hash[:8], clip(t.Client))
	case len(t.Resource) > MaxOAuthURILen || len(t.RedirectURI) > MaxOAuthURILen || len(t.State) > MaxOAuthStateLen ||
		len(t.Challenge) > 128 || len(t.Scopes) > MaxOAuthScopesLen:
		return fmt.Errorf("OAuth token %s…: a field is too long", t.Hash[:8])
	case !validText(t.Resource) || !validText(t.RedirectURI) || !validText(t.State) || !validText(t.Challenge) ||
		slices.IndexFunc(t.Scopes, invalidText) >= 0:
		return fmt.Errorf("OAuth token %s…: a field is not valid UTF-8 or holds a NUL", t.Hash[:8])
	case t.ExpiresAt.IsZero() || !t.ExpiresAt.After(t.CreatedAt):
		return fmt.Errorf("OAuth token %s…: it must expire after it was created", t.Hash[:8])
	}
	if err := ValidTenant(t.Tenant); err != nil {
		return err
	}
	if t.Kind == OAuthRequest {
		if t.Account != "" || (t.Provider != "" && !providerRE.MatchString(t.Provider)) {
			return fmt.Errorf("OAuth token %s…: a request names no account and a valid provider or none", t.Hash[:8])
		}
		return nil
	}
	if err := ValidGrantKey(GrantKey{Tenant: t.Tenant, Provider: t.Provider, Account: t.Account}); err != nil {
		return fmt.Errorf("OAuth token %s…: %w", t.Hash[:8], err)
	}
	return nil
}
