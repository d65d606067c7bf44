package tools

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google"
	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/registry"
)

// staticTokens gives every account one token.
type staticTokens struct{ tok *oauth2.Token }

func (s staticTokens) Source(string, string, string) providers.TokenSource {
	return providers.StaticSource(s.tok)
}

// fakeGoogleToken gets an access token from the fake through its OAuth flow.
func fakeGoogleToken(tb testing.TB, s *googletest.Server, login string) *oauth2.Token {
	tb.Helper()
	tok, err := s.Token(context.Background(), login, "openid", "email", "https://www.googleapis.com/auth/gmail.modify", "https://www.googleapis.com/auth/calendar.readonly")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// BenchmarkListMessages20 calls list_messages for 20 messages through the
// MCP server, the Google provider and the fake Gmail API, which adds 50 ms
// to every request. It reports the wall time of a call as a multiple of
// that latency (target ≤ 3: one list, then the metadata gets in parallel)
// and the text bytes per listed message (target ≤ 250).
//
//	go test -run '^$' -bench BenchmarkListMessages20 -benchtime 20x ./tools/
func BenchmarkListMessages20(b *testing.B) {
	const latency = 50 * time.Millisecond
	const alice = "alice@example.com"
	fake := googletest.New(googletest.Options{})
	defer fake.Close()
	fake.AddUser(alice)
	fake.LoadFixtures(alice)
	tok := fakeGoogleToken(b, fake, alice)
	gs := grants.New(memory.New(), grants.Plain)
	if err := gs.Put(context.Background(), grants.Grant{Tenant: "a", Provider: "google", Account: alice, Scopes: []string{"mail.read"}, Status: grants.StatusActive}); err != nil {
		b.Fatal(err)
	}
	reg, err := providers.NewRegistry(registry.Specs(), func(k string) string {
		if k == google.EnvAPIURL {
			return fake.URL()
		}
		return ""
	})
	if err != nil {
		b.Fatal(err)
	}
	c := newClient(b, Options{Version: "bench", Accounts: gs, Sources: staticTokens{tok}, Providers: reg}, "a")
	fake.SetAPILatency(latency)
	req := mcp.CallToolRequest{}
	req.Params.Name = "list_messages"
	req.Params.Arguments = map[string]any{"max_results": 20}
	ctx := tenant.WithName(context.Background(), "a")

	var textBytes, rows int
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("list_messages: %v %s", err, textOf(res))
		}
		text := textOf(res)
		lines := strings.Split(text, "\n")
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "More: ") {
				textBytes += len(l) + 1
				rows++
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if rows != 20*b.N {
		b.Fatalf("listed %d rows in %d calls, want 20 a call", rows, b.N)
	}
	b.ReportMetric(float64(elapsed)/float64(b.N)/float64(latency), "latency-multiples")
	b.ReportMetric(float64(textBytes)/float64(rows), "text-bytes/message")
}
