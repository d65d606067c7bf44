package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/registry"
)

type fixture struct {
	fake   *googletest.Server
	store  *memory.Store
	grants *grants.Store
	reg    *providers.Registry
	flows  *oauth.Flows
	cb     string // callback (redirect) URI
}

func envFunc(kv []string) func(string) string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fake := googletest.New(googletest.Options{})
	t.Cleanup(fake.Close)
	fake.AddUser("alice@example.com")
	fake.AddUser("bob@example.com")
	reg, err := providers.NewRegistry(registry.Specs(), envFunc(fake.Env()))
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	gs := grants.New(st, grants.Plain)
	tenants := func(context.Context) ([]string, error) { return []string{"a", "b", "c"}, nil }
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: reg, Grants: gs, States: st, Tenants: tenants})
	lb := &oauth.Loopback{Flows: flows}
	t.Cleanup(lb.Close)
	cb, err := lb.RedirectURI()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{fake: fake, store: st, grants: gs, reg: reg, flows: flows, cb: cb}
}

// approveAndCallBack is the person approving at the provider and their
// browser following the redirect to the callback: it returns where the
// browser was sent and the callback's status.
func (f *fixture) approveAndCallBack(t *testing.T, flow *oauth.Flow) (*url.URL, int) {
	t.Helper()
	to, err := f.fake.Approve(context.Background(), flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(to.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return to, resp.StatusCode
}

// pending counts a tenant's flows waiting in the store.
func (f *fixture) pending(t *testing.T, tenant string) int {
	t.Helper()
	states, err := f.store.ListFlowStates(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return len(states)
}

func (f *fixture) begin(t *testing.T, tenant string, scopes ...string) *oauth.Flow {
	t.Helper()
	flow, err := f.flows.Begin(context.Background(), oauth.Request{Tenant: tenant, Provider: "google", Scopes: scopes, RedirectURI: f.cb, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	return flow
}

func TestAuthorizationURL(t *testing.T) {
	f := newFixture(t)
	flow, err := f.flows.Begin(context.Background(), oauth.Request{Tenant: "a", Provider: "calendar", LoginHint: "bob@example.com", RedirectURI: f.cb})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(flow.URL)
	q := u.Query()
	for k, want := range map[string]string{
		"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true",
		"code_challenge_method": "S256", "login_hint": "bob@example.com", "state": flow.State,
		"redirect_uri": f.cb, "response_type": "code",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Get("code_challenge") == "" || len(flow.State) < 40 {
		t.Errorf("challenge %q state %q", q.Get("code_challenge"), flow.State)
	}
	// A calendar-only connection never asks for mail.
	scope := q.Get("scope")
	if strings.Contains(scope, "gmail") || !strings.Contains(scope, "calendar.readonly") || !strings.Contains(scope, "openid") {
		t.Errorf("scope = %q", scope)
	}
	if _, err := f.flows.Begin(context.Background(), oauth.Request{Tenant: "a", Provider: "gmail", Scopes: []string{"calendar.read"}, RedirectURI: f.cb}); err == nil {
		t.Error("gmail alias accepted a calendar scope")
	}
	if _, err := f.flows.Begin(context.Background(), oauth.Request{Tenant: "a", Provider: "google", RedirectURI: "http://example.com/cb"}); err == nil {
		t.Error("plain-http non-loopback redirect accepted")
	}
}

func TestMissingClient(t *testing.T) {
	reg, err := providers.NewRegistry(registry.Specs(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: reg, Grants: grants.New(st, grants.Plain), States: st})
	_, err = flows.Begin(context.Background(), oauth.Request{Tenant: "a", Provider: "google", RedirectURI: "http://127.0.0.1:1/cb"})
	if !errors.Is(err, providers.ErrNotConfigured) || !strings.Contains(err.Error(), "MAILCAL_GOOGLE_CLIENT_ID") || !strings.Contains(err.Error(), "console.cloud.google.com") {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectThroughCallback(t *testing.T) {
	f := newFixture(t)
	flow := f.begin(t, "a", "mail.read", "calendar.read")
	to, status := f.approveAndCallBack(t, flow)
	if status != 200 {
		t.Fatalf("callback answered %d", status)
	}
	res := flow.Wait(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	g, err := f.grants.Get(context.Background(), "a", "google", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if g.RefreshToken == "" || g.Status != grants.StatusActive || strings.Join(g.Scopes, ",") != "mail.read,calendar.read" {
		t.Fatalf("grant = %+v", g)
	}
	// The state is single-use: the same callback again changes nothing.
	resp, err := http.Get(to.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("reused state answered %d", resp.StatusCode)
	}
	g2, _ := f.grants.Get(context.Background(), "a", "google", "alice@example.com")
	if g2.RefreshToken != g.RefreshToken {
		t.Fatal("reused state changed the grant")
	}
}

func TestBadStates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flow := f.begin(t, "a")
	to, err := f.fake.Approve(ctx, flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	code := to.Query().Get("code")
	for name, state := range map[string]string{"unknown": "nope", "empty": "", "prefix": flow.State[:10], "long": strings.Repeat("x", 5000)} {
		if res := f.flows.Complete(ctx, state, "", code); !errors.Is(res.Err, oauth.ErrUnknownState) {
			t.Errorf("%s state: %v", name, res.Err)
		}
	}
	// Another tenant's state is unknown to this tenant, and stays usable by its own.
	if res := f.flows.Complete(ctx, flow.State, "b", code); !errors.Is(res.Err, oauth.ErrUnknownState) {
		t.Fatalf("other tenant: %v", res.Err)
	}
	if gs, _ := f.grants.List(ctx, "b"); len(gs) != 0 {
		t.Fatal("other tenant got a grant")
	}
	if res := f.flows.Complete(ctx, flow.State, "a", code); res.Err != nil {
		t.Fatalf("own tenant after a foreign attempt: %v", res.Err)
	}
	// A bad code consumes the state and stores nothing.
	flow2 := f.begin(t, "c")
	if res := f.flows.Complete(ctx, flow2.State, "c", "4/not-a-code"); res.Err == nil {
		t.Fatal("bad code accepted")
	}
	if gs, _ := f.grants.List(ctx, "c"); len(gs) != 0 {
		t.Fatal("bad code stored a grant")
	}
	if res := f.flows.Complete(ctx, flow2.State, "c", code); !errors.Is(res.Err, oauth.ErrUnknownState) {
		t.Fatalf("state reused after a failed exchange: %v", res.Err)
	}
}

func TestExpiredState(t *testing.T) {
	f := newFixture(t)
	flow := f.begin(t, "a")
	to, err := f.fake.Approve(context.Background(), flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	oauth.SetClock(f.flows, func() time.Time { return time.Now().Add(oauth.StateTTL + time.Second) })
	res := f.flows.Complete(context.Background(), flow.State, "", to.Query().Get("code"))
	if !errors.Is(res.Err, oauth.ErrExpiredState) {
		t.Fatalf("err = %v", res.Err)
	}
	if w := flow.Wait(context.Background()); !errors.Is(w.Err, oauth.ErrExpiredState) {
		t.Fatalf("waiter got %v", w.Err)
	}
}

func TestDenied(t *testing.T) {
	f := newFixture(t)
	flow := f.begin(t, "a")
	f.fake.DenyNext()
	f.approveAndCallBack(t, flow)
	if res := flow.Wait(context.Background()); !errors.Is(res.Err, oauth.ErrDenied) {
		t.Fatalf("err = %v", res.Err)
	}
}

func TestPartialGrant(t *testing.T) {
	f := newFixture(t)
	f.fake.GrantOnly("openid", "email", "https://www.googleapis.com/auth/gmail.readonly")
	flow := f.begin(t, "a", "mail.read", "mail.send")
	to, err := f.fake.Approve(context.Background(), flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	res := f.flows.Complete(context.Background(), flow.State, "a", to.Query().Get("code"))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if strings.Join(res.Grant.Scopes, ",") != "mail.read" || strings.Join(res.Missing, ",") != "mail.send" {
		t.Fatalf("scopes %v missing %v", res.Grant.Scopes, res.Missing)
	}
}

func TestPendingBoundedPerTenant(t *testing.T) {
	f := newFixture(t)
	var flows []*oauth.Flow
	for i := 0; i < 25; i++ {
		flows = append(flows, f.begin(t, "a"))
	}
	if n := f.pending(t, "a"); n != 20 {
		t.Fatalf("%d flows wait for tenant a, want the limit of 20", n)
	}
	// The oldest ones were superseded, and say so to their waiters; the
	// newest still work.
	if res := flows[0].Wait(context.Background()); !errors.Is(res.Err, oauth.ErrSuperseded) {
		t.Fatalf("oldest flow: %v", res.Err)
	}
	if res := f.flows.Complete(context.Background(), flows[0].State, "a", "4/x"); !errors.Is(res.Err, oauth.ErrUnknownState) {
		t.Fatalf("superseded state: %v", res.Err)
	}
	to, err := f.fake.Approve(context.Background(), flows[24].URL)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.flows.Complete(context.Background(), flows[24].State, "a", to.Query().Get("code")); res.Err != nil {
		t.Fatalf("newest flow: %v", res.Err)
	}
	// Another tenant is not affected.
	f.begin(t, "b")
}

// TestDisconnect: a disconnect revokes at the provider (authenticating the
// client, as RFC 7009 asks) and deletes the grant; a second one finds
// nothing.
func TestDisconnect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flow := f.begin(t, "a")
	to, _ := f.fake.Approve(ctx, flow.URL)
	res := f.flows.Complete(ctx, flow.State, "a", to.Query().Get("code"))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	d, err := f.flows.Disconnect(ctx, "a", "google", "Alice@Example.com")
	if err != nil || !d.Revoked || d.Account != "alice@example.com" {
		t.Fatalf("Disconnect = %+v, %v", d, err)
	}
	if f.fake.RevokeRequests() != 1 || len(f.fake.Granted("alice@example.com")) != 0 {
		t.Fatalf("revoke requests = %d; still granted %v", f.fake.RevokeRequests(), f.fake.Granted("alice@example.com"))
	}
	if _, err := f.grants.Get(ctx, "a", "google", "alice@example.com"); !errors.Is(err, grants.ErrNotFound) {
		t.Fatalf("grant after disconnect: %v", err)
	}
	if _, err := f.flows.Disconnect(ctx, "a", "google", "alice@example.com"); !errors.Is(err, grants.ErrNotFound) {
		t.Fatalf("second disconnect: %v", err)
	}
}

// TestFlowStatesShared: the state lives in the store, so another process
// (or replica) over the same store completes a flow this one began, once.
func TestFlowStatesShared(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := oauth.NewFlows(oauth.FlowsConfig{Providers: f.reg, Grants: grants.New(f.store, grants.Plain), States: f.store})
	flow := f.begin(t, "a")
	to, _ := f.fake.Approve(ctx, flow.URL)
	if res := other.Complete(ctx, flow.State, "", to.Query().Get("code")); res.Err != nil || res.Grant.Account != "alice@example.com" {
		t.Fatalf("completed by another process: %+v", res)
	}
	if res := f.flows.Complete(ctx, flow.State, "", to.Query().Get("code")); !errors.Is(res.Err, oauth.ErrUnknownState) {
		t.Fatalf("the same state again, here: %v", res.Err)
	}
	states, _ := f.store.ListFlowStates(ctx, "a")
	for _, st := range states {
		if strings.Contains(st.ID, flow.State) {
			t.Fatal("a flow state is stored under its state value")
		}
	}
}

// failingPut is a grant store whose writes fail.
type failingPut struct{ store.Grants }

func (failingPut) PutGrant(context.Context, store.Grant) (int64, error) {
	return 0, errors.New("keyring locked")
}

// TestFailedConnectRevokesNewToken: when the grant cannot be kept after
// the code exchange, the refresh token the provider just issued is revoked
// rather than left live upstream.
func TestFailedConnectRevokesNewToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: f.reg, Grants: grants.New(failingPut{f.store}, grants.Plain), States: f.store})
	flow, err := flows.Begin(ctx, oauth.Request{Tenant: "a", Provider: "google", RedirectURI: f.cb})
	if err != nil {
		t.Fatal(err)
	}
	to, _ := f.fake.Approve(ctx, flow.URL)
	res := flows.Complete(ctx, flow.State, "a", to.Query().Get("code"))
	if res.Err == nil || !strings.Contains(res.Err.Error(), "storing the connection") {
		t.Fatalf("Complete = %+v", res)
	}
	if n := f.fake.RevokeRequests(); n != 1 {
		t.Fatalf("%d revocations after a failed connect, want 1", n)
	}
	if g := f.fake.Granted("alice@example.com"); len(g) != 0 {
		t.Fatalf("the failed connection's grant is still live upstream: %v", g)
	}
}

// TestForgetTenant: every account of the tenant is revoked and deleted and
// its waiting flows dropped; other tenants keep theirs.
func TestForgetTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tenant := range []string{"a", "b"} {
		flow := f.begin(t, tenant)
		to, _ := f.fake.Approve(ctx, strings.Replace(flow.URL, "login_hint=", "x=", 1))
		if res := f.flows.Complete(ctx, flow.State, tenant, to.Query().Get("code")); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	f.begin(t, "a") // still waiting
	f.begin(t, "b")
	done, err := f.flows.ForgetTenant(ctx, "a")
	if err != nil || len(done) != 1 {
		t.Fatalf("ForgetTenant = %+v, %v", done, err)
	}
	// alice is connected to b too: revoking would cut b off upstream.
	if !errors.Is(done[0].RevokeErr, oauth.ErrSharedGrant) || f.fake.RevokeRequests() != 0 {
		t.Fatalf("shared account: %+v, %d revocations", done[0], f.fake.RevokeRequests())
	}
	if gs, _ := f.grants.List(ctx, "a"); len(gs) != 0 || f.pending(t, "a") != 0 {
		t.Fatalf("tenant a keeps %v and %d flows", gs, f.pending(t, "a"))
	}
	if gs, _ := f.grants.List(ctx, "b"); len(gs) != 1 || f.pending(t, "b") != 1 {
		t.Fatalf("tenant b has %v and %d flows, want its account and flow", gs, f.pending(t, "b"))
	}
}

func TestLoopbackRedirect(t *testing.T) {
	for _, c := range []struct{ raw, host, want string }{
		{"http://127.0.0.1:5123/oauth/callback", "", "http://127.0.0.1:5123/oauth/callback"},
		{"http://127.0.0.1:5123/oauth/callback", "localhost", "http://localhost:5123/oauth/callback"},
		{"http://[::1]:80/oauth/callback", "localhost", "http://localhost:80/oauth/callback"},
		{"http://127.0.0.1/oauth/callback", "localhost", "http://localhost/oauth/callback"},
		{"https://mail.example.com/oauth/callback", "localhost", "https://mail.example.com/oauth/callback"},
		{"http://localhost:8080/oauth/callback", "localhost", "http://localhost:8080/oauth/callback"},
	} {
		if got := oauth.LoopbackRedirect(c.raw, c.host); got != c.want {
			t.Errorf("LoopbackRedirect(%q, %q) = %q, want %q", c.raw, c.host, got, c.want)
		}
	}
}

// TestLoopbackHostFlow: a provider whose registrations take only
// http://localhost gets the loopback listener's port and path under that
// name, and the browser's callback to it completes the flow.
func TestLoopbackHostFlow(t *testing.T) {
	f := newFixture(t)
	spec := *registry.Specs()[0]
	spec.LoopbackHost = "localhost"
	reg, err := providers.NewRegistry([]*providers.Spec{&spec}, envFunc(f.fake.Env()))
	if err != nil {
		t.Fatal(err)
	}
	flows := oauth.NewFlows(oauth.FlowsConfig{Providers: reg, Grants: f.grants, States: f.store,
		Tenants: func(context.Context) ([]string, error) { return []string{"a"}, nil }})
	lb := &oauth.Loopback{Flows: flows}
	t.Cleanup(lb.Close)
	cb, err := lb.RedirectURI()
	if err != nil {
		t.Fatal(err)
	}
	flow, err := flows.Begin(context.Background(), oauth.Request{Tenant: "a", Provider: spec.Name, RedirectURI: cb, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	if want := "http://localhost:" + u.Port() + oauth.CallbackPath; flow.RedirectURI != want || !strings.Contains(flow.URL, url.QueryEscape(want)) {
		t.Fatalf("redirect %q in %s, want %s", flow.RedirectURI, flow.URL, want)
	}
	to, err := f.fake.Approve(context.Background(), flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	if to.Hostname() != "localhost" {
		t.Fatalf("the provider sent the browser to %s", to)
	}
	resp, err := http.Get(to.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res := flow.Wait(ctx); res.Err != nil || res.Grant.Account != "alice@example.com" {
		t.Fatalf("%+v", res)
	}
}

// A flow with a larger limit (a sign-in through mailcal's OAuth server) may
// wait beside more flows; a flow with the default limit then ends only the
// oldest one, not every flow past its own limit.
func TestPendingLargerLimit(t *testing.T) {
	f := newFixture(t)
	var flows []*oauth.Flow
	for i := 0; i < 25; i++ {
		flow, err := f.flows.Begin(context.Background(), oauth.Request{Tenant: "a", Provider: "google", RedirectURI: f.cb, Wait: true, MaxPending: 30})
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, flow)
	}
	if n := f.pending(t, "a"); n != 25 {
		t.Fatalf("%d flows wait, want all 25 (limit 30)", n)
	}
	f.begin(t, "a")
	if n := f.pending(t, "a"); n != 25 {
		t.Fatalf("%d flows wait after a default-limit flow began, want 25: it ends the oldest only", n)
	}
	if res := flows[0].Wait(context.Background()); !errors.Is(res.Err, oauth.ErrSuperseded) {
		t.Fatalf("oldest flow: %v", res.Err)
	}
	to, err := f.fake.Approve(context.Background(), flows[1].URL)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.flows.Complete(context.Background(), flows[1].State, "a", to.Query().Get("code")); res.Err != nil {
		t.Fatalf("second oldest flow: %v", res.Err)
	}
}
