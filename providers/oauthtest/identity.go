package oauthtest

import (
	"net/http"
	"slices"
	"strings"
)

// CheckAccess validates a request's bearer token (Authorization: Bearer,
// RFC 6750 2.1). It returns the user and the scopes of the token; ok is
// false for a missing, unknown, expired or revoked token.
func (s *Server) CheckAccess(r *http.Request) (email string, scopes []string, ok bool) {
	u, scopes, ok := s.lookup(r)
	return u.Email, scopes, ok
}

// CheckToken is CheckAccess for the access token itself.
func (s *Server) CheckToken(accessToken string) (email string, scopes []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, scopes, ok := s.lookupLocked(accessToken)
	return u.Email, scopes, ok
}

func (s *Server) lookup(r *http.Request) (User, []string, bool) {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return User{}, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(strings.TrimSpace(tok))
}

func (s *Server) lookupLocked(tok string) (User, []string, bool) {
	a := s.access[tok]
	if a == nil || a.g.revoked || !s.Now().Before(a.expiry) {
		return User{}, nil, false
	}
	return a.g.user.User, slices.Clone(a.scopes), true
}

// handleIdentity is the identity endpoint: the token's user as
// Identity.Claims renders it, or RFC 6750's challenge.
func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	id := &s.cfg.Identity
	if !slices.Contains(id.Methods, r.Method) {
		w.Header().Set("Allow", strings.Join(id.Methods, ", "))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	u, scopes, ok := s.lookup(r)
	reject := func(f Failure, challenge string) {
		w.Header().Set("WWW-Authenticate", challenge)
		e, _ := s.errorFor(f, "")
		id.WriteError(w, e)
	}
	if !ok {
		reject(InvalidAccessToken, BearerChallenge(s.cfg.Realm, "invalid_token", ""))
		return
	}
	if len(id.AnyScope) > 0 && !slices.ContainsFunc(id.AnyScope, func(sc string) bool { return slices.Contains(scopes, s.canonical(sc)) }) {
		reject(InsufficientScope, BearerChallenge(s.cfg.Realm, "insufficient_scope", strings.Join(id.AnyScope, " ")))
		return
	}
	s.mu.Lock()
	answer := id.Claims(u, scopes)
	s.mu.Unlock()
	WriteJSON(w, http.StatusOK, answer)
}

// handleDiscovery serves the OpenID Connect discovery document (OpenID
// Connect Discovery 1.0, 3). {name} wildcards of the paths take the
// request's values (a tenant).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	c := &s.cfg
	url := func(path string) string {
		for {
			i := strings.Index(path, "{")
			j := strings.Index(path, "}")
			if i < 0 || j < i {
				return s.URL() + path
			}
			name := strings.TrimSuffix(path[i+1:j], "...")
			path = path[:i] + r.PathValue(name) + path[j+1:]
		}
	}
	doc := map[string]any{
		"issuer":                                c.Issuer,
		"authorization_endpoint":                url(c.Authorize.Paths[0]),
		"token_endpoint":                        url(c.Tokens.Path),
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"none"},
		"token_endpoint_auth_methods_supported": c.ClientAuth.Methods,
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
	}
	if len(c.Identity.Paths) > 0 {
		doc["userinfo_endpoint"] = url(c.Identity.Paths[0])
	}
	if c.Revocation.Path != "" {
		doc["revocation_endpoint"] = url(c.Revocation.Path)
	}
	if c.Scopes.Supported != nil {
		doc["scopes_supported"] = c.Scopes.Supported
	}
	WriteJSON(w, http.StatusOK, doc)
}
