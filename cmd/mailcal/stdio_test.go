package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google"
	"github.com/mailcal/mailcal/tools"
)

// stuckAPI is a provider whose mailbox never answers and ignores its
// context: the handlers of its calls are stuck for good.
type stuckAPI struct {
	providers.API
	release chan struct{}
	mu      sync.Mutex
	started int
}

func (s *stuckAPI) Mail(providers.TokenSource, string) (providers.Mail, error) {
	return stuckMailbox{stuckAPI: s}, nil
}

// stuckMailbox blocks in List; the methods it does not define are never
// called (the embedded nil interface would panic).
type stuckMailbox struct {
	*stuckAPI
	providers.Mail
}

func (m stuckMailbox) List(context.Context, providers.MessageQuery) (providers.MessagePage, error) {
	m.mu.Lock()
	m.started++
	m.mu.Unlock()
	<-m.release
	return providers.MessagePage{}, nil
}

func (m stuckMailbox) Send(context.Context, providers.OutgoingMessage) (providers.SentMessage, error) {
	panic("not used")
}
func (m stuckMailbox) Get(context.Context, string) (providers.Message, error) { panic("not used") }

func (s *stuckAPI) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

type staticTokens struct{}

func (staticTokens) Source(string, string, string) providers.TokenSource { return staticTokens{} }
func (staticTokens) Token(context.Context) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: "t", Expiry: time.Now().Add(time.Hour)}, nil
}
func (staticTokens) Invalidate(string) {}

// stdioAnswer is one JSON-RPC answer read from the server's stdout.
type stdioAnswer struct {
	id      int
	isError bool
	text    string
}

// stdioServer runs serveStdio in-process, for tenant "a" whose account
// alice's mailbox is api, with this call deadline. It returns a function
// that writes one request line and the channel of answers in the order
// written.
func stdioServer(t *testing.T, api providers.API, callTimeout time.Duration) (send func(string), answers <-chan stdioAnswer) {
	t.Helper()
	spec := google.Spec
	spec.NewAPI = func(providers.Config, *http.Client) (providers.API, error) { return api, nil }
	reg, err := providers.NewRegistry([]*providers.Spec{&spec}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	gs := grants.New(memory.New(), grants.Plain)
	if err := gs.Put(context.Background(), grants.Grant{Tenant: "a", Provider: "google", Account: "alice@example.com",
		Scopes: []string{providers.MailRead}, Status: grants.StatusActive}); err != nil {
		t.Fatal(err)
	}
	track := newInflight()
	mcpSrv, err := tools.New(tools.Options{Version: "test", Accounts: gs, Sources: staticTokens{}, Providers: reg, CallTimeout: callTimeout,
		ServerOptions: []server.ServerOption{server.WithToolHandlerMiddleware(track.middleware)}})
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveStdio(ctx, serveConfig{tenant: "a", shutdownTimeout: time.Second}, mcpSrv, track,
			env{stdin: inR, stdout: outW, stderr: io.Discard, getenv: func(string) string { return "" }})
	}()
	ch := make(chan stdioAnswer, 1000)
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var msg struct {
				ID     int `json:"id"`
				Result struct {
					IsError bool `json:"isError"`
					Content []struct {
						Text string `json:"text"`
					} `json:"content"`
				} `json:"result"`
				Error *struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(sc.Bytes(), &msg) != nil || msg.ID == 0 {
				continue
			}
			a := stdioAnswer{id: msg.ID, isError: msg.Result.IsError || msg.Error != nil}
			for _, c := range msg.Result.Content {
				a.text += c.Text
			}
			if msg.Error != nil {
				a.text = msg.Error.Message
			}
			ch <- a
		}
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("serveStdio did not stop")
		}
		outW.Close()
	})
	var mu sync.Mutex
	send = func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if _, err := fmt.Fprintln(inW, line); err != nil {
			t.Errorf("writing to the server: %v", err)
		}
	}
	send(`{"jsonrpc":"2.0","id":100000,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if a := <-ch; a.id != 100000 {
		t.Fatalf("first answer %+v, want initialize's", a)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return send, ch
}

func callLine(id int, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, id, tool)
}

// next waits at most d for the next answer.
func next(t *testing.T, answers <-chan stdioAnswer, d time.Duration, what string) stdioAnswer {
	t.Helper()
	select {
	case a := <-answers:
		return a
	case <-time.After(d):
		t.Fatalf("no answer within %s: %s", d, what)
		return stdioAnswer{}
	}
}

// TestStdioHungCallsDoNotBlockOthers: eight list_messages calls whose
// handlers are stuck for good (their provider never answers and ignores
// cancellation; four hold the account's slots, four wait for one) do not
// block a ninth call: list_accounts answers first, at once. Each hung call
// answers a timeout error at its deadline, and so do forty more: a call
// that overruns frees its worker even though its handler never returns.
func TestStdioHungCallsDoNotBlockOthers(t *testing.T) {
	const timeout = 2 * time.Second
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	api := &stuckAPI{release: make(chan struct{})}
	t.Cleanup(func() { close(api.release) })
	send, answers := stdioServer(t, api, timeout)

	start := time.Now()
	for id := 1; id <= 8; id++ {
		send(callLine(id, "list_messages"))
	}
	for deadline := time.Now().Add(timeout); api.count() < 4 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	send(callLine(9, "list_accounts"))
	a := next(t, answers, timeout, "list_accounts beside eight hung calls")
	if a.id != 9 || a.isError || !strings.Contains(a.text, "alice@example.com") {
		t.Fatalf("first answer %+v, want list_accounts' (id 9) before any hung call's", a)
	}
	if took := time.Since(start); took >= timeout {
		t.Errorf("list_accounts answered %s after the hung calls started, at or after their deadline (%s)", took, timeout)
	}
	for range 8 {
		a := next(t, answers, timeout+2*time.Second, "a hung list_messages at its deadline")
		if a.id < 1 || a.id > 8 || !a.isError || !strings.Contains(a.text, "did not finish within 2s") {
			t.Errorf("answer %+v, want a timeout error of a hung call", a)
		}
	}

	// More calls than workers, the four stuck handlers still running: every
	// call answers, the last ones after one more deadline at most.
	start = time.Now()
	for id := 101; id <= 140; id++ {
		send(callLine(id, "list_messages"))
	}
	for range 40 {
		a := next(t, answers, 2*timeout+2*time.Second, "one of 40 calls for an account whose slots are held by stuck calls")
		if !a.isError || !strings.Contains(a.text, "waiting for a free slot of alice@example.com") {
			t.Errorf("answer %+v, want a timeout while waiting for a slot", a)
		}
	}
	if took := time.Since(start); took > 2*timeout+2*time.Second {
		t.Errorf("40 calls took %s, want at most two deadlines (%s) + 2s", took, 2*timeout)
	}
	if n := api.count(); n != 4 {
		t.Errorf("%d calls reached the stuck provider, want 4 (the rest waited for a slot)", n)
	}
}
