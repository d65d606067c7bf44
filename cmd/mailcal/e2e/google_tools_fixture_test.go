//go:build unix

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// ttAllScopes are the scopes the tools tests connect with: every tool works.
const ttAllScopes = "mail.read,mail.send,calendar.read,calendar.write"

// ttEnv is one fake Google with alice's fixtures, one HTTP server, alice
// connected to tenant "a", and an mcp-go streamable HTTP client.
type ttEnv struct {
	*oauthFixture
	f   *googletest.Fixtures
	key string
	s   *httpServer
	c   *mcpclient.Client
}

func newToolsEnv(t *testing.T, scopes string) *ttEnv {
	t.Helper()
	fx := newOAuthFixture(t, googletest.Options{})
	ttCheckDiscovery(t, fx.fg)
	e := &ttEnv{oauthFixture: fx, f: fx.fg.LoadFixtures(oaAlice)}
	e.key = fx.addTenant(t, "a")
	e.s = fx.startHTTP(t)
	fx.connectHTTP(t, e.s, e.key, oaAlice, scopes)
	e.c = mcpgoHTTP(t, e.s, "/mcp", "Authorization", "Bearer "+e.key, false)
	return e
}

// ttCheckDiscovery turns on the fake's checking of requests against the
// discovery documents, and checks at the end that the fake's own answers
// fitted them.
func ttCheckDiscovery(t *testing.T, fg *googletest.Server) {
	t.Helper()
	gmailDoc, calDoc, err := googletest.DiscoveryDocs()
	if err != nil {
		t.Fatalf("discovery documents: %v", err)
	}
	if err := fg.CheckDiscovery(gmailDoc, calDoc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if v := fg.DiscoveryViolations(); len(v) > 0 {
			t.Errorf("googletest answered outside the discovery documents (a bug in the fake):\n%s", strings.Join(v, "\n"))
		}
	})
}

// ok calls a tool on c that must succeed, and decodes its structured content
// into out (when not nil).
func (fx *oauthFixture) ttOK(t *testing.T, c *mcpclient.Client, tool string, args map[string]any, out any) wireResult {
	t.Helper()
	r := fx.call(t, c, tool, args)
	if r.IsError {
		t.Fatalf("%s answered a tool error: %s", tool, r.text())
	}
	if len(r.StructuredContent) == 0 {
		t.Fatalf("%s answered no structured content; text: %s", tool, r.text())
	}
	if out != nil {
		if err := json.Unmarshal(r.StructuredContent, out); err != nil {
			t.Fatalf("%s structured content does not parse: %v\n%s", tool, err, r.StructuredContent)
		}
	}
	return r
}

// fails calls a tool on c that must answer a tool error (not a protocol
// error) saying each of wants, and returns its text.
func (fx *oauthFixture) ttFails(t *testing.T, c *mcpclient.Client, tool string, args map[string]any, wants ...string) string {
	t.Helper()
	r := fx.call(t, c, tool, args)
	text := r.text()
	if !r.IsError {
		t.Errorf("%s succeeded, want a tool error saying %q: %s", tool, wants, tail(text, 500))
		return text
	}
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the error does not say %q: %s", tool, w, text)
		}
	}
	return text
}

func (e *ttEnv) ok(t *testing.T, tool string, args map[string]any, out any) wireResult {
	t.Helper()
	return e.oauthFixture.ttOK(t, e.c, tool, args, out)
}

func (e *ttEnv) fails(t *testing.T, tool string, args map[string]any, wants ...string) string {
	t.Helper()
	return e.oauthFixture.ttFails(t, e.c, tool, args, wants...)
}

// ids maps fixture message keys to their ids, sorted.
func (e *ttEnv) ids(keys ...string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		id := e.f.Messages[k]
		if id == "" {
			panic("no fixture message " + k)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// key returns the fixture key of a message id.
func (e *ttEnv) keyOf(id string) string {
	for k, v := range e.f.Messages {
		if v == id {
			return k
		}
	}
	return id
}

func (e *ttEnv) keysOf(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, e.keyOf(id))
	}
	slices.Sort(out)
	return out
}

var (
	ttBerlin     = ttZone("Europe/Berlin")
	ttTokyo      = ttZone("Asia/Tokyo")
	ttNewYork    = ttZone("America/New_York")
	ttLosAngeles = ttZone("America/Los_Angeles")
)

func ttZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at is h:m in loc on the n-th day after the fixtures' day (Berlin's date).
func (e *ttEnv) at(n, h, m int, loc *time.Location) time.Time {
	d := e.f.Day
	return time.Date(d.Year(), d.Month(), d.Day()+n, h, m, 0, 0, loc)
}

func (e *ttEnv) date(n int) string {
	d := e.f.Day
	return time.Date(d.Year(), d.Month(), d.Day()+n, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}
