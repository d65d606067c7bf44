//go:build unix

package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2ETenantRemoveForgetsAccounts: removing a tenant revokes its accounts
// at the provider and deletes them, so that a tenant added again under the
// same name starts empty and cannot read the removed tenant's mailboxes; a
// tenant added over accounts left behind (by an older mailcal) starts empty
// too.
func TestE2ETenantRemoveForgetsAccounts(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	key := fx.addTenant(t, "acme")
	other := fx.addTenant(t, "other")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, "")
	fx.connectHTTP(t, s, key, bob, "mail.read")
	fx.connectHTTP(t, s, other, bob, "mail.read")

	accounts := func(tenantName string) []string {
		t.Helper()
		out, errOut, code := fx.run(t, "accounts", "--tenant", tenantName, "--json")
		if code != 0 {
			t.Fatalf("mailcal accounts --tenant %s: exit %d\n%s", tenantName, code, errOut)
		}
		var res struct {
			Accounts []struct {
				Account string `json:"account"`
			} `json:"accounts"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("mailcal accounts --json printed %q: %v", out, err)
		}
		var names []string
		for _, a := range res.Accounts {
			names = append(names, a.Account)
		}
		return names
	}
	if got := accounts("acme"); strings.Join(got, ",") != alice+","+bob {
		t.Fatalf("acme's accounts before removal: %v", got)
	}
	revokesBefore := fx.fg.RevokeRequests()

	_, errOut, code := fx.run(t, "tenant", "remove", "acme")
	if code != 0 {
		t.Fatalf("mailcal tenant remove acme: exit %d\n%s", code, errOut)
	}
	// Bob is connected to tenant other too: Google revokes the app's whole
	// grant for a person, so his is kept upstream and only deleted here.
	if n := fx.fg.RevokeRequests() - revokesBefore; n != 1 {
		t.Errorf("tenant remove made %d revocation requests, want 1 (alice; bob is shared with tenant other)", n)
	}
	if g := fx.fg.Granted(bob); len(g) == 0 {
		t.Errorf("removing acme revoked bob at Google, cutting off tenant other's connection of him")
	}
	if g := fx.fg.Granted(alice); len(g) != 0 {
		t.Errorf("alice still grants %v at Google after her tenant was removed", g)
	}
	if got := accounts("acme"); len(got) != 0 {
		t.Errorf("accounts of the removed tenant acme: %v, want none", got)
	}

	newKey := fx.addTenant(t, "acme")
	if got := accounts("acme"); len(got) != 0 {
		t.Errorf("a new tenant named acme lists %v, want no account", got)
	}
	// A running server takes a new key within its reload interval (2 s).
	deadline := time.Now().Add(10 * time.Second)
	for fx.do(t, s, "GET", "/api/integrations", nil, "X-API-Key", newKey).status == http.StatusUnauthorized && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	if got := fx.integrations(t, s, newKey); len(got) != 0 {
		t.Errorf("GET /api/integrations of the new acme: %+v, want none", got)
	}
	// The other tenant keeps its own connection of bob.
	if got := accounts("other"); strings.Join(got, ",") != bob {
		t.Errorf("accounts of tenant other after acme's removal: %v, want bob", got)
	}
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+other, false)
	fx.checkOK(t, "check_account of tenant other's bob", c, bob)

	// Accounts left behind without their tenant (as an older mailcal's
	// remove did) are forgotten when a tenant of that name is added.
	seedGoogleGrant(t, fx.k, "ghost", alice)
	if got := accounts("ghost"); len(got) != 1 {
		t.Fatalf("seeded leftover accounts of ghost: %v", got)
	}
	fx.addTenant(t, "ghost")
	if got := accounts("ghost"); len(got) != 0 {
		t.Errorf("a tenant added over leftover accounts lists %v, want none", got)
	}
}
