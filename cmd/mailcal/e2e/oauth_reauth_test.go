//go:build unix

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EOAuthInvalidGrant: a revoked grant is marked needs_reauth at the
// first call, every call then says so with a reconnect URL, and nobody asks
// Google again.
func TestE2EOAuthInvalidGrant(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key, s, c := fx.connectAlice(t, "mail.read")
	fx.checkOK(t, "before the revocation", c, alice)

	fx.fg.RevokeUser(alice)
	fx.fg.ExpireAccessTokens()
	checkReauth := func(who string, r wireResult) {
		t.Helper()
		text := r.text()
		if !r.IsError {
			t.Fatalf("%s: check_account succeeded with a revoked grant: %s", who, text)
		}
		for _, want := range []string{alice, "needs to be reconnected", "invalid_grant", "expired or revoked"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the error does not say %q: %s", who, want, text)
			}
		}
		m := googleReconnectURLRE.FindString(text)
		if strings.Contains(text, "too many connections waiting") {
			// Each answer on a dead grant starts a flow for its URL, and
			// auth/oauth refuses a tenant's 21st pending flow for 10 minutes.
			t.Errorf("%s: the reconnect URL could not be made: the tenant has too many pending flows, one per earlier call: %s", who, text)
			return
		}
		if m == "" {
			t.Errorf("%s: the error has no reconnect URL: %s", who, text)
			return
		}
		q := fx.checkAuthURL(t, m, s.base, "mail.read")
		if q.Get("login_hint") != alice {
			t.Errorf("%s: the reconnect URL's login_hint is %q, want %s", who, q.Get("login_hint"), alice)
		}
	}
	checkReauth("first call after the revocation", fx.call(t, c, "check_account", nil))
	refreshes := fx.refreshes()
	if refreshes != 2 {
		t.Errorf("%d refreshes, want 2 (the first call, then the one refused)", refreshes)
	}
	if a := fx.accountStatuses(t, c)[alice]; a.Status != "needs_reauth" {
		t.Errorf("list_accounts shows alice %+v, want needs_reauth", a)
	}
	if list := fx.integrations(t, s, key); len(list) != 1 || list[0].Status != "needs_reauth" || list[0].Connected {
		t.Errorf("integrations %+v, want alice needs_reauth, not connected", list)
	}

	// No retry storm: 20 more calls, no token request.
	for i := range 20 {
		checkReauth(fmt.Sprintf("call %d", i+2), fx.call(t, c, "check_account", map[string]any{"account": alice}))
	}
	if n := fx.refreshes(); n != refreshes {
		t.Errorf("%d token requests for 20 calls on a dead grant, want none", n-refreshes)
	}
	// The person can still reconnect (the calls' URLs did not use up the
	// tenant's pending flows), and the account works again.
	fx.connectHTTP(t, s, key, alice, "mail.read")
	fx.checkOK(t, "after reconnecting", c, alice)
	if a := fx.accountStatuses(t, c)[alice]; a.Status != "active" {
		t.Errorf("list_accounts after reconnecting: %+v, want active", a)
	}
}

// TestE2EOAuthHealthCheck: the background health check marks a revoked
// grant needs_reauth without any tool call.
func TestE2EOAuthHealthCheck(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{}, "MAILCAL_HEALTH_INTERVAL=2s")
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "")
	fx.fg.RevokeUser(alice)
	revoked := time.Now()
	for {
		list := fx.integrations(t, s, key)
		if len(list) == 1 && list[0].Status == "needs_reauth" {
			t.Logf("needs_reauth %s after the revocation", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if time.Since(revoked) > 15*time.Second {
			t.Fatalf("integrations %+v 15 s after the revocation, want needs_reauth", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := s.anyToolCalls(); n != 0 {
		t.Errorf("%d tool calls logged; the health check should need none", n)
	}
	if rs := s.logs.find("token health check", "outcome", "needs_reauth"); len(rs) == 0 {
		t.Errorf("no health check record with outcome needs_reauth")
	}
}
