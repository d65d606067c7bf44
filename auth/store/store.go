// Package store holds the storage contracts of mailcal: what must survive a
// restart, or be shared by several processes, goes through them.
//
//   - Tenants: the workspaces and the hashes of their API keys.
//   - Grants: one connected account each, with a version that every write
//     increments, so that an update is a compare-and-set: two writers (a
//     token refresh and a reconnect, or two processes) never overwrite each
//     other unknowingly.
//   - FlowStates: the OAuth authorization-code flows waiting for their
//     callback, each taken once, whoever asks.
//   - Policies: each tenant's guard rails, versioned like grants.
//   - Counters: per-account counts over a period (sends a day), each
//     increment checked against a limit in one atomic step.
//
// Compare-and-set (PutGrant, DeleteGrant at a version, PutPolicy), creation
// (CreateTenant, PutFlowState), take (TakeFlowState) and IncrementCounter
// are atomic among
// every process that shares a store, not only among the callers of one
// value: a store that several processes can open (a keyring, a database)
// serialises them across processes. LockGrant holds one account across
// processes while its holder reads, spends and replaces a refresh token.
//
// Implementations: store/keyring (the OS keyring or an encrypted folder, the
// embedded default), store/postgres (PostgreSQL, shared by the replicas of a
// hosted deployment), store/memory (tests). Each runs the conformance suite in
// store/storetest. Secrets in these records are opaque to the store: a
// grant's Secret is sealed by the grants layer before it gets here.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors of every implementation, matched with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict: the stored version is not the one the write expected;
	// read again and retry.
	ErrConflict = errors.New("changed since it was read")
	// ErrDamaged: the stored record cannot be read or trusted (damaged, or
	// naming another record than its key). Reads of it fail with an error
	// that wraps ErrDamaged and names the record; listings leave it out;
	// DeleteGrant at version 0 (and DeleteTenant) remove it.
	ErrDamaged = errors.New("stored record is damaged")
)

// Store is a complete storage: what every mailcal process opens.
type Store interface {
	Tenants
	Grants
	FlowStates
	Policies
	Counters
	// Backend names the implementation in use ("file", "secret-service",
	// "memory"…); "" while a lazily opened store has not been opened.
	Backend() string
}

// Tenant is one workspace. KeyHash is the hex SHA-256 of its API key; the key
// itself is never stored.
type Tenant struct {
	Name      string
	KeyHash   string
	CreatedAt time.Time
}

// Tenants keeps the workspaces.
type Tenants interface {
	// CreateTenant stores a new tenant; ErrExists if the name is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant returns one tenant; ErrNotFound if there is none.
	GetTenant(ctx context.Context, name string) (Tenant, error)
	// ListTenants returns every tenant, sorted by name.
	ListTenants(ctx context.Context) ([]Tenant, error)
	// DeleteTenant deletes the tenant record only; ErrNotFound if there is
	// none. Its grants and flow states are the caller's to remove first.
	DeleteTenant(ctx context.Context, name string) error
}

// GrantKey names a connected account. Account is lower case.
type GrantKey struct {
	Tenant   string
	Provider string
	Account  string
}

func (k GrantKey) String() string { return k.Tenant + "/" + k.Provider + "/" + k.Account }

// Grant is one connected account as stored.
type Grant struct {
	GrantKey
	// Version is the store's: 0 for a grant never stored; each write stores
	// Version+1.
	Version int64
	// Secret is the refresh token as the grants layer sealed it.
	Secret       []byte
	Scopes       []string
	ConnectedAt  time.Time
	Status       string
	StatusReason string
	StatusAt     time.Time
}

// Grants keeps connected accounts.
type Grants interface {
	// GetGrant returns one grant; ErrNotFound if there is none.
	GetGrant(ctx context.Context, k GrantKey) (Grant, error)
	// ListGrants returns a tenant's grants (and no other tenant's), sorted
	// by provider, then account.
	ListGrants(ctx context.Context, tenant string) ([]Grant, error)
	// PutGrant writes g if the stored grant's version is g.Version (0: no
	// grant may be stored) and returns the new version, g.Version+1.
	// ErrConflict otherwise, and nothing is written.
	PutGrant(ctx context.Context, g Grant) (int64, error)
	// DeleteGrant deletes a grant if its version is version (0: whatever
	// its version, a damaged record too). ErrNotFound if there is none,
	// ErrConflict if the version differs.
	DeleteGrant(ctx context.Context, k GrantKey, version int64) error
	// LockGrant takes the account's lock and returns the function that
	// releases it (once; later calls do nothing). One holder at a time per
	// key, among every process that shares the store; the others wait, each
	// until its ctx ends (then an error wrapping ctx.Err()). A process that
	// dies releases its locks. The key need not be stored.
	//
	// The lock is advisory: it stops no read or write, which stay
	// compare-and-set for everyone. The token manager holds it while it
	// re-reads a grant and spends its refresh token, so that two processes
	// never spend the same one; disconnect holds it while it revokes and
	// deletes. Hold one grant lock at a time: locks of different keys may
	// share what they wait on.
	LockGrant(ctx context.Context, k GrantKey) (unlock func(), err error)
}

// FlowState is an authorization-code flow waiting for its callback.
type FlowState struct {
	// ID is FlowID(state): the state value itself, a bearer secret, is
	// never stored.
	ID          string
	Tenant      string
	Provider    string
	Scopes      []string
	Verifier    string // the PKCE code verifier: a secret
	RedirectURI string
	LoginHint   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// FlowStates keeps waiting flows.
type FlowStates interface {
	// PutFlowState stores a new flow state; ErrExists if its ID is taken.
	PutFlowState(ctx context.Context, f FlowState) error
	// TakeFlowState removes and returns a flow state. Of several callers
	// taking the same ID at once, exactly one gets it; the others, and every
	// later caller, get ErrNotFound. Expiry is the caller's to check.
	TakeFlowState(ctx context.Context, id string) (FlowState, error)
	// ListFlowStates returns a tenant's flow states (expired ones too),
	// oldest first.
	ListFlowStates(ctx context.Context, tenant string) ([]FlowState, error)
}

// Grant statuses.
const (
	StatusActive      = "active"       // the grant works
	StatusNeedsReauth = "needs_reauth" // the provider refused the refresh token: connect again
	StatusRevoked     = "revoked"      // revoked by the person or by us
)

// Limits every implementation enforces (the keyring's items are small).
// They bound each field, not a whole record: an implementation with a
// smaller record (the keyring's items hold 2048 bytes in all, see
// store/keyring) refuses, with an error that says so, a record within these
// limits that it cannot hold.
const (
	MaxAccountLen = 254  // an email address
	MaxSecretLen  = 1024 // a sealed refresh token
	MaxScopes     = 16
)

var (
	tenantRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	providerRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	flowIDRE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidTenant checks a tenant name: 1 to 63 characters of a-z, 0-9, '-' and
// '_', starting with a letter or digit.
func ValidTenant(name string) error {
	if !tenantRE.MatchString(name) {
		return fmt.Errorf("invalid tenant name %q: use 1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit", clip(name))
	}
	return nil
}

// ValidGrantKey checks a grant key: a valid tenant, a provider name of a-z,
// 0-9 and '-', and a lower-case account of printable ASCII without spaces
// or "/", at most MaxAccountLen bytes.
func ValidGrantKey(k GrantKey) error {
	if err := ValidTenant(k.Tenant); err != nil {
		return err
	}
	if !providerRE.MatchString(k.Provider) {
		return fmt.Errorf("invalid provider name %q", clip(k.Provider))
	}
	a := k.Account
	ok := a != "" && len(a) <= MaxAccountLen && a != "." && a != ".."
	for i := 0; ok && i < len(a); i++ {
		c := a[i]
		ok = c > ' ' && c < 0x7f && c != '/' && c != '\\' && !('A' <= c && c <= 'Z')
	}
	if !ok {
		return fmt.Errorf("invalid account %q: a lower-case email address of at most %d characters", clip(a), MaxAccountLen)
	}
	return nil
}

// ValidGrant checks a grant before it is written.
func ValidGrant(g Grant) error {
	if err := ValidGrantKey(g.GrantKey); err != nil {
		return err
	}
	switch {
	case g.Version < 0:
		return fmt.Errorf("grant %s: negative version", g.GrantKey)
	case len(g.Secret) > MaxSecretLen:
		return fmt.Errorf("grant %s: secret of %d bytes; at most %d", g.GrantKey, len(g.Secret), MaxSecretLen)
	case len(g.Scopes) > MaxScopes:
		return fmt.Errorf("grant %s: %d scopes; at most %d", g.GrantKey, len(g.Scopes), MaxScopes)
	case !validText(g.StatusReason) || slices.IndexFunc(g.Scopes, invalidText) >= 0:
		return fmt.Errorf("grant %s: a scope or the status reason is not valid UTF-8 or holds a NUL", g.GrantKey)
	}
	switch g.Status {
	case StatusActive, StatusNeedsReauth, StatusRevoked:
	default:
		return fmt.Errorf("grant %s: unknown status %q", g.GrantKey, clip(g.Status))
	}
	return nil
}

// ValidFlowID checks a flow state's ID (see FlowID).
func ValidFlowID(id string) error {
	if !flowIDRE.MatchString(id) {
		return fmt.Errorf("invalid flow id %q", clip(id))
	}
	return nil
}

// validText reports whether every store keeps s as it is: valid UTF-8
// without NUL. JSON (the keyring's items) replaces invalid bytes with U+FFFD,
// and PostgreSQL's text refuses them and NUL.
func validText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func invalidText(s string) bool { return !validText(s) }

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// FlowID is the ID a flow state is stored under: the hex SHA-256 of the
// state value, so that a listing of the store reveals no usable state.
func FlowID(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// ValidFlowState checks a flow state before it is written.
func ValidFlowState(f FlowState) error {
	if err := ValidFlowID(f.ID); err != nil {
		return err
	}
	if err := ValidTenant(f.Tenant); err != nil {
		return err
	}
	if !providerRE.MatchString(f.Provider) {
		return fmt.Errorf("invalid provider name %q", clip(f.Provider))
	}
	if len(f.Scopes) > MaxScopes || len(f.Verifier) > 128 || len(f.RedirectURI) > 512 || len(f.LoginHint) > MaxAccountLen {
		return fmt.Errorf("flow state %s…: a field is too long", f.ID[:8])
	}
	if !validText(f.Verifier) || !validText(f.RedirectURI) || !validText(f.LoginHint) || slices.IndexFunc(f.Scopes, invalidText) >= 0 {
		return fmt.Errorf("flow state %s…: a field is not valid UTF-8 or holds a NUL", f.ID[:8])
	}
	if f.ExpiresAt.IsZero() || !f.ExpiresAt.After(f.CreatedAt) {
		return fmt.Errorf("flow state %s…: it must expire after it was created", f.ID[:8])
	}
	return nil
}
