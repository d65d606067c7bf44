package tools

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/keyring"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/auth/tokens"
	"github.com/mailcal/mailcal/providers"
)

// fakeTokens hands out numbered tokens and records invalidations.
type fakeTokens struct {
	mu          sync.Mutex
	n           int
	invalidated []string
	reauth      *tokens.ReauthError
}

func (f *fakeTokens) Token(ctx context.Context, tenant, provider, account string) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reauth != nil {
		return nil, f.reauth
	}
	f.n++
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", f.n), Expiry: time.Now().Add(time.Hour)}, nil
}

func (f *fakeTokens) Invalidate(tenant, provider, account, accessToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, accessToken)
}

// fakeProvider is an in-process mailbox and calendar.
type fakeProvider struct {
	mu       sync.Mutex
	refuse   map[string]bool // access tokens answered with 401
	sent     []providers.OutgoingMessage
	messages []providers.Message
	events   []providers.Event
	created  []providers.NewEvent
	lastQ    providers.EventQuery
	err      error // returned by every call when set
}

func (f *fakeProvider) Mail(tok *oauth2.Token, account string) providers.Mail {
	return fakeMail{f, tok.AccessToken}
}
func (f *fakeProvider) Calendar(tok *oauth2.Token) providers.Calendar {
	return fakeCal{f, tok.AccessToken}
}

func (f *fakeProvider) check(tok string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse[tok] {
		return &providers.Error{Kind: providers.ErrUnauthorized, Status: 401}
	}
	return f.err
}

type fakeMail struct {
	f   *fakeProvider
	tok string
}

func (m fakeMail) Send(ctx context.Context, msg providers.OutgoingMessage) (providers.SentMessage, error) {
	if err := m.f.check(m.tok); err != nil {
		return providers.SentMessage{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.sent = append(m.f.sent, msg)
	return providers.SentMessage{ID: fmt.Sprintf("m%d", len(m.f.sent)), ThreadID: "t1"}, nil
}

func (m fakeMail) List(ctx context.Context, q providers.MessageQuery) (providers.MessagePage, error) {
	if err := m.f.check(m.tok); err != nil {
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
	if err := m.f.check(m.tok); err != nil {
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
	f   *fakeProvider
	tok string
}

func (c fakeCal) ListCalendars(ctx context.Context) ([]providers.CalendarInfo, error) {
	if err := c.f.check(c.tok); err != nil {
		return nil, err
	}
	return []providers.CalendarInfo{{ID: "primary@example.com", Summary: "Alice", Primary: true, TimeZone: "Europe/Berlin", AccessRole: "owner"}}, nil
}

func (c fakeCal) ListEvents(ctx context.Context, q providers.EventQuery) (providers.EventPage, error) {
	if err := c.f.check(c.tok); err != nil {
		return providers.EventPage{}, err
	}
	c.f.mu.Lock()
	c.f.lastQ = q
	c.f.mu.Unlock()
	return providers.EventPage{Events: c.f.events, TimeZone: "Europe/Berlin"}, nil
}

func (c fakeCal) CreateEvent(ctx context.Context, e providers.NewEvent) (providers.Event, error) {
	if err := c.f.check(c.tok); err != nil {
		return providers.Event{}, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.created = append(c.f.created, e)
	return providers.Event{ID: "ev1", Summary: e.Summary, Start: e.Start.Format(time.RFC3339), End: e.End.Format(time.RFC3339), Status: "confirmed"}, nil
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
	st := grants.New(keyring.NewMemory())
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
		Version: "test", ReadOnly: readOnly, Accounts: st, Connector: fakeConnector{}, Tokens: e.toks,
		Identity: func(ctx context.Context, provider string, tok *oauth2.Token) (string, error) {
			return "alice@example.com", nil
		},
		Providers: func(string) (providers.Provider, error) { return e.prov, nil },
		Now:       func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) },
	}, "a")
	return e
}

func (e *env) call(t *testing.T, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := e.c.CallTool(tenant.WithName(context.Background(), "a"), req)
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
