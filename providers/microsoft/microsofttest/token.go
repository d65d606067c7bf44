package microsofttest

import (
	"context"

	"golang.org/x/oauth2"
)

// Token runs the authorization-code flow (PKCE, offline_access) of the
// app at tenant "common" for login, approved at once, and returns its token
// answer: for tests that need an access token of an account without going
// through mailcal. Scopes are Graph permissions ("Mail.Read") or OpenID
// scopes.
func (s *Server) Token(ctx context.Context, login string, scopes ...string) (*oauth2.Token, error) {
	cfg := &oauth2.Config{
		ClientID: s.opts.ClientID, ClientSecret: s.opts.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: s.AuthURL("common"), TokenURL: s.TokenURL("common"), AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://localhost:5555/callback",
		Scopes:      append([]string{"openid", "profile", "email", "offline_access"}, scopes...),
	}
	v := oauth2.GenerateVerifier()
	loc, err := s.Approve(ctx, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("login_hint", login)))
	if err != nil {
		return nil, err
	}
	return cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
}
