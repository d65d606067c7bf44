//go:build unix

package e2e

// A small OAuth client of mailcal's authorization server, in Go, for the
// tests that look at each step (oauth_server_test.go): requests sent to one
// replica directly with the public Host (as the balancer sends them),
// registration, the authorization request, the person's consent at the
// fake and the callback, the token endpoint, revocation, and MCP requests
// with a bearer token on a tenant's endpoint.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// send sends one request to s (a replica, or the proxy), for a URL under
// the public base URL (or its localhost spelling, where a Microsoft
// redirect goes): the request reaches s's address with the public Host
// header. Any other URL is sent as it is. Redirects are not followed; the
// answer is not audited (it may hold a token).
func (fx *oauthFixture) send(t *testing.T, s *httpServer, method, raw string, body io.Reader, headers ...string) rawResponse {
	t.Helper()
	r, err := fx.trySend(s, method, raw, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trySend is send for any goroutine: it returns its error.
func (fx *oauthFixture) trySend(s *httpServer, method, raw string, body io.Reader, headers ...string) (rawResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(raw)
	if err != nil {
		return rawResponse{}, err
	}
	public := u.Host
	_, port, _ := strings.Cut(fx.host, ":")
	if u.Host == fx.host || u.Host == "localhost:"+port {
		to, _ := url.Parse(s.base)
		u.Host = to.Host
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return rawResponse{}, err
	}
	req.Host = public
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return rawResponse{}, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return rawResponse{}, fmt.Errorf("%s %s: reading the answer: %w", method, u.Redacted(), err)
	}
	return rawResponse{resp.StatusCode, resp.Header, data}, nil
}

// getJSON GETs a public document through the proxy and decodes it.
func (fx *oauthFixture) getJSON(t *testing.T, path string, out any) {
	t.Helper()
	r := fx.send(t, fx.proxy, "GET", fx.proxy.base+path, nil, "Accept", "application/json")
	fx.leaks.record("GET "+path, string(r.body))
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, tail(string(r.body), 500))
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, r.body)
	}
}

// register registers a public client by DCR (RFC 7591) and returns its
// client_id.
func (fx *oauthFixture) register(t *testing.T, redirectURI string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"client_name": "mailcal e2e (Go)", "redirect_uris": []string{redirectURI},
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	r := fx.send(t, fx.proxy, "POST", fx.proxy.base+"/register", strings.NewReader(string(body)), "Content-Type", "application/json")
	fx.leaks.record("POST /register", string(r.body))
	var reg struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if err := json.Unmarshal(r.body, &reg); r.status != http.StatusCreated || err != nil {
		t.Fatalf("POST /register: %d %s, want 201 and the client (%v)", r.status, tail(string(r.body), 500), err)
	}
	if !strings.HasPrefix(reg.ClientID, "mcc_") || len(reg.ClientID) != 4+22 || reg.ClientSecret != "" ||
		len(reg.RedirectURIs) != 1 || reg.RedirectURIs[0] != redirectURI {
		t.Fatalf("POST /register answered %s, want an mcc_ client_id, no secret (a public client) and the redirect URI", r.body)
	}
	return reg.ClientID
}

// oauthClient is one client of a tenant's endpoint.
type oauthClient struct {
	fx          *oauthFixture
	tenant      string
	id          string
	redirectURI string
}

// pending is an authorization request on its way: what the client keeps.
type pending struct {
	verifier, state string
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize sends the authorization request (PKCE S256, the tenant's
// resource, login_hint and provider) to s and returns the answer.
func (c *oauthClient) authorize(t *testing.T, s *httpServer, provider, email string) (pending, rawResponse) {
	t.Helper()
	p := pending{verifier: randomToken(t), state: randomToken(t)}
	sum := sha256.Sum256([]byte(p.verifier))
	q := url.Values{
		"client_id": {c.id}, "redirect_uri": {c.redirectURI}, "response_type": {"code"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"resource": {c.fx.resource(c.tenant)}, "state": {p.state}, "scope": {"mcp"},
	}
	if email != "" {
		q.Set("login_hint", email)
	}
	if provider != "" {
		q.Set("provider", provider)
	}
	r := c.fx.send(t, s, "GET", c.fx.proxy.base+"/authorize?"+q.Encode(), nil, "Accept", "text/html")
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte("<form")) {
		return p, r // an error page, or an error sent back to the client
	}
	return p, c.agree(t, s, r, provider)
}

var (
	consentActionRE = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	consentHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	consentButtonRE = regexp.MustCompile(`<button class="p" type="submit" name="provider" value="([^"]+)">`)
)

// agree answers mailcal's consent page r as the person would: its form,
// with the cookie it set and the button of provider, posted to s.
func (c *oauthClient) agree(t *testing.T, s *httpServer, r rawResponse, provider string) rawResponse {
	t.Helper()
	page := string(r.body)
	action := consentActionRE.FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("the consent page has no form: %s", tail(pageText(r.body), 500))
	}
	form := url.Values{}
	for _, m := range consentHiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	var buttons []string
	for _, m := range consentButtonRE.FindAllStringSubmatch(page, -1) {
		buttons = append(buttons, html.UnescapeString(m[1]))
	}
	if provider == "" && len(buttons) > 0 {
		provider = buttons[0]
	}
	if !slices.Contains(buttons, provider) {
		t.Fatalf("the consent page offers %v, not %s", buttons, provider)
	}
	form.Set("provider", provider)
	var cookies []string
	for _, sc := range r.header.Values("Set-Cookie") {
		cookies = append(cookies, strings.TrimSpace(strings.SplitN(sc, ";", 2)[0]))
	}
	return c.fx.send(t, s, "POST", html.UnescapeString(action[1]), strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Cookie", strings.Join(cookies, "; "))
}

// consent follows authorize's redirect to the provider's fake, which
// approves at once, and takes the browser back to mailcal's callback on s.
func (c *oauthClient) consent(t *testing.T, provider string, r rawResponse, s *httpServer) rawResponse {
	t.Helper()
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("/authorize answered %d %s, want a redirect to %s", r.status, tail(pageText(r.body), 500), provider)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	approve := c.fx.fg.Approve
	if provider == "microsoft" {
		approve = c.fx.fm.Approve
	}
	loc, err := approve(ctx, r.header.Get("Location"))
	if err != nil {
		t.Fatalf("approving at the %s fake: %v", provider, err)
	}
	if loc.Path != "/oauth/callback" {
		t.Fatalf("the %s fake sent the browser to %s, want mailcal's /oauth/callback", provider, loc.Redacted())
	}
	return c.fx.send(t, s, "GET", loc.String(), nil, "Accept", "text/html")
}

// code checks the callback's redirect to the client (code, the state it
// sent, iss the issuer) and returns the code.
func (c *oauthClient) code(t *testing.T, p pending, r rawResponse) string {
	t.Helper()
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("the callback answered %d %s, want a redirect to the client", r.status, tail(pageText(r.body), 500))
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != c.redirectURI {
		t.Fatalf("the callback redirected to %q, want the client's %s", loc.Redacted(), c.redirectURI)
	}
	q := loc.Query()
	code := q.Get("code")
	c.fx.leaks.secret(code)
	if !strings.HasPrefix(code, "mco_") || len(code) != 4+43 || q.Get("state") != p.state || q.Get("iss") != c.fx.proxy.base {
		t.Fatalf("the redirect to the client: code %t (mco_), state %t, iss %q; want an mco_ code, the state sent and iss %s",
			strings.HasPrefix(code, "mco_"), q.Get("state") == p.state, q.Get("iss"), c.fx.proxy.base)
	}
	return code
}

// signIn is the whole sign-in: authorize on replica from, consent, callback
// and token exchange on replica to.
func (c *oauthClient) signIn(t *testing.T, provider, email string, from, to int) tokenAnswer {
	t.Helper()
	p, r := c.authorize(t, c.fx.replicas[from], provider, email)
	code := c.code(t, p, c.consent(t, provider, r, c.fx.replicas[to]))
	tok := c.token(t, c.fx.replicas[to], url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {p.verifier}, "redirect_uri": {c.redirectURI}})
	tok.mustOK(t, "the code's exchange")
	return tok
}

// tokenAnswer is /token's answer, or its error.
type tokenAnswer struct {
	status           int
	header           http.Header
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// token posts form (with the client's id and the tenant's resource) to
// s's /token. The tokens it answers are secrets for the leak audit.
func (c *oauthClient) token(t *testing.T, s *httpServer, form url.Values) tokenAnswer {
	t.Helper()
	a, err := c.tryToken(s, form)
	if err != nil {
		t.Fatal(err)
	}
	if cc := a.header.Get("Cache-Control"); a.AccessToken != "" && cc != "no-store" {
		t.Errorf("POST /token: Cache-Control %q, want no-store", cc)
	}
	return a
}

// tryToken is token for any goroutine: it returns its error.
func (c *oauthClient) tryToken(s *httpServer, form url.Values) (tokenAnswer, error) {
	form.Set("client_id", c.id)
	if form.Get("resource") == "" {
		form.Set("resource", c.fx.resource(c.tenant))
	}
	r, err := c.fx.trySend(s, "POST", c.fx.proxy.base+"/token", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
	if err != nil {
		return tokenAnswer{}, err
	}
	var a tokenAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		return tokenAnswer{}, fmt.Errorf("POST /token (%s): %d %s: %v", form.Get("grant_type"), r.status, tail(string(r.body), 300), err)
	}
	a.status, a.header = r.status, r.header
	c.fx.leaks.secret(a.AccessToken)
	c.fx.leaks.secret(a.RefreshToken)
	if a.Error != "" {
		c.fx.leaks.record("POST /token error", string(r.body))
	}
	return a, nil
}

func (a tokenAnswer) mustOK(t *testing.T, who string) {
	t.Helper()
	if a.status != http.StatusOK || !strings.HasPrefix(a.AccessToken, "mca_") || len(a.AccessToken) != 4+43 ||
		!strings.HasPrefix(a.RefreshToken, "mcr_") || len(a.RefreshToken) != 4+43 ||
		!strings.EqualFold(a.TokenType, "bearer") || a.Scope != "mcp" || a.ExpiresIn < 60 || a.ExpiresIn > 15*60 {
		t.Fatalf("%s: %d, token_type %q, scope %q, expires_in %d, error %q %q; want mca_/mcr_ tokens, Bearer, scope mcp, at most 15 minutes",
			who, a.status, a.TokenType, a.Scope, a.ExpiresIn, a.Error, a.ErrorDescription)
	}
}

func (a tokenAnswer) mustFail(t *testing.T, who, code string) {
	t.Helper()
	if a.status != http.StatusBadRequest || a.Error != code || a.AccessToken != "" {
		t.Errorf("%s: %d error %q (%s), want 400 %s and no token", who, a.status, a.Error, a.ErrorDescription, code)
	}
}

// refresh spends a refresh token at s.
func (c *oauthClient) refresh(t *testing.T, s *httpServer, rt string) tokenAnswer {
	t.Helper()
	return c.token(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// revoke posts a token to /revoke (RFC 7009: 200 whatever it was).
func (c *oauthClient) revoke(t *testing.T, tok, hint string) {
	t.Helper()
	form := url.Values{"token": {tok}, "token_type_hint": {hint}, "client_id": {c.id}}
	r := c.fx.send(t, c.fx.proxy, "POST", c.fx.proxy.base+"/revoke", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	c.fx.leaks.record("POST /revoke", string(r.body))
	if r.status != http.StatusOK {
		t.Fatalf("POST /revoke (%s): %d %s, want 200", hint, r.status, tail(string(r.body), 300))
	}
}

// --- the tenant's MCP endpoint with a bearer token

const tenantInitBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mailcal-e2e","version":"1"}}}`

// mcpStatus sends an initialize request to a tenant's endpoint on s with
// the bearer token ("" for none) and returns the answer, audited.
func (fx *oauthFixture) mcpStatus(t *testing.T, s *httpServer, tenantName, bearer string) rawResponse {
	t.Helper()
	headers := []string{"Content-Type", "application/json", "Accept", "application/json, text/event-stream"}
	if bearer != "" {
		headers = append(headers, "Authorization", "Bearer "+bearer)
	}
	r := fx.send(t, s, "POST", fx.resource(tenantName), strings.NewReader(tenantInitBody), headers...)
	fx.leaks.record("POST /t/"+tenantName+"/mcp", string(r.body))
	return r
}

// checkChallenge checks a 401 of tenant's endpoint: the Bearer challenge
// names its protected-resource metadata and the scope, and the error when
// errCode is not "".
func (fx *oauthFixture) checkChallenge(t *testing.T, who string, r rawResponse, tenantName, errCode string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Errorf("%s: %d %s, want 401", who, r.status, tail(string(r.body), 300))
		return
	}
	h := r.header.Get("WWW-Authenticate")
	prm := fx.proxy.base + "/.well-known/oauth-protected-resource/t/" + tenantName + "/mcp"
	if !strings.HasPrefix(h, "Bearer ") || !strings.Contains(h, `resource_metadata="`+prm+`"`) || !strings.Contains(h, `scope="mcp"`) {
		t.Errorf("%s: WWW-Authenticate %q, want Bearer with resource_metadata=%q and scope=\"mcp\"", who, h, prm)
	}
	if errCode != "" && !strings.Contains(h, `error="`+errCode+`"`) {
		t.Errorf("%s: WWW-Authenticate %q, want error=%q", who, h, errCode)
	}
}

// tenantClient connects mcp-go's streamable client to a tenant's endpoint
// on s with the bearer token (an OAuth access token or the API key).
func (fx *oauthFixture) tenantClient(t *testing.T, s *httpServer, tenantName, bearer string) *mcpclient.Client {
	t.Helper()
	c, err := mcpclient.NewStreamableHttpClient(s.base+"/t/"+tenantName+"/mcp",
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + bearer}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("mcp-go start on /t/%s/mcp: %v", tenantName, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "mailcal-e2e", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("mcp-go initialize on /t/%s/mcp: %v", tenantName, err)
	}
	return c
}

// listed is list_accounts through c: "provider account" of each.
func (fx *oauthFixture) listed(t *testing.T, c *mcpclient.Client) []string {
	t.Helper()
	var out []string
	for _, a := range fx.accountStatuses(t, c) {
		out = append(out, a.Provider+" "+a.Account)
	}
	slices.Sort(out)
	return out
}
