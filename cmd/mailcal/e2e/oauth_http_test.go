//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EOAuthHTTPFlow: the connection REST API: authorize, the callback,
// connect with a code, list and disconnect, each refused without the key.
func TestE2EOAuthHTTPFlow(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	start := time.Now()

	// Browser flow: authorize, approve, the callback names the account.
	a := fx.authorize(t, s, key, "google", nil)
	// The default covers every tool served by default (send_email and
	// create_event included).
	fx.checkAuthURL(t, a.URL, s.base, "mail.read", "mail.send", "calendar.read", "calendar.write")
	loc := fx.approve(t, a.URL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != s.base+"/oauth/callback" {
		t.Fatalf("googletest sent the browser to %s, want %s/oauth/callback", got, s.base)
	}
	r := fx.browse(t, loc.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), alice+" is connected") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("the callback answered %d %q %s, want an HTML page naming %s", r.status, r.header.Get("Content-Type"), r.body, alice)
	}
	list := fx.integrations(t, s, key)
	if len(list) != 1 {
		t.Fatalf("integrations %+v, want alice only", list)
	}
	if i := list[0]; i.Account != alice || i.Provider != "google" || i.Status != "active" || !i.Connected ||
		strings.Join(i.Scopes, ",") != "mail.read,mail.send,calendar.read,calendar.write" {
		t.Errorf("integration %+v, want alice google active with the default scopes", i)
	}
	checkConnectedAt(t, "GET /api/integrations", list[0].ConnectedAt, start)

	// A calendar connection asks Google for calendar scopes only; the
	// front end completes it with the code itself.
	cal := fx.authorize(t, s, key, "calendar", url.Values{"login_hint": {bob}})
	calQuery := fx.checkAuthURL(t, cal.URL, s.base, "calendar.read", "calendar.write")
	if strings.Contains(calQuery.Get("scope"), "gmail") || calQuery.Get("login_hint") != bob {
		t.Errorf("calendar authorization: scope %q, login_hint %q; want no mail scope and bob", calQuery.Get("scope"), calQuery.Get("login_hint"))
	}
	calLoc := fx.approve(t, cal.URL)
	body := fmt.Sprintf(`{"auth_code":%q,"state":%q}`, calLoc.Query().Get("code"), cal.State)
	r = fx.do(t, s, "POST", "/api/integrations/google/connect", strings.NewReader(body), "Authorization", "Bearer "+key)
	var connected struct {
		Success bool     `json:"success"`
		Status  string   `json:"status"`
		Account string   `json:"account"`
		Scopes  []string `json:"scopes"`
	}
	if err := json.Unmarshal(r.body, &connected); err != nil || r.status != http.StatusOK || !connected.Success ||
		connected.Status != "connected" || connected.Account != bob {
		t.Fatalf("POST connect: %d %s, want {success:true, status:connected, account:%s}", r.status, r.body, bob)
	}
	list = fx.integrations(t, s, key)
	if got := integrationAccounts(list); strings.Join(got, ",") != alice+","+bob {
		t.Fatalf("integrations %v, want alice and bob", got)
	}
	if strings.Join(list[1].Scopes, ",") != "calendar.read,calendar.write" || list[1].Status != "active" {
		t.Errorf("bob's integration %+v, want active with the calendar scopes only", list[1])
	}

	// No key or a wrong one: 401, and nothing happens.
	wrong := "mck_" + randomHex(t, 24)
	requests := []struct{ method, path, body string }{
		{"GET", "/api/integrations", ""},
		{"GET", "/api/integrations/google/authorize", ""},
		{"POST", "/api/integrations/google/connect", body},
		{"DELETE", "/api/integrations/google/" + alice, ""},
	}
	for _, req := range requests {
		for _, h := range [][]string{nil, {"Authorization", "Bearer " + wrong}, {"X-API-Key", wrong}} {
			var rb io.Reader
			if req.body != "" {
				rb = strings.NewReader(req.body)
			}
			who := fmt.Sprintf("%s %s with %v", req.method, req.path, h)
			checkJSONError(t, who, fx.do(t, s, req.method, req.path, rb, h...), http.StatusUnauthorized, "unauthorized")
		}
	}
	if n := fx.fg.RevokeRequests(); n != 0 {
		t.Errorf("%d revocations after unauthenticated requests", n)
	}
	if got := integrationAccounts(fx.integrations(t, s, key)); len(got) != 2 {
		t.Errorf("integrations after unauthenticated requests: %v", got)
	}

	// Disconnect: revoked at Google, then gone.
	for i, account := range []string{alice, bob} {
		r = fx.do(t, s, "DELETE", "/api/integrations/google/"+account, nil, "Authorization", "Bearer "+key)
		var del struct {
			Success bool `json:"success"`
		}
		if err := json.Unmarshal(r.body, &del); err != nil || r.status != http.StatusOK || !del.Success {
			t.Errorf("DELETE %s: %d %s, want {\"success\":true}", account, r.status, r.body)
		}
		if n := fx.fg.RevokeRequests(); n != i+1 {
			t.Errorf("after deleting %s: %d revocation requests, want %d", account, n, i+1)
		}
		if g := fx.fg.Granted(account); len(g) != 0 {
			t.Errorf("%s still grants %v at Google", account, g)
		}
	}
	if got := fx.integrations(t, s, key); len(got) != 0 {
		t.Errorf("integrations after disconnecting both: %+v", got)
	}
	checkJSONError(t, "DELETE a disconnected account",
		fx.do(t, s, "DELETE", "/api/integrations/google/"+alice, nil, "X-API-Key", key), http.StatusNotFound, "not_found")
}
