// Package mcpauth is mailcal's own OAuth 2.1 authorization server for its
// MCP endpoints (the MCP authorization specification): protected-resource
// metadata (RFC 9728), authorization-server metadata (RFC 8414),
// /authorize with PKCE S256, /token with refresh-token rotation and reuse
// detection, clients identified by Client ID Metadata Documents or
// registered dynamically (RFC 7591), revocation (RFC 7009). Signing in is
// connecting: /authorize sends the person to their mail provider through
// auth/oauth's flow, and the account they come back with is the one the
// tokens act for.
package mcpauth

import (
	"context"
	"crypto/subtle"
)

// Client is an OAuth client as mailcal knows it: from its Client ID
// Metadata Document (ID is the document's https URL) or from its dynamic
// registration.
type Client struct {
	ID           string
	Name         string
	RedirectURIs []string
	// AuthMethod is the token endpoint's client authentication: "none"
	// (public clients: every metadata document client, and DCR clients that
	// asked for it), "client_secret_post" or "client_secret_basic".
	AuthMethod string
	// SecretHash is the hex SHA-256 of a DCR client's secret; "" for a
	// public client.
	SecretHash string
	// Document: identified by a Client ID Metadata Document.
	Document bool
}

// ClientSource finds clients by client_id: the metadata document at an
// https client_id (fetched under an SSRF guard, bounded, cached) or a
// registered client in the store. Errors are *Error values with the OAuth
// error code invalid_client (unknown client, a bad document, or one that
// could not be fetched, saying why) or temporarily_unavailable (the store
// failed, or the caller gave up while the document was being fetched).
type ClientSource interface {
	Lookup(ctx context.Context, clientID string) (Client, error)
}

// CheckSecret reports whether secret is the client's, in constant time.
// A public client has no secret and accepts none.
func (c Client) CheckSecret(secret string) bool {
	if c.SecretHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(secret)), []byte(c.SecretHash)) == 1
}

// Error is an OAuth error answer (RFC 6749 section 5.2): Code is the
// error code, Description says what was wrong and what to do, never
// holding a secret.
type Error struct {
	Status      int
	Code        string
	Description string
	// reuse: a code or refresh token used twice (token.go's metrics).
	reuse bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }
