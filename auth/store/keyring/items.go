package keyring

// The typed store's items: where each record lives in the KV, and its JSON.
//
//	tenant/<name>                        {"name","key_hash","created_at"}
//	grant/<tenant>/<provider>/<account>  {"tenant","provider","account","refresh_token"|"secret_b64",
//	                                      "scopes","connected_at","status","status_reason","status_at","version"}
//	flow/<tenant>/<id>                   {"id","tenant","provider","scopes","verifier","redirect_uri",
//	                                      "login_hint","created_at","expires_at"}
//
// Tenant and grant items are those of mailcal releases before the typed
// store, plus two grant fields: "version" (an item without one is version 1)
// and "secret_b64". The secret goes into "refresh_token" as a string when
// that costs no more than base64 would (valid UTF-8 without control
// characters, quotes, backslashes or line separators: a refresh token, and
// what older releases wrote), else into "secret_b64" (standard base64).
//
// An account that cannot be part of a key (characters a key may not hold,
// such as ' or !, or a key longer than 200 bytes) is stored under
// grant/<tenant>/<provider>/sha256/<hex SHA-256 of the account>: five
// segments, so never the key of another account (an account has no "/").
//
// Every item names its record, and a read checks that it names the one its
// key does: an item copied or written under another key is refused, not
// trusted.
//
// Size. A KV item holds at most 2048 bytes (Windows Credential Manager's
// limit, 2560, with a margin). With the contract's largest secret, 1024
// bytes that are not text, stored as 1368 bytes of base64, the longest
// tenant (63) and provider (32) names, both times with nanoseconds, the
// longest status and a 19-digit version, a grant item is 1678 bytes before
// its account, scopes and status reason: 370 bytes are left for those. A
// 20-byte account leaves room for 16 scopes of 17 bytes (16 × 20 − 1 = 319
// bytes of JSON) and a 12-byte reason; with a tenant such as "default" and
// a six-letter provider, 16 scopes of 24 bytes. Sixteen full provider scope
// URLs (about 45 bytes each) do not fit next to such a secret. A grant that
// does not fit is refused by PutGrant with an error that says so, before
// anything is written; its size is counted with a 19-digit version, so that
// a grant that fits once fits at every later version. grantitem_test.go
// checks these numbers.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailcal/mailcal/auth/store"
)

const (
	tenantPrefix = "tenant/"
	grantPrefix  = "grant/"
	flowPrefix   = "flow/"
	// hashedAccount is the segment that marks a grant key holding the
	// SHA-256 of its account instead of the account.
	hashedAccount = "sha256"
	// maxVersionDigits is the length of the longest version, math.MaxInt64.
	maxVersionDigits = 19
)

func tenantKey(name string) string { return tenantPrefix + name }

func grantTenantPrefix(tenant string) string { return grantPrefix + tenant + "/" }

// grantKey is the key a grant is stored under.
func grantKey(k store.GrantKey) string {
	key := grantTenantPrefix(k.Tenant) + k.Provider + "/" + k.Account
	if validateKey(key) == nil {
		return key
	}
	sum := sha256.Sum256([]byte(k.Account))
	return grantTenantPrefix(k.Tenant) + k.Provider + "/" + hashedAccount + "/" + hex.EncodeToString(sum[:])
}

func flowTenantPrefix(tenant string) string { return flowPrefix + tenant + "/" }

func flowKey(tenant, id string) string { return flowTenantPrefix(tenant) + id }

// itemError is an item that cannot be trusted: damaged, or naming another
// record than its key does. Listings skip such items (with a warning);
// reads of the record fail with it.
type itemError struct {
	key string
	why string
}

func (e *itemError) Error() string {
	return fmt.Sprintf("keyring item %q %s (delete the item and write the record again)", e.key, e.why)
}

// Unwrap makes an itemError store.ErrDamaged for errors.Is.
func (e *itemError) Unwrap() error { return store.ErrDamaged }

// damaged describes an item that does not decode, without quoting its bytes.
func damaged(key string, err error) error {
	why := "is damaged: not the JSON of its record"
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &se):
		why = "is damaged: not valid JSON"
	case errors.As(err, &te):
		why = fmt.Sprintf("is damaged: field %q holds a JSON %s", te.Field, te.Value)
	case errors.As(err, &pe):
		why = "is damaged: a time is not in RFC 3339 format"
	}
	return &itemError{key: key, why: why}
}

func mismatch(key, names string) error {
	return &itemError{key: key, why: "names " + names + ", not the record its key names: not trusted"}
}

// marshal is compact JSON without HTML escaping (fewer bytes for "<>&").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// tooLarge is the error of a record whose item would exceed the KV's limit.
func tooLarge(what string, n int, detail string) error {
	return fmt.Errorf("%s does not fit in a keyring item: %d bytes encoded, at most %d (%s)", what, n, maxValueLen, detail)
}

// --- tenants ---

type tenantItem struct {
	Name      string    `json:"name"`
	KeyHash   string    `json:"key_hash"`
	CreatedAt time.Time `json:"created_at"`
}

func encodeTenant(t store.Tenant) ([]byte, error) {
	data, err := marshal(tenantItem{Name: t.Name, KeyHash: t.KeyHash, CreatedAt: t.CreatedAt.UTC()})
	if err == nil && len(data) > maxValueLen {
		return nil, tooLarge("tenant "+t.Name, len(data), fmt.Sprintf("a key hash of %d bytes", len(t.KeyHash)))
	}
	return data, err
}

// decodeTenant reads the item stored under key.
func decodeTenant(key string, data []byte) (store.Tenant, error) {
	var it tenantItem
	if err := json.Unmarshal(data, &it); err != nil {
		return store.Tenant{}, damaged(key, err)
	}
	if store.ValidTenant(it.Name) != nil || tenantKey(it.Name) != key {
		return store.Tenant{}, mismatch(key, fmt.Sprintf("tenant %q", clip(it.Name)))
	}
	return store.Tenant{Name: it.Name, KeyHash: it.KeyHash, CreatedAt: it.CreatedAt.UTC()}, nil
}

// --- grants ---

type grantItem struct {
	Tenant       string    `json:"tenant"`
	Provider     string    `json:"provider"`
	Account      string    `json:"account"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	SecretB64    string    `json:"secret_b64,omitempty"`
	Scopes       []string  `json:"scopes"`
	ConnectedAt  time.Time `json:"connected_at"`
	Status       string    `json:"status"`
	StatusReason string    `json:"status_reason,omitempty"`
	StatusAt     time.Time `json:"status_at,omitzero"`
	Version      int64     `json:"version,omitempty"` // absent in older items: version 1
}

// secretIsText tells whether a secret is stored as a JSON string: valid
// UTF-8 that JSON carries byte for byte (no control characters, no quote or
// backslash, no U+2028/U+2029), so it never costs more than base64.
func secretIsText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) || r == '"' || r == '\\' || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// encodeGrant encodes g as stored at version (g.Version+1 on a write), or
// fails if it does not fit in an item.
func encodeGrant(g store.Grant, version int64) ([]byte, error) {
	data, err := marshalGrant(g, version)
	if err != nil {
		return nil, err
	}
	// Checked as if the version had 19 digits: a grant that fits once still
	// fits when its version grows.
	if n := len(data) + maxVersionDigits - len(strconv.FormatInt(version, 10)); n > maxValueLen {
		scopeBytes := 0
		for _, s := range g.Scopes {
			scopeBytes += len(s)
		}
		return nil, tooLarge("grant "+g.GrantKey.String(), n, fmt.Sprintf("a %d-byte secret, %d scopes of %d bytes in all, a %d-byte status reason; counted with a 19-digit version",
			len(g.Secret), len(g.Scopes), scopeBytes, len(g.StatusReason)))
	}
	return data, nil
}

// marshalGrant is the JSON of g as stored at version.
func marshalGrant(g store.Grant, version int64) ([]byte, error) {
	it := grantItem{
		Tenant:       g.Tenant,
		Provider:     g.Provider,
		Account:      g.Account,
		Scopes:       g.Scopes,
		ConnectedAt:  g.ConnectedAt.UTC(),
		Status:       g.Status,
		StatusReason: g.StatusReason,
		StatusAt:     g.StatusAt.UTC(),
		Version:      version,
	}
	if secretIsText(g.Secret) {
		it.RefreshToken = string(g.Secret)
	} else {
		it.SecretB64 = base64.StdEncoding.EncodeToString(g.Secret)
	}
	return marshal(it)
}

// decodeGrant reads the item stored under key.
func decodeGrant(key string, data []byte) (store.Grant, error) {
	var it grantItem
	if err := json.Unmarshal(data, &it); err != nil {
		return store.Grant{}, damaged(key, err)
	}
	k := store.GrantKey{Tenant: it.Tenant, Provider: it.Provider, Account: it.Account}
	if store.ValidGrantKey(k) != nil || grantKey(k) != key {
		return store.Grant{}, mismatch(key, fmt.Sprintf("grant %q", clip(k.String())))
	}
	g := store.Grant{
		GrantKey:     k,
		Version:      it.Version,
		Scopes:       it.Scopes,
		ConnectedAt:  it.ConnectedAt.UTC(),
		Status:       it.Status,
		StatusReason: it.StatusReason,
		StatusAt:     it.StatusAt.UTC(),
	}
	switch {
	case it.Version < 0:
		return store.Grant{}, &itemError{key: key, why: "is damaged: negative version"}
	case it.Version == 0:
		g.Version = 1 // written before versions
	}
	switch {
	case it.SecretB64 != "" && it.RefreshToken != "":
		return store.Grant{}, &itemError{key: key, why: `is damaged: it holds both "refresh_token" and "secret_b64"`}
	case it.SecretB64 != "":
		b, err := base64.StdEncoding.DecodeString(it.SecretB64)
		if err != nil {
			return store.Grant{}, &itemError{key: key, why: `is damaged: "secret_b64" is not base64`}
		}
		g.Secret = b
	case it.RefreshToken != "":
		g.Secret = []byte(it.RefreshToken)
	}
	return g, nil
}

// --- flow states ---

type flowItem struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	Provider    string    `json:"provider"`
	Scopes      []string  `json:"scopes"`
	Verifier    string    `json:"verifier"`
	RedirectURI string    `json:"redirect_uri"`
	LoginHint   string    `json:"login_hint,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func encodeFlow(f store.FlowState) ([]byte, error) {
	data, err := marshal(flowItem{
		ID: f.ID, Tenant: f.Tenant, Provider: f.Provider, Scopes: f.Scopes, Verifier: f.Verifier,
		RedirectURI: f.RedirectURI, LoginHint: f.LoginHint, CreatedAt: f.CreatedAt.UTC(), ExpiresAt: f.ExpiresAt.UTC(),
	})
	if err == nil && len(data) > maxValueLen {
		return nil, tooLarge("flow state "+f.ID[:8]+"…", len(data), fmt.Sprintf("%d scopes", len(f.Scopes)))
	}
	return data, err
}

// decodeFlow reads the item stored under key.
func decodeFlow(key string, data []byte) (store.FlowState, error) {
	var it flowItem
	if err := json.Unmarshal(data, &it); err != nil {
		return store.FlowState{}, damaged(key, err)
	}
	if store.ValidTenant(it.Tenant) != nil || store.ValidFlowID(it.ID) != nil || flowKey(it.Tenant, it.ID) != key {
		return store.FlowState{}, mismatch(key, fmt.Sprintf("flow state %q of tenant %q", clip(it.ID), clip(it.Tenant)))
	}
	return store.FlowState{
		ID: it.ID, Tenant: it.Tenant, Provider: it.Provider, Scopes: it.Scopes, Verifier: it.Verifier,
		RedirectURI: it.RedirectURI, LoginHint: it.LoginHint, CreatedAt: it.CreatedAt.UTC(), ExpiresAt: it.ExpiresAt.UTC(),
	}, nil
}

// clip shortens a stored name for an error message.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
