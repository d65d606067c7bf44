package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// checkClients fails unless each client named is found (kept) or not
// (!kept) through o.
func checkClients(t *testing.T, o store.OAuthServer, what string, kept bool, ids ...string) {
	t.Helper()
	ctx := ctxFor(t)
	for _, id := range ids {
		_, err := o.GetOAuthClient(ctx, id)
		switch {
		case kept && err != nil:
			t.Errorf("%s: GetOAuthClient %s: %v; want it kept", what, id, err)
		case !kept && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: GetOAuthClient %s = %v; want ErrNotFound (pruned)", what, id, err)
		}
	}
}

// testOAuthPruneClients: a registered client older than the cut-off that
// no token names goes, counted; one named by any stored token (live,
// spent, expired but not yet pruned, a pending request) stays, as does a
// newer one; a client whose only family was revoked names no token and
// goes; once PruneOAuth removed its expired tokens, a client goes too.
func testOAuthPruneClients(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	n, err := o.PruneOAuthClients(ctx, t0)
	if err != nil || n != 0 {
		t.Errorf("PruneOAuthClients of an empty store = %d, %v; want 0", n, err)
	}
	old := t0.Add(-8 * 24 * time.Hour)
	clients := map[string]time.Time{
		"mcc_old-unused":  old,
		"mcc_old-revoked": old,
		"mcc_old-live":    old,
		"mcc_old-spent":   old,
		"mcc_old-expired": old,
		"mcc_old-request": old,
		"mcc_new-unused":  t0,                  // created at the cut-off: not before it
		"mcc_recent":      t0.Add(time.Second), // after it
	}
	for id, at := range clients {
		must(t, "PutOAuthClient "+id, o.PutOAuthClient(ctx, store.OAuthClient{ID: id, Metadata: []byte(`{}`), CreatedAt: at}))
	}
	// Each token names its client, in a family of its own.
	tok := func(kind, client string) store.OAuthToken {
		name := client[len("mcc_"):]
		tk := oauthToken(kind, "clients-"+name, "clients-"+name, "acme", "a@x.com")
		tk.Client = client
		return tk
	}
	live := tok(store.OAuthRefresh, "mcc_old-live")
	spent := tok(store.OAuthCode, "mcc_old-spent")
	expired := tok(store.OAuthAccess, "mcc_old-expired")
	expired.CreatedAt, expired.ExpiresAt = old, old.Add(time.Hour)
	request := tok(store.OAuthRequest, "mcc_old-request")
	revoked := tok(store.OAuthAccess, "mcc_old-revoked")
	putOAuth(t, o, live, spent, expired, request, revoked)
	_, _, err = o.SpendOAuthToken(ctx, spent.Hash, t0)
	must(t, "SpendOAuthToken", err)
	_, err = o.RevokeOAuthFamily(ctx, revoked.Family, t0.Add(time.Hour))
	must(t, "RevokeOAuthFamily", err)

	n, err = o.PruneOAuthClients(ctx, t0)
	if err != nil || n != 2 {
		t.Errorf("PruneOAuthClients = %d, %v; want 2 (an unused client, one whose family was revoked)", n, err)
	}
	checkClients(t, o, "after PruneOAuthClients", false, "mcc_old-unused", "mcc_old-revoked")
	checkClients(t, o, "after PruneOAuthClients", true, "mcc_old-live", "mcc_old-spent", "mcc_old-expired",
		"mcc_old-request", "mcc_new-unused", "mcc_recent")
	checkKept(t, o, "after PruneOAuthClients", "clients-old-live", "clients-old-spent", "clients-old-expired", "clients-old-request")
	n, err = o.PruneOAuthClients(ctx, t0)
	if err != nil || n != 0 {
		t.Errorf("PruneOAuthClients again = %d, %v; want 0", n, err)
	}

	// Its expired token pruned, a client is unused.
	if _, err := o.PruneOAuth(ctx, t0); err != nil {
		t.Fatalf("PruneOAuth: %v", err)
	}
	n, err = o.PruneOAuthClients(ctx, t0)
	if err != nil || n != 1 {
		t.Errorf("PruneOAuthClients after PruneOAuth = %d, %v; want 1 (the client of the expired token)", n, err)
	}
	checkClients(t, o, "after PruneOAuth and PruneOAuthClients", false, "mcc_old-expired")
	checkClients(t, o, "after PruneOAuth and PruneOAuthClients", true, "mcc_old-live", "mcc_old-spent", "mcc_old-request", "mcc_new-unused")

	// A later cut-off: every client without a token goes, whatever its
	// age; the ones with tokens stay still.
	n, err = o.PruneOAuthClients(ctx, t0.Add(time.Minute))
	if err != nil || n != 2 {
		t.Errorf("PruneOAuthClients a minute later = %d, %v; want 2 (the newer unused clients)", n, err)
	}
	checkClients(t, o, "a minute later", false, "mcc_new-unused", "mcc_recent")
	checkClients(t, o, "a minute later", true, "mcc_old-live", "mcc_old-spent", "mcc_old-request")
	// A pruned id may be registered again.
	must(t, "PutOAuthClient of a pruned id", o.PutOAuthClient(ctx, store.OAuthClient{ID: "mcc_old-unused", Metadata: []byte(`{}`), CreatedAt: t0}))
	checkClients(t, o, "registered again", true, "mcc_old-unused")
}
