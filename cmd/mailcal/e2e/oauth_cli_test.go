//go:build unix

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EOAuthCLIConnect: `mailcal connect google --no-browser` prints the
// authorization URL on stderr, finishes when the browser reaches its
// loopback callback (or when the person pastes the URL the browser was
// sent to), prints the account on stdout, and `mailcal accounts` shows it;
// `mailcal disconnect` revokes it at Google and removes it.
func TestE2EOAuthCLIConnect(t *testing.T) {
	t.Parallel()
	for _, paste := range []bool{false, true} {
		name := "browser"
		if paste {
			name = "paste"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := newGoogleFixture(t, googletest.Options{})
			start := time.Now()
			c := fx.cli(t, fx.env(), paste, "connect", "google", "--no-browser", "--tenant", "t1", "--scopes", "mail.read,calendar.read")
			authURL := c.waitStderr(t, 30*time.Second, googleAuthURLRE)[1]
			q := fx.checkAuthURL(t, authURL, "http://127.0.0.1:", "mail.read", "calendar.read")
			redirect, _ := url.Parse(q.Get("redirect_uri"))
			if redirect == nil || redirect.Port() == "" || redirect.Port() == "0" {
				t.Errorf("redirect_uri %q has no port of its own", q.Get("redirect_uri"))
			}
			loc := fx.approve(t, authURL)
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != q.Get("redirect_uri") {
				t.Fatalf("googletest sent the browser to %s, want %s", got, q.Get("redirect_uri"))
			}
			if paste {
				// The browser is on another machine: the person pastes the
				// address it could not open.
				if _, err := io.WriteString(c.stdin, loc.String()+"\n"); err != nil {
					t.Fatal(err)
				}
			} else {
				r := fx.browse(t, loc.String())
				if r.status != http.StatusOK || !strings.Contains(string(r.body), alice) {
					t.Errorf("the loopback callback answered %d %s, want a page naming %s", r.status, r.body, alice)
				}
			}
			if code := c.waitExit(t, 30*time.Second); code != 0 {
				t.Fatalf("mailcal connect exited %d; stderr:\n%s", code, tail(c.logs.String(), 4000))
			}
			if c.stdin != nil {
				c.stdin.Close()
			}
			if got := c.stdout.String(); got != alice+"\n" {
				t.Errorf("mailcal connect printed %q on stdout, want only the account", got)
			}
			if !strings.Contains(c.logs.String(), "Connected "+alice) {
				t.Errorf("stderr does not say the account is connected:\n%s", tail(c.logs.String(), 2000))
			}
			if n := fx.exchanges(); n != 1 {
				t.Errorf("%d code exchanges, want 1", n)
			}

			out, errOut, code := fx.run(t, "accounts", "--tenant", "t1", "--json")
			if code != 0 {
				t.Fatalf("mailcal accounts exited %d: %s", code, errOut)
			}
			var list struct {
				Tenant   string        `json:"tenant"`
				Accounts []wireAccount `json:"accounts"`
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatalf("mailcal accounts --json: %v\n%s", err, out)
			}
			if list.Tenant != "t1" || len(list.Accounts) != 1 {
				t.Fatalf("mailcal accounts --tenant t1 --json = %s, want one account", out)
			}
			a := list.Accounts[0]
			if a.Account != alice || a.Provider != "google" || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read,calendar.read" {
				t.Errorf("account %+v, want %s google active with mail.read,calendar.read", a, alice)
			}
			checkConnectedAt(t, "mailcal accounts", a.ConnectedAt, start)
			// The default tenant has nothing.
			if out, _, _ := fx.run(t, "accounts", "--json"); strings.Contains(out, alice) {
				t.Errorf("the default tenant lists t1's account: %s", out)
			}
			// The stored grant holds the refresh token Google issued.
			if g, rts := fx.storedGrant(t, "t1", alice), fx.refreshTokens(); len(rts) != 1 || g.RefreshToken != rts[0] {
				t.Errorf("the keyring does not hold the refresh token googletest issued (%d issued)", len(rts))
			}

			if paste {
				return
			}
			_, errOut, code = fx.run(t, "disconnect", "google", alice, "--tenant", "t1")
			if code != 0 || !strings.Contains(errOut, "revoked") {
				t.Errorf("mailcal disconnect exited %d: %s", code, errOut)
			}
			if n := fx.fg.RevokeRequests(); n != 1 {
				t.Errorf("%d revocation requests, want 1", n)
			}
			if g := fx.fg.Granted(alice); len(g) != 0 {
				t.Errorf("alice still grants %v at Google after disconnect", g)
			}
			out, _, _ = fx.run(t, "accounts", "--tenant", "t1", "--json")
			if strings.Contains(out, alice) {
				t.Errorf("mailcal accounts after disconnect: %s", out)
			}
		})
	}
}

// TestE2EOAuthNoClient: without an OAuth client, connecting fails at once
// and says how to create one.
func TestE2EOAuthNoClient(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"no client", nil},
		{"no secret", []string{"MAILCAL_GOOGLE_CLIENT_ID=" + googletest.DefaultClientID}},
	} {
		c := fx.cli(t, fx.k.env(tc.env...), false, "connect", "google", "--no-browser")
		code := c.waitExit(t, 30*time.Second)
		errOut := c.logs.String()
		if code == 0 {
			t.Errorf("%s: mailcal connect exited 0", tc.name)
		}
		for _, want := range []string{"MAILCAL_GOOGLE_CLIENT_ID", "MAILCAL_GOOGLE_CLIENT_SECRET", "https://console.cloud.google.com/apis/credentials", "OAuth client"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr does not mention %s:\n%s", tc.name, want, errOut)
			}
		}
		if c.stdout.String() != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, c.stdout.String())
		}
	}
	if n := len(fx.fg.AuthRequests()); n != 0 {
		t.Errorf("%d authorization requests reached Google", n)
	}
}
