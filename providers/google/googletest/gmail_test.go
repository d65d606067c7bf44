package googletest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const (
	gmailSendScope   = "https://www.googleapis.com/auth/gmail.send"
	gmailModifyScope = "https://www.googleapis.com/auth/gmail.modify"
	gmailMetaScope   = "https://www.googleapis.com/auth/gmail.metadata"
	calScope         = "https://www.googleapis.com/auth/calendar"
	calEventsScope   = "https://www.googleapis.com/auth/calendar.events"
)

// fixedNow is a Friday two days before Europe's switch to summer time
// (New York switched three weeks earlier): recurring events in the next
// week cross a daylight-saving change.
var fixedNow = time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC)

// apiTest is a fake with discovery checking on, alice's fixtures loaded
// and the server clock fixed at fixedNow.
type apiTest struct {
	t   *testing.T
	s   *Server
	fx  *Fixtures
	cfg *oauth2.Config
}

func newAPITest(t *testing.T) *apiTest {
	t.Helper()
	s, cfg := setup(t, Options{Now: func() time.Time { return fixedNow }})
	gmailDoc, calDoc, err := DiscoveryDocs()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckDiscovery(gmailDoc, calDoc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if v := s.DiscoveryViolations(); len(v) > 0 {
			t.Errorf("answers that do not fit the discovery documents:\n%s", strings.Join(v, "\n"))
		}
	})
	return &apiTest{t: t, s: s, fx: s.LoadFixtures(alice), cfg: cfg}
}

// client is an HTTP client with a token for these scopes, from the fake's
// OAuth flow.
func (a *apiTest) client(scopes ...string) *http.Client {
	a.t.Helper()
	cfg := *a.cfg
	cfg.Scopes = append([]string{"openid", "email"}, scopes...)
	tok := connect(a.t, a.s, &cfg)
	return cfg.Client(context.Background(), tok)
}

func (a *apiTest) gmail(scopes ...string) *gmail.Service {
	a.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{gmailModifyScope}
	}
	svc, err := gmail.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/"), option.WithHTTPClient(a.client(scopes...)))
	if err != nil {
		a.t.Fatal(err)
	}
	return svc
}

func (a *apiTest) calendar(scopes ...string) *calendar.Service {
	a.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{calScope}
	}
	svc, err := calendar.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/calendar/v3/"), option.WithHTTPClient(a.client(scopes...)))
	if err != nil {
		a.t.Fatal(err)
	}
	return svc
}

// wantAPIError checks err is Google's error with this code, reason and
// (if not empty) a message containing msg.
func wantAPIError(t *testing.T, err error, code int, reason, msg string) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("got %v, want googleapi.Error %d %s", err, code, reason)
	}
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason || !strings.Contains(ge.Message, msg) {
		t.Fatalf("got %d %q %+v, want %d %s %q", ge.Code, ge.Message, ge.Errors, code, reason, msg)
	}
	return ge
}

// keysOf maps message ids back to fixture keys.
func (a *apiTest) keysOf(ids []string) []string {
	byID := map[string]string{}
	for k, id := range a.fx.Messages {
		byID[id] = k
	}
	var out []string
	for _, id := range ids {
		k := byID[id]
		if k == "" {
			k = id
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func listAll(t *testing.T, call *gmail.UsersMessagesListCall) []string {
	t.Helper()
	var ids []string
	err := call.Pages(context.Background(), func(r *gmail.ListMessagesResponse) error {
		for _, m := range r.Messages {
			ids = append(ids, m.Id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestGmailListPagination(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	first, err := svc.Users.Messages.List("me").MaxResults(7).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Messages) != 7 || first.NextPageToken == "" || first.ResultSizeEstimate != 28 {
		t.Fatalf("first page: %d messages, token %q, estimate %d", len(first.Messages), first.NextPageToken, first.ResultSizeEstimate)
	}
	// A message arriving between pages does not shift the next page.
	a.s.AddMessage(alice, []byte("From: x@example.com\r\nTo: alice@example.com\r\nSubject: new\r\n\r\nhi\r\n"))
	all := slices.Clone(first.Messages)
	tok := first.NextPageToken
	for tok != "" {
		page, err := svc.Users.Messages.List("me").MaxResults(7).PageToken(tok).Do()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Messages...)
		tok = page.NextPageToken
	}
	var ids []string
	var last int64 = 1 << 62
	for _, m := range all {
		ids = append(ids, m.Id)
		full, err := svc.Users.Messages.Get("me", m.Id).Format("minimal").Do()
		if err != nil {
			t.Fatal(err)
		}
		if full.InternalDate > last || full.ThreadId != m.ThreadId || full.Payload != nil {
			t.Fatalf("order or shape: %+v", full)
		}
		last = full.InternalDate
	}
	keys := a.keysOf(ids)
	if len(all) != 28 || slices.Contains(keys, "spam") || slices.Contains(keys, "trash") || len(slices.Compact(slices.Clone(keys))) != 28 {
		t.Fatalf("listed %d: %v", len(all), keys)
	}
	// The newest fixture comes first; maxResults is capped at 500.
	if a.keysOf([]string{all[0].Id})[0] != "emoji" {
		t.Fatalf("first is %v", a.keysOf([]string{all[0].Id}))
	}
	big, err := svc.Users.Messages.List("me").MaxResults(5000).IncludeSpamTrash(true).Do()
	if err != nil || len(big.Messages) != 31 || big.NextPageToken != "" {
		t.Fatalf("spam and trash included: %v %d", err, len(big.Messages))
	}
	// A token is bound to its query.
	_, err = svc.Users.Messages.List("me").Q("is:unread").PageToken(first.NextPageToken).Do()
	wantAPIError(t, err, 400, "invalidArgument", "pageToken")
	// No match: no messages field, estimate 0.
	none, err := svc.Users.Messages.List("me").Q("xyzzy-nothing").Do()
	if err != nil || none.Messages != nil || none.ResultSizeEstimate != 0 {
		t.Fatalf("empty result: %v %+v", err, none)
	}
}

func TestGmailSearch(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	for _, tc := range []struct {
		q      string
		labels []string
		want   string
	}{
		{q: "from:bob", want: "forwarded invite phoenix-1"},
		{q: "from:me", want: "lunch-2 phoenix-2 sent-solo"},
		{q: "is:unread", want: "calendar-reminder emoji injection invite newsletter pdf-nonascii phoenix-3 report social umlaut"},
		{q: "has:attachment", want: "inline invite pdf-nonascii photo report sent-solo"},
		{q: "subject:phoenix", want: "phoenix-1 phoenix-2 phoenix-3"},
		{q: "label:work", want: "github report"},
		{q: "label:Receipts", want: "receipt"},
		{q: "in:inbox category:promotions", want: "newsletter"},
		{q: "newer_than:1d", want: "calendar-reminder emoji github injection report social umlaut"},
		{q: "newer_than:12h", want: ""}, // Gmail knows d, m and y only
		{q: "older_than:30d", want: "old"},
		{q: "münchen", want: "umlaut"},
		{q: `"staffing plan"`, want: "phoenix-3"},
		{q: "in:spam", want: "spam"},
		{q: "in:anywhere subject:deals", want: "trash"},
		{q: "filename:pdf", want: "pdf-nonascii report sent-solo"},
		{q: "{from:carol from:dave}", want: "lunch-1 old phoenix-3 report"},
		{q: "from:carol OR from:dave -is:unread", want: "lunch-1 old"},
		{q: "to:jane@example.com", want: "multi-rcpt"},
		{q: "is:starred", want: "photo"},
		{q: "rfc822msgid:<lunch-1.CAC@mail.example.com>", want: "lunch-1"},
		{q: "revenue 12", want: "report"},
		{q: "réunion", want: "latin1"},
		{q: "議事録", want: "japanese"},
		{q: "foo:bar", want: ""},
		{labels: []string{"UNREAD", "IMPORTANT"}, want: "phoenix-3 report"},
		// Dates are midnight Pacific time, as Gmail documents.
		{q: "after:2026/03/26 before:2026/03/27", want: "github injection invite newsletter pdf-nonascii social umlaut"},
		{q: fmt.Sprintf("after:%d", fixedNow.Add(-time.Hour).Unix()), want: "calendar-reminder emoji"},
	} {
		call := svc.Users.Messages.List("me").Q(tc.q)
		if tc.labels != nil {
			call.LabelIds(tc.labels...)
		}
		if got := strings.Join(a.keysOf(listAll(t, call)), " "); got != tc.want {
			t.Errorf("q=%q labels=%v: got %q, want %q", tc.q, tc.labels, got, tc.want)
		}
	}
}

func decodePart(t *testing.T, p *gmail.MessagePart) string {
	t.Helper()
	b, err := base64.URLEncoding.DecodeString(p.Body.Data)
	if err != nil {
		t.Fatalf("part %s data: %v", p.PartId, err)
	}
	return string(b)
}

func hdr(p *gmail.MessagePart, name string) string {
	for _, h := range p.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func TestGmailGetFormats(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	get := func(key, format string, hdrs ...string) *gmail.Message {
		t.Helper()
		m, err := svc.Users.Messages.Get("me", a.fx.Messages[key]).Format(format).MetadataHeaders(hdrs...).Do()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := get("report", "full")
	p := m.Payload
	if p.PartId != "" || p.MimeType != "multipart/mixed" || len(p.Parts) != 2 || hdr(p, "Subject") != "Q3 report draft" ||
		!slices.Contains(m.LabelIds, "UNREAD") || m.SizeEstimate < 1000 || m.HistoryId == 0 || m.InternalDate != fixedNow.Add(-2*time.Hour).UnixMilli() {
		t.Fatalf("report: %+v payload %+v", m, p)
	}
	alt, pdf := p.Parts[0], p.Parts[1]
	if alt.PartId != "0" || alt.MimeType != "multipart/alternative" || len(alt.Parts) != 2 || alt.Parts[0].PartId != "0.0" ||
		alt.Parts[1].MimeType != "text/html" || alt.Body == nil || alt.Body.Size != 0 {
		t.Fatalf("alternative: %+v", alt)
	}
	if got := decodePart(t, alt.Parts[0]); !strings.Contains(got, "Revenue is up 12%.") || alt.Parts[0].Body.Size != int64(len(got)) {
		t.Fatalf("text part %q", got)
	}
	if pdf.Filename != "Q3-report-draft.pdf" || pdf.MimeType != "application/pdf" || pdf.Body.AttachmentId == "" || pdf.Body.Data != "" {
		t.Fatalf("attachment part %+v %+v", pdf, pdf.Body)
	}
	att, err := svc.Users.Messages.Attachments.Get("me", m.Id, pdf.Body.AttachmentId).Do()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.URLEncoding.DecodeString(att.Data)
	if !bytes.HasPrefix(data, []byte("%PDF-1.4")) || int64(len(data)) != att.Size || att.Size != pdf.Body.Size {
		t.Fatalf("attachment: %d bytes %q", att.Size, data[:min(10, len(data))])
	}
	_, err = svc.Users.Messages.Attachments.Get("me", m.Id, "ANGjdJnope").Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid attachment token")

	md := get("report", "metadata", "From", "subject")
	if md.Payload == nil || len(md.Payload.Headers) != 2 || md.Payload.Parts != nil || md.Payload.Body != nil || md.Snippet == "" {
		t.Fatalf("metadata: %+v", md.Payload)
	}
	if min := get("report", "minimal"); min.Payload != nil || min.Raw != "" || min.Snippet == "" || len(min.LabelIds) == 0 {
		t.Fatalf("minimal: %+v", min)
	}
	raw := get("umlaut", "raw")
	rb, err := base64.URLEncoding.DecodeString(raw.Raw)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(rb))
	if err != nil || !strings.HasPrefix(parsed.Header.Get("Subject"), "=?UTF-8?b?") || raw.Payload != nil {
		t.Fatalf("raw: %v %q", err, parsed.Header.Get("Subject"))
	}

	// Non-ASCII: headers decoded, bodies UTF-8 (or their own charset).
	u := get("umlaut", "full")
	if hdr(u.Payload, "Subject") != "Grüße aus München – Termin nächste Woche" ||
		hdr(u.Payload, "From") != "Jürgen Müller <juergen.mueller@example.de>" || !strings.Contains(decodePart(t, u.Payload), "können") {
		t.Fatalf("umlaut: %q %q", hdr(u.Payload, "Subject"), hdr(u.Payload, "From"))
	}
	if j := get("japanese", "full"); hdr(j.Payload, "Subject") != "会議の議事録" || !strings.Contains(decodePart(t, j.Payload), "議事録を送ります") {
		t.Fatal("japanese")
	}
	l := get("latin1", "full")
	if body := decodePart(t, l.Payload); !strings.Contains(body, "r\xe9union") || !strings.Contains(l.Snippet, "réunion") ||
		hdr(l.Payload, "Subject") != "Réunion à Paris" || !strings.HasPrefix(hdr(l.Payload, "From"), `"François Dupont"`) &&
		!strings.HasPrefix(hdr(l.Payload, "From"), "François Dupont") {
		t.Fatalf("latin1: %q %q %q", body, l.Snippet, hdr(l.Payload, "From"))
	}
	if pn := get("pdf-nonascii", "full"); pn.Payload.Parts[1].Filename != "Präsentation Q3.pdf" {
		t.Fatalf("RFC 2231 file name %q", pn.Payload.Parts[1].Filename)
	}
	// Snippets are HTML-escaped, as Gmail's are; HTML-only mail has a text
	// snippet without style or script.
	if s := get("phoenix-3", "minimal").Snippet; s != "Count me in. I&#39;ll bring the staffing plan. Carol" {
		t.Fatalf("snippet %q", s)
	}
	n := get("newsletter", "full")
	if n.Payload.MimeType != "text/html" || n.Payload.Parts != nil || strings.Contains(n.Snippet, "font-family") ||
		strings.Contains(n.Snippet, "alert") || !strings.HasPrefix(n.Snippet, "Go 1.26 is out Faster builds &amp; a new iter helper.") {
		t.Fatalf("newsletter snippet %q", n.Snippet)
	}
	inl := get("inline", "full")
	if inl.Payload.MimeType != "multipart/related" || inl.Payload.Parts[1].Body.AttachmentId == "" || hdr(inl.Payload.Parts[1], "Content-ID") != "<logo@acme>" {
		t.Fatalf("inline image: %+v", inl.Payload.Parts[1])
	}
	// Threads: Message-ID, In-Reply-To and References, one threadId.
	p3 := get("phoenix-3", "metadata")
	if p3.ThreadId != a.fx.Threads["phoenix"] || p3.ThreadId != a.fx.Messages["phoenix-1"] || hdr(p3.Payload, "In-Reply-To") != "<phoenix-2.CAA@mail.gmail.com>" {
		t.Fatalf("thread: %s %+v", p3.ThreadId, p3.Payload.Headers)
	}
	if len(get("long", "full").Payload.Body.Data) < 40000 {
		t.Fatal("long body")
	}

	// Errors.
	_, err = svc.Users.Messages.Get("me", "ffffffffffffffff").Do()
	ge := wantAPIError(t, err, 404, "notFound", "Requested entity was not found.")
	if !strings.Contains(string(ge.Body), `"domain":"global"`) || !strings.Contains(string(ge.Body), `"status":"NOT_FOUND"`) {
		t.Fatalf("%s", ge.Body)
	}
	_, err = svc.Users.Messages.Get("me", "not-an-id").Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid id value")
	_, err = svc.Users.Messages.Get(FixtureBob, a.fx.Messages["report"]).Do()
	wantAPIError(t, err, 403, "forbidden", "Delegation denied")
	if _, err := svc.Users.Messages.Get(alice, a.fx.Messages["report"]).Format("minimal").Do(); err != nil {
		t.Fatalf("userId as the email: %v", err)
	}
	_, err = svc.Users.Messages.Get("me", a.fx.Messages["report"]).Format("FULLER").Do()
	wantAPIError(t, err, 400, "invalid", "Invalid value at 'format'")

	labels, err := svc.Users.Labels.List("me").Do()
	if err != nil || len(labels.Labels) != len(systemLabels)+2 {
		t.Fatalf("labels: %v %d", err, len(labels.Labels))
	}
	work, err := svc.Users.Labels.Get("me", "Label_1").Do()
	if err != nil || work.Name != "Work" || work.Type != "user" || work.MessagesTotal != 2 || work.MessagesUnread != 1 {
		t.Fatalf("label: %v %+v", err, work)
	}
}

// rawMessage is a small message from alice.
func rawMessage(to, subject string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Alice <alice@example.com>\r\nTo: %s\r\nSubject: %s\r\n", to, subject)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello.\r\n")
	return []byte(b.String())
}

func TestGmailSend(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailSendScope, gmailRead)
	bobBox := a.s.AddMessage(FixtureBob, []byte("From: x@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nhi\r\n")) // gives bob a mailbox
	raw := rawMessage("Bob <bob@example.com>", "Hello Bob")
	sent, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw)}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if sent.Id == "" || sent.ThreadId != sent.Id || !slices.Equal(sent.LabelIds, []string{"SENT"}) {
		t.Fatalf("sent %+v", sent)
	}
	if got := a.s.SentMessages(alice); len(got) != 1 || !bytes.Equal(got[0], raw) {
		t.Fatalf("SentMessages %q", got)
	}
	stored, err := svc.Users.Messages.Get("me", sent.Id).Format("metadata").Do()
	if err != nil || hdr(stored.Payload, "Message-ID") == "" || hdr(stored.Payload, "Date") == "" {
		t.Fatalf("stored: %v %+v", err, stored)
	}
	a.s.api.mu.Lock()
	bobs := slices.Clone(a.s.api.mail[FixtureBob].order)
	a.s.api.mu.Unlock()
	if len(bobs) != 2 || bobs[1].subject != "Hello Bob" || bobs[0].id != bobBox || !slices.Equal(bobs[1].labels, []string{"INBOX", "UNREAD"}) {
		t.Fatalf("bob's mailbox: %d", len(bobs))
	}

	// Gmail replaces a From that is not the user's.
	forged := rawMessage("bob@example.com", "Forged", "X-Note: test")
	forged = bytes.Replace(forged, []byte("From: Alice <alice@example.com>"), []byte("From: Mallory <mallory@example.com>"), 1)
	fm, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.RawStdEncoding.EncodeToString(forged)}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Users.Messages.Get("me", fm.Id).Format("metadata").MetadataHeaders("From").Do(); hdr(got.Payload, "From") != `"Mallory" <alice@example.com>` {
		t.Fatalf("From %q", hdr(got.Payload, "From"))
	}

	// Replies join the thread only with threadId, references and subject.
	reply := func(subject, inReplyTo, threadID string) *gmail.Message {
		t.Helper()
		r := rawMessage("bob@example.com", subject, "In-Reply-To: "+inReplyTo, "References: <phoenix-1.CAB@mail.example.com> "+inReplyTo)
		m, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(r), ThreadId: threadID}).Do()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	phoenix := a.fx.Threads["phoenix"]
	if m := reply("Re: Project Phoenix kickoff", "<phoenix-3.CAC@mail.example.com>", phoenix); m.ThreadId != phoenix {
		t.Fatalf("reply thread %s, want %s", m.ThreadId, phoenix)
	}
	if m := reply("Something else", "<phoenix-3.CAC@mail.example.com>", phoenix); m.ThreadId == phoenix {
		t.Fatal("a different subject joined the thread")
	}
	if m := reply("Re: Project Phoenix kickoff", "<phoenix-3.CAC@mail.example.com>", ""); m.ThreadId == phoenix {
		t.Fatal("no threadId joined the thread")
	}
	_, err = svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw), ThreadId: "abcdef0123456789"}).Do()
	wantAPIError(t, err, 404, "notFound", "")

	// Errors.
	for _, tc := range []struct {
		raw, msg string
	}{
		{"", "'raw' RFC822 payload message string or uploading message via /upload/* URL required"},
		{base64.URLEncoding.EncodeToString([]byte("From: alice@example.com\r\nSubject: x\r\n\r\nno one\r\n")), "Recipient address required"},
		{base64.URLEncoding.EncodeToString([]byte("From: alice@example.com\r\nTo: <<bad\r\nSubject: x\r\n\r\nx\r\n")), "Invalid To header"},
		{"!!!not base64!!!", "Base64 decoding failed"},
	} {
		_, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: tc.raw}).Do()
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != 400 || !strings.Contains(ge.Message, tc.msg) {
			t.Errorf("raw %q: got %v, want 400 %s", tc.raw, err, tc.msg)
		}
	}
	// The JSON endpoint has a request-size limit; larger messages go
	// through /upload/.
	big := append(rawMessage("bob@example.com", "Big"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 4<<20/18)...)
	_, err = svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(big)}).Do()
	wantAPIError(t, err, 400, "badRequest", "Request payload size exceeds the limit: 5242880 bytes.")
	a.s.ResetAPIStats()
	up, err := svc.Users.Messages.Send("me", &gmail.Message{}).Media(bytes.NewReader(big), googleapi.ContentType("message/rfc822")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if a.s.APIRequests("/upload/gmail/v1/users/me/messages/send") != 1 {
		t.Fatalf("%d upload requests", a.s.APIRequests("/upload/"))
	}
	if got := a.s.SentMessages(alice); !bytes.Equal(got[len(got)-1], big) || up.Id == "" {
		t.Fatal("uploaded message differs")
	}

	// Scopes: read-only cannot send; send-only cannot read.
	_, err = a.gmail(gmailRead).Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw)}).Do()
	wantAPIError(t, err, 403, "insufficientPermissions", "insufficient authentication scopes")
	sendOnly := a.gmail(gmailSendScope)
	_, err = sendOnly.Users.Messages.List("me").Do()
	wantAPIError(t, err, 403, "insufficientPermissions", "")
	if _, err := sendOnly.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw)}).Do(); err != nil {
		t.Fatal(err)
	}
	// gmail.metadata: no search, no bodies.
	meta := a.gmail(gmailMetaScope)
	_, err = meta.Users.Messages.List("me").Q("is:unread").Do()
	wantAPIError(t, err, 403, "forbidden", "Metadata scope does not support 'q' parameter")
	_, err = meta.Users.Messages.Get("me", a.fx.Messages["report"]).Do()
	wantAPIError(t, err, 403, "forbidden", "Metadata scope doesn't allow format FULL")
	if _, err := meta.Users.Messages.Get("me", a.fx.Messages["report"]).Format("metadata").Do(); err != nil {
		t.Fatal(err)
	}
}

func TestGmailUploads(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailSendScope)
	raw := rawMessage("Carol <carol@example.com>", "Upload")

	// Media() with a message type: one multipart/related request.
	m, err := svc.Users.Messages.Send("me", &gmail.Message{ThreadId: ""}).Media(bytes.NewReader(raw), googleapi.ContentType("message/rfc822")).Do()
	if err != nil || m.Id == "" {
		t.Fatal(err)
	}
	// Media() without a content type sniffs text/plain: Gmail takes message/* only.
	_, err = svc.Users.Messages.Send("me", &gmail.Message{}).Media(bytes.NewReader(raw)).Do()
	wantAPIError(t, err, 400, "badContent", "Media type 'text/plain; charset=utf-8' is not supported. Valid media types: [message/*]")

	// Resumable: messages larger than the chunk size are sent in chunks.
	big := append(rawMessage("carol@example.com", "Chunked"), bytes.Repeat([]byte("x"), 700<<10)...)
	a.s.ResetAPIStats()
	m, err = svc.Users.Messages.Send("me", &gmail.Message{}).Media(bytes.NewReader(big), googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(256<<10)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if n := a.s.APIRequests("/upload/"); n != 4 { // session + 3 chunks
		t.Fatalf("%d upload requests", n)
	}
	if got := a.s.SentMessages(alice); !bytes.Equal(got[len(got)-1], big) {
		t.Fatal("resumable upload differs")
	}

	// uploadType=media, by hand.
	client := a.client(gmailSendScope)
	resp, err := client.Post(a.s.URL()+"/upload/gmail/v1/users/me/messages/send?uploadType=media", "message/rfc822", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	if resp.StatusCode != 200 || sent["id"] == "" {
		t.Fatalf("media upload: %d %v", resp.StatusCode, sent)
	}
	// Upload parameters on the wrong URL.
	resp, _ = client.Post(a.s.URL()+"/gmail/v1/users/me/messages/send?uploadType=media", "message/rfc822", bytes.NewReader(raw))
	if resp.StatusCode != 400 {
		t.Fatalf("uploadType on the metadata URL: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = client.Post(a.s.URL()+"/upload/gmail/v1/users/me/messages/send", "message/rfc822", bytes.NewReader(raw))
	if resp.StatusCode != 400 {
		t.Fatalf("no uploadType: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// Gmail's size limit (35 MB) on the upload endpoint: 413.
	huge := append(rawMessage("carol@example.com", "Huge"), bytes.Repeat([]byte("y"), GmailMaxMessageSize)...)
	_, err = svc.Users.Messages.Send("me", &gmail.Message{}).Media(bytes.NewReader(huge), googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(0)).Do()
	wantAPIError(t, err, 413, "uploadTooLarge", "")
	// A hand-made multipart/related upload, threadId in the metadata.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreatePart(map[string][]string{"Content-Type": {"application/json; charset=UTF-8"}})
	fmt.Fprintf(part, `{"threadId":%q}`, a.fx.Threads["lunch"])
	part, _ = mw.CreatePart(map[string][]string{"Content-Type": {"message/rfc822"}})
	part.Write(rawMessage("carol@example.com", "Re: Lunch on Friday?", "In-Reply-To: <lunch-1.CAC@mail.example.com>"))
	mw.Close()
	resp, err = client.Post(a.s.URL()+"/upload/gmail/v1/users/me/messages/send?uploadType=multipart",
		mime.FormatMediaType("multipart/related", map[string]string{"boundary": mw.Boundary()}), &body)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	if sent["threadId"] != a.fx.Threads["lunch"] {
		t.Fatalf("multipart with threadId: %d %v", resp.StatusCode, sent)
	}
}

func TestGmailDiscoveryChecks(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	_, err := svc.Users.Messages.List("me").Do(googleapi.QueryParameter("labelId", "INBOX"))
	ge := wantAPIError(t, err, 400, "invalid", `Invalid JSON payload received. Unknown name "labelId": Cannot bind query parameter. Field 'labelId' could not be found in request message.`)
	if !strings.Contains(string(ge.Body), "google.rpc.BadRequest") || !strings.Contains(string(ge.Body), `"status": "INVALID_ARGUMENT"`) &&
		!strings.Contains(string(ge.Body), `"status":"INVALID_ARGUMENT"`) {
		t.Fatalf("body %s", ge.Body)
	}
	_, err = svc.Users.Messages.List("me").Do(googleapi.QueryParameter("maxResults", "ten"))
	wantAPIError(t, err, 400, "invalid", `Invalid value at 'max_results' (TYPE_UINT32), "ten"`)
	_, err = svc.Users.Messages.List("me").Do(googleapi.QueryParameter("includeSpamTrash", "yes"))
	wantAPIError(t, err, 400, "invalid", "TYPE_BOOL")
	// Standard parameters are fine, and fields gives a partial answer.
	r, err := svc.Users.Messages.List("me").MaxResults(3).Fields("messages/id", "nextPageToken").Do(googleapi.QuotaUser("u1"))
	if err != nil || len(r.Messages) != 3 || r.Messages[0].ThreadId != "" || r.NextPageToken == "" || r.ResultSizeEstimate != 0 {
		t.Fatalf("partial answer: %v %+v", err, r)
	}
	// A JSON body with a field the schema lacks.
	client := a.client(gmailSendScope)
	resp, err := client.Post(a.s.URL()+"/gmail/v1/users/me/messages/send", "application/json",
		strings.NewReader(`{"raw":"`+base64.URLEncoding.EncodeToString(rawMessage("bob@example.com", "x"))+`","thread_id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `Unknown name \"thread_id\": Cannot find field.`) {
		t.Fatalf("unknown body field: %d %s", resp.StatusCode, b)
	}
	// Unknown paths get Google's HTML 404.
	resp, _ = client.Get(a.s.URL() + "/gmail/v1/users/me/nothing")
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// CheckDiscovery compares the fake's routes with the documents.
	gmailDoc, _, _ := DiscoveryDocs()
	raw, _ := os.ReadFile(gmailDoc)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	get := doc["resources"].(map[string]any)["users"].(map[string]any)["resources"].(map[string]any)["messages"].(map[string]any)["methods"].(map[string]any)["get"].(map[string]any)
	get["path"] = "gmail/v1/users/{userId}/msgs/{id}"
	bad, _ := json.Marshal(doc)
	p := filepath.Join(t.TempDir(), "gmail.json")
	os.WriteFile(p, bad, 0o600)
	if err := New(Options{}).CheckDiscovery(p, ""); err == nil || !strings.Contains(err.Error(), "gmail.users.messages.get") {
		t.Fatalf("doctored document: %v", err)
	}
}

func TestAPIFailuresLatencyAndCounts(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	a.s.ResetAPIStats()
	a.s.FailAPI("/gmail/v1/users/me/messages", 2, 429, "rateLimitExceeded", 1500*time.Millisecond)
	a.s.FailAPI("/calendar/", 1, 403, "userRateLimitExceeded", 0)
	a.s.FailAPI("/gmail/v1/users/me/labels", 1, 503, "backendError", time.Second)
	for range 2 {
		_, err := svc.Users.Messages.List("me").Do()
		ge := wantAPIError(t, err, 429, "rateLimitExceeded", "Rate Limit Exceeded")
		if ge.Header.Get("Retry-After") != "2" || !strings.Contains(string(ge.Body), "RESOURCE_EXHAUSTED") {
			t.Fatalf("Retry-After %q body %s", ge.Header.Get("Retry-After"), ge.Body)
		}
	}
	if _, err := svc.Users.Messages.List("me").Do(); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Users.Labels.List("me").Do()
	wantAPIError(t, err, 503, "backendError", "The service is currently unavailable.")
	_, err = a.calendar(calRead).CalendarList.List().Do()
	wantAPIError(t, err, 403, "userRateLimitExceeded", "User Rate Limit Exceeded")
	if n := a.s.APIRequests("/gmail/v1/users/me/messages"); n != 3 {
		t.Fatalf("%d message requests", n)
	}

	// Latency: 20 metadata gets, 10 at a time, take about two latencies.
	list, err := svc.Users.Messages.List("me").MaxResults(20).Do()
	if err != nil {
		t.Fatal(err)
	}
	a.s.ResetAPIStats()
	a.s.SetAPILatency(50 * time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	errs := make(chan error, len(list.Messages))
	for _, m := range list.Messages {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := svc.Users.Messages.Get("me", m.Id).Format("metadata").MetadataHeaders("From", "Subject", "Date").Do()
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	if got := a.s.MaxConcurrentAPI(); got < 5 || got > 10 || took < 100*time.Millisecond || a.s.APIRequests("/gmail/") != 20 {
		t.Fatalf("max concurrency %d, took %v, %d requests", got, took, a.s.APIRequests("/gmail/"))
	}
	a.s.SetAPILatency(0)

	// Expired token: 401 with Google's body and WWW-Authenticate.
	cfg := *a.cfg
	cfg.Scopes = []string{gmailRead}
	tok := connect(t, a.s, &cfg)
	a.s.ExpireAccessTokens()
	stale, _ := gmail.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/"),
		option.WithHTTPClient(oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))))
	_, err = stale.Users.Messages.List("me").Do()
	ge := wantAPIError(t, err, 401, "authError", "Request had invalid authentication credentials.")
	if ge.Header.Get("WWW-Authenticate") == "" || ge.Errors[0].Message != "Invalid Credentials" {
		t.Fatalf("401: %+v %v", ge.Errors, ge.Header)
	}
}

func TestGmailAddMessage(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	id := s.AddMessage("x@example.com", []byte("Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <a@x>\r\nFrom: y@example.com\r\nTo: x@example.com\r\nSubject: Hi\r\n\r\nbody\r\n"))
	reply := s.AddMessage("x@example.com", []byte("Date: Mon, 2 Mar 2026 11:00:00 +0000\r\nIn-Reply-To: <a@x>\r\nFrom: x@example.com\r\nTo: y@example.com\r\nSubject: RE: hi\r\n\r\nbody\r\n"), "SENT", "Projects/Phoenix")
	s.api.mu.Lock()
	mb := s.api.mail["x@example.com"]
	m, r := mb.msgs[id], mb.msgs[reply]
	labelName := mb.labels[0].name
	s.api.mu.Unlock()
	if r.threadID != id || !slices.Equal(m.labels, []string{"INBOX", "UNREAD"}) || !slices.Equal(r.labels, []string{"SENT", "Label_1"}) ||
		labelName != "Projects/Phoenix" || strconv.FormatInt(m.date.Unix(), 10) != "1772445600" {
		t.Fatalf("%+v %+v %s", m, r, labelName)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AddMessage took garbage")
		}
	}()
	s.AddMessage("x@example.com", []byte("not a message"))
}
