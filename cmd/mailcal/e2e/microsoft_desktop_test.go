//go:build unix

package e2e

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// microsoftAuthURLRE finds the authorization URL `mailcal connect
// microsoft` prints on a line of its own.
var microsoftAuthURLRE = regexp.MustCompile(`(?m)^\s+(http://127\.0\.0\.1:\d+/common/oauth2/v2\.0/authorize\?\S+)\s*$`)

// TestE2EMicrosoftDesktop is the desktop path with a public client (no
// secret, PKCE): `mailcal connect outlook` through a localhost loopback
// redirect, a stdio server that refreshes (Microsoft rotates the refresh
// token every time, and here an old one dies at once), a restart that goes
// on with the newest, and `mailcal disconnect`, which cannot revoke and
// says where the person removes the access.
func TestE2EMicrosoftDesktop(t *testing.T) {
	t.Parallel()
	fx := newMicrosoftFixture(t, microsofttest.Options{Public: true, RetireOldRefreshTokens: true})
	fx.fm.LoadFixtures(alice)
	c := fx.cli(t, fx.env(), false, "connect", "outlook", "--no-browser", "--login-hint", alice)
	authURL := c.waitStderr(t, 30*time.Second, microsoftAuthURLRE)[1]
	for _, want := range []string{"code_challenge_method=S256", "offline_access", "Mail.Read", "Mail.Send", "redirect_uri=http%3A%2F%2Flocalhost%3A"} {
		if !strings.Contains(authURL, want) {
			t.Errorf("the authorization URL lacks %s: %s", want, authURL)
		}
	}
	if strings.Contains(authURL, "Calendars.") || strings.Contains(authURL, "client_secret") {
		t.Errorf("outlook (mail only) asked for more: %s", authURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	loc, err := fx.fm.Approve(ctx, authURL)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Hostname() != "localhost" {
		t.Fatalf("the browser was sent to %s, want localhost", loc.Redacted())
	}
	if r := fx.browse(t, loc.String()); !strings.Contains(string(r.body), alice) {
		t.Fatalf("the loopback callback answered %d %s", r.status, r.body)
	}
	if code := c.waitExit(t, 30*time.Second); code != 0 || c.stdout.String() != alice+"\n" {
		t.Fatalf("mailcal connect exited %d, printed %q; stderr:\n%s", code, c.stdout.String(), tail(c.logs.String(), 3000))
	}
	first := fx.storedGrant(t, "default", alice)
	if !slices.Equal(first.Scopes, []string{"mail.read", "mail.send", "mail.modify"}) {
		t.Errorf("stored scopes %v, want mail.read, mail.send, mail.modify (the outlook alias: the default's mail scopes)", first.Scopes)
	}

	s1 := fx.stdio(t)
	fx.checkOK(t, "first server", s1, alice)
	var l ttList
	fx.callOK(t, s1, "list_messages", map[string]any{"max_results": 5}, &l)
	if len(l.Messages) != 5 {
		t.Errorf("list_messages over stdio: %d rows", len(l.Messages))
	}
	rotated := fx.storedGrant(t, "default", alice)
	if rotated.RefreshToken == first.RefreshToken || fx.refreshes() != 1 {
		t.Fatalf("after one refresh: %d refreshes, refresh token rotated in the keyring: %v", fx.refreshes(), rotated.RefreshToken != first.RefreshToken)
	}
	s1.Close()

	// The next server starts with the newest refresh token; the first one
	// would be refused (AADSTS70000) and the account marked dead.
	s2 := fx.stdio(t)
	fx.checkOK(t, "second server", s2, alice)
	if g := fx.storedGrant(t, "default", alice); g.Status != "active" || g.RefreshToken == rotated.RefreshToken || fx.refreshes() != 2 {
		t.Errorf("after the restart: status %s, %d refreshes, rotated again: %v", g.Status, fx.refreshes(), g.RefreshToken != rotated.RefreshToken)
	}
	// connect_account from the assistant: a URL at the identity platform,
	// its redirect on localhost, for the calendar-only alias.
	r := fx.call(t, s2, "connect_account", map[string]any{"provider": "outlook-calendar"})
	u := microsoftReconnectURLRE.FindString(r.text())
	if r.IsError || u == "" || !strings.Contains(u, "Calendars.ReadWrite") || strings.Contains(u, "Mail.") || !strings.Contains(u, "redirect_uri=http%3A%2F%2Flocalhost%3A") {
		t.Errorf("connect_account outlook-calendar: %s", r.text())
	}
	s2.Close()

	_, errOut, code := fx.run(t, "disconnect", "outlook", alice)
	if code != 0 || strings.Contains(errOut, "Revoked") || !strings.Contains(errOut, "account.live.com") {
		t.Errorf("mailcal disconnect exited %d: %s", code, errOut)
	}
	if out, _, _ := fx.run(t, "accounts", "--json"); strings.Contains(out, alice) {
		t.Errorf("mailcal accounts after disconnect: %s", out)
	}
}
