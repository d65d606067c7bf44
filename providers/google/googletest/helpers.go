package googletest

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// VerifyDiscovery turns on the checking of every API request against the
// discovery documents shipped in google.golang.org/api, and fails tb at
// its end if the fake's own answers did not fit them (a bug in the fake).
func (s *Server) VerifyDiscovery(tb testing.TB) {
	tb.Helper()
	gmailDoc, calDoc, err := DiscoveryDocs()
	if err != nil {
		tb.Fatalf("discovery documents: %v", err)
	}
	if err := s.CheckDiscovery(gmailDoc, calDoc); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if v := s.DiscoveryViolations(); len(v) > 0 {
			tb.Errorf("googletest answered outside the discovery documents (a bug in the fake):\n%s", strings.Join(v, "\n"))
		}
	})
}

// Token runs the authorization-code flow of the default client for login
// (approved at once) and returns its token answer, for tests that need an
// access token of an account without going through mailcal.
func (s *Server) Token(ctx context.Context, login string, scopes ...string) (*oauth2.Token, error) {
	cfg := &oauth2.Config{
		ClientID: s.opts.ClientID, ClientSecret: s.opts.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: s.URL() + "/o/oauth2/auth", TokenURL: s.URL() + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1:5555/callback",
		Scopes:      scopes,
	}
	v := oauth2.GenerateVerifier()
	loc, err := s.Approve(ctx, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.AccessTypeOffline,
		oauth2.ApprovalForce, oauth2.SetAuthURLParam("login_hint", login)))
	if err != nil {
		return nil, err
	}
	return cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
}
