package mcpauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mailcal/mailcal/auth/mcpauth"
)

func TestSignInConnectsAndIssues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	access, refresh := f.tokens(t)
	if !strings.HasPrefix(access, "mca_") || len(access) != 47 || !strings.HasPrefix(refresh, "mcr_") || len(refresh) != 47 {
		t.Fatalf("tokens %d %d", len(access), len(refresh))
	}
	// Signing in connected the mailbox.
	g, err := f.grants.Get(ctx, "a", "google", "alice@example.com")
	if err != nil || g.RefreshToken == "" {
		t.Fatalf("grant %+v, %v", g, err)
	}
	si, err := f.srv.Verify(ctx, access, "a")
	if err != nil {
		t.Fatal(err)
	}
	if si.Tenant != "a" || si.Provider != "google" || si.Account != "alice@example.com" || si.Client != publicID || si.Family == "" {
		t.Fatalf("signin = %+v", si)
	}
	// The token's audience is tenant a's endpoint only.
	if _, err := f.srv.Verify(ctx, access, "b"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("a's token at b: %v", err)
	}
	for _, bad := range []string{"", "mck_x", refresh, "mca_" + strings.Repeat("A", 43), access + "x"} {
		if _, err := f.srv.Verify(ctx, bad, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
			t.Errorf("Verify(%.8q…) = %v", bad, err)
		}
	}
	// A removed tenant's tokens stop within the cache's 2 s.
	f.tenants.Delete("a")
	f.advance(3e9)
	if _, err := f.srv.Verify(ctx, access, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("removed tenant: %v", err)
	}
}

func TestProviderChosenAndUpstreamScopes(t *testing.T) {
	f := newFixture(t)
	// Only Google is configured: no page, straight to it; the upstream
	// request asks for the mailbox scopes with login_hint.
	f.signIn(t, "a", "carol@other.example")
	reqs := f.fake.AuthRequests()
	last := reqs[len(reqs)-1]
	if last.Get("login_hint") != "carol@other.example" || !strings.Contains(last.Get("scope"), "gmail") {
		t.Fatalf("upstream request %v", last)
	}
	// An unknown provider goes back to the client as an error.
	p := f.authParams("a", "alice@example.com")
	p.Set("provider", "yahoo")
	q := f.backTo(t, p)
	if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "google") {
		t.Fatalf("unknown provider: %v", q)
	}
}

func TestRefusedSignin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Tenant a lists people (bob is not one); tenant b lists nobody, and
	// its page says so and gives the command for alice alone.
	for i, c := range []struct{ tenant, account, command string }{
		{"a", "bob@example.com", "--allowed-signins &#39;CURRENT-LIST,bob@example.com&#39;"},
		{"b", "alice@example.com", "--allowed-signins &#39;alice@example.com&#39;"},
	} {
		resp, body := f.browse(t, f.authParams(c.tenant, c.account))
		if n := f.fake.RevokeRequests(); n != i+1 {
			t.Errorf("%d upstream revocations after %d refusals: the refused account's refresh token lives on", n, i+1)
		}
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Fatalf("%s at %s: %d %s", c.account, c.tenant, resp.StatusCode, body)
		}
		for _, want := range []string{c.account, "administrator", "mailcal policy set --tenant " + c.tenant + " " + c.command} {
			if !strings.Contains(body, want) {
				t.Errorf("refusal page lacks %q: %s", want, body)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
		if gs, _ := f.grants.List(ctx, c.tenant); len(gs) != 0 {
			t.Fatalf("a refused sign-in left grants: %+v", gs)
		}
	}
}

func TestDeniedAtProvider(t *testing.T) {
	f := newFixture(t)
	f.fake.DenyNext()
	q := f.backTo(t, f.authParams("a", "alice@example.com"))
	if q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Get("iss") != f.base || q.Get("code") != "" {
		t.Fatalf("client got %v", q)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	f := newFixture(t)
	// No trustworthy redirect: a page, never a redirect.
	for name, mod := range map[string]func(url.Values){
		"unknown client":     func(p url.Values) { p.Set("client_id", "https://evil.example/c.json") },
		"no client":          func(p url.Values) { p.Del("client_id") },
		"unregistered uri":   func(p url.Values) { p.Set("redirect_uri", "https://evil.example/cb") },
		"uri prefix":         func(p url.Values) { p.Set("redirect_uri", publicCB+"/x") },
		"no redirect":        func(p url.Values) { p.Del("redirect_uri") },
		"two redirect_uris":  func(p url.Values) { p.Add("redirect_uri", publicCB) },
		"other client's uri": func(p url.Values) { p.Set("redirect_uri", confCB) },
	} {
		p := f.authParams("a", "alice@example.com")
		mod(p)
		resp, body := f.browse(t, p)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "<h1") {
			t.Errorf("%s: %d %q %s", name, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	// The rest goes back to the client.
	for name, c := range map[string]struct {
		mod  func(url.Values)
		code string
	}{
		"no resource":     {func(p url.Values) { p.Del("resource") }, "invalid_target"},
		"unknown tenant":  {func(p url.Values) { p.Set("resource", f.srv.Resource("zz")) }, "invalid_target"},
		"resource slash":  {func(p url.Values) { p.Set("resource", f.srv.Resource("a")+"/") }, "invalid_target"},
		"no pkce":         {func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") }, "invalid_request"},
		"plain pkce":      {func(p url.Values) { p.Set("code_challenge_method", "plain") }, "invalid_request"},
		"short challenge": {func(p url.Values) { p.Set("code_challenge", "abc") }, "invalid_request"},
		"token flow":      {func(p url.Values) { p.Set("response_type", "token") }, "unsupported_response_type"},
		"repeated param":  {func(p url.Values) { p.Add("scope", "x") }, "invalid_request"},
	} {
		p := f.authParams("a", "alice@example.com")
		c.mod(p)
		q := f.backTo(t, p)
		if q.Get("error") != c.code || q.Get("state") != "st-123" || q.Get("iss") != f.base || q.Get("error_description") == "" {
			t.Errorf("%s: %v", name, q)
		}
		if strings.ContainsAny(q.Get("error_description"), "\"\\") {
			t.Errorf("%s: description %q has characters RFC 6749 forbids", name, q.Get("error_description"))
		}
	}
	if reqs := f.fake.AuthRequests(); len(reqs) != 0 {
		t.Fatalf("a refused request reached the provider: %v", reqs)
	}
}

// The provider's redirect followed twice at once (a double click, a
// replay): one code, to the first; the other gets a page.
func TestCallbackTwice(t *testing.T) {
	f := newFixture(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cb, err := f.fake.Approve(context.Background(), f.toProvider(t, f.authParams("a", "alice@example.com")).String())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	locs := make([]string, 3)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := noFollow.Get(cb.String())
			if err != nil {
				t.Error(err)
				return
			}
			r.Body.Close()
			statuses[i], locs[i] = r.StatusCode, r.Header.Get("Location")
		}()
	}
	wg.Wait()
	codes := 0
	for i, st := range statuses {
		switch {
		case st == http.StatusFound && strings.Contains(locs[i], "code=mco_"):
			codes++
			u, _ := url.Parse(locs[i])
			if st, m := f.exchange(t, u.Query().Get("code"), testVerifier); st != 200 {
				t.Fatalf("the one code: %d %v", st, m)
			}
		case st != http.StatusBadRequest:
			t.Errorf("callback %d answered %d %s", i, st, locs[i])
		}
	}
	if codes != 1 {
		t.Fatalf("%d codes from one sign-in (statuses %v)", codes, statuses)
	}
}

// The confused deputy: a link that tries to skip mailcal's consent page
// (provider chosen, a made-up consent token, GET or a POST from another
// site, which carries no SameSite=Strict cookie) only ever shows the page;
// nothing reaches the provider until the person presses its button.
func TestAuthorizeNeedsConsent(t *testing.T) {
	f := newFixture(t)
	p := f.authParams("a", "alice@example.com")
	p.Set("provider", "google")
	p.Set("consent", "guessed-token-guessed-token-guessed-token00")
	c := f.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, body := get(t, c, f.base+"/authorize?"+p.Encode())
	if resp.StatusCode != 200 || !strings.Contains(body, "<form") || !strings.Contains(body, "Public &lt;b&gt;App") || !strings.Contains(body, "hand it access at http://127.0.0.1:1.") {
		t.Fatalf("a link with a consent token: %d %s", resp.StatusCode, body)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || !strings.Contains(sc, "Path=/authorize") {
		t.Errorf("consent cookie %q", sc)
	}
	r, err := http.PostForm(f.base+"/authorize", p) // another site's form: no cookie
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || len(f.fake.AuthRequests()) != 0 {
		t.Fatalf("a cross-site POST: %d, %d requests reached the provider", r.StatusCode, len(f.fake.AuthRequests()))
	}
	// The page's own form, from the browser that was shown it, goes on.
	resp, _ = submitConsent(t, c, body, "google")
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "state=") {
		t.Fatalf("the consent form: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Two sign-ins begun in two tabs of one browser: each consent page's form
// still goes on (their cookies do not overwrite each other).
func TestConsentInTwoTabs(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p1, p2 := f.authParams("a", "alice@example.com"), f.authParams("a", "alice@example.com")
	p2.Set("state", "st-456")
	_, page1 := get(t, c, f.base+"/authorize?"+p1.Encode())
	_, page2 := get(t, c, f.base+"/authorize?"+p2.Encode())
	for i, page := range []string{page1, page2} {
		resp, body := submitConsent(t, c, page, "google")
		if resp.StatusCode != http.StatusFound {
			t.Errorf("tab %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
}
