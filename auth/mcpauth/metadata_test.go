package mcpauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/mcpauth"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
)

func getJSON(t *testing.T, u string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return resp.StatusCode, m, resp.Header
}

func list(m map[string]any, k string) []string {
	var out []string
	for _, v := range m[k].([]any) {
		out = append(out, v.(string))
	}
	return out
}

func TestMetadata(t *testing.T) {
	f := newFixture(t)
	st, m, h := getJSON(t, f.base+"/.well-known/oauth-authorization-server")
	if st != 200 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("AS metadata: %d %v", st, h)
	}
	for k, want := range map[string]string{
		"issuer": f.base, "authorization_endpoint": f.base + "/authorize", "token_endpoint": f.base + "/token",
		"registration_endpoint": f.base + "/register", "revocation_endpoint": f.base + "/revoke",
	} {
		if str(m, k) != want {
			t.Errorf("%s = %q, want %q", k, str(m, k), want)
		}
	}
	if !slices.Equal(list(m, "code_challenge_methods_supported"), []string{"S256"}) || !slices.Equal(list(m, "scopes_supported"), []string{"mcp"}) ||
		!slices.Equal(list(m, "grant_types_supported"), []string{"authorization_code", "refresh_token"}) ||
		len(list(m, "token_endpoint_auth_methods_supported")) != 3 || m["client_id_metadata_document_supported"] != true ||
		m["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("AS metadata %v", m)
	}
	st, m, _ = getJSON(t, f.srv.ResourceMetadataURL("a"))
	if st != 200 || str(m, "resource") != f.base+"/t/a/mcp" || !slices.Equal(list(m, "authorization_servers"), []string{f.base}) ||
		!slices.Equal(list(m, "bearer_methods_supported"), []string{"header"}) {
		t.Fatalf("PRM: %d %v", st, m)
	}
	if st, _, _ := getJSON(t, f.srv.ResourceMetadataURL("zz")); st != 404 {
		t.Fatalf("unknown tenant's PRM: %d", st)
	}
	req, _ := http.NewRequest(http.MethodOptions, f.base+"/token", nil)
	req.Header.Set("Origin", "http://localhost:6274")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := mcpauth.New(mcpauth.Config{BaseURL: "http://example.com", Store: f.st}); err == nil {
		t.Fatal("an incomplete config was accepted")
	}
	for _, base := range []string{"http://example.com", "https://x.example/path", "ftp://x.example", "https://x.example?q"} {
		c := f.cfg
		c.BaseURL = base
		if _, err := mcpauth.New(c); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
}

func TestProviderChoice(t *testing.T) {
	f := newFixtureOpts(t, fixtureOpts{env: map[string]string{
		"MAILCAL_MICROSOFT_CLIENT_ID": "ms-client", "MAILCAL_MICROSOFT_CLIENT_SECRET": "ms-secret",
		"MAILCAL_MICROSOFT_AUTH_URL": "https://login.microsoft.test/authorize", "MAILCAL_MICROSOFT_TOKEN_URL": "https://login.microsoft.test/token",
	}})
	p := f.authParams("a", "")
	p.Del("login_hint")
	resp, page := get(t, f.browser(), f.base+"/authorize?"+p.Encode())
	_, _, buttons := consentForm(t, page)
	if resp.StatusCode != 200 || !strings.Contains(page, "Sign in with Google") || !strings.Contains(page, "Sign in with Microsoft 365") ||
		strings.Join(buttons, ",") != "google,microsoft" || strings.Contains(page, "<b>App") || !strings.Contains(page, "Public &lt;b&gt;App") {
		t.Fatalf("choice page %d: %s", resp.StatusCode, page)
	}
	// The consent page was answered with cookies off, or by another
	// browser: it is shown again, nothing begins.
	action, form, _ := consentForm(t, page)
	form.Set("provider", "google")
	resp, err := http.PostForm(action, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<form") || len(f.fake.AuthRequests()) != 0 {
		t.Fatalf("consent form without the page's cookie: %d %s", resp.StatusCode, body)
	}
	for hint, host := range map[string]string{"someone@hotmail.co.uk": "login.microsoft.test", "someone@gmail.com": "127.0.0.1", "x@outlook.com": "login.microsoft.test"} {
		p.Set("login_hint", hint)
		_, page := get(t, f.browser(), f.base+"/authorize?"+p.Encode())
		if _, _, buttons := consentForm(t, page); len(buttons) != 1 {
			t.Errorf("%s: buttons %v, want the hint's provider only", hint, buttons)
		}
		if loc := f.toProvider(t, p); loc.Hostname() != host {
			t.Errorf("%s: sent to %v", hint, loc)
		}
	}
}

func TestReadOnlyAsksReadScopes(t *testing.T) {
	f := newFixtureOpts(t, fixtureOpts{readOnly: true})
	f.signIn(t, "a", "alice@example.com")
	reqs := f.fake.AuthRequests()
	scope := reqs[len(reqs)-1].Get("scope")
	if !strings.Contains(scope, "gmail.readonly") || strings.Contains(scope, "gmail.send") || strings.Contains(scope, "gmail.modify") {
		t.Fatalf("read-only server asked for %q", scope)
	}
}

// Connections made through the connect API or the CLI end at the same
// callback and are not sign-ins: they pass through to next.
func TestCallbackPassesOtherFlows(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flows := f.cfg.Flows
	flow, err := flows.Begin(ctx, oauth.Request{Tenant: "b", Provider: "google", LoginHint: "bob@example.com", RedirectURI: f.cfg.RedirectURI})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.fake.ApproveAndFollow(ctx, flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "is connected") {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	if _, err := f.grants.Get(ctx, "b", "google", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
}

// A revocation on one replica reaches another's cache within 2 s.
func TestRevocationAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, err := mcpauth.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	access, _ := f.tokens(t)
	if _, err := other.Verify(ctx, access, "a"); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := f.post(t, "/revoke", url.Values{"token": {access}, "client_id": {publicID}}, "", ""); st != 200 {
		t.Fatal(st)
	}
	if _, err := other.Verify(ctx, access, "a"); err != nil {
		t.Fatalf("within the cache's 2 s the other replica answered %v", err)
	}
	f.advance(2 * time.Second)
	if _, err := other.Verify(ctx, access, "a"); !errors.Is(err, mcpauth.ErrInvalidToken) {
		t.Fatalf("after 2 s the other replica still accepts a revoked token: %v", err)
	}
}

func TestPrune(t *testing.T) {
	f := newFixture(t)
	access, refresh := f.tokens(t)
	f.advance(16 * time.Minute)
	stop := f.srv.Start(context.Background())
	defer stop()
	// The first pass runs at once, in the background.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := f.st.GetOAuthToken(context.Background(), hashHex(access))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired access token after pruning: %v", err)
		}
	}
	if _, err := f.st.GetOAuthToken(context.Background(), hashHex(refresh)); err != nil {
		t.Fatalf("live refresh token pruned: %v", err)
	}
}

// No secret reaches a log line, whatever happens.
func TestNoSecretsInLogs(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	f := newFixture(t)
	code := f.signIn(t, "a", "alice@example.com")
	upstreamState := f.fake.AuthRequests()[0].Get("state")
	_, m := f.exchange(t, code, testVerifier)
	f.exchange(t, code, testVerifier) // reuse
	_, rt := f.tokens(t)
	_, m2 := f.refresh(t, rt)
	f.refresh(t, rt) // reuse
	f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(m2, "refresh_token")}}, confID, "mcx_wrong")
	f.browse(t, f.authParams("a", "bob@example.com")) // refused
	logs := buf.String()
	if !strings.Contains(logs, "sign-in revoked") {
		t.Fatalf("nothing logged? %s", logs)
	}
	for _, secret := range []string{code, upstreamState, str(m, "access_token"), str(m, "refresh_token"), rt, str(m2, "access_token"),
		str(m2, "refresh_token"), testVerifier, confSecret, "mcx_wrong", "st-123"} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("a secret (%.6s…) is in the logs", secret)
		}
	}
}

// A drafts_only workspace's sign-ins do not ask the provider to send: none
// of its people is served a tool that sends.
func TestDraftsOnlyAsksNoSendScope(t *testing.T) {
	f := newFixture(t)
	pol := f.cfg.Policies.(*policies)
	pol.mu.Lock()
	p := pol.m["a"]
	p.DraftsOnly = true
	pol.m["a"] = p
	pol.mu.Unlock()
	f.signIn(t, "a", "alice@example.com")
	reqs := f.fake.AuthRequests()
	scope := reqs[len(reqs)-1].Get("scope")
	if strings.Contains(scope, "gmail.send") || !strings.Contains(scope, "gmail.modify") || !strings.Contains(scope, "calendar.events") {
		t.Fatalf("drafts_only workspace asked for %q; want every default scope but sending", scope)
	}
	gs, err := f.grants.List(context.Background(), "a")
	if err != nil || len(gs) != 1 || slices.Contains(gs[0].Scopes, "mail.send") {
		t.Fatalf("the connected account: %+v %v; want it without mail.send", gs, err)
	}
}

// The consent page does not read the tenant's policy: only the sign-in the
// person agreed to needs its scopes (and the callback its allowed_signins).
func TestConsentPageReadsNoPolicy(t *testing.T) {
	f := newFixture(t)
	pol := f.cfg.Policies.(*policies)
	resp, body := get(t, f.browser(), f.base+"/authorize?"+f.authParams("a", "alice@example.com").Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<form") {
		t.Fatalf("GET /authorize: %d, want the consent page", resp.StatusCode)
	}
	pol.mu.Lock()
	reads := pol.reads
	pol.mu.Unlock()
	if reads != 0 {
		t.Fatalf("showing the consent page read the policy %d times; want 0", reads)
	}
}
