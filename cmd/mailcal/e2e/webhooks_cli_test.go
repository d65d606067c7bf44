//go:build unix

package e2e

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/webhook"
)

// TestE2EWebhookFromCLI: a transition written by a CLI command (here
// `mailcal disconnect`) is queued by that command and delivered by the
// http replica's outbox; before, only http processes queued what they
// wrote, and a CLI disconnect was never reported.
func TestE2EWebhookFromCLI(t *testing.T) {
	t.Parallel()
	fx, _ := newWebhookFixture(t)
	key := fx.dbTenant(t, "acme")
	rc := &hookReceiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := fx.startHTTP(t)
	secret := putWebhook(t, fx, s, key, srv.URL+"/hook")
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	fx.connectHTTP(t, s, key, alice, "mail.read")
	rc.waitFor(t, 1, 15*time.Second)

	if _, errOut, code := fx.run(t, "disconnect", "google", alice, "--tenant", "acme"); code != 0 {
		t.Fatalf("mailcal disconnect: exit %d %s", code, tail(errOut, 1000))
	}
	events := rc.waitFor(t, 2, 15*time.Second)
	if ev := events[1]; ev.Type != webhook.AccountDisconnected || ev.Tenant != "acme" || ev.Account != alice {
		t.Errorf("the CLI disconnect's delivery: %+v; want %s of %s", ev, webhook.AccountDisconnected, alice)
	}
}
