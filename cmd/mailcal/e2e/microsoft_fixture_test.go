//go:build unix

package e2e

// The Microsoft fixture: microsofttest, the fake Microsoft identity platform
// and Graph on 127.0.0.1, with its users alice and bob; the environment
// that points mailcal at it; connecting an account through it; counting its
// token requests. Everything else is the provider-neutral harness it
// embeds (harness_test.go), as googleFixture does for Google.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// microsoftReconnectURLRE finds an authorization URL of the fake identity
// platform in a tool error that asks the person to reconnect.
var microsoftReconnectURLRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/[^/\s]+/oauth2/v2\.0/authorize\?\S+`)

// microsoftFixture is a fake Microsoft next to the harness.
type microsoftFixture struct {
	*harness
	fm *microsofttest.Server
}

// newMicrosoftFixture starts a fake Microsoft with alice and bob and a fresh
// keyring; extraEnv adds to the subprocesses' environment.
func newMicrosoftFixture(t *testing.T, opts microsofttest.Options, extraEnv ...string) *microsoftFixture {
	t.Helper()
	mailcalBinary(t) // skipped with -short before anything starts
	fm := microsofttest.New(opts)
	t.Cleanup(fm.Close)
	fm.AddUser(alice)
	fm.AddUser(bob)
	return &microsoftFixture{harness: newHarness(t, "microsofttest", fm, extraEnv...), fm: fm}
}

func (fx *microsoftFixture) refreshes() int { return fx.fm.TokenRequests("refresh_token") }

// storedGrant reads a Microsoft account's grant from the fixture's keyring.
func (fx *microsoftFixture) storedGrant(t *testing.T, tenantName, account string) grants.Grant {
	t.Helper()
	return fx.k.grant(t, tenantName, "microsoft", account)
}

// connectHTTP connects an account through the REST API, the fake's consent
// and the callback, as a web front end and the person's browser do.
func (fx *microsoftFixture) connectHTTP(t *testing.T, s *httpServer, key, email, scopes string) {
	t.Helper()
	q := url.Values{"login_hint": {email}}
	if scopes != "" {
		q.Set("scopes", scopes)
	}
	a := fx.authorize(t, s, key, "microsoft", q)
	if !strings.HasPrefix(a.URL, fx.fm.URL()+"/common/oauth2/v2.0/authorize?") {
		t.Fatalf("authorization URL %s is not the fake's /common/oauth2/v2.0/authorize", a.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	loc, err := fx.fm.Approve(ctx, a.URL)
	if err != nil {
		t.Fatalf("approving at microsofttest: %v", err)
	}
	// Microsoft takes loopback redirect URIs as http://localhost only (its
	// portal cannot register 127.0.0.1), so mailcal sends that host.
	want := strings.Replace(s.base, "://127.0.0.1:", "://localhost:", 1) + "/oauth/callback"
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != want {
		t.Fatalf("microsofttest sent the browser to %s, want %s", got, want)
	}
	r := fx.browse(t, loc.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), email) || !strings.Contains(string(r.body), "Connected") {
		t.Fatalf("the callback answered %d %s, want a page saying %s is connected", r.status, r.body, email)
	}
}
