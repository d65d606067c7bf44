package google

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

var allScopes = []string{"openid", "email", gmail.GmailReadonlyScope, gmail.GmailSendScope, calendar.CalendarScope}

// fake starts a fake Google with discovery checking on and alice and bob as
// users; alice is the default one.
func fake(t testing.TB) *googletest.Server {
	t.Helper()
	s := googletest.New(googletest.Options{})
	t.Cleanup(s.Close)
	s.AddUser(alice)
	s.AddUser(bob)
	s.VerifyDiscovery(t)
	return s
}

// connect gets a token for login through the fake's OAuth flow.
func connect(t testing.TB, s *googletest.Server, login string, scopes ...string) *oauth2.Token {
	t.Helper()
	tok, err := s.Token(context.Background(), login, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func provider(t testing.TB, s *googletest.Server) *API {
	t.Helper()
	p, err := New(Options{APIURL: s.URL(), UserinfoURL: s.URL() + "/v1/userinfo"})
	if err != nil {
		t.Fatal(err)
	}
	p.backoff = func(n int) time.Duration { return time.Duration(n) * 5 * time.Millisecond }
	return p
}

// mustMail and mustCalendar make an account's clients for a fixed token.
func mustMail(t testing.TB, p *API, tok *oauth2.Token, account string) providers.Mail {
	t.Helper()
	m, err := p.Mail(providers.StaticSource(tok), account)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustCalendar(t testing.TB, p *API, tok *oauth2.Token) providers.Calendar {
	t.Helper()
	c, err := p.Calendar(providers.StaticSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rawMsg(headers map[string]string, body string) []byte {
	var b bytes.Buffer
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, headers[k])
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return b.Bytes()
}

func date(i int) string {
	return time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour).Format(time.RFC1123Z)
}

// Realistic messages.
var (
	plainMsg = rawMsg(map[string]string{
		"From": "Bob <bob@example.com>", "To": alice, "Subject": "Lunch?", "Date": date(1),
		"Message-ID": "<lunch@example.com>", "Content-Type": "text/plain; charset=utf-8",
	}, "Shall we have lunch? It's on me.\n")
	alternativeMsg = rawMsg(map[string]string{
		"From": "=?UTF-8?Q?Ren=C3=A9e_Dupr=C3=A9?= <renee@example.fr>", "To": alice,
		"Subject": "=?UTF-8?B?UsOpdW5pb24gZGUgbCfDqXF1aXBl?=", "Date": date(2), "Message-ID": "<alt@example.fr>",
		"MIME-Version": "1.0", "Content-Type": `multipart/alternative; boundary="b1"`,
	}, "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nR=C3=A9union =C3=A0 10h.\n--b1\nContent-Type: text/html; charset=utf-8\n\n<p>R&eacute;union <b>&agrave; 10h</b>.</p>\n--b1--\n")
	htmlOnlyMsg = rawMsg(map[string]string{
		"From": "news@example.com", "To": alice, "Subject": "Newsletter", "Date": date(3), "Message-ID": "<news@example.com>",
		"MIME-Version": "1.0", "Content-Type": "text/html; charset=iso-8859-1", "Content-Transfer-Encoding": "quoted-printable",
	}, "<html><head><style>p{color:red}</style></head><body><h1>Caf=E9 news</h1><p>Read <a href=3D\"https://example.com/x\">this</a>.</p></body></html>\n")
	attachmentMsg = rawMsg(map[string]string{
		"From": "carol@example.com", "To": alice, "Subject": "Report", "Date": date(4), "Message-ID": "<report@example.com>",
		"MIME-Version": "1.0", "Content-Type": `multipart/mixed; boundary="m1"`,
	}, "--m1\nContent-Type: text/plain; charset=utf-8\n\nThe report is attached.\n--m1\nContent-Type: application/pdf; name=\"q3.pdf\"\nContent-Disposition: attachment; filename=\"q3.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK\n--m1--\n")
	threadMsg = rawMsg(map[string]string{
		"From": "Bob <bob@example.com>", "To": alice, "Subject": "Re: Plans", "Date": date(5),
		"Message-ID": "<plans-2@example.com>", "In-Reply-To": "<plans-1@example.com>", "References": "<plans-1@example.com>",
		"Content-Type": "text/plain; charset=utf-8",
	}, "Saturday works.\n")
)

type mailFixture struct {
	plain, alternative, htmlOnly, attachment, thread string
}

func addMail(s *googletest.Server) mailFixture {
	return mailFixture{
		plain:       s.AddMessage(alice, plainMsg),
		alternative: s.AddMessage(alice, alternativeMsg, "INBOX"),
		htmlOnly:    s.AddMessage(alice, htmlOnlyMsg, "INBOX", "UNREAD", "CATEGORY_PROMOTIONS", "Newsletters"),
		attachment:  s.AddMessage(alice, attachmentMsg, "INBOX", "Work"),
		thread:      s.AddMessage(alice, threadMsg, "INBOX", "Work"),
	}
}

func TestListMessages(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()

	// The first listing learns the mailbox's labels (one labels.list,
	// kept for labelTTL and shared by the account's calls).
	if _, err := mb.List(ctx, providers.MessageQuery{MaxResults: 1}); err != nil {
		t.Fatal(err)
	}
	if n := s.APIRequests("/gmail/v1/users/me/labels"); n != 1 {
		t.Fatalf("%d labels.list calls for the first listing, want 1", n)
	}
	s.SetAPILatency(20 * time.Millisecond)
	s.ResetAPIStats()
	page, err := mb.List(ctx, providers.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetAPILatency(0)
	var ids []string
	for _, m := range page.Messages {
		ids = append(ids, m.ID)
	}
	if want := []string{fx.thread, fx.attachment, fx.htmlOnly, fx.alternative, fx.plain}; !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want newest first %v", ids, want)
	}
	if n, g := s.APIRequests("/gmail/v1/users/me/messages"), s.APIRequests("/gmail/v1/users/me/messages/"); n != 6 || g != 5 {
		t.Fatalf("%d calls (%d gets), want 1 list + 5 gets", n, g)
	}
	if trips, batches := s.HTTPRequests("/"), s.HTTPRequests("/batch/gmail/v1"); trips != 2 || batches != 1 {
		t.Fatalf("%d round trips (%d batches), want the list and one batch of the gets", trips, batches)
	}

	byID := map[string]providers.MessageSummary{}
	for _, m := range page.Messages {
		byID[m.ID] = m
	}
	p := byID[fx.plain]
	if p.From != "Bob <bob@example.com>" || p.To != alice || p.Subject != "Lunch?" || !p.Unread || p.HasAttachments ||
		!strings.Contains(p.Snippet, "It's on me") || p.Date.UTC().Format(time.RFC3339) != "2026-10-01T10:00:00Z" || p.ThreadID == "" {
		t.Fatalf("plain %+v", p)
	}
	a := byID[fx.alternative]
	if a.From != "Renée Dupré <renee@example.fr>" || a.Subject != "Réunion de l'équipe" || a.Unread || a.HasAttachments {
		t.Fatalf("alternative %+v", a)
	}
	if at := byID[fx.attachment]; !at.HasAttachments || !slices.Contains(at.Labels, "INBOX") || !slices.Contains(at.Labels, "Work") ||
		slices.ContainsFunc(at.Labels, func(l string) bool { return strings.HasPrefix(l, "Label_") }) {
		t.Fatalf("attachment %+v", at)
	}

	// Label names: system labels in any case, user labels by name.
	for label, want := range map[string][]string{
		"work":                {fx.thread, fx.attachment},
		"Newsletters":         {fx.htmlOnly},
		"category_promotions": {fx.htmlOnly},
		"INBOX":               {fx.thread, fx.attachment, fx.htmlOnly, fx.alternative, fx.plain},
	} {
		page, err := mb.List(ctx, providers.MessageQuery{Label: label})
		if err != nil {
			t.Fatal(label, err)
		}
		var got []string
		for _, m := range page.Messages {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("label %s: %v, want %v", label, got, want)
		}
	}
	_, err = mb.List(ctx, providers.MessageQuery{Label: "Nope"})
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, `label "Nope"`) || !strings.Contains(pe.Message, "Newsletters") {
		t.Fatalf("%v", pe)
	}

	// Query and unread_only.
	page, err = mb.List(ctx, providers.MessageQuery{Query: "from:bob"})
	if err != nil || len(page.Messages) != 2 {
		t.Fatalf("%v %+v", err, page)
	}
	page, err = mb.List(ctx, providers.MessageQuery{Query: "from:bob", UnreadOnly: true})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != fx.plain {
		t.Fatalf("%v %+v", err, page)
	}
	page, err = mb.List(ctx, providers.MessageQuery{Query: "lunch", UnreadOnly: true, Label: "INBOX"})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != fx.plain {
		t.Fatalf("%v %+v", err, page)
	}

	// A message gone between list and get is left out.
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.htmlOnly, 1, 404, "notFound", 0)
	page, err = mb.List(ctx, providers.MessageQuery{})
	if err != nil || len(page.Messages) != 4 || slices.ContainsFunc(page.Messages, func(m providers.MessageSummary) bool { return m.ID == fx.htmlOnly }) {
		t.Fatalf("%v %+v", err, page)
	}
}

func TestListPagination(t *testing.T) {
	s := fake(t)
	for i := range 25 {
		s.AddMessage(alice, rawMsg(map[string]string{"From": bob, "To": alice, "Subject": fmt.Sprintf("n%02d", i), "Date": date(i)}, "x\n"))
	}
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	seen := map[string]bool{}
	tok := ""
	var sizes []int
	s.ResetAPIStats()
	for range 5 {
		page, err := mb.List(context.Background(), providers.MessageQuery{MaxResults: 10, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Messages))
		for _, m := range page.Messages {
			if seen[m.ID] {
				t.Fatalf("%s twice", m.ID)
			}
			seen[m.ID] = true
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) || len(seen) != 25 {
		t.Fatalf("pages %v, %d messages", sizes, len(seen))
	}
	if n := s.APIRequests("/gmail/v1/"); n != 3+25 {
		t.Fatalf("%d requests", n)
	}
	// More than 100 is capped.
	page, err := mb.List(context.Background(), providers.MessageQuery{MaxResults: 1000})
	if err != nil || len(page.Messages) != 25 {
		t.Fatalf("%v %d", err, len(page.Messages))
	}
	_, err = mb.List(context.Background(), providers.MessageQuery{PageToken: "garbage"})
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "page_token" {
		t.Fatalf("a page token Gmail did not issue: %v, want a page_token FieldError", err)
	}
}

func TestGetMessage(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()

	m, err := mb.Get(ctx, fx.alternative)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(m.BodyText) != "Réunion à 10h." || m.BodyFromHTML || m.Subject != "Réunion de l'équipe" ||
		m.From != "Renée Dupré <renee@example.fr>" || m.MessageID != "<alt@example.fr>" || len(m.Attachments) != 0 {
		t.Fatalf("alternative %+v", m)
	}

	m, err = mb.Get(ctx, fx.htmlOnly)
	if err != nil {
		t.Fatal(err)
	}
	if !m.BodyFromHTML || !strings.Contains(m.BodyText, "Café news") || strings.Contains(m.BodyText, "<") || strings.Contains(m.BodyText, "color:red") {
		t.Fatalf("html-only %q", m.BodyText)
	}

	m, err = mb.Get(ctx, fx.attachment)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || !m.HasAttachments || strings.TrimSpace(m.BodyText) != "The report is attached." {
		t.Fatalf("attachment %+v", m)
	}
	if at := m.Attachments[0]; at.Filename != "q3.pdf" || at.MIMEType != "application/pdf" || at.Size != 54 || at.ID == "" {
		t.Fatalf("attachment %+v", at)
	}

	m, err = mb.Get(ctx, fx.plain)
	if err != nil || m.ReplyTo != "" || m.Cc != "" || !strings.HasPrefix(m.BodyText, "Shall we have lunch? It's on me.") {
		t.Fatalf("%v %+v", err, m)
	}

	_, err = mb.Get(ctx, "00000000deadbeef")
	wantKind(t, err, providers.ErrNotFound)
	_, err = mb.Get(ctx, "not-an-id")
	wantKind(t, err, providers.ErrInvalid)
}

// sentOne returns the only message alice sent, parsed.
func sentLast(t *testing.T, s *googletest.Server) *mail.Message {
	t.Helper()
	sent := s.SentMessages(alice)
	if len(sent) == 0 {
		t.Fatal("nothing sent")
	}
	m, err := mail.ReadMessage(bytes.NewReader(sent[len(sent)-1]))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSend(t *testing.T) {
	s := fake(t)
	addMail(s)
	p := provider(t, s)
	tok := connect(t, s, alice, allScopes...)
	mb := mustMail(t, p, tok, alice)
	ctx := context.Background()
	bobMail := mustMail(t, p, connect(t, s, bob, allScopes...), bob)
	if _, err := bobMail.List(ctx, providers.MessageQuery{}); err != nil { // creates bob's mailbox in the fake
		t.Fatal(err)
	}

	sent, err := mb.Send(ctx, providers.OutgoingMessage{
		To: []providers.Address{{Name: "Bob", Email: bob}}, Cc: []providers.Address{{Email: "carol@example.com"}},
		Subject: "Café ☕", Text: "Hello Bob,\nsee you.", HTML: "<p>Hello Bob</p>",
	})
	if err != nil || sent.ID == "" || sent.ThreadID == "" {
		t.Fatalf("%v %+v", err, sent)
	}
	m := sentLast(t, s)
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	if subj != "Café ☕" || m.Header.Get("From") != alice || !strings.Contains(m.Header.Get("To"), bob) || m.Header.Get("In-Reply-To") != "" {
		t.Fatalf("sent %v", m.Header)
	}
	if n := s.APIRequests("/upload/"); n != 0 {
		t.Fatalf("%d uploads for a small message", n)
	}

	// Bob's copy arrived.
	page, err := bobMail.List(ctx, providers.MessageQuery{Query: "from:alice"})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].Subject != "Café ☕" {
		t.Fatalf("%v %+v", err, page)
	}
}

func TestSendReply(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()
	orig, err := mb.Get(ctx, fx.thread)
	if err != nil {
		t.Fatal(err)
	}

	sent, err := mb.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Text: "Great.", ReplyTo: fx.thread})
	if err != nil {
		t.Fatal(err)
	}
	m := sentLast(t, s)
	if m.Header.Get("In-Reply-To") != "<plans-2@example.com>" || m.Header.Get("References") != "<plans-1@example.com> <plans-2@example.com>" ||
		m.Header.Get("Subject") != "Re: Plans" {
		t.Fatalf("reply headers %v", m.Header)
	}
	if sent.ThreadID != orig.ThreadID {
		t.Fatalf("reply in thread %s, original in %s", sent.ThreadID, orig.ThreadID)
	}

	// A reply's subject is the original's with one Re:, whatever the
	// caller's spelling of it; another subject would leave the thread.
	if _, err := mb.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "RE:  lunch?", Text: "x", ReplyTo: fx.plain}); err != nil {
		t.Fatal(err)
	}
	if m := sentLast(t, s); m.Header.Get("Subject") != "Re: Lunch?" || m.Header.Get("References") != "<lunch@example.com>" {
		t.Fatalf("reply headers %v", m.Header)
	}
	before := len(s.SentMessages(alice))
	_, err = mb.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "Plans", Text: "x", ReplyTo: fx.plain})
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "subject" || !strings.Contains(fe.Msg, `"Re: Lunch?"`) {
		t.Fatalf("a reply with another subject: %v, want a subject error naming the original's", err)
	}
	if len(s.SentMessages(alice)) != before {
		t.Fatal("a reply with another subject was sent")
	}

	n := len(s.SentMessages(alice))
	_, err = mb.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Text: "x", ReplyTo: "00000000deadbeef"})
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, "reply_to_message_id") {
		t.Fatalf("%v", pe)
	}
	if len(s.SentMessages(alice)) != n {
		t.Fatal("sent a reply to a missing message")
	}
}

func TestSendLarge(t *testing.T) {
	s := fake(t)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16) // 6 MB: 8 MB in base64
	s.ResetAPIStats()
	_, err := mb.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "big", Text: "see attached",
		Attachments: []providers.Attachment{{Filename: "big.bin", MIMEType: "application/octet-stream", Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	if n, u := s.APIRequests("/"), s.APIRequests("/upload/gmail/v1/users/me/messages/send"); n != 1 || u != 1 {
		t.Fatalf("%d requests, %d uploads", n, u)
	}
	m := sentLast(t, s)
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	mr := multipart.NewReader(m.Body, params["boundary"])
	var got []byte
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		if part.FileName() == "big.bin" {
			got, _ = io.ReadAll(part) // multipart decodes no base64: do it
		}
	}
	if len(got) < len(data) {
		t.Fatalf("attachment part %d bytes", len(got))
	}

	// Over Gmail's limit: refused before any request.
	s.ResetAPIStats()
	_, err = mb.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "huge", Text: "x",
		Attachments: []providers.Attachment{{Filename: "huge.bin", Data: make([]byte, 30<<20)}}})
	if pe := wantKind(t, err, providers.ErrTooLarge); !strings.Contains(pe.Message, "MB") {
		t.Fatalf("%v", pe)
	}
	if n := s.APIRequests("/"); n != 0 {
		t.Fatalf("%d requests for a message too large", n)
	}
}

func TestSendRetries(t *testing.T) {
	s := fake(t)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()
	msg := providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "s", Text: "t"}

	// 429 with Retry-After, then a 403 rate limit: retried, sent once.
	s.FailAPI("/gmail/v1/users/me/messages/send", 1, 429, "rateLimitExceeded", time.Second)
	s.FailAPI("/gmail/v1/users/me/messages/send", 1, 403, "userRateLimitExceeded", 0)
	start := time.Now()
	if _, err := mb.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("sent after %v, Retry-After said 1s", d)
	}
	if n, sent := s.APIRequests("/gmail/v1/users/me/messages/send"), len(s.SentMessages(alice)); n != 3 || sent != 1 {
		t.Fatalf("%d requests, %d sent", n, sent)
	}

	// 503: not retried, uncertain.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages/send", 1, 503, "backendError", 0)
	_, err := mb.Send(ctx, msg)
	if pe := wantKind(t, err, providers.ErrUncertain); !strings.Contains(pe.Message, "Sent folder") || pe.Status != 503 {
		t.Fatalf("%+v", pe)
	}
	if n := s.APIRequests("/gmail/v1/users/me/messages/send"); n != 1 {
		t.Fatalf("%d requests", n)
	}

	// Rate limited for longer than the budget: ErrRateLimited, not sent.
	s.FailAPI("/gmail/v1/users/me/messages/send", 1, 429, "rateLimitExceeded", time.Minute)
	_, err = mb.Send(ctx, msg)
	if pe := wantKind(t, err, providers.ErrRateLimited); pe.RetryAfter != time.Minute {
		t.Fatalf("%+v", pe)
	}
}

func TestReadRetries(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()

	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 429, "rateLimitExceeded", time.Second)
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 503, "backendError", 0)
	s.FailAPI("/gmail/v1/users/me/messages/"+fx.plain, 1, 500, "internalError", 0)
	if _, err := mb.Get(ctx, fx.plain); err != nil {
		t.Fatal(err)
	}
	s.FailAPI("/gmail/v1/users/me/messages", 1, 403, "rateLimitExceeded", 0)
	if page, err := mb.List(ctx, providers.MessageQuery{}); err != nil || len(page.Messages) != 5 {
		t.Fatalf("%v %+v", err, page)
	}
	// A daily limit is not waited for.
	s.ResetAPIStats()
	s.FailAPI("/gmail/v1/users/me/messages", 1, 403, "dailyLimitExceeded", 0)
	_, err := mb.List(ctx, providers.MessageQuery{})
	wantKind(t, err, providers.ErrRateLimited)
	if n := s.APIRequests("/"); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

func TestAuthErrors(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	p := provider(t, s)
	tok := connect(t, s, alice, allScopes...)
	ctx := context.Background()

	// Send-only: reading is forbidden, with the scopes named.
	sendOnly := mustMail(t, p, connect(t, s, alice, gmail.GmailSendScope), alice)
	_, err := sendOnly.Get(ctx, fx.plain)
	if pe := wantKind(t, err, providers.ErrForbidden); !strings.Contains(pe.Message, gmail.GmailReadonlyScope) {
		t.Fatalf("%v", pe)
	}
	if _, err := sendOnly.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	readOnly := mustMail(t, p, connect(t, s, alice, gmail.GmailReadonlyScope), alice)
	_, err = readOnly.Send(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "s", Text: "t"})
	if pe := wantKind(t, err, providers.ErrForbidden); !strings.Contains(pe.Message, gmail.GmailSendScope) {
		t.Fatalf("%v", pe)
	}
	_, err = mustCalendar(t, p, connect(t, s, alice, gmail.GmailReadonlyScope)).ListCalendars(ctx)
	wantKind(t, err, providers.ErrForbidden)

	// An expired token: 401, not retried.
	s.ExpireAccessTokens()
	s.ResetAPIStats()
	_, err = mustMail(t, p, tok, alice).List(ctx, providers.MessageQuery{})
	wantKind(t, err, providers.ErrUnauthorized)
	_, err = mustCalendar(t, p, tok).ListCalendars(ctx)
	wantKind(t, err, providers.ErrUnauthorized)
	if n := s.APIRequests("/"); n != 2 {
		t.Fatalf("%d requests", n)
	}
	for _, sec := range s.Secrets() {
		if len(sec) > 8 && strings.Contains(err.Error(), sec) {
			t.Fatal("the error names a secret")
		}
	}
}

// TestSendFromIsTheAccount: sent mail is from the account the mailbox was
// made for.
func TestSendFromIsTheAccount(t *testing.T) {
	s := fake(t)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	if _, err := mb.Send(context.Background(), providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if m := sentLast(t, s); m.Header.Get("From") != alice {
		t.Fatalf("From %q, want %s", m.Header.Get("From"), alice)
	}
}

// BenchmarkListMessages20 lists 20 messages while the fake adds 50 ms to
// every request; latency-multiples is the wall time of one List over 50 ms
// (1 list + concurrent gets: about 2; the target is at most 3).
func BenchmarkListMessages20(b *testing.B) {
	s := fake(b)
	for i := range 30 {
		s.AddMessage(alice, rawMsg(map[string]string{"From": "Bob <bob@example.com>", "To": alice, "Subject": fmt.Sprintf("Message %d", i), "Date": date(i)},
			"Some text that makes a snippet, as in real mail.\n"))
	}
	mb := mustMail(b, provider(b, s), connect(b, s, alice, allScopes...), alice)
	const latency = 50 * time.Millisecond
	s.SetAPILatency(latency)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		page, err := mb.List(ctx, providers.MessageQuery{MaxResults: 20})
		if err != nil || len(page.Messages) != 20 {
			b.Fatal(err, len(page.Messages))
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start))/float64(n)/float64(latency), "latency-multiples")
}
