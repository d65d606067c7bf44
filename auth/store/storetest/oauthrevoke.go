package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// putOAuth stores tokens or fails the case.
func putOAuth(t *testing.T, o store.OAuthServer, toks ...store.OAuthToken) {
	t.Helper()
	ctx := ctxFor(t)
	for _, tok := range toks {
		must(t, "PutOAuthToken "+tok.Kind+" of "+tok.Family, o.PutOAuthToken(ctx, tok))
	}
}

// checkRevoked fails unless a new token of each family is refused with
// ErrConflict and not stored.
func checkRevoked(t *testing.T, o store.OAuthServer, what string, families ...string) {
	t.Helper()
	for _, fam := range families {
		name := "after-revocation-" + fam
		err := o.PutOAuthToken(ctxFor(t), oauthToken(store.OAuthAccess, name, fam, "acme", "a@x.com"))
		checkIs(t, what+": PutOAuthToken of family "+fam, err, store.ErrConflict)
		checkGone(t, o, what+": a refused token", name)
	}
}

// checkRevokeCount fails unless a revocation deleted want tokens.
func checkRevokeCount(t *testing.T, what string, n int, err error, want int) {
	t.Helper()
	if err != nil || n != want {
		t.Errorf("%s = %d, %v; want %d tokens deleted", what, n, err, want)
	}
}

// testOAuthRevokeFamily: a family's tokens deleted, no other's; the family
// refused afterwards, also one never seen; invalid input refused.
func testOAuthRevokeFamily(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	putOAuth(t, o,
		oauthToken(store.OAuthRequest, "a-req", "a", "acme", ""),
		oauthToken(store.OAuthCode, "a-code", "a", "acme", "a@x.com"),
		oauthToken(store.OAuthAccess, "a-access", "a", "acme", "a@x.com"),
		oauthToken(store.OAuthRefresh, "a-refresh", "a", "acme", "a@x.com"),
		oauthToken(store.OAuthAccess, "b-access", "b", "acme", "a@x.com"),
		oauthToken(store.OAuthAccess, "a2-access", "a2", "acme", "a@x.com"), // a family whose name starts like a's
	)
	n, err := o.RevokeOAuthFamily(ctx, oauthFamily("a"), t0.Add(time.Hour))
	checkRevokeCount(t, "RevokeOAuthFamily", n, err, 4)
	checkGone(t, o, "after RevokeOAuthFamily", "a-req", "a-code", "a-access", "a-refresh")
	checkKept(t, o, "another family after RevokeOAuthFamily", "b-access", "a2-access")
	checkRevoked(t, o, "after RevokeOAuthFamily", "a")
	n, err = o.RevokeOAuthFamily(ctx, oauthFamily("a"), t0.Add(time.Hour))
	checkRevokeCount(t, "RevokeOAuthFamily again", n, err, 0)

	n, err = o.RevokeOAuthFamily(ctx, oauthFamily("never"), t0.Add(time.Hour))
	checkRevokeCount(t, "RevokeOAuthFamily of a family never seen", n, err, 0)
	checkRevoked(t, o, "after RevokeOAuthFamily of a family never seen", "never")
	putOAuth(t, o, oauthToken(store.OAuthAccess, "b-access-2", "b", "acme", "a@x.com"))

	for _, bad := range []string{"", "short", "family/with/slashes", oauthFamily("a") + "\x00"} {
		_, err := o.RevokeOAuthFamily(ctx, bad, t0)
		checkRefused(t, fmt.Sprintf("RevokeOAuthFamily of %q", bad), err)
	}
}

// testOAuthRevokeAccount: RevokeOAuthAccount and RevokeOAuthTenant delete
// the tokens of their account or tenant only (requests of the account's
// families too) and leave the families revoked.
func testOAuthRevokeAccount(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	other := oauthToken(store.OAuthAccess, "f5-access", "f5", "acme", "a@x.com")
	other.Provider = "other"
	putOAuth(t, o,
		oauthToken(store.OAuthRequest, "f1-req", "f1", "acme", ""),
		oauthToken(store.OAuthCode, "f1-code", "f1", "acme", "a@x.com"),
		oauthToken(store.OAuthAccess, "f1-access", "f1", "acme", "a@x.com"),
		oauthToken(store.OAuthRefresh, "f1-refresh", "f1", "acme", "a@x.com"),
		oauthToken(store.OAuthAccess, "f2-access", "f2", "acme", "a@x.com"),
		oauthToken(store.OAuthAccess, "f3-access", "f3", "acme", "b@x.com"),
		oauthToken(store.OAuthAccess, "f4-access", "f4", "acme2", "a@x.com"),
		other,
		oauthToken(store.OAuthRequest, "f6-req", "f6", "acme", ""),
	)
	n, err := o.RevokeOAuthAccount(ctx, store.GrantKey{Tenant: "acme", Provider: "exmail", Account: "a@x.com"})
	checkRevokeCount(t, "RevokeOAuthAccount", n, err, 5)
	checkGone(t, o, "after RevokeOAuthAccount", "f1-req", "f1-code", "f1-access", "f1-refresh", "f2-access")
	checkKept(t, o, "other accounts after RevokeOAuthAccount", "f3-access", "f4-access", "f5-access", "f6-req")
	checkRevoked(t, o, "after RevokeOAuthAccount", "f1", "f2")
	putOAuth(t, o, oauthToken(store.OAuthRefresh, "f3-refresh", "f3", "acme", "b@x.com"))
	n, err = o.RevokeOAuthAccount(ctx, store.GrantKey{Tenant: "acme", Provider: "exmail", Account: "nobody@x.com"})
	checkRevokeCount(t, "RevokeOAuthAccount of an account without tokens", n, err, 0)

	n, err = o.RevokeOAuthTenant(ctx, "acme")
	checkRevokeCount(t, "RevokeOAuthTenant", n, err, 4)
	checkGone(t, o, "after RevokeOAuthTenant", "f3-access", "f3-refresh", "f5-access", "f6-req")
	checkKept(t, o, "another tenant after RevokeOAuthTenant", "f4-access")
	checkRevoked(t, o, "after RevokeOAuthTenant", "f3", "f5", "f6")
	putOAuth(t, o, oauthToken(store.OAuthAccess, "f4-access-2", "f4", "acme2", "a@x.com"))
	n, err = o.RevokeOAuthTenant(ctx, "acm")
	checkRevokeCount(t, "RevokeOAuthTenant of a prefix of a tenant's name", n, err, 0)
	checkKept(t, o, "after RevokeOAuthTenant of a prefix", "f4-access", "f4-access-2")

	_, err = o.RevokeOAuthAccount(ctx, store.GrantKey{Tenant: "Acme", Provider: "exmail", Account: "a@x.com"})
	checkRefused(t, "RevokeOAuthAccount of an invalid tenant", err)
	_, err = o.RevokeOAuthAccount(ctx, store.GrantKey{Tenant: "acme", Provider: "exmail"})
	checkRefused(t, "RevokeOAuthAccount of no account", err)
	_, err = o.RevokeOAuthTenant(ctx, "")
	checkRefused(t, "RevokeOAuthTenant of an empty tenant", err)
}

// testOAuthPrune: expired tokens and old revocation marks go, counted;
// live (also spent) tokens and current marks stay, as does a mark whose
// family's tokens would not have expired yet.
func testOAuthPrune(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	n, err := o.PruneOAuth(ctx, t0)
	if err != nil || n != 0 {
		t.Errorf("PruneOAuth of an empty store = %d, %v; want 0", n, err)
	}
	gone1 := oauthToken(store.OAuthAccess, "expired-1", "e", "acme", "a@x.com")
	gone1.CreatedAt, gone1.ExpiresAt = t0.Add(-2*time.Hour), t0.Add(-time.Second)
	gone2 := oauthToken(store.OAuthCode, "expired-2", "e", "acme", "a@x.com")
	gone2.CreatedAt, gone2.ExpiresAt = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	live := oauthToken(store.OAuthAccess, "live", "e", "acme", "a@x.com")
	spent := oauthToken(store.OAuthCode, "spent", "l", "acme", "a@x.com")
	putOAuth(t, o, gone1, gone2, live, spent)
	_, _, err = o.SpendOAuthToken(ctx, spent.Hash, t0)
	must(t, "SpendOAuthToken", err)
	_, err = o.RevokeOAuthFamily(ctx, oauthFamily("old"), t0.Add(-time.Minute))
	must(t, "RevokeOAuthFamily old", err)
	_, err = o.RevokeOAuthFamily(ctx, oauthFamily("new"), t0.Add(time.Hour))
	must(t, "RevokeOAuthFamily new", err)
	// A mark given an earlier end than its tokens' expiry lasts until then.
	putOAuth(t, o, oauthToken(store.OAuthAccess, "short-lived-mark", "short", "acme", "a@x.com"))
	_, err = o.RevokeOAuthFamily(ctx, oauthFamily("short"), t0.Add(-time.Minute))
	must(t, "RevokeOAuthFamily short", err)

	n, err = o.PruneOAuth(ctx, t0)
	if err != nil || n != 3 {
		t.Errorf("PruneOAuth = %d, %v; want 3 (2 expired tokens, 1 old mark)", n, err)
	}
	checkGone(t, o, "after PruneOAuth", "expired-1", "expired-2")
	checkKept(t, o, "after PruneOAuth", "live", "spent")
	putOAuth(t, o, oauthToken(store.OAuthAccess, "after-prune", "old", "acme", "a@x.com"))
	checkRevoked(t, o, "after PruneOAuth", "new", "short")
	n, err = o.PruneOAuth(ctx, t0)
	if err != nil || n != 0 {
		t.Errorf("PruneOAuth again = %d, %v; want 0", n, err)
	}
}

// racingRevocation: puts of a family racing with its revocation, over the
// stores in turn, many rounds (at least 5, up to 100 or 2 s): every put is
// either refused with ErrConflict or counted and deleted by the revocation,
// a putter refused once is refused again, and afterwards no token of the
// family is stored.
func racingRevocation(t *testing.T, stores []store.Store) {
	const putters, perPutter = 4, 3
	ctx := ctxFor(t)
	began := time.Now()
	for round := 0; round < 100 && (round < 5 || time.Since(began) < 2*time.Second); round++ {
		fam := fmt.Sprintf("race%d", round)
		name := func(p, j int) string { return fmt.Sprintf("race-%d-%d-%d", round, p, j) }
		putOAuth(t, oauthOf(t, stores[0]), oauthToken(store.OAuthRefresh, name(-1, 0), fam, "acme", "a@x.com"))
		errs := make([]error, putters*perPutter)
		var revoked int
		var revokeErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for p := range putters {
			o := oauthOf(t, stores[p%len(stores)])
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for j := range perPutter {
					errs[p*perPutter+j] = o.PutOAuthToken(ctx, oauthToken(store.OAuthAccess, name(p, j), fam, "acme", "a@x.com"))
				}
			}()
		}
		revoker := oauthOf(t, stores[round%len(stores)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			revoked, revokeErr = revoker.RevokeOAuthFamily(ctx, oauthFamily(fam), t0.Add(time.Hour))
		}()
		close(start)
		wg.Wait()
		must(t, "RevokeOAuthFamily racing with puts", revokeErr)
		stored := 1
		for i, err := range errs {
			switch {
			case err == nil:
				stored++
				if i%perPutter > 0 && errs[i-1] != nil {
					t.Errorf("round %d: put %d accepted after the same putter's put was refused", round, i)
				}
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d: put %d: %v, want nil or ErrConflict", round, i, err)
			}
		}
		if revoked != stored {
			t.Errorf("round %d: the revocation deleted %d tokens; %d were stored", round, revoked, stored)
		}
		names := []string{name(-1, 0)}
		for p := range putters {
			for j := range perPutter {
				names = append(names, name(p, j))
			}
		}
		for _, s := range stores {
			checkGone(t, oauthOf(t, s), fmt.Sprintf("round %d, after the race", round), names...)
		}
		if t.Failed() {
			return
		}
	}
}

func testOAuthRevokeRace(t *testing.T, s store.Store) { racingRevocation(t, []store.Store{s}) }
