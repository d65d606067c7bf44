package mcpauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// Dynamic Client Registration (RFC 7591) identifiers.
const (
	dcrIDPrefix     = "mcc_" // + 22 characters: 16 random bytes
	dcrSecretPrefix = "mcx_" // + 43 characters: 32 random bytes
	// maxRegistration bounds a registration request's body.
	maxRegistration = 16 << 10
	// Registrations one source address may make: a burst, then one every
	// interval. A cap over all sources is the operator's (a proxy's).
	registerBurst = 20
	registerEvery = 3 * time.Second
	maxSoftware   = 200 // software_id, software_version
)

var dcrIDRE = regexp.MustCompile(`^mcc_[A-Za-z0-9_-]{22}$`)

// registration is the RFC 7591 answer to a registration; stored (without
// the secret) as the client's metadata.
type registration struct {
	ClientID                string   `json:"client_id"`
	IssuedAt                int64    `json:"client_id_issued_at"`
	Secret                  string   `json:"client_secret,omitempty"`
	SecretExpiresAt         *int64   `json:"client_secret_expires_at,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
}

// regError is a refused registration (RFC 7591 section 3.2.2).
type regError struct {
	status      int
	code        string
	description string
}

func metadataError(format string, a ...any) *regError {
	return &regError{http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf(format, a...)}
}

// RegisterHandler answers POST /register (RFC 7591): it validates the
// client's metadata, issues a client_id ("mcc_…") and, for a confidential
// client, a secret ("mcx_…", answered once, stored only as its hash), and
// stores the registration. Registrations are limited per source address.
func (c *Clients) RegisterHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg, rerr := c.register(w, r)
		if rerr != nil {
			writeRegistration(w, rerr.status, map[string]string{"error": rerr.code, "error_description": rerr.description})
			return
		}
		writeRegistration(w, http.StatusCreated, reg)
	})
}

func (c *Clients) register(w http.ResponseWriter, r *http.Request) (registration, *regError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return registration{}, &regError{http.StatusMethodNotAllowed, "invalid_request", "use POST with the client's metadata as a JSON object"}
	}
	if c.store == nil {
		return registration{}, &regError{http.StatusServiceUnavailable, "temporarily_unavailable", "this deployment keeps no client registrations; use a client metadata document (an https client_id)"}
	}
	now := c.now()
	if wait, ok := c.limit.Take(tenant.Source(r), now); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return registration{}, &regError{http.StatusTooManyRequests, "temporarily_unavailable",
			fmt.Sprintf("too many registrations from this address; try again in %d s, and register once per installation, not per connection", secs)}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return registration{}, metadataError("the body must be application/json, not %q", clip(ct, 60))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistration))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return registration{}, metadataError("the body is larger than %d bytes", maxRegistration)
	} else if err != nil {
		return registration{}, &regError{http.StatusBadRequest, "invalid_request", "the body could not be read"}
	}
	reg, rerr := parseRegistration(body)
	if rerr != nil {
		return registration{}, rerr
	}
	reg.IssuedAt = now.Unix()
	var secretHash string
	if reg.TokenEndpointAuthMethod != "none" {
		reg.Secret = dcrSecretPrefix + randomString(32)
		secretHash = hashToken(reg.Secret)
		zero := int64(0)
		reg.SecretExpiresAt = &zero
	}
	for attempt := 0; ; attempt++ {
		reg.ClientID = dcrIDPrefix + randomString(16)
		stored := reg
		stored.Secret = ""
		md, _ := json.Marshal(stored)
		if len(md) > store.MaxOAuthClientMetadata {
			return registration{}, metadataError("the registration takes %d bytes; at most %d: fewer or shorter redirect_uris, a shorter client_uri or logo_uri", len(md), store.MaxOAuthClientMetadata)
		}
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		err := c.store.PutOAuthClient(ctx, store.OAuthClient{ID: reg.ClientID, SecretHash: secretHash, Metadata: md, CreatedAt: now})
		cancel()
		if errors.Is(err, store.ErrExists) && attempt < 2 {
			continue
		}
		if err != nil {
			slog.ErrorContext(r.Context(), "storing an OAuth client registration", "err", err)
			return registration{}, &regError{http.StatusServiceUnavailable, "temporarily_unavailable", "the registration could not be stored; try again shortly"}
		}
		break
	}
	c.registered.put(reg.ClientID, cacheEntry{client: Client{ID: reg.ClientID, Name: reg.ClientName, RedirectURIs: reg.RedirectURIs,
		AuthMethod: reg.TokenEndpointAuthMethod, SecretHash: secretHash}}, now.Add(registeredTTL), now)
	slog.InfoContext(r.Context(), "registered an OAuth client", "client_id", reg.ClientID, "client_name", reg.ClientName,
		"auth_method", reg.TokenEndpointAuthMethod, "source", tenant.Source(r))
	return reg, nil
}

// parseRegistration validates a registration request's metadata; members
// mailcal does not understand are ignored (RFC 7591 section 2).
func parseRegistration(body []byte) (registration, *regError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return registration{}, metadataError("the body is not a JSON object")
	}
	var reg registration
	var scope string
	for name, dst := range map[string]any{"redirect_uris": &reg.RedirectURIs, "client_name": &reg.ClientName,
		"token_endpoint_auth_method": &reg.TokenEndpointAuthMethod, "grant_types": &reg.GrantTypes,
		"response_types": &reg.ResponseTypes, "scope": &scope, "client_uri": &reg.ClientURI, "logo_uri": &reg.LogoURI,
		"software_id": &reg.SoftwareID, "software_version": &reg.SoftwareVersion} {
		if err := field(obj, name, dst); err != nil {
			return registration{}, metadataError("%s", err)
		}
	}
	if err := checkRedirectURIs(reg.RedirectURIs); err != nil {
		return registration{}, &regError{http.StatusBadRequest, "invalid_redirect_uri", err.Error()}
	}
	switch reg.TokenEndpointAuthMethod {
	case "":
		reg.TokenEndpointAuthMethod = "none"
	case "none", "client_secret_post", "client_secret_basic":
	default:
		return registration{}, metadataError(`token_endpoint_auth_method %s is not supported; use "none" (public client with PKCE), "client_secret_post" or "client_secret_basic"`, quoteClip(reg.TokenEndpointAuthMethod))
	}
	if len(reg.GrantTypes) == 0 {
		reg.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range reg.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return registration{}, metadataError(`grant_types: %s is not supported; only "authorization_code" and "refresh_token"`, quoteClip(g))
		}
	}
	slices.Sort(reg.GrantTypes)
	reg.GrantTypes = slices.Compact(reg.GrantTypes)
	if !slices.Contains(reg.GrantTypes, "authorization_code") {
		return registration{}, metadataError(`grant_types must include "authorization_code"`)
	}
	if len(reg.ResponseTypes) == 0 {
		reg.ResponseTypes = []string{"code"}
	}
	for _, t := range reg.ResponseTypes {
		if t != "code" {
			return registration{}, metadataError(`response_types: %s is not supported; only "code"`, quoteClip(t))
		}
	}
	reg.ResponseTypes = []string{"code"}
	reg.Scope = "mcp" // the one scope; anything else asked for is ignored
	reg.ClientName = sanitizeName(reg.ClientName)
	for name, u := range map[string]string{"client_uri": reg.ClientURI, "logo_uri": reg.LogoURI} {
		if err := checkInfoURI(u); err != nil {
			return registration{}, metadataError("%s: %s", name, err)
		}
	}
	for name, s := range map[string]string{"software_id": reg.SoftwareID, "software_version": reg.SoftwareVersion} {
		if utf8.RuneCountInString(s) > maxSoftware || strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
			return registration{}, metadataError("%s: at most %d characters, none of them control characters", name, maxSoftware)
		}
	}
	return reg, nil
}

// checkInfoURI checks a client_uri or logo_uri: stored and shown, never
// fetched. Empty is allowed.
func checkInfoURI(raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > maxURILen {
		return fmt.Errorf("%d bytes; at most %d", len(raw), maxURILen)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r > 0x7e }) >= 0 {
		return errors.New("holds a space, a control or a non-ASCII character")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return errors.New("must be an absolute https:// URL without credentials")
	}
	return nil
}

func writeRegistration(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
