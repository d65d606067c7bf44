//go:build unix

package e2e

import (
	"slices"
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
	*googleFixture
	f   *googletest.Fixtures
	key string
	s   *httpServer
	c   *mcpclient.Client
}

// extraEnv adds to the server's environment (see newGoogleFixture).
func newToolsEnv(t *testing.T, scopes string, extraEnv ...string) *ttEnv {
	t.Helper()
	fx := newGoogleFixture(t, googletest.Options{}, extraEnv...)
	fx.fg.VerifyDiscovery(t)
	e := &ttEnv{googleFixture: fx, f: fx.fg.LoadFixtures(alice)}
	e.key, e.s, e.c = fx.connectAlice(t, scopes)
	return e
}

func (e *ttEnv) ok(t *testing.T, tool string, args map[string]any, out any) wireResult {
	t.Helper()
	return e.googleFixture.callOK(t, e.c, tool, args, out)
}

func (e *ttEnv) fails(t *testing.T, tool string, args map[string]any, wants ...string) string {
	t.Helper()
	return e.googleFixture.callFails(t, e.c, tool, args, wants...)
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
