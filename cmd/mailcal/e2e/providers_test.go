//go:build unix

package e2e

// The cross-provider suite: the same tool calls, with the same arguments,
// against a Google account and a Microsoft account, each through the real
// binary, the real OAuth flow and the provider's fake with the same fixture
// content (providers/fixturetest). What an agent sees must not depend on
// the provider: the same rows, bodies, attachments, threads, events, zones,
// errors, and the same token behaviour (one refresh for many waiting calls;
// a dead grant answered with a reconnect URL and no further token requests).
// Each provider's own wire details are tested beside its fixture.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"mime"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// provAccount is alice's account at one provider, connected to tenant "a"
// of a running server, with her fixtures loaded, as the suite needs it.
type provAccount struct {
	*harness
	name   string // the provider
	key    string // tenant a's API key
	s      *httpServer
	c      *mcpclient.Client
	msgs   map[string]string // fixture key → message id
	day    time.Time         // midnight in Berlin of the fixtures' day
	bobMsg string            // one of bob's message ids (another mailbox)
	// query finds the "report" message in the provider's search syntax.
	query string
	// listBudget is the most upstream round trips a warm list_messages of
	// 20 may make (Gmail: a list and a batch of gets; Graph: one list).
	listBudget int
	reconnect  *regexp.Regexp

	refreshes    func() int
	expire       func()
	revoke       func(email string)
	apiRequests  func() int
	resetAPI     func()
	sent         func(t *testing.T) provSent // alice's last sent message
	sentCount    func() int
	drafts       func() int      // alice's drafts
	invited      func() []string // addresses alice's new events invited
	replyInPhoen func(t *testing.T, res ttSent) bool
	// after runs the provider's own checks at the end, if any.
	after func(t *testing.T)
	// deliver puts a message (RFC 5322 bytes) in alice's inbox and returns
	// its id as mailcal names it.
	deliver func(raw []byte) string
}

// provSent is a sent message as the fake saw it, whatever its form.
type provSent struct {
	to, cc      []string
	subject     string
	body        string
	attachments map[string][]byte
}

func googleAccount(t *testing.T) *provAccount {
	fx := newGoogleFixture(t, googletest.Options{})
	f := fx.fg.LoadFixtures(alice)
	bf := fx.fg.LoadFixtures(bob)
	key, s, c := fx.connectAlice(t, provScopes)
	return &provAccount{
		harness: fx.harness, name: "google", key: key, s: s, c: c, msgs: f.Messages, day: f.Day, bobMsg: bf.Messages["report"],
		query: "subject:(Q3 report)", listBudget: 2, reconnect: googleReconnectURLRE,
		refreshes: fx.refreshes, expire: fx.fg.ExpireAccessTokens, revoke: fx.fg.RevokeUser,
		apiRequests: func() int { return fx.fg.HTTPRequests("/") }, resetAPI: fx.fg.ResetAPIStats,
		sentCount: func() int { return len(fx.fg.SentMessages(alice)) },
		drafts:    func() int { return len(fx.fg.Drafts(alice)) },
		sent: func(t *testing.T) provSent {
			all := fx.fg.SentMessages(alice)
			if len(all) == 0 {
				t.Fatal("alice has sent nothing")
			}
			m := ttParseSent(t, all[len(all)-1])
			ps := provSent{subject: m.header.Get("Subject"), attachments: map[string][]byte{}}
			if dec, err := new(mime.WordDecoder).DecodeHeader(ps.subject); err == nil {
				ps.subject = dec
			}
			if l, err := m.header.AddressList("To"); err == nil {
				for _, a := range l {
					ps.to = append(ps.to, a.Address)
				}
			}
			if l, err := m.header.AddressList("Cc"); err == nil {
				for _, a := range l {
					ps.cc = append(ps.cc, a.Address)
				}
			}
			for _, p := range m.parts {
				switch {
				case p.filename != "":
					ps.attachments[p.filename] = p.data
				case p.contentType == "text/plain" && ps.body == "":
					ps.body = string(p.data)
				}
			}
			return ps
		},
		invited: func() []string {
			var out []string
			for _, ev := range fx.fg.Events(alice, alice) {
				for _, a := range ev.Attendees {
					if ev.Summary == "Cross-provider planning" && a.Email != alice {
						out = append(out, a.Email)
					}
				}
			}
			return out
		},
		replyInPhoen: func(t *testing.T, res ttSent) bool { return res.ThreadID == f.Threads["phoenix"] },
		deliver:      func(raw []byte) string { return fx.fg.AddMessage(alice, raw) },
	}
}

func microsoftAccount(t *testing.T) *provAccount {
	fx := newMicrosoftFixture(t, microsofttest.Options{})
	f := fx.fm.LoadFixtures(alice)
	bf := fx.fm.LoadFixtures(bob)
	// mailcal asks for immutable ids; the fixtures name ordinary ones.
	msgs := map[string]string{}
	for k, id := range f.Messages {
		msgs[k] = microsofttest.ImmutableID(id)
	}
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, provScopes)
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	// Microsoft cannot revoke: the REST API says so, and where to go.
	after := func(t *testing.T) {
		// 50 calls at once (testTokens) never made Graph throttle the
		// mailbox: at most 4 requests at once, as it documents.
		if n, th := fx.fm.MaxConcurrentMailbox(alice), fx.fm.Throttled(alice); n > 4 || th != 0 {
			t.Errorf("up to %d requests at once for alice's mailbox, %d throttled; want at most 4 and none", n, th)
		}
		r := fx.do(t, s, "DELETE", "/api/integrations/microsoft/"+alice, nil, "X-API-Key", key)
		body := string(r.body)
		if r.status != 200 || !strings.Contains(body, `"revoked":false`) || !strings.Contains(body, `"success":true`) ||
			!strings.Contains(body, "account.live.com") || !strings.Contains(body, "revoke_by_hand") {
			t.Errorf("DELETE /api/integrations/microsoft/%s: %d %s", alice, r.status, body)
		}
		if n := len(fx.integrations(t, s, key)); n != 0 {
			t.Errorf("%d integrations after the delete", n)
		}
	}
	return &provAccount{
		after:   after,
		harness: fx.harness, name: "microsoft", key: key, s: s, c: c, msgs: msgs, day: f.Day, bobMsg: microsofttest.ImmutableID(bf.Messages["report"]),
		query: `subject:"Q3 report"`, listBudget: 1, reconnect: microsoftReconnectURLRE,
		refreshes: fx.refreshes, expire: fx.fm.ExpireAccessTokens, revoke: fx.fm.RevokeUser,
		apiRequests: func() int { return fx.fm.APIRequests("/") }, resetAPI: fx.fm.ResetAPIStats,
		sentCount: func() int { return len(fx.fm.Sent(alice)) },
		drafts:    func() int { return len(fx.fm.Drafts(alice)) },
		sent: func(t *testing.T) provSent {
			all := fx.fm.Sent(alice)
			if len(all) == 0 {
				t.Fatal("alice has sent nothing")
			}
			m := all[len(all)-1]
			ps := provSent{subject: m.Subject, body: m.UniqueBody, attachments: map[string][]byte{}}
			if ps.body == "" {
				ps.body = m.Body
			}
			for _, r := range m.To {
				ps.to = append(ps.to, r.Address)
			}
			for _, r := range m.Cc {
				ps.cc = append(ps.cc, r.Address)
			}
			for _, a := range m.Attachments {
				ps.attachments[a.Name] = a.Data
			}
			return ps
		},
		invited: func() []string {
			var out []string
			for _, inv := range fx.fm.Invitations(alice) {
				if inv.Subject == "Cross-provider planning" {
					out = append(out, inv.To.Address)
				}
			}
			return out
		},
		replyInPhoen: func(t *testing.T, res ttSent) bool {
			all := fx.fm.Sent(alice)
			return len(all) > 0 && all[len(all)-1].ConversationID == f.Conversations["phoenix"]
		},
		deliver: func(raw []byte) string {
			return microsofttest.ImmutableID(fx.fm.AddMessage(alice, raw, microsofttest.Filing{Folder: "inbox"}))
		},
	}
}

// provScopes are the scopes alice connects with: every tool's, drafts
// (mail.modify) included.
const provScopes = "mail.read,mail.send,mail.modify,calendar.read,calendar.write"

// TestE2EProviders runs the same calls against a Google and a Microsoft
// account.
func TestE2EProviders(t *testing.T) {
	t.Parallel()
	bothProviders(t, googleAccount, microsoftAccount, func(t *testing.T, a *provAccount) {
		t.Run("list", a.testList)
		t.Run("read", a.testRead)
		t.Run("clients", a.testClients)
		t.Run("send", a.testSend)
		t.Run("allowlist", a.testAllowlist)
		t.Run("compose", a.testCompose)
		t.Run("calendar", a.testCalendar)
		t.Run("tokens", a.testTokens)
		t.Run("dead-grant", a.testDeadGrant) // it kills the grant
		if a.after != nil {
			t.Run("after", a.after)
		}
	})
}

func (a *provAccount) list(t *testing.T, args map[string]any) (ttList, wireResult) {
	t.Helper()
	var l ttList
	r := a.callOK(t, a.c, "list_messages", args, &l)
	return l, r
}

// testList: 20 rows newest first with every field, compact text, the
// provider's round trips, unread filter, paging without repeats, search.
func (a *provAccount) testList(t *testing.T) {
	a.list(t, nil) // warm: an account's first listing may learn its folders
	a.resetAPI()
	l, r := a.list(t, nil)
	calls := a.apiRequests()
	if len(l.Messages) != 20 || l.NextPageToken == "" {
		t.Fatalf("default list_messages: %d rows, next_page_token %q; want 20 and a token", len(l.Messages), l.NextPageToken)
	}
	if calls > a.listBudget {
		t.Errorf("a warm list_messages of 20 made %d upstream requests, want at most %d", calls, a.listBudget)
	}
	perRow := len(r.text()) / len(l.Messages)
	t.Logf("%s: list_messages of 20: %d upstream requests, %d text bytes a row", a.name, calls, perRow)
	if perRow > 250 {
		t.Errorf("%d text bytes a listed message, want at most 250", perRow)
	}
	var last time.Time
	for i, m := range l.Messages {
		d, err := time.Parse(time.RFC3339, m.Date)
		if m.ID == "" || m.ThreadID == "" || m.From == "" || err != nil {
			t.Errorf("row %d lacks id, thread_id, from or an RFC 3339 date: %+v", i, m)
		}
		if i > 0 && d.After(last) {
			t.Errorf("row %d (%s) is newer than the row before it: not newest first", i, m.Date)
		}
		last = d
	}
	report := a.msgs["report"]
	if !slices.ContainsFunc(l.Messages, func(m ttRow) bool {
		return m.ID == report && m.Subject == "Q3 report draft" && m.Unread && m.HasAttachments
	}) {
		t.Errorf("the report (unread, with a PDF) is not among the newest 20 as such: %+v", l.Messages)
	}
	for _, gone := range []string{"spam", "trash"} {
		if slices.Contains(l.ids(), a.msgs[gone]) {
			t.Errorf("the default listing shows the %s message", gone)
		}
	}

	unread, _ := a.list(t, map[string]any{"unread_only": true, "max_results": 100})
	if len(unread.Messages) == 0 || !slices.Contains(unread.ids(), report) {
		t.Errorf("unread_only: %d rows, the report among them: %v", len(unread.Messages), slices.Contains(unread.ids(), report))
	}
	for _, m := range unread.Messages {
		if !m.Unread {
			t.Errorf("unread_only listed a read message: %s %q", m.ID, m.Subject)
		}
	}

	seen := map[string]bool{}
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages of 7")
		}
		args := map[string]any{"max_results": 7}
		if tok != "" {
			args["page_token"] = tok
		}
		p, _ := a.list(t, args)
		for _, m := range p.Messages {
			if seen[m.ID] {
				t.Errorf("page %d repeats %s", pages+1, m.ID)
			}
			seen[m.ID] = true
		}
		if tok = p.NextPageToken; tok == "" {
			break
		}
	}
	if len(seen) < 20 {
		t.Errorf("paging by 7 found %d messages, want at least the 20 of the first listing", len(seen))
	}
	a.callFails(t, a.c, "list_messages", map[string]any{"page_token": "bm90IGEgdG9rZW4"}, "page_token")

	found, _ := a.list(t, map[string]any{"query": a.query})
	if !slices.Contains(found.ids(), report) {
		t.Errorf("query %q did not find the report: %v", a.query, found.ids())
	}
	sent, _ := a.list(t, map[string]any{"label": "SENT", "max_results": 50})
	if !slices.Contains(sent.ids(), a.msgs["sent-solo"]) {
		t.Errorf("label SENT did not list the sent message")
	}
}

// testRead: bodies as text (HTML converted, scripts gone), attachments,
// decoded headers; another mailbox's id is not found.
func (a *provAccount) testRead(t *testing.T) {
	get := func(key string) (ttMessage, string) {
		t.Helper()
		var m ttMessage
		r := a.callOK(t, a.c, "get_message", map[string]any{"id": a.msgs[key]}, &m)
		return m, r.text()
	}
	m, _ := get("report")
	if !strings.Contains(m.BodyText, "Revenue is up 12%") || m.Subject != "Q3 report draft" {
		t.Errorf("report: subject %q, body %q", m.Subject, m.BodyText)
	}
	if !slices.ContainsFunc(m.Attachments, func(at ttAttachment) bool {
		return at.Filename == "Q3-report-draft.pdf" && at.MIMEType == "application/pdf" && at.Size > 0
	}) {
		t.Errorf("report: attachments %+v, want Q3-report-draft.pdf (application/pdf)", m.Attachments)
	}
	m, text := get("newsletter")
	if !strings.Contains(m.BodyText, "Go 1.26 is out") || strings.Contains(text, "<script") || strings.Contains(text, "alert(1)") ||
		strings.Contains(text, "utm_source") || strings.Contains(text, "open.gif") {
		t.Errorf("newsletter as text: %q", text)
	}
	if m, _ := get("umlaut"); m.Subject != "Grüße aus München – Termin nächste Woche" || !strings.Contains(m.BodyText, "können wir uns") {
		t.Errorf("umlaut: subject %q, body %q", m.Subject, m.BodyText)
	}
	if m, _ := get("japanese"); m.Subject != "会議の議事録" {
		t.Errorf("japanese: subject %q", m.Subject)
	}
	a.callFails(t, a.c, "get_message", map[string]any{"id": a.bobMsg}, "not found")
}

// testClients: the official Go SDK and the MCP Inspector CLI get what
// mcp-go gets.
func (a *provAccount) testClients(t *testing.T) {
	calls := []struct {
		tool string
		args map[string]any
	}{
		{"get_message", map[string]any{"id": a.msgs["umlaut"]}},
		{"list_messages", map[string]any{"max_results": 5}},
	}
	same := func(t *testing.T, who string, c int, r wireResult) {
		t.Helper()
		if r.IsError {
			t.Fatalf("%s %s: %s", who, calls[c].tool, r.text())
		}
		var x, y any
		json.Unmarshal(r.StructuredContent, &x)
		json.Unmarshal(a.callOK(t, a.c, calls[c].tool, calls[c].args, nil).StructuredContent, &y)
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s %s: structured content differs from mcp-go's:\n%s", who, calls[c].tool, r.StructuredContent)
		}
	}
	cs := sdkHTTP(t, a.s, "/mcp", "Authorization", "Bearer "+a.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, c := range calls {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			t.Fatalf("go-sdk %s: %v", c.tool, err)
		}
		same(t, "go-sdk", i, asWire[wireResult](t, "go-sdk", res))
	}
	n := needNPM(t)
	js, _ := json.Marshal(calls[0].args)
	out, code := n.inspectorCLI(t, a.k, "--server-url", a.s.base+"/mcp", "--transport", "http", "--header", "Authorization: Bearer "+a.key,
		"--method", "tools/call", "--tool-name", calls[0].tool, "--tool-args-json", string(js))
	a.leaks.record("inspector "+calls[0].tool, string(out))
	if code != 0 {
		t.Fatalf("inspector tools/call exited %d", code)
	}
	r := asWire[wireResult](t, "inspector", inspectorResult(t, out))
	same(t, "inspector", 0, r)
	if !strings.Contains(r.text(), "Grüße aus München") {
		t.Errorf("inspector get_message text: %s", r.text())
	}
}

// testSend: a new message with an attachment, then a reply that stays in
// its conversation with one "Re:".
func (a *provAccount) testSend(t *testing.T) {
	data := []byte("name,amount\nAnna,12\n")
	before := a.sentCount()
	var res ttSent
	a.callOK(t, a.c, "send_email", map[string]any{
		"to": []any{"Bob <" + bob + ">"}, "subject": "Numbers for Friday", "body": "Here they are.",
		"attachments": []any{map[string]any{"filename": "numbers.csv", "content_base64": base64.StdEncoding.EncodeToString(data), "mime_type": "text/csv"}},
	}, &res)
	if n := a.sentCount(); n != before+1 {
		t.Fatalf("%d messages sent, want 1", n-before)
	}
	s := a.sent(t)
	if !slices.Equal(s.to, []string{bob}) || s.subject != "Numbers for Friday" || !strings.Contains(s.body, "Here they are.") ||
		string(s.attachments["numbers.csv"]) != string(data) {
		t.Errorf("sent: to %v, subject %q, body %q, attachments %d", s.to, s.subject, s.body, len(s.attachments))
	}

	a.callOK(t, a.c, "send_email", map[string]any{
		"to": []any{"carol@example.com"}, "body": "Great, see you then.", "reply_to_message_id": a.msgs["phoenix-3"],
	}, &res)
	s = a.sent(t)
	// One reply prefix: "Re: " (Gmail) or "RE: " (Outlook writes it so).
	if !strings.EqualFold(s.subject, "Re: Project Phoenix kickoff") || !strings.Contains(s.body, "Great, see you then.") {
		t.Errorf("reply: subject %q, body %q", s.subject, s.body)
	}
	if !a.replyInPhoen(t, res) {
		t.Errorf("the reply is not in the Project Phoenix conversation")
	}
}

// testAllowlist: the tenant's recipient allowlist refuses a new message, a
// reply and an invitation to someone outside it, whatever the provider, and
// nothing reaches it; lifting the allowlist lets them through again.
func (a *provAccount) testAllowlist(t *testing.T) {
	put := func(body string) {
		t.Helper()
		r := a.do(t, a.s, "PUT", "/api/policy", strings.NewReader(body), "Authorization", "Bearer "+a.key, "Content-Type", "application/json")
		if r.status != 200 {
			t.Fatalf("PUT /api/policy %s = %d %s", body, r.status, r.body)
		}
	}
	put(`{"recipient_allowlist":["*@example.com"]}`)
	sent, invited := a.sentCount(), len(a.invited())
	start := a.day.AddDate(0, 0, 3).Format("2006-01-02")
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"send_email", map[string]any{"to": []any{bob}, "cc": []any{"eve@evil.example"}, "subject": "Plans", "body": "x"}},
		{"send_email", map[string]any{"to": []any{"Eve <eve@evil.example>"}, "body": "x", "reply_to_message_id": a.msgs["phoenix-3"]}},
		{"create_event", map[string]any{"summary": "Cross-provider planning", "start": start + "T09:00:00", "end": start + "T09:30:00",
			"time_zone": "Europe/Berlin", "attendees": []any{bob, "eve@evil.example"}}},
	} {
		a.callFails(t, a.c, c.tool, c.args, "not sent", "eve@evil.example", "recipient allowlist")
	}
	if a.sentCount() != sent || len(a.invited()) != invited {
		t.Errorf("refused calls reached the provider: %d sent, %d invited", a.sentCount()-sent, len(a.invited())-invited)
	}
	put(`{"recipient_allowlist":[]}`)
	a.callOK(t, a.c, "send_email", map[string]any{"to": []any{"eve@evil.example"}, "subject": "Plans", "body": "x"}, nil)
	if a.sentCount() != sent+1 {
		t.Errorf("with the allowlist lifted, %d messages sent, want 1", a.sentCount()-sent)
	}
}

// testCalendar: events in the asked zone, recurring ones expanded with
// their series, all-day ones as dates, and a new event's invitation.
func (a *provAccount) testCalendar(t *testing.T) {
	var l ttEvents
	a.callOK(t, a.c, "list_events", map[string]any{
		"time_min": a.day.Format(time.RFC3339), "time_max": a.day.AddDate(0, 0, 15).Format(time.RFC3339),
		"time_zone": "Asia/Tokyo", "max_results": 250,
	}, &l)
	if l.TimeZone != "Asia/Tokyo" {
		t.Errorf("time_zone %q, want Asia/Tokyo", l.TimeZone)
	}
	for _, e := range l.Events {
		if !e.AllDay && (!strings.HasSuffix(e.Start, "+09:00") || !strings.HasSuffix(e.End, "+09:00")) {
			t.Errorf("%q: %s – %s, not in Tokyo time", e.Summary, e.Start, e.End)
		}
		if e.AllDay && (len(e.Start) != 10 || len(e.End) != 10) {
			t.Errorf("all-day %q: %s – %s, want dates", e.Summary, e.Start, e.End)
		}
	}
	if b := l.find("Anna's birthday"); len(b) != 1 || !b[0].AllDay || b[0].Start != a.day.AddDate(0, 0, 3).Format(time.DateOnly) {
		t.Errorf("the birthday: %+v", b)
	}
	lunch := l.find("Lunch with Carol")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if want := time.Date(a.day.Year(), a.day.Month(), a.day.Day(), 12, 30, 0, 0, a.day.Location()).In(tokyo).Format(time.RFC3339); len(lunch) != 1 || lunch[0].Start != want {
		t.Errorf("lunch at 12:30 Berlin: %+v, want start %s", lunch, want)
	}
	var standups []ttEvent
	for _, e := range l.Events {
		if strings.HasPrefix(e.Summary, "Team standup") {
			standups = append(standups, e)
		}
	}
	if len(standups) < 4 {
		t.Fatalf("%d standups in 15 days, want the weekly series expanded (3 a week, one of them cancelled)", len(standups))
	}
	for _, s := range standups {
		if s.RecurringEventID == "" || s.RecurringEventID != standups[0].RecurringEventID {
			t.Errorf("standup %s: recurring_event_id %q, want the series' for all", s.Start, s.RecurringEventID)
		}
	}

	var created struct {
		Event ttEvent `json:"event"`
	}
	start := a.day.AddDate(0, 0, 2)
	a.callOK(t, a.c, "create_event", map[string]any{
		"summary": "Cross-provider planning", "start": start.Format("2006-01-02") + "T15:00:00", "end": start.Format("2006-01-02") + "T15:30:00",
		"time_zone": "Europe/Berlin", "attendees": []any{bob},
	}, &created)
	want := time.Date(start.Year(), start.Month(), start.Day(), 15, 0, 0, 0, a.day.Location()).Format(time.RFC3339)
	if created.Event.Summary != "Cross-provider planning" || created.Event.Start != want {
		t.Errorf("created %+v, want it to start %s", created.Event, want)
	}
	if inv := a.invited(); !slices.Equal(inv, []string{bob}) {
		t.Errorf("the new event invited %v, want [%s]", inv, bob)
	}
}

// testTokens: 50 calls waiting on an expired access token cause exactly one
// refresh, and all succeed.
func (a *provAccount) testTokens(t *testing.T) {
	a.checkOK(t, "before expiry", a.c, alice)
	a.expire()
	before := a.refreshes()
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			r, err := a.callTool(a.c, "list_calendars", nil)
			if err != nil || r.IsError {
				errs <- r.text() + errString(err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a call after expiry failed: %s", e)
	}
	if n := a.refreshes() - before; n != 1 {
		t.Errorf("%d refreshes for 50 calls after expiry, want 1", n)
	}
}

// testDeadGrant: a revoked grant answers "reconnect" with a URL, the
// account shows needs_reauth, and later calls ask the token endpoint nothing.
func (a *provAccount) testDeadGrant(t *testing.T) {
	a.revoke(alice)
	a.expire()
	r := a.call(t, a.c, "list_calendars", nil)
	text := r.text()
	if !r.IsError || !strings.Contains(text, "reconnect") || a.reconnect.FindString(text) == "" {
		t.Fatalf("a call on a revoked grant answered (error %v): %s", r.IsError, text)
	}
	if st := a.accountStatuses(t, a.c)[alice]; st.Status != "needs_reauth" {
		t.Errorf("status %q, want needs_reauth", st.Status)
	}
	before := a.refreshes()
	for range 5 {
		if r := a.call(t, a.c, "list_messages", nil); !r.IsError {
			t.Fatalf("list_messages on a dead grant succeeded")
		}
	}
	if n := a.refreshes() - before; n != 0 {
		t.Errorf("%d token requests after the grant died, want none", n)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
