package mcpauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/mcpauth"
)

func TestCodeExchange(t *testing.T) {
	f := newFixture(t)
	st, m := f.exchange(t, f.signIn(t, "a", "alice@example.com"), "a-wrong-verifier-of-forty-three-characters-0123456")
	if st != 400 || str(m, "error") != "invalid_grant" || !strings.Contains(str(m, "error_description"), "code_verifier") {
		t.Fatalf("wrong verifier: %d %v", st, m)
	}
	code := f.signIn(t, "a", "alice@example.com")
	for name, form := range map[string]url.Values{
		"other redirect": {"redirect_uri": {publicCB + "x"}},
		"other resource": {"resource": {f.srv.Resource("b")}},
	} {
		c := f.signIn(t, "a", "alice@example.com")
		base := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {publicID},
			"redirect_uri": {publicCB}, "code_verifier": {testVerifier}}
		for k, v := range form {
			base[k] = v
		}
		if st, m, _ := f.post(t, "/token", base, "", ""); st != 400 || !strings.HasPrefix(str(m, "error"), "invalid_") {
			t.Errorf("%s: %d %v", name, st, m)
		}
	}
	st, m = f.exchange(t, code, testVerifier)
	if st != 200 || str(m, "token_type") != "Bearer" || str(m, "scope") != "mcp" || m["expires_in"].(float64) != 900 {
		t.Fatalf("exchange: %d %v", st, m)
	}
	access := str(m, "access_token")
	if _, err := f.srv.Verify(context.Background(), access, "a"); err != nil {
		t.Fatal(err)
	}
	// A second use of the code revokes what the first gave (RFC 6749 4.1.2).
	st, m = f.exchange(t, code, testVerifier)
	if st != 400 || str(m, "error") != "invalid_grant" || !strings.Contains(str(m, "error_description"), "already used") {
		t.Fatalf("reuse: %d %v", st, m)
	}
	if _, err := f.srv.Verify(context.Background(), access, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("after code reuse the access token still works: %v", err)
	}
	// An expired code.
	code = f.signIn(t, "a", "alice@example.com")
	f.advance(61 * time.Second)
	if st, m := f.exchange(t, code, testVerifier); st != 400 || !strings.Contains(str(m, "error_description"), "expired") {
		t.Fatalf("expired code: %d %v", st, m)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	access1, refresh1 := f.tokens(t)
	st, m := f.refresh(t, refresh1)
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, m)
	}
	access2, refresh2 := str(m, "access_token"), str(m, "refresh_token")
	if refresh2 == refresh1 || access2 == access1 {
		t.Fatal("refresh did not rotate")
	}
	si, err := f.srv.Verify(ctx, access2, "a")
	if err != nil || si.Account != "alice@example.com" {
		t.Fatalf("new access token: %+v %v", si, err)
	}
	// The old refresh token again: reuse, the family dies (the new tokens too).
	st, m = f.refresh(t, refresh1)
	if st != 400 || str(m, "error") != "invalid_grant" || !strings.Contains(str(m, "error_description"), "already used") {
		t.Fatalf("reuse: %d %v", st, m)
	}
	for _, a := range []string{access1, access2} {
		if _, err := f.srv.Verify(ctx, a, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
			t.Fatalf("an access token of a reused family still works: %v", err)
		}
	}
	if st, _ := f.refresh(t, refresh2); st != 400 {
		t.Fatal("the new refresh token of a reused family still works")
	}
}

func TestRefreshWrongClientAndAuth(t *testing.T) {
	f := newFixture(t)
	_, refresh := f.tokens(t)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	// The confidential client, authenticated, cannot spend another client's token.
	if st, m, _ := f.post(t, "/token", form, confID, confSecret); st != 400 || !strings.Contains(str(m, "error_description"), "another client") {
		t.Fatalf("other client: %d %v", st, m)
	}
	// Wrong secrets and misuse are 401 invalid_client.
	st, m, h := f.post(t, "/token", form, confID, "mcx_wrong")
	if st != 401 || str(m, "error") != "invalid_client" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("wrong secret: %d %v %v", st, m, h)
	}
	for name, extra := range map[string]url.Values{
		"no secret":         {"client_id": {confID}},
		"unknown client":    {"client_id": {"mcc_nobody"}},
		"public+secret":     {"client_id": {publicID}, "client_secret": {"x"}},
		"post wrong secret": {"client_id": {confID}, "client_secret": {"mcx_wrong"}},
	} {
		ff := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
		for k, v := range extra {
			ff[k] = v
		}
		if st, m, h := f.post(t, "/token", ff, "", ""); st != 401 || str(m, "error") != "invalid_client" || h.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: %d %v", name, st, m)
		}
	}
	// None of that spent it: its own client refreshes.
	if st, m := f.refresh(t, refresh); st != 200 {
		t.Fatalf("own client after the attempts: %d %v", st, m)
	}
	// client_secret_post works for the confidential client (its grant is
	// unknown here, but it got past authentication).
	ff := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {confID}, "client_secret": {confSecret}}
	if st, m, _ := f.post(t, "/token", ff, "", ""); st != 400 || str(m, "error") != "invalid_grant" {
		t.Fatalf("client_secret_post: %d %v", st, m)
	}
	// Not a form, or no grant_type.
	req, _ := http.NewRequest(http.MethodPost, f.base+"/token", strings.NewReader(`{"grant_type":"refresh_token"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("JSON body: %d", resp.StatusCode)
	}
	if st, m, _ := f.post(t, "/token", url.Values{"client_id": {publicID}, "grant_type": {"password"}}, "", ""); st != 400 || str(m, "error") != "unsupported_grant_type" {
		t.Fatalf("password grant: %d %v", st, m)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	access, refresh := f.tokens(t)
	f.advance(16 * time.Minute)
	if _, err := f.srv.Verify(ctx, access, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired access token: %v", err)
	}
	st, m := f.refresh(t, refresh)
	if st != 200 {
		t.Fatalf("refresh after 16 min: %d %v", st, m)
	}
	f.advance(31 * 24 * time.Hour)
	if st, m := f.refresh(t, str(m, "refresh_token")); st != 400 || !strings.Contains(str(m, "error_description"), "expired") {
		t.Fatalf("refresh token after 31 days: %d %v", st, m)
	}
	// A family ends after 90 days however often it rotated.
	_, refresh = f.tokens(t)
	for i := 0; i < 4; i++ {
		f.advance(25 * 24 * time.Hour)
		st, m := f.refresh(t, refresh)
		if i < 3 && st != 200 {
			t.Fatalf("rotation %d: %d %v", i, st, m)
		}
		if i == 3 {
			if st != 400 || str(m, "error") != "invalid_grant" {
				t.Fatalf("a 100-day-old family refreshed: %d %v", st, m)
			}
			break
		}
		refresh = str(m, "refresh_token")
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	access, refresh := f.tokens(t)
	// Another client's revocation does nothing (and says nothing).
	if st, _, _ := f.post(t, "/revoke", url.Values{"token": {refresh}}, confID, confSecret); st != 200 {
		t.Fatalf("foreign revoke: %d", st)
	}
	if _, err := f.srv.Verify(ctx, access, "a"); err != nil {
		t.Fatalf("another client revoked it: %v", err)
	}
	for _, tok := range []string{"mcr_" + strings.Repeat("A", 43), "nonsense"} {
		if st, _, _ := f.post(t, "/revoke", url.Values{"token": {tok}, "client_id": {publicID}}, "", ""); st != 200 {
			t.Fatalf("unknown token: %d", st)
		}
	}
	if st, m, _ := f.post(t, "/revoke", url.Values{"token": {refresh}, "client_id": {"mcc_nobody"}}, "", ""); st != 401 {
		t.Fatalf("unauthenticated revoke: %d %v", st, m)
	}
	if st, _, _ := f.post(t, "/revoke", url.Values{"token": {access}, "token_type_hint": {"refresh_token"}, "client_id": {publicID}}, "", ""); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if _, err := f.srv.Verify(ctx, access, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("revoked access token: %v", err)
	}
	if st, _ := f.refresh(t, refresh); st != 400 {
		t.Fatal("the revoked family's refresh token works")
	}
}

func TestConcurrentRefresh(t *testing.T) { concurrentRefresh(t, newFixture(t)) }

// concurrentRefresh: 8 refreshes of one token at once: at most one
// succeeds, and then the family is revoked (its tokens die).
func concurrentRefresh(t *testing.T, f *fixture) {
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		_, refresh := f.tokens(t)
		var mu sync.Mutex
		var won []string
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, m := f.refresh(t, refresh); st == 200 {
					mu.Lock()
					won = append(won, str(m, "access_token"), str(m, "refresh_token"))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(won) > 2 {
			t.Fatalf("round %d: %d refreshes of one token succeeded", round, len(won)/2)
		}
		if len(won) == 2 {
			if _, err := f.srv.Verify(ctx, won[0], "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
				t.Fatalf("round %d: the winner's access token outlived the reuse: %v", round, err)
			}
			if st, _ := f.refresh(t, won[1]); st != 400 {
				t.Fatalf("round %d: the winner's refresh token outlived the reuse", round)
			}
		}
	}
}
