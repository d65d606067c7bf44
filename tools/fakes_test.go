package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/auth/tokens"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google"
)

// fakeTokens is every account's token source: numbered tokens, a dead
// grant when reauth is set, invalidations recorded.
type fakeTokens struct {
	mu          sync.Mutex
	n           int
	invalidated []string
	reauth      *tokens.ReauthError
}

func (f *fakeTokens) Source(tenant, provider, account string) providers.TokenSource { return f }

func (f *fakeTokens) Token(ctx context.Context) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reauth != nil {
		return nil, f.reauth
	}
	f.n++
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", f.n), Expiry: time.Now().Add(time.Hour)}, nil
}

func (f *fakeTokens) Invalidate(accessToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, accessToken)
}

// fakeProvider is an in-process mailbox and calendar: the API of the
// provider "google" of testRegistry.
type fakeProvider struct {
	mu       sync.Mutex
	refuse   map[string]bool // access tokens answered with 401
	sent     []providers.OutgoingMessage
	messages []providers.Message
	events   []providers.Event
	created  []providers.NewEvent
	lastQ    providers.EventQuery
	err      error                   // returned by every call when set
	noZone   bool                    // ListEvents names no time zone
	freeBusy providers.FreeBusy      // FreeBusy's answer
	lastFB   providers.FreeBusyQuery // FreeBusy's last query
	triage   fakeTriage
	compose  fakeCompose
	changes  eventChanges
}

// token is what a transport does first: get the access token (a token
// error is handed back as it is).
func token(src providers.TokenSource) (string, error) {
	tok, err := src.Token(context.Background())
	if err != nil {
		return "", &providers.TokenError{Err: err}
	}
	return tok.AccessToken, nil
}

func (f *fakeProvider) Identity(ctx context.Context, src providers.TokenSource) (string, error) {
	tok, err := token(src)
	if err != nil {
		return "", err
	}
	return "alice@example.com", f.check(tok)
}

func (f *fakeProvider) Mail(src providers.TokenSource, account string) (providers.Mail, error) {
	tok, err := token(src)
	return fakeMail{f, tok, err}, nil
}

func (f *fakeProvider) Calendar(src providers.TokenSource) (providers.Calendar, error) {
	tok, err := token(src)
	return fakeCal{f, tok, err}, nil
}

// testRegistry serves one provider, named google like the real one, whose
// API is api: words, scopes and limits as Google's.
func testRegistry(t testing.TB, api providers.API) *providers.Registry {
	t.Helper()
	spec := google.Spec
	spec.NewAPI = func(providers.Config, *http.Client) (providers.API, error) { return api, nil }
	reg, err := providers.NewRegistry([]*providers.Spec{&spec}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func (f *fakeProvider) check(tok string) error {
	if tok == "" {
		return errors.New("no token")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse[tok] {
		return &providers.Error{Kind: providers.ErrUnauthorized, Status: 401}
	}
	return f.err
}

type fakeMail struct {
	f      *fakeProvider
	tok    string
	tokErr error
}

func (m fakeMail) Send(ctx context.Context, msg providers.OutgoingMessage) (providers.SentMessage, error) {
	if err := m.check(); err != nil {
		return providers.SentMessage{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.sent = append(m.f.sent, msg)
	return providers.SentMessage{ID: fmt.Sprintf("m%d", len(m.f.sent)), ThreadID: "t1"}, nil
}

func (m fakeMail) List(ctx context.Context, q providers.MessageQuery) (providers.MessagePage, error) {
	if err := m.check(); err != nil {
		return providers.MessagePage{}, err
	}
	var out []providers.MessageSummary
	for _, msg := range m.f.messages {
		out = append(out, msg.MessageSummary)
		if len(out) == q.MaxResults {
			return providers.MessagePage{Messages: out, NextPageToken: "next"}, nil
		}
	}
	return providers.MessagePage{Messages: out}, nil
}

func (m fakeMail) Get(ctx context.Context, id string) (providers.Message, error) {
	if err := m.check(); err != nil {
		return providers.Message{}, err
	}
	for _, msg := range m.f.messages {
		if msg.ID == id {
			return msg, nil
		}
	}
	return providers.Message{}, &providers.Error{Kind: providers.ErrNotFound, Status: 404, Message: "Requested entity was not found."}
}

type fakeCal struct {
	f      *fakeProvider
	tok    string
	tokErr error
}

func (c fakeCal) ListCalendars(ctx context.Context) ([]providers.CalendarInfo, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return []providers.CalendarInfo{{ID: "primary@example.com", Summary: "Alice", Primary: true, TimeZone: "Europe/Berlin", AccessRole: "owner"}}, nil
}

func (c fakeCal) ListEvents(ctx context.Context, q providers.EventQuery) (providers.EventPage, error) {
	if err := c.check(); err != nil {
		return providers.EventPage{}, err
	}
	c.f.mu.Lock()
	c.f.lastQ = q
	c.f.mu.Unlock()
	zone := "Europe/Berlin"
	if c.f.noZone {
		zone = ""
	}
	return providers.EventPage{Events: c.f.events, TimeZone: zone}, nil
}

func (c fakeCal) CreateEvent(ctx context.Context, e providers.NewEvent) (providers.Event, error) {
	if err := c.check(); err != nil {
		return providers.Event{}, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.created = append(c.f.created, e)
	return providers.Event{ID: "ev1", Summary: e.Summary, Start: e.Start.Format(time.RFC3339), End: e.End.Format(time.RFC3339), Status: "confirmed"}, nil
}

func (m fakeMail) check() error {
	if m.tokErr != nil {
		return m.tokErr
	}
	return m.f.check(m.tok)
}

func (c fakeCal) check() error {
	if c.tokErr != nil {
		return c.tokErr
	}
	return c.f.check(c.tok)
}

type fakeConnector struct{}

func (fakeConnector) Connect(ctx context.Context, tenant, provider, scopes, loginHint string) (ConnectLink, error) {
	return ConnectLink{URL: "https://accounts.example/auth?login_hint=" + loginHint + "&scopes=" + scopes, Provider: provider, ExpiresAt: time.Now().Add(10 * time.Minute)}, nil
}

type env struct {
	c      *client.Client
	prov   *fakeProvider
	toks   *fakeTokens
	grants *grants.Store
}

func newEnv(t *testing.T, readOnly bool, gs ...grants.Grant) *env {
	t.Helper()
	st := grants.New(memory.New(), grants.Plain)
	for _, g := range gs {
		if g.Tenant == "" {
			g.Tenant = "a"
		}
		if g.Provider == "" {
			g.Provider = "google"
		}
		if g.Status == "" {
			g.Status = grants.StatusActive
		}
		if err := st.Put(context.Background(), g); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{prov: &fakeProvider{refuse: map[string]bool{}}, toks: &fakeTokens{}, grants: st}
	e.c = newClient(t, Options{
		Version: "test", ReadOnly: readOnly, Accounts: st, Connector: fakeConnector{}, Sources: e.toks,
		Providers: testRegistry(t, e.prov),
		Now:       func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) },
	}, "a")
	return e
}

// mcpCall is a tools/call request.
func mcpCall(name string, args map[string]any) mcp.CallToolRequest {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return req
}

func tenantCtx(name string) context.Context { return tenant.WithName(context.Background(), name) }

func (e *env) call(t *testing.T, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := e.c.CallTool(tenantCtx("a"), mcpCall(name, args))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func wantError(t *testing.T, res *mcp.CallToolResult, parts ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want a tool error, got %s", textOf(res))
	}
	for _, p := range parts {
		if !strings.Contains(textOf(res), p) {
			t.Errorf("error %q lacks %q", textOf(res), p)
		}
	}
}

func wantOK(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %s", textOf(res))
	}
	return textOf(res)
}

// inProcessClient connects mcp-go's in-process client to srv as tenant
// and initializes it; it is closed when the test ends.
func inProcessClient(t *testing.T, srv *server.MCPServer, tenant string) (*client.Client, context.Context) {
	t.Helper()
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := tenantCtx(tenant)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	return c, ctx
}
