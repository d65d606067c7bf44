package mcpauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/mcpauth"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/policy"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/registry"
)

// The clients of the tests: a public one identified by its metadata
// document, a confidential one registered with a secret.
const (
	publicID     = "https://app.example/client.json"
	publicCB     = "http://127.0.0.1:1/callback"
	confID       = "mcc_AAAAAAAAAAAAAAAAAAAAAA"
	confSecret   = "mcx_secret-of-the-confidential-client-0000000"
	confCB       = "https://app2.example/cb"
	testVerifier = "a-verifier-of-forty-three-characters-or-more-0123456789"
)

// mapClients is a ClientSource over a map.
type mapClients map[string]mcpauth.Client

func (m mapClients) Lookup(_ context.Context, id string) (mcpauth.Client, error) {
	if c, ok := m[id]; ok {
		return c, nil
	}
	return mcpauth.Client{}, &mcpauth.Error{Status: 401, Code: "invalid_client", Description: "unknown client_id"}
}

// orRegistered is the tests' clients, then the registered ones.
type orRegistered struct {
	tests      mapClients
	registered *mcpauth.Clients
}

func (o orRegistered) Lookup(ctx context.Context, id string) (mcpauth.Client, error) {
	if c, ok := o.tests[id]; ok {
		return c, nil
	}
	return o.registered.Lookup(ctx, id)
}

// policies is a Policies whose allowed sign-ins the test sets.
type policies struct {
	mu    sync.Mutex
	m     map[string]policy.Policy
	reads int
}

func (p *policies) Read(_ context.Context, tenant string) (policy.Policy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	return p.m[tenant], nil
}

// fixtureOpts vary the fixture.
type fixtureOpts struct {
	store    backend           // default: memory
	env      map[string]string // more settings (another provider)
	readOnly bool
	observe  func(event, outcome string)
	onRevoke func(family string)
	// registration: clients other than the two of the tests are looked up
	// in the store (DCR), through fixture.registered.
	registration bool
}

// backend is what the fixture keeps its state in.
type backend interface {
	store.Store
	store.OAuthServer
}

type fixture struct {
	cfg     mcpauth.Config
	fake    *googletest.Server
	st      backend
	grants  *grants.Store
	srv     *mcpauth.Server
	base    string
	offset  atomic.Int64 // the server's clock, ahead of time.Now by this
	tenants sync.Map     // name → true
	// registered is the DCR clients (fixtureOpts.registration), on the
	// server's clock.
	registered *mcpauth.Clients
}

func newFixture(t testing.TB) *fixture { t.Helper(); return newFixtureOpts(t, fixtureOpts{}) }

func newFixtureOpts(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{}
	f.fake = googletest.New(googletest.Options{})
	t.Cleanup(f.fake.Close)
	for _, u := range []string{"alice@example.com", "bob@example.com", "carol@other.example"} {
		f.fake.AddUser(u)
	}
	env := map[string]string{}
	for _, kv := range f.fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range o.env {
		env[k] = v
	}
	reg, err := providers.NewRegistry(registry.Specs(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	f.st = o.store
	if f.st == nil {
		f.st = memory.New()
	}
	f.grants = grants.New(f.st, grants.Plain)
	f.tenants.Store("a", true)
	f.tenants.Store("b", true)
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: reg, Grants: f.grants, States: f.st,
		Tenants: func(context.Context) ([]string, error) { return []string{"a", "b"}, nil }})
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	f.base = ts.URL
	pol := &policies{m: map[string]policy.Policy{
		"a": {AllowedSignins: []string{"alice@example.com", "*@other.example"}},
		"b": {}, // nobody
	}}
	sum := sha256.Sum256([]byte(confSecret))
	f.cfg = mcpauth.Config{
		BaseURL: f.base, Store: f.st, Flows: flows, Providers: reg, Policies: pol,
		Clients: mapClients{
			publicID: {ID: publicID, Name: "Public <b>App</b>", RedirectURIs: []string{publicCB}, AuthMethod: "none", Document: true},
			confID:   {ID: confID, Name: "Conf", RedirectURIs: []string{confCB}, AuthMethod: "client_secret_basic", SecretHash: hex.EncodeToString(sum[:])},
		},
		TenantExists: func(_ context.Context, name string) (bool, error) { _, ok := f.tenants.Load(name); return ok, nil },
		RedirectURI:  f.base + oauth.CallbackPath,
		Now:          func() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) },
		ReadOnly:     o.readOnly,
		Observe:      o.observe,
		OnRevoke:     o.onRevoke,
	}
	if o.registration {
		f.registered = mcpauth.NewClients(mcpauth.ClientsConfig{Store: f.st, Now: f.cfg.Now})
		f.cfg.Clients = orRegistered{f.cfg.Clients.(mapClients), f.registered}
	}
	if f.srv, err = mcpauth.New(f.cfg); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(oauth.CallbackPath, f.srv.Callback(oauth.CallbackHandler(flows)))
	mux.Handle("/", f.srv.Handler())
	h = mux
	return f
}

// advance moves the server's clock.
func (f *fixture) advance(d time.Duration) { f.offset.Add(int64(d)) }

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams are a valid authorization request of the public client for
// tenant's endpoint as account.
func (f *fixture) authParams(tenant, account string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {publicID}, "redirect_uri": {publicCB},
		"code_challenge": {challenge(testVerifier)}, "code_challenge_method": {"S256"},
		"resource": {f.srv.Resource(tenant)}, "state": {"st-123"}, "scope": {"mcp other"}, "login_hint": {account},
	}
}

// browse is the person's browser: it opens /authorize, agrees on
// mailcal's consent page (the button of params' provider, else the first),
// and follows redirects (through the mail provider, who consents at once)
// until one goes to a client's redirect URI; it returns the last answer
// and its body. An answer that is not the consent page is returned as is.
func (f *fixture) browse(t testing.TB, params url.Values) (*http.Response, string) {
	t.Helper()
	c := f.browser()
	resp, body := get(t, c, f.base+"/authorize?"+params.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<form") {
		return resp, body
	}
	return submitConsent(t, c, body, params.Get("provider"))
}

// browser is a person's browser: it keeps cookies and stops at a client's
// redirect URI.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Timeout: 20 * time.Second, Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if u := req.URL.String(); strings.HasPrefix(u, publicCB) || strings.HasPrefix(u, confCB) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenRE     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	buttonRE     = regexp.MustCompile(`<button class="p" type="submit" name="([^"]+)" value="([^"]+)">`)
)

// consentForm reads the consent page's form: its action, its hidden fields
// and the values of its buttons.
func consentForm(t testing.TB, body string) (action string, form url.Values, buttons []string) {
	t.Helper()
	m := formActionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no consent form in the page: %s", body)
	}
	form = url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	for _, b := range buttonRE.FindAllStringSubmatch(body, -1) {
		buttons = append(buttons, html.UnescapeString(b[2]))
	}
	return html.UnescapeString(m[1]), form, buttons
}

// submitConsent presses the consent page's button of provider (else the
// first) and follows where it leads.
func submitConsent(t testing.TB, c *http.Client, body, provider string) (*http.Response, string) {
	t.Helper()
	action, form, buttons := consentForm(t, body)
	if len(buttons) == 0 {
		t.Fatalf("a consent form without buttons: %s", body)
	}
	choice := buttons[0]
	if provider != "" {
		choice = provider
	}
	form.Set("provider", choice)
	resp, err := c.PostForm(action, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// back returns the query the client's redirect URI got; it fails unless
// the browser was sent there.
func back(t testing.TB, resp *http.Response, body string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("answered %d, not a redirect to the client: %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// backTo browses params and returns what the client's redirect URI got.
func (f *fixture) backTo(t testing.TB, params url.Values) url.Values {
	t.Helper()
	resp, body := f.browse(t, params)
	return back(t, resp, body)
}

// signIn signs account in to tenant with the public client and returns
// the authorization code.
func (f *fixture) signIn(t testing.TB, tenant, account string) string {
	t.Helper()
	resp, body := f.browse(t, f.authParams(tenant, account))
	q := back(t, resp, body)
	if q.Get("code") == "" || q.Get("state") != "st-123" || q.Get("iss") != f.base {
		t.Fatalf("client got %v", q)
	}
	return q.Get("code")
}

// post sends a form to path, with Basic credentials when user is set.
func (f *fixture) post(t testing.TB, path string, form url.Values, user, pass string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s answered %d, not JSON: %s", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m, resp.Header
}

// exchange redeems a code for the public client.
func (f *fixture) exchange(t testing.TB, code, verifier string) (int, map[string]any) {
	t.Helper()
	st, m, _ := f.post(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {publicID},
		"redirect_uri": {publicCB}, "code_verifier": {verifier}, "resource": {f.srv.Resource("a")}}, "", "")
	return st, m
}

// refresh rotates a refresh token of the public client.
func (f *fixture) refresh(t testing.TB, rt string) (int, map[string]any) {
	t.Helper()
	st, m, _ := f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {publicID}}, "", "")
	return st, m
}

// tokens signs alice in to tenant a and redeems the code.
func (f *fixture) tokens(t testing.TB) (access, refresh string) {
	t.Helper()
	st, m := f.exchange(t, f.signIn(t, "a", "alice@example.com"), testVerifier)
	if st != 200 {
		t.Fatalf("token answered %d: %v", st, m)
	}
	return m["access_token"].(string), m["refresh_token"].(string)
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func hashHex(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// toProvider opens /authorize with params, agrees on the consent page and
// returns where mailcal sends the browser (the provider, or the client with
// an error), without following it.
func (f *fixture) toProvider(t testing.TB, params url.Values) *url.URL {
	t.Helper()
	c := f.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, body := get(t, c, f.base+"/authorize?"+params.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize answered %d, not the consent page: %s", resp.StatusCode, body)
	}
	resp, body = submitConsent(t, c, body, params.Get("provider"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("the consent form answered %d, not a redirect: %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}
