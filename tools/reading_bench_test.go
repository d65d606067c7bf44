package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/fixturetest"
	"github.com/mailcal/mailcal/providers/google"
	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
	"github.com/mailcal/mailcal/providers/registry"
)

// BenchmarkGetThread10 reads a 10-message conversation, each reply quoting
// the whole history below its text (fixturetest.Conversation), through the
// MCP server, each provider's client and its fake on loopback: once with
// get_thread, once with get_message for each of the 10 messages. It
// reports the upstream requests of each (counted by the fakes; target for
// get_thread: 1) and the text bytes of their results.
//
//	go test -run '^$' -bench BenchmarkGetThread10 -benchtime 20x ./tools/
func BenchmarkGetThread10(b *testing.B) {
	const alice = "alice@example.com"
	end := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, p := range []struct {
		name string
		// start starts the fake with the conversation, and answers the
		// registry's settings, a token, the messages' ids as mailcal
		// names them, and the fake's count of API requests.
		start func(b *testing.B) (map[string]string, *oauth2.Token, []string, func() int)
	}{
		{"google", func(b *testing.B) (map[string]string, *oauth2.Token, []string, func() int) {
			fake := googletest.New(googletest.Options{})
			b.Cleanup(fake.Close)
			fake.AddUser(alice)
			var ids []string
			for _, m := range fixturetest.Conversation(10, alice, end) {
				ids = append(ids, fake.AddMessage(alice, m.Raw(end, alice), "INBOX"))
			}
			return map[string]string{google.EnvAPIURL: fake.URL()}, fakeGoogleToken(b, fake, alice), ids, func() int { return fake.APIRequests("/") }
		}},
		{"microsoft", func(b *testing.B) (map[string]string, *oauth2.Token, []string, func() int) {
			fake := microsofttest.New(microsofttest.Options{})
			b.Cleanup(fake.Close)
			fake.AddUser(alice)
			var ids []string
			for _, m := range fixturetest.Conversation(10, alice, end) {
				ids = append(ids, microsofttest.ImmutableID(fake.AddMessage(alice, m.Raw(end, alice), microsofttest.Filing{Folder: "inbox", Read: true})))
			}
			tok, err := fake.Token(context.Background(), alice, "Mail.Read")
			if err != nil {
				b.Fatal(err)
			}
			return map[string]string{microsoft.EnvGraphURL: fake.GraphURL()}, tok, ids, func() int { return fake.APIRequests("/") }
		}},
	} {
		b.Run(p.name, func(b *testing.B) {
			env, tok, ids, requests := p.start(b)
			c := readingClient(b, p.name, alice, env, tok)
			ctx := tenant.WithName(context.Background(), "a")
			call := func(name string, args map[string]any) *mcp.CallToolResult {
				req := mcp.CallToolRequest{}
				req.Params.Name, req.Params.Arguments = name, args
				res, err := c.CallTool(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("%s: %v %s", name, err, textOf(res))
				}
				return res
			}
			// The thread's id, and a first call that warms what an
			// account's first call learns.
			var th ThreadResult
			first := call("get_thread", map[string]any{"message_id": ids[0]})
			if err := remarshal(first.StructuredContent, &th); err != nil || len(th.Messages) != 10 {
				b.Fatalf("get_thread: %v, %d messages", err, len(th.Messages))
			}
			for i, m := range th.Messages {
				if strings.Count(m.Text, "Thanks for the update.") != 1 || strings.Contains(m.Text, "wrote:") || (i > 0) != (m.QuotedChars > 0) {
					b.Fatalf("message %d keeps quoted history (%d characters removed): %q", i+1, m.QuotedChars, m.Text)
				}
			}
			var threadReqs, messageReqs, threadBytes, messageBytes int
			b.ResetTimer()
			for b.Loop() {
				before := requests()
				threadBytes += len(textOf(call("get_thread", map[string]any{"thread_id": th.ThreadID, "max_body_chars": 20000})))
				threadReqs += requests() - before
				before = requests()
				for _, id := range ids {
					messageBytes += len(textOf(call("get_message", map[string]any{"id": id, "max_body_chars": 100000})))
				}
				messageReqs += requests() - before
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(threadReqs)/n, "get_thread-requests")
			b.ReportMetric(float64(messageReqs)/n, "10×get_message-requests")
			b.ReportMetric(float64(threadBytes)/n, "get_thread-text-bytes")
			b.ReportMetric(float64(messageBytes)/n, "10×get_message-text-bytes")
		})
	}
}

// readingClient is an MCP client of a server whose tenant "a" has alice's
// account at provider, configured by env, with one token.
func readingClient(b *testing.B, provider, account string, env map[string]string, tok *oauth2.Token) *client.Client {
	gs := grants.New(memory.New(), grants.Plain)
	if err := gs.Put(context.Background(), grants.Grant{Tenant: "a", Provider: provider, Account: account, Scopes: []string{"mail.read"}, Status: grants.StatusActive}); err != nil {
		b.Fatal(err)
	}
	reg, err := providers.NewRegistry(registry.Specs(), func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	return newClient(b, Options{Version: "bench", Accounts: gs, Sources: staticTokens{tok}, Providers: reg}, "a")
}

func remarshal(v any, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
