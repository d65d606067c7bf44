package oauthtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// TokenResponse is the token endpoint's answer (RFC 6749 5.1, OpenID
// Connect Core 3.1.3.3).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token,omitempty"`
}

// handleToken is the token endpoint: authorization_code and refresh_token
// grants, after injected delays and failures and client authentication.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	r.ParseForm()
	f := r.PostForm
	grantType := f.Get("grant_type")
	s.mu.Lock()
	s.tokenReqs[grantType]++
	if v := f.Get("code_verifier"); len(v) >= 16 {
		s.addSecret(v)
	}
	delay := s.tokenDelay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	tenant := r.PathValue("tenant")
	if t := s.cfg.Tenants; t != nil && !t.Exists(tenant) {
		s.fail(w, UnknownTenant, tenant)
		return
	}
	if s.failN > 0 {
		s.failN--
		e, _ := s.errorFor(TokenBackendError, "")
		e.Status = s.failStatus
		s.cfg.WriteError(w, e)
		return
	}
	if _, fail := s.clientAuth(r, f); fail != "" {
		s.fail(w, fail, "")
		return
	}
	switch grantType {
	case "authorization_code":
		s.exchange(w, f, tenant)
	case "refresh_token":
		s.refreshToken(w, f, tenant)
	case "":
		s.fail(w, MissingGrantType, "")
	default:
		s.fail(w, UnsupportedGrantType, grantType)
	}
}

// clientAuth checks the client's credentials, from HTTP Basic (whose parts
// are form-encoded, RFC 6749 2.3.1) or the body. It returns the failure to
// answer, or "" with authenticated false for a public client that only
// named itself.
func (s *Server) clientAuth(r *http.Request, f url.Values) (authenticated bool, fail Failure) {
	id, secret := f.Get("client_id"), f.Get("client_secret")
	method := "client_secret_post"
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
		method = "client_secret_basic"
	}
	switch {
	case id == "":
		return false, MissingClientID
	case id != s.cfg.ClientID:
		return false, UnknownClient
	case secret == "" && s.cfg.ClientAuth.Public:
		return false, ""
	case s.cfg.ClientAuth.Public && s.cfg.ClientAuth.RefuseSecret:
		return false, PublicClientSecret
	case secret == "":
		return false, MissingClientSecret
	case !slices.Contains(s.cfg.ClientAuth.Methods, method):
		return false, UnsupportedClientAuth
	case secret != s.cfg.ClientSecret:
		return false, WrongClientSecret
	}
	return true, ""
}

// exchange answers grant_type=authorization_code. Called with s.mu held.
func (s *Server) exchange(w http.ResponseWriter, f url.Values, tenant string) {
	code := f.Get("code")
	if code == "" {
		s.fail(w, MissingCode, "")
		return
	}
	ac := s.codes[code]
	switch {
	case ac == nil && !strings.HasPrefix(code, s.cfg.Tokens.Code.Shape):
		s.fail(w, MalformedCode, "")
		return
	case ac == nil:
		s.fail(w, UnknownCode, "")
		return
	case ac.exchanged != nil: // replay: the tokens issued from the code die too
		ac.exchanged.revoked = true
		s.fail(w, ReusedCode, "")
		return
	case !s.Now().Before(ac.expiry):
		delete(s.codes, code)
		s.fail(w, ExpiredCode, "")
		return
	case s.cfg.Tenants != nil && !strings.EqualFold(tenant, ac.tenant):
		s.fail(w, CodeOtherTenant, "")
		return
	}
	switch ru := f.Get("redirect_uri"); {
	case ru == "":
		s.fail(w, MissingRedirectURI, "")
		return
	case ru != ac.redirectURI:
		s.fail(w, RedirectMismatch, "")
		return
	}
	if ac.challenge != "" {
		verifier := f.Get("code_verifier")
		sum := sha256.Sum256([]byte(verifier))
		transformed := base64.RawURLEncoding.EncodeToString(sum[:])
		if ac.plain {
			transformed = verifier
		}
		switch {
		case verifier == "":
			s.fail(w, MissingVerifier, "")
			return
		case transformed != ac.challenge:
			s.fail(w, WrongVerifier, "")
			return
		}
	}
	g := &grant{user: ac.user, scopes: ac.scopes}
	s.grants = append(s.grants, g)
	ac.exchanged = g
	refresh := ""
	if ac.refresh {
		refresh = s.newRefreshToken(g)
	}
	WriteJSON(w, http.StatusOK, s.cfg.Tokens.Answer(s.issue(g, g.scopes, refresh, ac.nonce)))
}

// refreshToken answers grant_type=refresh_token. Called with s.mu held.
func (s *Server) refreshToken(w http.ResponseWriter, f url.Values, tenant string) {
	rt := f.Get("refresh_token")
	if rt == "" {
		s.fail(w, MissingRefreshToken, "")
		return
	}
	if fail := s.refreshFailure(rt); fail != "" {
		s.fail(w, fail, "")
		return
	}
	g := s.refresh[rt]
	if t := s.cfg.Tenants; t != nil && !t.Accepts(tenant, g.user.User) {
		s.fail(w, TenantRejectsUser, g.user.Email)
		return
	}
	scopes := g.scopes
	if sc := f.Get("scope"); sc != "" { // down-scoping
		scopes = s.canonicalScopes(strings.Fields(sc))
		if slices.ContainsFunc(scopes, func(x string) bool { return !slices.Contains(g.scopes, x) }) {
			s.fail(w, ScopeNotGranted, "")
			return
		}
	}
	next := ""
	if s.cfg.Tokens.Rotation != NoRotation {
		next = s.newRefreshToken(g)
		if s.cfg.Tokens.Rotation == RotateRetireOld {
			delete(s.refresh, rt)
		}
	}
	WriteJSON(w, http.StatusOK, s.cfg.Tokens.Answer(s.issue(g, scopes, next, "")))
}

// issue makes an access token (and an ID token when openid was granted).
// Called with s.mu held.
func (s *Server) issue(g *grant, scopes []string, refresh, nonce string) TokenResponse {
	now := s.Now()
	at := s.newSecret(s.cfg.Tokens.Access)
	s.access[at] = &accessToken{g: g, scopes: scopes, expiry: now.Add(s.cfg.AccessTokenTTL)}
	resp := TokenResponse{
		AccessToken: at, ExpiresIn: int(s.cfg.AccessTokenTTL / time.Second), RefreshToken: refresh,
		Scope: strings.Join(scopes, " "), TokenType: "Bearer",
	}
	if slices.Contains(scopes, "openid") {
		resp.IDToken = s.idToken(g.user.User, scopes, nonce, now)
	}
	return resp
}

// idToken returns an unsigned (alg "none") JWT: iss, aud, sub, iat, exp,
// nonce, and the provider's claims. Called with s.mu held.
func (s *Server) idToken(u User, scopes []string, nonce string, now time.Time) string {
	claims := map[string]any{
		"iss": s.cfg.Issuer, "aud": s.cfg.ClientID, "sub": u.Sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if add := s.cfg.Tokens.IDClaims; add != nil {
		add(u, slices.Clone(scopes), claims)
	}
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
	s.addSecret(tok)
	return tok
}
