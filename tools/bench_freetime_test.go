package tools

import (
	"context"
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
	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
	"github.com/mailcal/mailcal/providers/registry"
)

// providerTokens gives each provider's accounts their token.
type providerTokens map[string]*oauth2.Token

func (p providerTokens) Source(_, provider, _ string) providers.TokenSource {
	return providers.StaticSource(p[provider])
}

// twoAccounts is a tenant with a Google account (alice, at googletest) and
// a Microsoft one (dana, at microsofttest), each with a few events, served
// through the real providers.
type twoAccounts struct {
	fg   *googletest.Server
	fm   *microsofttest.Server
	opts Options
}

const benchDana = "dana@contoso.com"

func newTwoAccounts(tb testing.TB) *twoAccounts {
	tb.Helper()
	const alice = "alice@example.com"
	fg := googletest.New(googletest.Options{})
	tb.Cleanup(fg.Close)
	fm := microsofttest.New(microsofttest.Options{})
	tb.Cleanup(fm.Close)
	fg.AddUser(alice)
	fg.AddCalendar(alice, googletest.Calendar{Primary: true, TimeZone: "Europe/Berlin"})
	fm.AddAccount(microsofttest.Account{Email: benchDana, TimeZone: "W. Europe Standard Time"})
	base := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 10 {
		fg.AddEvent(alice, "primary", googletest.Event{Summary: "G meeting", Start: base.Add(time.Duration(i) * 5 * time.Hour), End: base.Add(time.Duration(i)*5*time.Hour + time.Hour)})
		fm.AddEvent(benchDana, "", microsofttest.Event{Subject: "M meeting", Start: base.Add(time.Duration(i)*5*time.Hour + 2*time.Hour), End: base.Add(time.Duration(i)*5*time.Hour + 3*time.Hour)})
	}
	gtok, err := fg.Token(context.Background(), alice, "openid", "email", "https://www.googleapis.com/auth/calendar.readonly")
	if err != nil {
		tb.Fatal(err)
	}
	mtok, err := fm.Token(context.Background(), benchDana, "User.Read", "Calendars.Read", "MailboxSettings.Read")
	if err != nil {
		tb.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range append(fg.Env(), fm.Env()...) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	reg, err := providers.NewRegistry(registry.Specs(), func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	gs := grants.New(memory.New(), grants.Plain)
	for _, g := range []grants.Grant{
		{Tenant: "a", Provider: "google", Account: alice, Scopes: []string{"calendar.read"}, Status: grants.StatusActive},
		{Tenant: "a", Provider: "microsoft", Account: benchDana, Scopes: []string{"calendar.read"}, Status: grants.StatusActive},
	} {
		if err := gs.Put(context.Background(), g); err != nil {
			tb.Fatal(err)
		}
	}
	return &twoAccounts{fg: fg, fm: fm, opts: Options{Version: "bench", Accounts: gs, Sources: providerTokens{"google": gtok, "microsoft": mtok}, Providers: reg}}
}

func (ta *twoAccounts) setLatency(d time.Duration) {
	ta.fg.SetAPILatency(d)
	ta.fm.SetAPILatency(d)
}

func (ta *twoAccounts) resetStats() {
	ta.fg.ResetAPIStats()
	ta.fm.ResetAPIStats()
}

func benchCall(tb testing.TB, c *client.Client, name string, args map[string]any) string {
	tb.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.CallTool(tenant.WithName(context.Background(), "a"), req)
	if err != nil || res.IsError {
		tb.Fatalf("%s: %v %s", name, err, textOf(res))
	}
	return textOf(res)
}

// BenchmarkListEventsAll lists the events of a Google and a Microsoft
// account with account "all" through the MCP server, the real providers and
// the fakes, which add 50 ms to every request. It reports a warm call's
// wall time as a multiple of that latency (target ≤ 1.5: both accounts at
// once, one request each) and a cold call's (a new server: Microsoft's
// mailbox zone is read first, a second round trip).
//
//	go test -run '^$' -bench BenchmarkListEventsAll -benchtime 20x ./tools/
func BenchmarkListEventsAll(b *testing.B) {
	const latency = 50 * time.Millisecond
	ta := newTwoAccounts(b)
	ta.setLatency(latency)
	args := map[string]any{"account": "all", "time_min": "2027-03-01T00:00:00Z", "time_max": "2027-03-04T00:00:00Z"}
	c := newClient(b, ta.opts, "a")
	start := time.Now()
	if text := benchCall(b, c, "list_events", args); !strings.Contains(text, "20 events") {
		b.Fatalf("cold call: %s", text)
	}
	cold := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for b.Loop() {
		benchCall(b, c, "list_events", args)
	}
	warm := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(warm)/float64(latency), "latency-multiples")
	b.ReportMetric(float64(cold)/float64(latency), "cold-latency-multiples")
}

// BenchmarkFindFreeTimeRequests counts the upstream requests of
// find_free_time for each provider, cold (a new server) and warm (target 1
// each: freeBusy.query, getSchedule), and reports a warm call's wall time
// with account "all" as a multiple of the 50 ms latency (target ≤ 1.5).
//
//	go test -run '^$' -bench BenchmarkFindFreeTimeRequests -benchtime 20x ./tools/
func BenchmarkFindFreeTimeRequests(b *testing.B) {
	const latency = 50 * time.Millisecond
	ta := newTwoAccounts(b)
	c := newClient(b, ta.opts, "a")
	args := func(account string) map[string]any {
		return map[string]any{"account": account, "time_min": "2027-03-01T00:00:00Z", "time_max": "2027-03-08T00:00:00Z",
			"duration_minutes": 30, "attendees": []any{"bob@example.com"}}
	}
	ta.resetStats()
	benchCall(b, c, "find_free_time", args("all")) // cold: Google's calendar list, Microsoft's mailbox zone
	coldGoogle, coldMicrosoft := ta.fg.APIRequests("/"), ta.fm.APIRequests("/")
	ta.resetStats()
	benchCall(b, c, "find_free_time", args("alice@example.com"))
	benchCall(b, c, "find_free_time", args(benchDana))
	googleReqs, microsoftReqs := ta.fg.APIRequests("/"), ta.fm.APIRequests("/")
	ta.setLatency(latency)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		benchCall(b, c, "find_free_time", args("all"))
	}
	b.ReportMetric(float64(time.Since(start))/float64(b.N)/float64(latency), "all-latency-multiples")
	b.ReportMetric(float64(googleReqs), "google-requests/call")
	b.ReportMetric(float64(microsoftReqs), "microsoft-requests/call")
	b.ReportMetric(float64(coldGoogle), "cold-google-requests")
	b.ReportMetric(float64(coldMicrosoft), "cold-microsoft-requests")
}
