package mcpauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// tokenAnswer is /token's answer (RFC 6749 section 5.1).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// errReuse is what a replayed code or refresh token is told.
const reuseDesc = "was already used; every token of this sign-in is now revoked: sign in again"

// reused is the answer to a code or refresh token used a second time (its
// family was revoked), marked for the metrics.
func reused(what string) *Error {
	return &Error{Code: "invalid_grant", Description: what + " " + reuseDesc, reuse: true}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	form, e := readForm(w, r)
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	client, e := s.authenticate(r, form)
	if e != nil {
		writeClientError(w, r, e)
		return
	}
	var ans tokenAnswer
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		ans, e = s.exchangeCode(r.Context(), client, form)
	case "refresh_token":
		ans, e = s.refresh(r.Context(), client, form)
	case "":
		e = &Error{Code: "invalid_request", Description: "grant_type: required, authorization_code or refresh_token"}
	default:
		e = &Error{Code: "unsupported_grant_type", Description: "grant_type: " + quoted(gt) + " is not supported; use authorization_code or refresh_token"}
	}
	if e != nil {
		switch {
		case e.reuse:
			s.observe("token", "reuse")
		case e.Code == "temporarily_unavailable":
			s.observe("token", "unavailable")
		default:
			s.observe("token", "refused")
		}
		writeOAuthError(w, e)
		return
	}
	s.observe("token", map[string]string{"authorization_code": "code", "refresh_token": "refresh"}[form.Get("grant_type")])
	writeJSON(w, http.StatusOK, ans, false)
}

// readForm reads a POSTed form of at most maxForm bytes, each parameter
// given once (RFC 6749 section 3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		return nil, &Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "this endpoint takes POST"}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, &Error{Code: "invalid_request", Description: "Content-Type: send application/x-www-form-urlencoded"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, &Error{Code: "invalid_request", Description: "the form could not be read: at most 16 KB of application/x-www-form-urlencoded"}
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, &Error{Code: "invalid_request", Description: k + ": given more than once; give each parameter once"}
		}
	}
	return r.PostForm, nil
}

// authenticate identifies the client: client_secret_basic or
// client_secret_post for a confidential client, client_id alone for a
// public one. Failures are 401 invalid_client (with WWW-Authenticate:
// Basic when Basic was used).
func (s *Server) authenticate(r *http.Request, form url.Values) (Client, *Error) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	user, pass, basic := r.BasicAuth()
	fail := func(desc string) *Error {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_client", Description: desc}
	}
	if basic {
		// RFC 6749 section 2.3.1: both are form-encoded inside Basic.
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		switch {
		case err1 != nil || err2 != nil:
			return Client{}, fail("the Basic credentials are not form-encoded client_id:client_secret")
		case secret != "":
			return Client{}, &Error{Code: "invalid_request", Description: "client_secret: sent both in the form and in the Authorization header; use one"}
		case id != "" && id != u:
			return Client{}, fail("client_id: the form's and the Authorization header's differ")
		}
		id, secret = u, p
	}
	if id == "" {
		return Client{}, fail("client_id: required (in the form, or with the secret in an Authorization: Basic header)")
	}
	client, err := s.cfg.Clients.Lookup(r.Context(), id)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			if e.Code == "invalid_client" {
				return Client{}, fail(e.Description)
			}
			return Client{}, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: e.Description}
		}
		slog.WarnContext(r.Context(), "token: looking up the client failed", "err", err)
		return Client{}, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the client could not be looked up; try again shortly"}
	}
	if client.SecretHash == "" {
		if secret != "" {
			return Client{}, fail("this client is public (token_endpoint_auth_method none): send no client_secret")
		}
		return client, nil
	}
	if secret == "" || !client.CheckSecret(secret) {
		return Client{}, fail("client authentication failed: a registered client sends its client_secret (Basic or in the form)")
	}
	return client, nil
}

// writeClientError answers a client authentication failure, with
// WWW-Authenticate: Basic when Basic credentials were sent (RFC 6749 5.2).
func writeClientError(w http.ResponseWriter, r *http.Request, e *Error) {
	if _, _, basic := r.BasicAuth(); basic && e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="mailcal", charset="UTF-8"`)
	}
	writeOAuthError(w, e)
}

// exchangeCode redeems an authorization code (RFC 6749 4.1.3, RFC 7636).
func (s *Server) exchangeCode(ctx context.Context, client Client, form url.Values) (tokenAnswer, *Error) {
	code := form.Get("code")
	if !wellFormed(code, CodePrefix) {
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "code: not an authorization code of this server"}
	}
	now := s.now()
	rec, first, err := s.cfg.Store.SpendOAuthToken(ctx, hashToken(code), now)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && rec.Kind != store.OAuthCode):
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "code: unknown, expired or revoked; sign in again"}
	case err != nil:
		return tokenAnswer{}, s.unavailable(ctx, "spending a code", err)
	case !first:
		// RFC 6749 4.1.2: a code used twice revokes what it gave.
		s.revokeQuietly(ctx, rec.Family, "authorization code reused")
		return tokenAnswer{}, reused("this authorization code")
	case !now.Before(rec.ExpiresAt):
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "code: expired (a code lasts 60 seconds); sign in again"}
	case rec.Client != client.ID:
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "code: issued to another client"}
	case form.Get("redirect_uri") != rec.RedirectURI:
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "redirect_uri: must be the one the authorization request gave"}
	case !pkceMatches(form.Get("code_verifier"), rec.Challenge):
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "code_verifier: does not match the code_challenge (PKCE S256)"}
	case form.Get("resource") != "" && form.Get("resource") != rec.Resource:
		return tokenAnswer{}, &Error{Code: "invalid_target", Description: "resource: must be the one the authorization request gave, " + rec.Resource}
	}
	answer, _, e := s.issue(ctx, rec)
	return answer, e
}

// pkceMatches checks an S256 verifier (RFC 7636 4.6) in constant time.
func pkceMatches(verifier, challenge string) bool {
	if !challengeRE.MatchString(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// refresh rotates a refresh token: the old one is spent, a new access
// token and refresh token of the same family are issued. A spent one
// presented again is a reuse: the family is revoked.
func (s *Server) refresh(ctx context.Context, client Client, form url.Values) (tokenAnswer, *Error) {
	tok := form.Get("refresh_token")
	if !wellFormed(tok, RefreshPrefix) {
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "refresh_token: not a refresh token of this server"}
	}
	hash := hashToken(tok)
	rec, err := s.cfg.Store.GetOAuthToken(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && rec.Kind != store.OAuthRefresh):
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "refresh_token: unknown, expired or revoked; sign in again"}
	case err != nil:
		return tokenAnswer{}, s.unavailable(ctx, "reading a refresh token", err)
	case rec.Client != client.ID:
		// Another client must not be able to spend (and so kill) it.
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "refresh_token: issued to another client"}
	}
	now := s.now()
	switch {
	case !now.Before(rec.ExpiresAt):
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "refresh_token: expired; sign in again"}
	case !now.Before(s.familyEnd(rec.Family)):
		return tokenAnswer{}, &Error{Code: "invalid_grant", Description: "this sign-in is older than 90 days; sign in again"}
	case form.Get("resource") != "" && form.Get("resource") != rec.Resource:
		return tokenAnswer{}, &Error{Code: "invalid_target", Description: "resource: a refresh token serves the resource it was issued for, " + rec.Resource}
	case !rec.SpentAt.IsZero():
		s.revokeQuietly(ctx, rec.Family, "refresh token reused")
		return tokenAnswer{}, reused("this refresh token")
	}
	// The new tokens are stored before the old one is spent: a store that
	// fails in between leaves the old one unspent, so the client's retry
	// is not taken for a reuse that would end the sign-in. Of two spends,
	// the second revokes the family, the tokens just stored included.
	answer, minted, e := s.issue(ctx, rec)
	if e != nil {
		return tokenAnswer{}, e
	}
	_, first, err := s.cfg.Store.SpendOAuthToken(ctx, hash, now)
	switch {
	case err == nil && first:
		return answer, nil
	case err == nil || errors.Is(err, store.ErrNotFound):
		// Spent (or revoked) by another request meanwhile.
		s.revokeQuietly(ctx, rec.Family, "refresh token reused")
		return tokenAnswer{}, reused("this refresh token")
	}
	for _, h := range minted {
		if derr := s.cfg.Store.DeleteOAuthToken(ctx, h); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			slog.WarnContext(ctx, "oauth server: dropping tokens of a refresh that failed", "family", fam(rec.Family), "err", derr)
		}
	}
	return tokenAnswer{}, s.unavailable(ctx, "spending a refresh token", err)
}

// issue stores a new access token and refresh token of from's family and
// binding, and answers them.
func (s *Server) issue(ctx context.Context, from store.OAuthToken) (tokenAnswer, []string, *Error) {
	ok, err := s.cfg.TenantExists(ctx, from.Tenant)
	if err != nil {
		return tokenAnswer{}, nil, s.unavailable(ctx, "reading the workspace", err)
	}
	if !ok {
		return tokenAnswer{}, nil, &Error{Code: "invalid_grant", Description: "the workspace of this sign-in no longer exists"}
	}
	access, refresh := newToken(AccessPrefix), newToken(RefreshPrefix)
	now := s.now()
	end := s.familyEnd(from.Family)
	refreshEnd := now.Add(RefreshTTL)
	if refreshEnd.After(end) {
		refreshEnd = end
	}
	accessEnd := now.Add(AccessTTL)
	if accessEnd.After(end) {
		accessEnd = end
	}
	base := store.OAuthToken{
		Family: from.Family, Tenant: from.Tenant, Provider: from.Provider, Account: from.Account,
		Client: from.Client, Resource: from.Resource, Scopes: []string{Scope}, CreatedAt: now.UTC(),
	}
	a, r := base, base
	a.Hash, a.Kind, a.ExpiresAt = hashToken(access), store.OAuthAccess, accessEnd.UTC()
	r.Hash, r.Kind, r.ExpiresAt = hashToken(refresh), store.OAuthRefresh, refreshEnd.UTC()
	for _, t := range []store.OAuthToken{r, a} {
		if err := s.cfg.Store.PutOAuthToken(ctx, t); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return tokenAnswer{}, nil, &Error{Code: "invalid_grant", Description: "this sign-in was revoked; sign in again"}
			}
			return tokenAnswer{}, nil, s.unavailable(ctx, "storing tokens", err)
		}
	}
	slog.InfoContext(ctx, "tokens issued", "tenant", from.Tenant, "account", from.Account, "client", clip(from.Client, 100), "family", fam(from.Family), "from", from.Kind)
	return tokenAnswer{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(accessEnd.Sub(now) / time.Second),
		RefreshToken: refresh, Scope: Scope,
	}, []string{r.Hash, a.Hash}, nil
}

// revokeQuietly revokes a family after a reuse, logging what happened.
func (s *Server) revokeQuietly(ctx context.Context, family, why string) {
	if err := s.revokeFamily(ctx, family); err != nil {
		slog.ErrorContext(ctx, "revoking a sign-in's tokens failed", "family", fam(family), "why", why, "err", err)
		return
	}
	slog.WarnContext(ctx, "sign-in revoked", "family", fam(family), "why", why)
}

// unavailable logs a store failure and answers 503.
func (s *Server) unavailable(ctx context.Context, what string, err error) *Error {
	slog.ErrorContext(ctx, "oauth server: "+what+" failed", "err", err)
	return &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "mailcal could not complete this now; try again shortly"}
}
