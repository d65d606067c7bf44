package mcpauth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/mailcal/mailcal/auth/store"
)

// serveRevoke is token revocation (RFC 7009): an access or refresh token of
// the authenticated client revokes its whole sign-in (the family). An
// unknown token, or another client's, is answered 200 with nothing done,
// so the endpoint tells nobody which tokens exist.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
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
	tok := form.Get("token")
	if tok == "" {
		writeOAuthError(w, &Error{Code: "invalid_request", Description: "token: required, the access or refresh token to revoke"})
		return
	}
	// token_type_hint is only a hint (RFC 7009 2.1): the prefix says what
	// the token is.
	if !wellFormed(tok, AccessPrefix) && !wellFormed(tok, RefreshPrefix) {
		revoked(w)
		return
	}
	ctx := r.Context()
	rec, err := s.cfg.Store.GetOAuthToken(ctx, hashToken(tok))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		writeOAuthError(w, s.unavailable(ctx, "reading a token to revoke", err))
		return
	case rec.Client != client.ID || (rec.Kind != store.OAuthAccess && rec.Kind != store.OAuthRefresh):
		slog.WarnContext(ctx, "revocation of another client's token ignored", "client", clip(client.ID, 100), "family", fam(rec.Family))
	default:
		if err := s.revokeFamily(ctx, rec.Family); err != nil {
			writeOAuthError(w, s.unavailable(ctx, "revoking a sign-in", err))
			return
		}
		slog.InfoContext(ctx, "sign-in revoked by its client", "tenant", rec.Tenant, "account", rec.Account, "client", clip(client.ID, 100), "family", fam(rec.Family),
			"kind", rec.Kind)
	}
	revoked(w)
}

func revoked(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
