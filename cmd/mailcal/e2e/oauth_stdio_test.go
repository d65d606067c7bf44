//go:build unix

package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EOAuthStdioConnectAccount: over stdio, connect_account answers a
// URL whose redirect is mailcal's own loopback listener, which completes
// the connection.
func TestE2EOAuthStdioConnectAccount(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	c := fx.stdio(t)
	if got := fx.accountStatuses(t, c); len(got) != 0 {
		t.Fatalf("accounts before connecting: %v", got)
	}
	r := fx.call(t, c, "connect_account", map[string]any{"provider": "google", "scopes": "mail.read,calendar.read"})
	if r.IsError {
		t.Fatalf("connect_account answered an error: %s", r.text())
	}
	var link struct {
		URL string `json:"authorization_url"`
	}
	if err := json.Unmarshal(r.StructuredContent, &link); err != nil || link.URL == "" {
		t.Fatalf("connect_account structured content %s, want authorization_url", r.StructuredContent)
	}
	if !strings.Contains(r.text(), link.URL) {
		t.Errorf("connect_account's text does not give the URL: %s", r.text())
	}
	q := fx.checkAuthURL(t, link.URL, "http://127.0.0.1:", "mail.read", "calendar.read")
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" || redirect.Port() == "0" || redirect.Path != "/oauth/callback" {
		t.Fatalf("redirect_uri %q, want http://127.0.0.1:PORT/oauth/callback", q.Get("redirect_uri"))
	}
	loc := fx.approve(t, link.URL)
	if loc.Host != redirect.Host {
		t.Fatalf("googletest sent the browser to %s, want %s", loc.Host, redirect.Host)
	}
	page := fx.browse(t, loc.String())
	if page.status != http.StatusOK || !strings.Contains(string(page.body), alice+" is connected") {
		t.Fatalf("the loopback callback answered %d %s", page.status, page.body)
	}
	got := fx.accountStatuses(t, c)
	if a, ok := got[alice]; !ok || len(got) != 1 || a.Status != "active" || strings.Join(a.Scopes, ",") != "mail.read,calendar.read" {
		t.Fatalf("list_accounts after connecting: %+v, want alice active with mail.read,calendar.read", got)
	}
	fx.checkOK(t, "stdio", c, alice)
	if n := fx.refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}
