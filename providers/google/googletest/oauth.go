package googletest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// Google's OAuth 2.0 and OpenID Connect, as oauthtest configuration.

const (
	issuer = "https://accounts.google.com"
	realm  = "https://accounts.google.com/"
)

// Google's short scope names and the scopes they stand for.
var scopeAliases = map[string]string{
	"email":   "https://www.googleapis.com/auth/userinfo.email",
	"profile": "https://www.googleapis.com/auth/userinfo.profile",
}

// oauthConfig is Google's authorization server for a client.
func oauthConfig(opts Options) oauthtest.Config {
	rotation := oauthtest.NoRotation
	switch {
	case opts.RotateRefreshTokens && opts.RetireOldRefreshTokens:
		rotation = oauthtest.RotateRetireOld
	case opts.RotateRefreshTokens:
		rotation = oauthtest.RotateKeepOld
	}
	return oauthtest.Config{
		Name:     "googletest",
		ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, RedirectURIs: opts.RedirectURIs,
		AccessTokenTTL: opts.AccessTokenTTL, Now: opts.Now,
		Issuer: issuer, Realm: realm, Subject: googleSub,
		Scopes: oauthtest.Scopes{
			Aliases: scopeAliases, Basic: []string{"openid", "email", "profile"},
			Valid: validScope, Supported: []string{"openid", "email", "profile"},
		},
		Authorize: oauthtest.Authorize{
			Paths:       []string{"/o/oauth2/v2/auth", "/o/oauth2/auth"},
			Prompts:     []string{"none", "consent", "select_account"},
			CheckParams: checkGoogleParams,
			ErrorPage:   errorPage,
			// Incremental authorization, on request.
			IncludeGranted: func(q url.Values) bool { return q.Get("include_granted_scopes") == "true" },
			// A refresh token only for offline access, and only when the
			// consent screen was shown.
			RefreshToken: func(c oauthtest.Consent) bool { return c.Request.Get("access_type") == "offline" && c.Shown },
			Redirect:     redirectParams,
		},
		Tokens: oauthtest.Tokens{
			Path:     "/token",
			Code:     oauthtest.TokenFormat{Prefix: "4/0A", Bytes: 48, Shape: "4/"},
			Access:   oauthtest.TokenFormat{Prefix: "ya29.a0", Bytes: 96},
			Refresh:  oauthtest.TokenFormat{Prefix: "1//0", Bytes: 72},
			Rotation: rotation,
			IDClaims: func(u oauthtest.User, scopes []string, claims map[string]any) {
				claims["azp"] = opts.ClientID
				if slices.Contains(scopes, scopeAliases["email"]) {
					claims["email"], claims["email_verified"] = u.Email, true
				}
			},
		},
		Revocation: oauthtest.Revocation{Path: "/revoke", Methods: []string{http.MethodGet, http.MethodPost}, RevokeUser: true},
		Identity: oauthtest.Identity{
			Paths:    []string{"/v1/userinfo", "/oauth2/v3/userinfo"},
			AnyScope: []string{"openid", "email"},
			Claims:   userinfo,
		},
		Errors: oauthErrors,
	}
}

// googleSub is a 21-digit subject id, like Google's.
func googleSub(email string) string {
	sum := sha256.Sum256([]byte(email))
	return fmt.Sprintf("1%020d", binary.BigEndian.Uint64(sum[:8]))
}

func validScope(sc string) bool {
	return sc == "openid" || sc == "https://mail.google.com/" || strings.HasPrefix(sc, "https://www.googleapis.com/auth/")
}

// checkGoogleParams checks Google's own authorization parameters.
func checkGoogleParams(q url.Values) *oauthtest.Error {
	if at := q.Get("access_type"); at != "" && at != "online" && at != "offline" {
		return &oauthtest.Error{Status: 400, Code: "invalid_request", Description: "Invalid access_type: " + at}
	}
	if igs := q.Get("include_granted_scopes"); igs != "" && igs != "true" && igs != "false" {
		return &oauthtest.Error{Status: 400, Code: "invalid_request", Description: "Invalid include_granted_scopes: " + igs}
	}
	return nil
}

// redirectParams are the parameters of Google's redirect after consent:
// the scopes granted with the short names asked for, authuser, and whether
// the consent screen was shown.
func redirectParams(c oauthtest.Consent, code string) []string {
	shown := slices.Clone(c.Granted)
	for alias, full := range scopeAliases {
		if slices.Contains(c.Asked, alias) && slices.Contains(c.Granted, full) {
			shown = append(shown, alias)
		}
	}
	slices.Sort(shown)
	prompt := "none"
	if c.Shown {
		prompt = "consent"
	}
	return []string{"state", c.Request.Get("state"), "code", code, "scope", strings.Join(shown, " "),
		"authuser", "0", "prompt", prompt}
}

// errorPage is Google's "Access blocked" page: always 400, whatever error
// number it shows.
func errorPage(w http.ResponseWriter, e oauthtest.Error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Error %d (%s)</title></head><body>"+
		"<h1>Access blocked: Authorization Error</h1><p>Error %d: %s</p><p>%s</p></body></html>",
		e.Status, e.Code, e.Status, e.Code, html.EscapeString(e.Description))
}

// userinfo is the answer of OpenID Connect's userinfo endpoint
// (openidconnect.googleapis.com/v1/userinfo).
func userinfo(u oauthtest.User, scopes []string) any {
	info := map[string]any{"sub": u.Sub, "picture": "https://lh3.googleusercontent.com/a/fake-" + u.Sub}
	if slices.Contains(scopes, scopeAliases["email"]) {
		info["email"], info["email_verified"] = u.Email, true
	}
	if slices.Contains(scopes, scopeAliases["profile"]) {
		name, _, _ := strings.Cut(u.Email, "@")
		info["name"], info["given_name"] = name, name
	}
	return info
}

func oauthError(status int, code, description string) oauthtest.Error {
	return oauthtest.Error{Status: status, Code: code, Description: description}
}

// oauthErrors are Google's answers ("%s": the failure's detail).
var oauthErrors = map[oauthtest.Failure]oauthtest.Error{
	oauthtest.AuthMissingClientID:    oauthError(400, "invalid_request", "Missing required parameter: client_id"),
	oauthtest.AuthUnknownClient:      oauthError(401, "invalid_client", "The OAuth client was not found."),
	oauthtest.AuthMissingRedirectURI: oauthError(400, "invalid_request", "Missing required parameter: redirect_uri"),
	oauthtest.AuthRedirectMismatch: oauthError(400, "redirect_uri_mismatch",
		"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. Request details: redirect_uri=%s"),
	oauthtest.AuthMissingResponseType:     oauthError(400, "invalid_request", "Required parameter is missing: response_type"),
	oauthtest.AuthUnsupportedResponseType: oauthError(400, "unsupported_response_type", "Unsupported response_type: %s"),
	oauthtest.AuthMissingScope:            oauthError(400, "invalid_request", "Missing required parameter: scope"),
	oauthtest.AuthInvalidScope:            oauthError(400, "invalid_scope", "Some requested scopes were invalid. {invalid=[%s]}"),
	oauthtest.AuthMissingChallenge:        oauthError(400, "invalid_request", "Missing required parameter: code_challenge (this client requires PKCE)"),
	oauthtest.AuthChallengeMethod:         oauthError(400, "invalid_request", "Invalid code_challenge_method: %s (S256 required)"),
	oauthtest.AuthInvalidChallenge:        oauthError(400, "invalid_request", "Invalid code_challenge"),
	oauthtest.AuthInvalidPrompt:           oauthError(400, "invalid_request", "Invalid prompt: %s"),
	oauthtest.AccessDenied:                oauthError(0, "access_denied", ""),
	oauthtest.ConsentRequired:             oauthError(0, "consent_required", ""),

	oauthtest.TokenBackendError:    oauthError(500, "internal_failure", "Backend Error"),
	oauthtest.MissingGrantType:     oauthError(400, "invalid_request", "Required parameter is missing: grant_type"),
	oauthtest.UnsupportedGrantType: oauthError(400, "unsupported_grant_type", "Invalid grant_type: %s"),
	oauthtest.MissingClientID:      oauthError(400, "invalid_request", "Could not determine client ID from request."),
	oauthtest.UnknownClient:        oauthError(401, "invalid_client", "The OAuth client was not found."),
	oauthtest.MissingClientSecret:  oauthError(400, "invalid_request", "client_secret is missing."),
	oauthtest.WrongClientSecret:    oauthError(401, "invalid_client", "Unauthorized"),
	oauthtest.MissingCode:          oauthError(400, "invalid_request", "Missing required parameter: code"),
	oauthtest.MalformedCode:        oauthError(400, "invalid_grant", "Malformed auth code."),
	oauthtest.UnknownCode:          oauthError(400, "invalid_grant", "Bad Request"),
	oauthtest.ReusedCode:           oauthError(400, "invalid_grant", "Bad Request"),
	oauthtest.ExpiredCode:          oauthError(400, "invalid_grant", "Bad Request"),
	oauthtest.MissingRedirectURI:   oauthError(400, "invalid_request", "Missing parameter: redirect_uri"),
	oauthtest.RedirectMismatch:     oauthError(400, "redirect_uri_mismatch", "Bad Request"),
	oauthtest.MissingVerifier:      oauthError(400, "invalid_grant", "Missing code verifier."),
	oauthtest.WrongVerifier:        oauthError(400, "invalid_grant", "Bad Request"),
	oauthtest.MissingRefreshToken:  oauthError(400, "invalid_request", "Missing required parameter: refresh_token"),
	oauthtest.InvalidRefreshToken:  oauthError(400, "invalid_grant", "Token has been expired or revoked."),
	oauthtest.ScopeNotGranted:      oauthError(400, "invalid_scope", "Bad Request"),

	oauthtest.RevokeMissingToken: oauthError(400, "invalid_request", "Bad Request"),
	oauthtest.RevokeUnknownToken: oauthError(400, "invalid_token", "Token expired or revoked"),
	oauthtest.InvalidAccessToken: oauthError(401, "invalid_request", "Invalid Credentials"),
	oauthtest.InsufficientScope:  oauthError(403, "insufficient_scope", "Insufficient Permission"),
}
