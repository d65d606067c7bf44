package microsofttest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// The Microsoft identity platform (v2.0 endpoints), as oauthtest
// configuration, after the "OAuth 2.0 authorization code flow" page and the
// AADSTS error codes reference.

// graphResource prefixes a Graph permission in its full form.
const graphResource = "https://graph.microsoft.com/"

// graphPermissions are the delegated Graph permissions the fake knows, as
// Microsoft spells them (requests may use any case).
var graphPermissions = []string{
	"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All",
	"Mail.Read", "Mail.ReadBasic", "Mail.ReadWrite", "Mail.Send",
	"Mail.Read.Shared", "Mail.ReadWrite.Shared", "Mail.Send.Shared",
	"Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite", "Calendars.Read.Shared", "Calendars.ReadWrite.Shared",
	"MailboxSettings.Read", "MailboxSettings.ReadWrite", "Contacts.Read", "Contacts.ReadWrite", "People.Read",
}

// oidcScopes are the OpenID Connect scopes, in the order token answers list
// them; offline_access is asked for but never listed.
var oidcScopes = []string{"profile", "openid", "email", "offline_access"}

// normalizeScope maps a scope as written ("mail.read",
// "https://graph.microsoft.com/Mail.Read", "OpenID") to its canonical form:
// a Graph permission with its resource and Microsoft's spelling, an OIDC
// scope in lower case. Scopes are case-insensitive on the identity platform.
// Unknown scopes are returned as written.
func normalizeScope(sc string) string {
	lower := strings.ToLower(sc)
	if slices.Contains(oidcScopes, lower) {
		return lower
	}
	name, full := strings.CutPrefix(lower, graphResource)
	if name == ".default" && full {
		return graphResource + ".default"
	}
	for _, p := range graphPermissions {
		if strings.EqualFold(p, name) {
			return graphResource + p
		}
	}
	return sc
}

func validScope(sc string) bool {
	return slices.Contains(oidcScopes, sc) || sc == graphResource+".default" ||
		slices.ContainsFunc(graphPermissions, func(p string) bool { return sc == graphResource+p })
}

// grantedPermissions are the Graph permissions a token's scopes carry, short
// names; .default stands for the app registration's permissions.
func (s *Server) grantedPermissions(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		switch name, ok := strings.CutPrefix(sc, graphResource); {
		case !ok:
		case name == ".default":
			out = append(out, s.opts.AppPermissions...)
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// tokenScope is the scope field of a token answer as the identity platform
// writes it for Graph: the permissions by their short names, then profile,
// openid and email; offline_access is not listed.
func (s *Server) tokenScope(canonical string) string {
	scopes := strings.Fields(canonical)
	out := s.grantedPermissions(scopes)
	for _, o := range oidcScopes[:3] {
		if slices.Contains(scopes, o) {
			out = append(out, o)
		}
	}
	return strings.Join(out, " ")
}

func (s *Server) oauthConfig() oauthtest.Config {
	o := s.opts
	rotation := oauthtest.RotateKeepOld
	if o.RetireOldRefreshTokens {
		rotation = oauthtest.RotateRetireOld
	}
	return oauthtest.Config{
		Name:     "microsofttest",
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURIs: o.RedirectURIs,
		AccessTokenTTL: o.AccessTokenTTL, Now: o.Now,
		Issuer:        "https://login.microsoftonline.com/{tenantid}/v2.0",
		DiscoveryPath: "/{tenant}/v2.0/.well-known/openid-configuration",
		Subject: func(name string) string { // pairwise per app, 43 characters
			sum := sha256.Sum256([]byte("sub " + o.ClientID + " " + lowerKey(name)))
			return base64.RawURLEncoding.EncodeToString(sum[:])
		},
		Scopes: oauthtest.Scopes{
			Normalize: normalizeScope, Valid: validScope, Basic: oidcScopes, Supported: oidcScopes,
		},
		Authorize: oauthtest.Authorize{
			Paths: []string{"/{tenant}/oauth2/v2.0/authorize"},
			// PKCE is recommended for every client and, here, required of a
			// public one; plain is supported beside S256.
			PKCEOptional: !o.Public, PKCEMethods: []string{"S256", "plain"},
			Prompts:     []string{"login", "none", "consent", "select_account"},
			CheckParams: checkAuthorizeParams,
			// Failures after client and redirect URI are known go back to the
			// client; the ones before are shown on the sign-in page.
			RedirectErrors: true,
			ErrorPage:      errorPage,
			// A token carries every permission the user has consented to for
			// the resource, not only the ones asked for this time.
			IncludeGranted: func(url.Values) bool { return true },
			// A refresh token only when offline_access is asked for.
			RefreshToken: func(c oauthtest.Consent) bool {
				return slices.ContainsFunc(c.Asked, func(sc string) bool { return strings.EqualFold(sc, "offline_access") })
			},
		},
		Tokens: oauthtest.Tokens{
			Path:       "/{tenant}/oauth2/v2.0/token",
			Code:       oauthtest.TokenFormat{Prefix: "0.AXcA", Bytes: 96, Shape: "0.A"},
			Access:     oauthtest.TokenFormat{Prefix: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.", Bytes: 160},
			Refresh:    oauthtest.TokenFormat{Prefix: "0.ARcA", Bytes: 96},
			Rotation:   rotation,
			RefreshTTL: o.RefreshTokenTTL,
			Answer:     s.tokenAnswer,
			IDClaims:   s.idClaims,
		},
		ClientAuth: oauthtest.ClientAuth{Public: o.Public, RefuseSecret: o.Public},
		Tenants:    &oauthtest.Tenants{Exists: s.tenantExists, Accepts: s.tenantAccepts},
		Errors:     aadErrors(o.ClientID),
		WriteError: s.writeAADError,
	}
}

// checkAuthorizeParams checks what the identity platform checks beyond
// OAuth: the response mode, and .default alone among a resource's scopes.
func checkAuthorizeParams(q url.Values) *oauthtest.Error {
	if m := q.Get("response_mode"); m != "" && m != "query" {
		return &oauthtest.Error{Status: 400, Code: "invalid_request",
			Description: "microsofttest: response_mode=" + m + " is not supported by the fake (only query)"}
	}
	scopes := strings.Fields(q.Get("scope"))
	var def, other bool
	for _, sc := range scopes {
		n := normalizeScope(sc)
		def = def || n == graphResource+".default"
		other = other || strings.HasPrefix(n, graphResource) && n != graphResource+".default"
	}
	if def && other {
		return &oauthtest.Error{Status: 400, Code: "invalid_scope", Description: "AADSTS70011: The provided request must include a 'scope' input parameter. " +
			"The provided value for the input parameter 'scope' is not valid. The scope '" + q.Get("scope") + "' is not valid. static scope limit exceeded."}
	}
	return nil
}

// tenantExists: the three audiences, the consumers tenant's id, and the id
// or domain of a work account's directory.
func (s *Server) tenantExists(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers", ConsumersTenantID:
		return true
	}
	return s.accounts.knowsTenant(t)
}

// tenantAccepts says who may sign in at a tenant: common takes everyone,
// organizations work and school accounts, consumers personal accounts, a
// tenant its own users.
func (s *Server) tenantAccepts(t string, u oauthtest.User) bool {
	a := s.accounts.get(u.Email)
	switch t = strings.ToLower(t); t {
	case "common":
		return true
	case "organizations":
		return !a.Personal
	case "consumers", ConsumersTenantID:
		return a.Personal
	}
	return !a.Personal && (t == a.TenantID || t == a.Domain())
}

func (ac *accounts) knowsTenant(t string) bool {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for _, a := range ac.byName {
		if !a.Personal && (strings.EqualFold(t, a.TenantID) || strings.EqualFold(t, a.Domain())) {
			return true
		}
	}
	return false
}

// AddUser adds an account with the defaults (see Account) that can
// approve authorizations; the first one added is the default, login_hint
// picks another.
func (s *Server) AddUser(email string) {
	a := withDefaults(Account{Email: email})
	s.accounts.mu.Lock()
	if _, ok := s.accounts.byName[lowerKey(email)]; !ok {
		s.accounts.byName[lowerKey(email)] = a
	}
	s.accounts.mu.Unlock()
	s.Server.AddUser(email)
}

// tokenAnswer is the token endpoint's JSON: ext_expires_in beside
// expires_in, the scope as Microsoft lists it.
func (s *Server) tokenAnswer(t oauthtest.TokenResponse) any {
	out := map[string]any{
		"token_type": t.TokenType, "scope": s.tokenScope(t.Scope), "expires_in": t.ExpiresIn,
		"ext_expires_in": t.ExpiresIn, "access_token": t.AccessToken,
	}
	if t.RefreshToken != "" {
		out["refresh_token"] = t.RefreshToken
	}
	if t.IDToken != "" {
		out["id_token"] = t.IDToken
	}
	return out
}

// idClaims are the v2.0 ID token's claims: the issuer of the user's
// tenant, oid, tid, preferred_username, and name and email with their
// scopes.
func (s *Server) idClaims(u oauthtest.User, scopes []string, claims map[string]any) {
	a := s.accounts.get(u.Email)
	claims["iss"] = "https://login.microsoftonline.com/" + a.TenantID + "/v2.0"
	claims["ver"], claims["tid"], claims["oid"] = "2.0", a.TenantID, a.ObjectID()
	claims["preferred_username"] = a.UPN
	if slices.Contains(scopes, "profile") {
		claims["name"] = a.DisplayName
	}
	if slices.Contains(scopes, "email") {
		claims["email"] = a.Email
	}
}

// writeAADError is the token endpoint's error body: error,
// error_description (with trace and correlation ids and the time),
// error_codes, timestamp, trace_id, correlation_id, error_uri.
func (s *Server) writeAADError(w http.ResponseWriter, e oauthtest.Error) {
	num := aadCode(e.Description)
	stamp := s.Now().UTC().Format("2006-01-02 15:04:05Z")
	trace, corr := newGUID(), newGUID()
	body := map[string]any{
		"error":             e.Code,
		"error_description": e.Description + "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + stamp,
		"error_codes":       []int{num},
		"timestamp":         stamp, "trace_id": trace, "correlation_id": corr,
	}
	if num != 0 {
		body["error_uri"] = s.URL() + "/error?code=" + strconv.Itoa(num)
	}
	oauthtest.WriteJSON(w, e.Status, body)
}

// aadCode is the number of the "AADSTS…:" a description starts with.
func aadCode(desc string) int {
	rest, ok := strings.CutPrefix(desc, "AADSTS")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

// errorPage is the sign-in page's error: HTTP 400 with the AADSTS text.
func errorPage(w http.ResponseWriter, e oauthtest.Error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>"+
		"<div id=\"login\"><h1>Sign in</h1><p>Sorry, but we’re having trouble signing you in.</p><p>%s</p><p>%s</p></div></body></html>",
		html.EscapeString(e.Code), html.EscapeString(e.Description))
}

func aadError(status int, code, desc string) oauthtest.Error {
	return oauthtest.Error{Status: status, Code: code, Description: desc}
}

// aadErrors are the identity platform's answers ("%s": the detail).
func aadErrors(clientID string) map[oauthtest.Failure]oauthtest.Error {
	missing := func(param string) string {
		return "AADSTS900144: The request body must contain the following parameter: '" + param + "'."
	}
	appNotFound := "AADSTS700016: Application with identifier '" + clientID + "' was not found in the directory. " +
		"This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. " +
		"You may have sent your authentication request to the wrong tenant."
	return map[oauthtest.Failure]oauthtest.Error{
		oauthtest.AuthMissingClientID:    aadError(400, "invalid_request", missing("client_id")),
		oauthtest.AuthUnknownClient:      aadError(400, "unauthorized_client", appNotFound),
		oauthtest.AuthMissingRedirectURI: aadError(400, "invalid_request", "AADSTS900971: No reply address provided."),
		oauthtest.AuthRedirectMismatch: aadError(400, "invalid_request", "AADSTS50011: The redirect URI '%s' specified in the request does not match "+
			"the redirect URIs configured for the application '"+clientID+"'."),
		oauthtest.AuthMissingResponseType:     aadError(400, "invalid_request", missing("response_type")),
		oauthtest.AuthUnsupportedResponseType: aadError(400, "unsupported_response_type", "AADSTS70005: response_type '%s' is not enabled for the application."),
		oauthtest.AuthMissingScope:            aadError(400, "invalid_request", missing("scope")),
		oauthtest.AuthInvalidScope: aadError(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid. "+
			"The scope '%s' does not exist."),
		oauthtest.AuthMissingChallenge: aadError(400, "invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption."),
		oauthtest.AuthChallengeMethod:  aadError(400, "invalid_request", "AADSTS501491: Invalid code_challenge_method '%s'."),
		oauthtest.AuthInvalidChallenge: aadError(400, "invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter."),
		oauthtest.AuthInvalidPrompt:    aadError(400, "invalid_request", "AADSTS90023: Invalid prompt value '%s'."),
		oauthtest.AccessDenied:         aadError(400, "access_denied", "AADSTS65004: User declined to consent to access the app."),
		oauthtest.ConsentRequired: aadError(400, "consent_required", "AADSTS65001: The user or administrator has not consented to use the application with ID '"+
			clientID+"'. Send an interactive authorization request for this user and resource."),

		oauthtest.TokenBackendError:     aadError(503, "temporarily_unavailable", "AADSTS90006: The service is temporarily unavailable."),
		oauthtest.MissingGrantType:      aadError(400, "invalid_request", missing("grant_type")),
		oauthtest.UnsupportedGrantType:  aadError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '%s'."),
		oauthtest.MissingClientID:       aadError(400, "invalid_request", missing("client_id")),
		oauthtest.UnknownClient:         aadError(400, "unauthorized_client", appNotFound),
		oauthtest.MissingClientSecret:   aadError(401, "invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
		oauthtest.WrongClientSecret:     aadError(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'."),
		oauthtest.PublicClientSecret:    aadError(401, "invalid_client", "AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
		oauthtest.UnsupportedClientAuth: aadError(401, "invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
		oauthtest.MissingCode:           aadError(400, "invalid_request", missing("code")),
		oauthtest.MalformedCode:         aadError(400, "invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or invalid."),
		oauthtest.UnknownCode:           aadError(400, "invalid_grant", "AADSTS70000: The provided value for the 'code' parameter is not valid."),
		oauthtest.ReusedCode:            aadError(400, "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."),
		oauthtest.ExpiredCode:           aadError(400, "invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."),
		oauthtest.MissingRedirectURI:    aadError(400, "invalid_request", missing("redirect_uri")),
		oauthtest.RedirectMismatch:      aadError(400, "invalid_grant", "AADSTS500112: The reply address does not match the reply address provided when requesting Authorization code."),
		oauthtest.MissingVerifier:       aadError(400, "invalid_grant", "AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE."),
		oauthtest.WrongVerifier:         aadError(400, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."),
		oauthtest.MissingRefreshToken:   aadError(400, "invalid_request", missing("refresh_token")),
		oauthtest.InvalidRefreshToken:   aadError(400, "invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or invalid."),
		oauthtest.RevokedRefreshToken: aadError(400, "invalid_grant", "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. "+
			"The user might have changed or reset their password."),
		oauthtest.RetiredRefreshToken: aadError(400, "invalid_grant", "AADSTS70000: The provided value for the 'refresh_token' is not valid. The refresh token was already redeemed."),
		oauthtest.ExpiredRefreshToken: aadError(400, "invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity. "+
			"The token was inactive for 90.00:00:00."),
		oauthtest.ScopeNotGranted: aadError(400, "invalid_grant", "AADSTS65001: The user or administrator has not consented to use the application with ID '"+
			clientID+"'. Send an interactive authorization request for this user and resource."),
		oauthtest.UnknownTenant: aadError(400, "invalid_request", "AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID "+
			"and are signing into the correct cloud."),
		oauthtest.TenantRejectsUser: aadError(400, "invalid_grant", "AADSTS50020: User account '%s' from identity provider does not exist in tenant "+
			"and cannot access the application '"+clientID+"' in that tenant. The account needs to be added as an external user in the tenant first."),
		oauthtest.CodeOtherTenant: aadError(400, "invalid_grant", "AADSTS700005: Provided Authorization Code is intended to use against other tenant, thus rejected."),
	}
}
