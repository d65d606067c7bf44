//go:build unix

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EToolsScopes: an account connected with `mailcal connect --scopes
// calendar.read` and served over stdio reads calendars, and every tool that
// needs more says which access is missing and gives a URL to reconnect with
// it, before any request to Google; the URL works.
func TestE2EToolsScopes(t *testing.T) {
	t.Parallel()
	const carol = googletest.FixtureCarol
	fx := newGoogleFixture(t, googletest.Options{})
	fx.fg.VerifyDiscovery(t)
	fx.fg.AddUser(carol)
	fx.fg.LoadFixtures(carol)

	cli := fx.cli(t, fx.env(), false, "connect", "google", "--no-browser", "--tenant", "cal", "--scopes", "calendar.read", "--login-hint", carol)
	authURL := cli.waitStderr(t, 30*time.Second, googleAuthURLRE)[1]
	fx.checkAuthURL(t, authURL, "http://127.0.0.1:", "calendar.read")
	if r := fx.browse(t, fx.approve(t, authURL).String()); r.status != 200 {
		t.Fatalf("the loopback callback answered %d %s", r.status, r.body)
	}
	if code := cli.waitExit(t, 30*time.Second); code != 0 || cli.stdout.String() != carol+"\n" {
		t.Fatalf("mailcal connect exited %d, stdout %q", code, cli.stdout.String())
	}

	c := fx.stdio(t, "--tenant", "cal")
	var cals struct {
		Account   string       `json:"account"`
		Calendars []ttCalendar `json:"calendars"`
	}
	fx.callOK(t, c, "list_calendars", nil, &cals)
	if cals.Account != carol || len(cals.Calendars) != 3 {
		t.Errorf("list_calendars of carol: %+v", cals)
	}
	calReqs := fx.fg.APIRequests("/calendar/")

	var reconnect string
	for _, c2 := range []struct {
		tool    string
		args    map[string]any
		missing string
	}{
		{"send_email", map[string]any{"to": []string{alice}, "subject": "Hi", "body": "Hello"}, "mail.send"},
		{"list_messages", nil, "mail.read"},
		{"get_message", map[string]any{"id": "0123456789abcdef"}, "mail.read"},
		{"create_event", map[string]any{"summary": "x", "start": "2030-01-10", "end": "2030-01-11"}, "calendar.write"},
	} {
		text := fx.callFails(t, c, c2.tool, c2.args, carol, c2.missing, "calendar.read", "reconnect")
		u := googleReconnectURLRE.FindString(text)
		if u == "" {
			t.Errorf("%s: the error gives no reconnect URL: %s", c2.tool, text)
			continue
		}
		q := fx.checkAuthURL(t, u, "http://127.0.0.1:", "calendar.read", c2.missing)
		if q.Get("login_hint") != carol {
			t.Errorf("%s: reconnect URL login_hint %q", c2.tool, q.Get("login_hint"))
		}
		if c2.tool == "send_email" {
			reconnect = u
		}
	}
	if n := fx.fg.APIRequests("/gmail/") + fx.fg.APIRequests("/upload/"); n != 0 {
		t.Errorf("%d requests reached the Gmail API for an account without mail access", n)
	}
	if n := fx.fg.APIRequests("/calendar/"); n != calReqs {
		t.Errorf("create_event without calendar.write made %d Calendar requests", n-calReqs)
	}
	if len(fx.fg.SentMessages(carol)) != 0 {
		t.Errorf("carol sent a message")
	}

	// The person opens the URL: the account gains mail.send, and sending
	// works.
	if reconnect == "" {
		return
	}
	page := fx.browse(t, fx.approve(t, reconnect).String())
	if page.status != 200 || !strings.Contains(string(page.body), carol) {
		t.Fatalf("the reconnect callback answered %d %s", page.status, page.body)
	}
	got := fx.accountStatuses(t, c)[carol]
	if scopes := slices.Sorted(slices.Values(got.Scopes)); got.Status != "active" || !slices.Equal(scopes, []string{"calendar.read", "mail.send"}) {
		t.Errorf("carol after reconnecting: %+v, want active with calendar.read,mail.send", got)
	}
	var res ttSent
	fx.callOK(t, c, "send_email", map[string]any{"to": []string{alice}, "subject": "Hi", "body": "Hello"}, &res)
	if sent := fx.fg.SentMessages(carol); len(sent) != 1 || res.Account != carol {
		t.Errorf("after reconnecting: %d sent, result %+v", len(sent), res)
	}
	fx.callFails(t, c, "list_messages", nil, "mail.read")
}
