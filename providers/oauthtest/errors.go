package oauthtest

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
)

// Failure names one way a request can fail; Config.Errors says how the
// provider answers it.
type Failure string

// Failures of the authorization endpoint. The first four are always shown
// as an error page: the redirect_uri cannot be trusted yet. AccessDenied
// and ConsentRequired are always redirected to the client.
const (
	AuthMissingClientID         Failure = "auth_missing_client_id"
	AuthUnknownClient           Failure = "auth_unknown_client"
	AuthMissingRedirectURI      Failure = "auth_missing_redirect_uri"
	AuthRedirectMismatch        Failure = "auth_redirect_mismatch" // detail: the redirect_uri
	AuthMissingResponseType     Failure = "auth_missing_response_type"
	AuthUnsupportedResponseType Failure = "auth_unsupported_response_type" // detail: the response_type
	AuthMissingScope            Failure = "auth_missing_scope"
	AuthInvalidScope            Failure = "auth_invalid_scope" // detail: the first unknown scope
	AuthMissingChallenge        Failure = "auth_missing_challenge"
	AuthChallengeMethod         Failure = "auth_challenge_method" // detail: the code_challenge_method
	AuthInvalidChallenge        Failure = "auth_invalid_challenge"
	AuthInvalidPrompt           Failure = "auth_invalid_prompt" // detail: the prompt
	AccessDenied                Failure = "access_denied"       // the person declined (DenyNext)
	ConsentRequired             Failure = "consent_required"    // prompt=none, but consent is needed
)

// Failures of the token endpoint (the client failures also of the
// revocation endpoint).
const (
	TokenBackendError     Failure = "token_backend_error" // FailTokenRequests; its status replaces Error.Status
	MissingGrantType      Failure = "missing_grant_type"
	UnsupportedGrantType  Failure = "unsupported_grant_type" // detail: the grant_type
	MissingClientID       Failure = "missing_client_id"
	UnknownClient         Failure = "unknown_client"
	MissingClientSecret   Failure = "missing_client_secret"
	WrongClientSecret     Failure = "wrong_client_secret"
	UnsupportedClientAuth Failure = "unsupported_client_auth" // a method not in ClientAuth.Methods
	MissingCode           Failure = "missing_code"
	MalformedCode         Failure = "malformed_code" // without TokenFormat.Shape
	UnknownCode           Failure = "unknown_code"
	ReusedCode            Failure = "reused_code" // the tokens it gave die too (RFC 6749 10.5)
	ExpiredCode           Failure = "expired_code"
	MissingRedirectURI    Failure = "missing_redirect_uri"
	RedirectMismatch      Failure = "redirect_mismatch" // not the authorization request's
	MissingVerifier       Failure = "missing_verifier"
	WrongVerifier         Failure = "wrong_verifier"
	MissingRefreshToken   Failure = "missing_refresh_token"
	InvalidRefreshToken   Failure = "invalid_refresh_token" // unknown (and the others below, unless listed)
	ScopeNotGranted       Failure = "scope_not_granted"     // a refresh asked for more than the grant
	// A provider that tells these apart lists them in Config.Errors;
	// otherwise they are answered as InvalidRefreshToken.
	RevokedRefreshToken Failure = "revoked_refresh_token" // its grant was revoked (RevokeUser, a replayed code)
	RetiredRefreshToken Failure = "retired_refresh_token" // spent by a rotation (RotateRetireOld)
	ExpiredRefreshToken Failure = "expired_refresh_token" // past Tokens.RefreshTTL
	PublicClientSecret  Failure = "public_client_secret"  // a public client sent a secret (ClientAuth.RefuseSecret)
)

// Failures of a multi-tenant server (Config.Tenants), at the authorization
// endpoint (as an error page) and the token endpoint.
const (
	UnknownTenant     Failure = "unknown_tenant"      // detail: the tenant segment
	TenantRejectsUser Failure = "tenant_rejects_user" // detail: the user's email
	CodeOtherTenant   Failure = "code_other_tenant"   // a code redeemed at another tenant than it was issued at
)

// fallbacks are the failures answered as another one when the provider
// does not list them.
var fallbacks = map[Failure]Failure{
	RevokedRefreshToken: InvalidRefreshToken,
	RetiredRefreshToken: InvalidRefreshToken,
	ExpiredRefreshToken: InvalidRefreshToken,
	PublicClientSecret:  WrongClientSecret,
}

// Failures of the revocation and identity endpoints.
const (
	RevokeMissingToken Failure = "revoke_missing_token"
	// RevokeUnknownToken has no default: RFC 7009 2.2 answers 200 for an
	// invalid token. A provider that answers an error lists it in Errors.
	RevokeUnknownToken Failure = "revoke_unknown_token"
	InvalidAccessToken Failure = "invalid_access_token" // missing, unknown, expired or revoked
	InsufficientScope  Failure = "insufficient_scope"   // none of Identity.AnyScope
)

// Error is how the server answers a failure.
type Error struct {
	Status int    // HTTP status (for an error page: the number the page shows)
	Code   string // the OAuth error code, "invalid_grant"
	// Description is the error_description. "%s" in it stands for the
	// failure's detail, where it has one.
	Description string
}

// defaultErrors are the RFCs' codes with short descriptions.
var defaultErrors = map[Failure]Error{
	AuthMissingClientID:         {400, "invalid_request", "Missing parameter: client_id"},
	AuthUnknownClient:           {401, "invalid_client", "Unknown client."},
	AuthMissingRedirectURI:      {400, "invalid_request", "Missing parameter: redirect_uri"},
	AuthRedirectMismatch:        {400, "invalid_request", "redirect_uri is not registered for the client: %s"},
	AuthMissingResponseType:     {400, "invalid_request", "Missing parameter: response_type"},
	AuthUnsupportedResponseType: {400, "unsupported_response_type", "Unsupported response_type: %s"},
	AuthMissingScope:            {400, "invalid_scope", "Missing parameter: scope"},
	AuthInvalidScope:            {400, "invalid_scope", "Unknown scope: %s"},
	AuthMissingChallenge:        {400, "invalid_request", "Missing parameter: code_challenge"},
	AuthChallengeMethod:         {400, "invalid_request", "Unsupported code_challenge_method: %s"},
	AuthInvalidChallenge:        {400, "invalid_request", "Invalid code_challenge"},
	AuthInvalidPrompt:           {400, "invalid_request", "Invalid prompt: %s"},
	AccessDenied:                {400, "access_denied", ""},
	ConsentRequired:             {400, "consent_required", ""},
	TokenBackendError:           {503, "temporarily_unavailable", "The service is unavailable."},
	MissingGrantType:            {400, "invalid_request", "Missing parameter: grant_type"},
	UnsupportedGrantType:        {400, "unsupported_grant_type", "Unsupported grant_type: %s"},
	MissingClientID:             {401, "invalid_client", "Missing client_id."},
	UnknownClient:               {401, "invalid_client", "Unknown client."},
	MissingClientSecret:         {401, "invalid_client", "Missing client_secret."},
	WrongClientSecret:           {401, "invalid_client", "Wrong client_secret."},
	UnsupportedClientAuth:       {401, "invalid_client", "Client authentication method not allowed."},
	MissingCode:                 {400, "invalid_request", "Missing parameter: code"},
	MalformedCode:               {400, "invalid_grant", "Malformed code."},
	UnknownCode:                 {400, "invalid_grant", "Unknown code."},
	ReusedCode:                  {400, "invalid_grant", "Code already used."},
	ExpiredCode:                 {400, "invalid_grant", "Code expired."},
	MissingRedirectURI:          {400, "invalid_request", "Missing parameter: redirect_uri"},
	RedirectMismatch:            {400, "invalid_grant", "redirect_uri differs from the authorization request's."},
	MissingVerifier:             {400, "invalid_grant", "Missing code_verifier."},
	WrongVerifier:               {400, "invalid_grant", "code_verifier does not match the code_challenge."},
	MissingRefreshToken:         {400, "invalid_request", "Missing parameter: refresh_token"},
	InvalidRefreshToken:         {400, "invalid_grant", "Invalid refresh token."},
	ScopeNotGranted:             {400, "invalid_scope", "Scope not granted."},
	RevokeMissingToken:          {400, "invalid_request", "Missing parameter: token"},
	InvalidAccessToken:          {401, "invalid_token", "Invalid access token."},
	InsufficientScope:           {403, "insufficient_scope", "Insufficient scope."},
	UnknownTenant:               {400, "invalid_request", "Unknown tenant: %s"},
	TenantRejectsUser:           {400, "invalid_grant", "The account %s cannot sign in at this tenant."},
	CodeOtherTenant:             {400, "invalid_grant", "The code was issued for another tenant."},
}

// errorFor is the provider's answer to a failure, detail filled in; ok is
// false for a failure with no answer (RevokeUnknownToken by default).
func (s *Server) errorFor(f Failure, detail string) (Error, bool) {
	if fb, ok := fallbacks[f]; ok {
		if _, listed := s.cfg.Errors[f]; !listed {
			f = fb
		}
	}
	e, ok := s.cfg.Errors[f]
	if !ok {
		e, ok = defaultErrors[f]
	}
	e.Description = strings.ReplaceAll(e.Description, "%s", detail)
	return e, ok
}

// fail answers a failure of the token or revocation endpoint.
func (s *Server) fail(w http.ResponseWriter, f Failure, detail string) {
	e, _ := s.errorFor(f, detail)
	s.cfg.WriteError(w, e)
}

// WriteOAuthError writes RFC 6749 5.2's error answer:
// {"error","error_description"}, the description left out when empty.
func WriteOAuthError(w http.ResponseWriter, e Error) {
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	WriteJSON(w, e.Status, body)
}

// WriteJSON answers status with v as JSON, not to be cached (RFC 6749 5.1).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// BearerChallenge is a WWW-Authenticate value of RFC 6750 3: Bearer with
// realm (if not empty), error and scope (if not empty).
func BearerChallenge(realm, errCode, scope string) string {
	var parts []string
	if realm != "" {
		parts = append(parts, fmt.Sprintf("realm=%q", realm))
	}
	parts = append(parts, fmt.Sprintf("error=%q", errCode))
	if scope != "" {
		parts = append(parts, fmt.Sprintf("scope=%q", scope))
	}
	return "Bearer " + strings.Join(parts, ", ")
}

// writeErrorPage is the default error page of the authorization endpoint.
func writeErrorPage(w http.ResponseWriter, e Error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>%s</title></head><body><h1>Error %d: %s</h1><p>%s</p></body></html>",
		html.EscapeString(e.Code), e.Status, html.EscapeString(e.Code), html.EscapeString(e.Description))
}
