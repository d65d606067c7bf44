package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// oauthOf returns s as store.OAuthServer, or skips the case: the contract is
// optional.
func oauthOf(t *testing.T, s store.Store) store.OAuthServer {
	t.Helper()
	o, ok := s.(store.OAuthServer)
	if !ok {
		t.Skipf("%T does not implement store.OAuthServer", s)
	}
	return o
}

// oauthHash is the hash of the suite's token named name.
func oauthHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// oauthFamily is a valid family name for n.
func oauthFamily(n string) string { return "family-" + n + "-0123456789" }

// oauthToken returns a valid token of kind named name, in family fam of the
// account tenant/exmail/account (a request names no account), created at
// t0 and valid an hour.
func oauthToken(kind, name, fam, tenant, account string) store.OAuthToken {
	tok := store.OAuthToken{
		Hash: oauthHash(name), Kind: kind, Family: oauthFamily(fam),
		Tenant: tenant, Provider: "exmail", Account: account,
		Client:    "https://client.example/metadata.json",
		Resource:  "https://mailcal.example/t/" + tenant + "/mcp",
		Scopes:    []string{"mcp"},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
	}
	switch kind {
	case store.OAuthRequest:
		tok.Account, tok.Provider = "", ""
		tok.State = "client-state-" + name
		fallthrough
	case store.OAuthCode:
		tok.RedirectURI = "http://127.0.0.1:9999/callback"
		tok.Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	}
	return tok
}

// checkMicro fails unless got is want to the microsecond, in UTC; a zero
// want must read back zero.
func checkMicro(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() || got.IsZero() {
		if !got.IsZero() || !want.IsZero() {
			t.Errorf("%s = %s, want %s", what, got, want)
		}
		return
	}
	if d := got.Sub(want); d <= -time.Microsecond || d >= time.Microsecond {
		t.Errorf("%s = %s, want %s (to the microsecond)", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %s: not in UTC", what, got)
	}
}

func checkOAuthToken(t *testing.T, got, want store.OAuthToken) {
	t.Helper()
	id := want.Hash[:8] + "…"
	if got.Hash != want.Hash || got.Kind != want.Kind || got.Family != want.Family || got.Tenant != want.Tenant ||
		got.Provider != want.Provider || got.Account != want.Account || got.Client != want.Client ||
		got.Resource != want.Resource || !sameStrings(got.Scopes, want.Scopes) || got.RedirectURI != want.RedirectURI ||
		got.Challenge != want.Challenge || got.State != want.State {
		t.Errorf("OAuth token %s read back as %+v, want %+v", id, got, want)
	}
	checkMicro(t, "OAuth token "+id+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkMicro(t, "OAuth token "+id+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkMicro(t, "OAuth token "+id+" SpentAt", got.SpentAt, want.SpentAt)
}

// checkGone fails unless every token named is not found through o.
func checkGone(t *testing.T, o store.OAuthServer, what string, names ...string) {
	t.Helper()
	ctx := ctxFor(t)
	for _, n := range names {
		if got, err := o.GetOAuthToken(ctx, oauthHash(n)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: GetOAuthToken %s = %+v, %v; want ErrNotFound", what, n, got, err)
		}
	}
}

// checkKept fails unless every token named is still stored in o.
func checkKept(t *testing.T, o store.OAuthServer, what string, names ...string) {
	t.Helper()
	ctx := ctxFor(t)
	for _, n := range names {
		if _, err := o.GetOAuthToken(ctx, oauthHash(n)); err != nil {
			t.Errorf("%s: GetOAuthToken %s: %v; want it kept", what, n, err)
		}
	}
}

// testOAuthClients: clients read back as written, ErrExists on a taken id,
// copies, invalid input refused and nothing written.
func testOAuthClients(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	_, err := o.GetOAuthClient(ctx, "mcc_nobody")
	checkIs(t, "GetOAuthClient of an unknown client", err, store.ErrNotFound)

	meta := []byte(`{"client_name":"Agent","redirect_uris":["http://127.0.0.1/cb"]}`)
	c := store.OAuthClient{ID: "mcc_0123456789abcdefghijkl", SecretHash: oauthHash("secret"), Metadata: bytes.Clone(meta), CreatedAt: t0}
	must(t, "PutOAuthClient", o.PutOAuthClient(ctx, c))
	c.Metadata[0] = 'X' // the caller's slice, not the store's
	got, err := o.GetOAuthClient(ctx, c.ID)
	must(t, "GetOAuthClient", err)
	if got.ID != c.ID || got.SecretHash != c.SecretHash || !bytes.Equal(got.Metadata, meta) {
		t.Errorf("GetOAuthClient = %+v, want the client as written", got)
	}
	checkMicro(t, "client CreatedAt", got.CreatedAt, t0)
	got.Metadata[0] = 'Y'
	if again, err := o.GetOAuthClient(ctx, c.ID); err != nil || !bytes.Equal(again.Metadata, meta) {
		t.Errorf("GetOAuthClient after changing a returned slice = %q, %v; want it unchanged", again.Metadata, err)
	}
	public := store.OAuthClient{ID: "mcc_public", Metadata: []byte(`{}`), CreatedAt: t0}
	must(t, "PutOAuthClient of a public client", o.PutOAuthClient(ctx, public))
	if got, err := o.GetOAuthClient(ctx, public.ID); err != nil || got.SecretHash != "" {
		t.Errorf("GetOAuthClient of a public client = %+v, %v; want no secret hash", got, err)
	}
	taken := store.OAuthClient{ID: c.ID, Metadata: []byte(`{"other":true}`), CreatedAt: t0}
	checkIs(t, "PutOAuthClient of a taken id", o.PutOAuthClient(ctx, taken), store.ErrExists)
	if got, err := o.GetOAuthClient(ctx, c.ID); err != nil || !bytes.Equal(got.Metadata, meta) {
		t.Errorf("GetOAuthClient after a refused put = %q, %v; want the first client", got.Metadata, err)
	}
	_, err = o.GetOAuthClient(ctx, "mcc_0123456789abcdefghijk")
	checkIs(t, "GetOAuthClient of a prefix of an id", err, store.ErrNotFound)

	for what, bad := range map[string]store.OAuthClient{
		"an empty id":          {Metadata: []byte(`{}`)},
		"an id with a space":   {ID: "mcc_a b"},
		"a bad secret hash":    {ID: "mcc_bad1", SecretHash: "ABC"},
		"metadata over 8 KiB":  {ID: "mcc_bad2", Metadata: make([]byte, store.MaxOAuthClientMetadata+1)},
		"metadata with a NUL":  {ID: "mcc_bad3", Metadata: []byte("{\x00}")},
		"metadata not UTF-8":   {ID: "mcc_bad4", Metadata: []byte{'"', 0xff, '"'}},
		"an id over 1024 long": {ID: "mcc_" + string(bytes.Repeat([]byte{'a'}, store.MaxOAuthClientIDLen))},
	} {
		checkRefused(t, "PutOAuthClient with "+what, o.PutOAuthClient(ctx, bad))
		if bad.ID != "" && len(bad.ID) <= store.MaxOAuthClientIDLen && bad.ID != "mcc_a b" {
			_, err := o.GetOAuthClient(ctx, bad.ID)
			checkIs(t, "GetOAuthClient after a refused put with "+what, err, store.ErrNotFound)
		}
	}
	_, err = o.GetOAuthClient(ctx, "")
	checkRefused(t, "GetOAuthClient of an empty id", err)
}

// testOAuthTokens: every field read back as written, of every kind;
// ErrExists on a taken hash; copies; expired tokens returned; delete;
// invalid input refused and nothing written.
func testOAuthTokens(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	_, err := o.GetOAuthToken(ctx, oauthHash("nothing"))
	checkIs(t, "GetOAuthToken of an unknown hash", err, store.ErrNotFound)

	req := oauthToken(store.OAuthRequest, "req", "a", "acme", "")
	code := oauthToken(store.OAuthCode, "code", "a", "acme", "a@x.com")
	access := oauthToken(store.OAuthAccess, "access", "a", "acme", "a@x.com")
	access.Scopes = []string{"mcp", "other"}
	refresh := oauthToken(store.OAuthRefresh, "refresh", "a", "acme", "a@x.com")
	refresh.Scopes = nil
	refresh.ExpiresAt = t0.Add(30 * 24 * time.Hour)
	expired := oauthToken(store.OAuthAccess, "expired", "b", "acme", "a@x.com")
	expired.CreatedAt, expired.ExpiresAt = t0.Add(-48*time.Hour), t0.Add(-47*time.Hour)
	for _, tok := range []store.OAuthToken{req, code, access, refresh, expired} {
		put := tok
		put.Scopes = append([]string(nil), tok.Scopes...)
		must(t, "PutOAuthToken "+tok.Kind, o.PutOAuthToken(ctx, put))
		if len(put.Scopes) > 0 {
			put.Scopes[0] = "changed" // the caller's slice, not the store's
		}
	}
	for _, want := range []store.OAuthToken{req, code, access, refresh, expired} {
		got, err := o.GetOAuthToken(ctx, want.Hash)
		must(t, "GetOAuthToken "+want.Kind, err)
		checkOAuthToken(t, got, want)
		if len(got.Scopes) > 0 {
			got.Scopes[0] = "changed"
			again, err := o.GetOAuthToken(ctx, want.Hash)
			must(t, "GetOAuthToken again", err)
			checkOAuthToken(t, again, want)
		}
	}

	other := oauthToken(store.OAuthAccess, "access", "c", "beta", "b@x.com")
	checkIs(t, "PutOAuthToken of a taken hash", o.PutOAuthToken(ctx, other), store.ErrExists)
	got, err := o.GetOAuthToken(ctx, access.Hash)
	must(t, "GetOAuthToken after a refused put", err)
	checkOAuthToken(t, got, access)

	must(t, "DeleteOAuthToken", o.DeleteOAuthToken(ctx, code.Hash))
	checkGone(t, o, "after DeleteOAuthToken", "code")
	checkIs(t, "DeleteOAuthToken of a deleted token", o.DeleteOAuthToken(ctx, code.Hash), store.ErrNotFound)
	checkKept(t, o, "after another token's delete", "req", "access", "refresh", "expired")

	for what, change := range map[string]func(*store.OAuthToken){
		"a short hash":           func(t *store.OAuthToken) { t.Hash = t.Hash[:63] },
		"an upper-case hash":     func(t *store.OAuthToken) { t.Hash = "ABCDEF" + t.Hash[6:] },
		"an unknown kind":        func(t *store.OAuthToken) { t.Kind = "id_token" },
		"a short family":         func(t *store.OAuthToken) { t.Family = "short" },
		"a family with a slash":  func(t *store.OAuthToken) { t.Family = "family/0123456789abc" },
		"an invalid tenant":      func(t *store.OAuthToken) { t.Tenant = "Acme" },
		"no account":             func(t *store.OAuthToken) { t.Account = "" },
		"an invalid provider":    func(t *store.OAuthToken) { t.Provider = "Ex Mail" },
		"no client":              func(t *store.OAuthToken) { t.Client = "" },
		"a client with a space":  func(t *store.OAuthToken) { t.Client = "a b" },
		"a state with a NUL":     func(t *store.OAuthToken) { t.State = "a\x00b" },
		"a resource too long":    func(t *store.OAuthToken) { t.Resource = string(make([]byte, store.MaxOAuthURILen+1)) },
		"17 scopes":              func(t *store.OAuthToken) { t.Scopes = make([]string, store.MaxOAuthScopesLen+1) },
		"a scope not UTF-8":      func(t *store.OAuthToken) { t.Scopes = []string{"\xff"} },
		"no expiry":              func(t *store.OAuthToken) { t.ExpiresAt = time.Time{} },
		"expiry before creation": func(t *store.OAuthToken) { t.ExpiresAt = t.CreatedAt.Add(-time.Second) },
		"a request with account": func(t *store.OAuthToken) { t.Kind = store.OAuthRequest },
	} {
		bad := oauthToken(store.OAuthAccess, "bad", "d", "acme", "a@x.com")
		change(&bad)
		checkRefused(t, "PutOAuthToken with "+what, o.PutOAuthToken(ctx, bad))
	}
	checkGone(t, o, "after refused puts", "bad")
	for what, h := range map[string]string{"an empty hash": "", "a short hash": oauthHash("x")[:60], "a non-hex hash": "g" + oauthHash("x")[1:]} {
		_, err := o.GetOAuthToken(ctx, h)
		checkRefused(t, "GetOAuthToken of "+what, err)
		_, _, err = o.SpendOAuthToken(ctx, h, t0)
		checkRefused(t, "SpendOAuthToken of "+what, err)
		checkRefused(t, "DeleteOAuthToken of "+what, o.DeleteOAuthToken(ctx, h))
	}
}

// testOAuthSpend: the first spend answers first=true and the record as it
// was; every later one first=false and the record with SpentAt; a missing
// token is not found; then racing spenders, one winner.
func testOAuthSpend(t *testing.T, s store.Store) {
	o := oauthOf(t, s)
	ctx := ctxFor(t)
	_, _, err := o.SpendOAuthToken(ctx, oauthHash("missing"), t0)
	checkIs(t, "SpendOAuthToken of a missing token", err, store.ErrNotFound)

	tok := oauthToken(store.OAuthRefresh, "refresh", "a", "acme", "a@x.com")
	must(t, "PutOAuthToken", o.PutOAuthToken(ctx, tok))
	_, _, err = o.SpendOAuthToken(ctx, tok.Hash, time.Time{})
	checkRefused(t, "SpendOAuthToken at a zero time", err)
	at := t0.Add(time.Minute)
	got, first, err := o.SpendOAuthToken(ctx, tok.Hash, at)
	must(t, "SpendOAuthToken", err)
	if !first {
		t.Error("the first SpendOAuthToken answered first=false")
	}
	checkOAuthToken(t, got, tok)
	spent := tok
	spent.SpentAt = at
	for i := range 2 {
		got, first, err = o.SpendOAuthToken(ctx, tok.Hash, at.Add(time.Duration(i+1)*time.Hour))
		must(t, "SpendOAuthToken again", err)
		if first {
			t.Error("a second SpendOAuthToken answered first=true")
		}
		checkOAuthToken(t, got, spent)
	}
	got, err = o.GetOAuthToken(ctx, tok.Hash)
	must(t, "GetOAuthToken of a spent token", err)
	checkOAuthToken(t, got, spent)
	racingSpends(t, []store.Store{s})
}

// racingSpends: of 16 spenders of one token, over the stores in turn,
// exactly one gets first=true; every other gets the record spent at the
// winner's time.
func racingSpends(t *testing.T, stores []store.Store) {
	const spenders = 16
	ctx := ctxFor(t)
	tok := oauthToken(store.OAuthCode, "raced", "r", "acme", "a@x.com")
	must(t, "PutOAuthToken", oauthOf(t, stores[0]).PutOAuthToken(ctx, tok))
	got := make([]store.OAuthToken, spenders)
	errs := make([]error, spenders)
	firsts := make([]bool, spenders)
	start := make(chan struct{})
	done := make(chan int)
	for i := range spenders {
		o := oauthOf(t, stores[i%len(stores)])
		go func() {
			<-start
			got[i], firsts[i], errs[i] = o.SpendOAuthToken(ctx, tok.Hash, t0.Add(time.Duration(i+1)*time.Second))
			done <- i
		}()
	}
	close(start)
	for range spenders {
		<-done
	}
	winner := -1
	for i := range spenders {
		switch {
		case errs[i] != nil:
			t.Errorf("spender %d: %v", i, errs[i])
		case firsts[i] && winner >= 0:
			t.Errorf("spenders %d and %d both spent the token first", winner, i)
		case firsts[i]:
			winner = i
			checkOAuthToken(t, got[i], tok)
		}
	}
	if winner < 0 {
		t.Fatal("no spender spent the token first")
	}
	spent := tok
	spent.SpentAt = t0.Add(time.Duration(winner+1) * time.Second)
	for i := range spenders {
		if errs[i] == nil && !firsts[i] {
			checkOAuthToken(t, got[i], spent)
		}
	}
}

// sharedOAuthSpend: racing spenders over both values.
func sharedOAuthSpend(t *testing.T, stores []store.Store) { racingSpends(t, stores) }

func oauthNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}
