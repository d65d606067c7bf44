package oauthtest

import (
	"net/http"
	"slices"
	"strings"
)

// handleRevoke is the revocation endpoint (RFC 7009). Client credentials,
// when sent (in the body or as HTTP Basic), are checked first and the
// request counted as authenticated; Revocation.RequireClientAuth makes
// them mandatory. Revoking a refresh token or a live access token kills its
// grant, or with Revocation.RevokeUser all of the user's.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(s.cfg.Revocation.Methods, r.Method) {
		w.Header().Set("Allow", strings.Join(s.cfg.Revocation.Methods, ", "))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	r.ParseForm()
	tok := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeReqs++
	authenticated, fail := s.revokeClientAuth(r)
	if fail != "" {
		s.fail(w, fail, "")
		return
	}
	if authenticated {
		s.revokeAuthed++
	}
	if tok == "" {
		s.fail(w, RevokeMissingToken, "")
		return
	}
	g := s.refresh[tok]
	if a := s.access[tok]; a != nil && s.Now().Before(a.expiry) {
		g = a.g
	}
	if g == nil || g.revoked {
		if e, ok := s.errorFor(RevokeUnknownToken, ""); ok {
			s.cfg.WriteError(w, e)
		} else {
			WriteJSON(w, http.StatusOK, struct{}{})
		}
		return
	}
	if s.cfg.Revocation.RevokeUser {
		s.revokeUserLocked(g.user)
	} else {
		g.revoked = true
	}
	WriteJSON(w, http.StatusOK, struct{}{})
}

// revokeClientAuth checks the client credentials of a revocation request
// (never from the query: RFC 6749 2.3.1). A request with none, or with a
// client_id alone (a public client naming itself), is not authenticated
// but passes unless client authentication is required.
func (s *Server) revokeClientAuth(r *http.Request) (authenticated bool, fail Failure) {
	f := r.PostForm
	_, _, basic := r.BasicAuth()
	required := s.cfg.Revocation.RequireClientAuth
	if !basic && f.Get("client_id") == "" && f.Get("client_secret") == "" {
		if required {
			return false, MissingClientID
		}
		return false, ""
	}
	authenticated, fail = s.clientAuth(r, f)
	switch {
	case fail == MissingClientSecret && !required:
		return false, ""
	case fail == "" && !authenticated && required:
		return false, MissingClientSecret
	}
	return authenticated, fail
}
