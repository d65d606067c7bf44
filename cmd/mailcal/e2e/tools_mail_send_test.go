//go:build unix

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// ttSentMsg is a sent message parsed back: its header, and its leaves in
// order with their decoded content.
type ttSentMsg struct {
	header mail.Header
	raw    []byte
	parts  []ttPart
	tree   []string // content types, nested ones indented
}

type ttPart struct {
	contentType string
	params      map[string]string
	cte         string
	filename    string
	disposition string
	data        []byte // transfer-decoded
}

// lastSent returns what alice sent last, parsed with net/mail and
// mime/multipart.
func (e *ttEnv) lastSent(t *testing.T, wantCount int) ttSentMsg {
	t.Helper()
	sent := e.fg.SentMessages(alice)
	if len(sent) != wantCount {
		t.Fatalf("alice has sent %d messages, want %d", len(sent), wantCount)
	}
	return ttParseSent(t, sent[len(sent)-1])
}

func ttParseSent(t *testing.T, raw []byte) ttSentMsg {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the sent message does not parse with net/mail: %v\n%s", err, raw)
	}
	s := ttSentMsg{header: msg.Header, raw: raw}
	var walk func(h map[string][]string, body io.Reader, depth int)
	walk = func(h map[string][]string, body io.Reader, depth int) {
		get := func(k string) string {
			if v := h[k]; len(v) > 0 {
				return v[0]
			}
			return ""
		}
		ct := get("Content-Type")
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q does not parse: %v", ct, err)
		}
		s.tree = append(s.tree, strings.Repeat("  ", depth)+mt)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("multipart %s: %v", mt, err)
				}
				walk(p.Header, p, depth+1)
			}
			return
		}
		data, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		cte := strings.ToLower(get("Content-Transfer-Encoding"))
		switch cte {
		case "base64":
			data, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(data)))
		case "quoted-printable":
			data, err = io.ReadAll(quotedPrintableReader(data))
		case "", "7bit", "8bit":
		default:
			t.Errorf("part %s has Content-Transfer-Encoding %q", mt, cte)
		}
		if err != nil {
			t.Fatalf("decoding a %s part (%s): %v", mt, cte, err)
		}
		p := ttPart{contentType: mt, params: params, cte: cte, data: data, disposition: get("Content-Disposition")}
		if d, dp, err := mime.ParseMediaType(p.disposition); err == nil {
			p.disposition, p.filename = d, dp["filename"]
		}
		s.parts = append(s.parts, p)
	}
	walk(msg.Header, msg.Body, 0)
	return s
}

func (s ttSentMsg) part(contentType string) ttPart {
	for _, p := range s.parts {
		if p.contentType == contentType {
			return p
		}
	}
	return ttPart{}
}

func (s ttSentMsg) decoded(t *testing.T, name string) string {
	t.Helper()
	v, err := (&mime.WordDecoder{}).DecodeHeader(s.header.Get(name))
	if err != nil {
		t.Errorf("header %s %q does not decode: %v", name, s.header.Get(name), err)
	}
	return v
}

func (s ttSentMsg) addresses(t *testing.T, name string) []string {
	t.Helper()
	list, err := s.header.AddressList(name)
	if err != nil {
		t.Errorf("header %s %q does not parse: %v", name, s.header.Get(name), err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.String())
	}
	return out
}

// checkHeaderNames checks that the message's header has exactly these
// fields, each once, and only ASCII.
func (s ttSentMsg) checkHeaderNames(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for k, v := range s.header {
		got = append(got, k)
		if len(v) != 1 {
			t.Errorf("header %s appears %d times", k, len(v))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the sent message's header fields are %v, want exactly %v", got, want)
	}
	hdr, _, _ := bytes.Cut(s.raw, []byte("\r\n\r\n"))
	for i, c := range hdr {
		if c >= 0x80 {
			t.Errorf("the header holds a non-ASCII byte at %d: %q", i, hdr[max(0, i-20):min(len(hdr), i+20)])
			break
		}
	}
	if bytes.Contains(bytes.ReplaceAll(s.raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(s.raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Errorf("the sent message has a bare CR or LF")
	}
}

func quotedPrintableReader(b []byte) io.Reader {
	return quotedprintable.NewReader(bytes.NewReader(b))
}

// testSendNew: a new message with cc, bcc, a non-ASCII subject, an HTML
// alternative and attachments, parsed back from what reached Gmail.
func (e *ttEnv) testSendNew(t *testing.T) {
	before := len(e.fg.SentMessages(alice))
	pdf := make([]byte, 7000)
	rand.Read(pdf)
	subject := "Grüße aus Berlin – Angebot 2027 ✓ (Entwurf)"
	body := "Hallo Bob,\n\nanbei das Angebot für 2027.\nDie Zahlen sind vorläufig.\n\nViele Grüße\nAlice"
	html := "<p>Hallo Bob,</p><p>anbei das <b>Angebot</b> für 2027.</p>"
	var res ttSent
	r := e.ok(t, "send_email", map[string]any{
		"to":        []string{"Bob Builder <bob@example.com>"},
		"cc":        []string{"Carol Chen <carol@example.com>", googletest.FixtureDave},
		"bcc":       []string{"Zoë Secret <zoe@example.org>"},
		"subject":   subject,
		"body":      body,
		"html_body": html,
		"attachments": []any{
			map[string]any{"filename": "Angebot März.pdf", "content_base64": base64.StdEncoding.EncodeToString(pdf), "mime_type": "application/pdf"},
			map[string]any{"filename": "notes.txt", "content_base64": base64.StdEncoding.EncodeToString([]byte("line one\nline two\n"))},
		},
	}, &res)
	if res.ID == "" || res.ThreadID == "" || res.Account != alice || !strings.Contains(r.text(), res.ID) {
		t.Errorf("send_email result %+v, text %q", res, r.text())
	}
	s := e.lastSent(t, before+1)
	s.checkHeaderNames(t, "Date", "From", "To", "Cc", "Bcc", "Subject", "Message-Id", "Mime-Version", "Content-Type")
	if got := s.decoded(t, "Subject"); got != subject {
		t.Errorf("Subject decodes to %q, want %q", got, subject)
	}
	if raw := s.header.Get("Subject"); !strings.Contains(raw, "=?") {
		t.Errorf("Subject %q is not RFC 2047-encoded", raw)
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{"From", []string{"<" + alice + ">"}},
		{"To", []string{`"Bob Builder" <bob@example.com>`}},
		{"Cc", []string{`"Carol Chen" <carol@example.com>`, "<dave@example.com>"}},
		{"Bcc", []string{`=?utf-8?q?Zo=C3=AB_Secret?= <zoe@example.org>`}},
	} {
		if got := s.addresses(t, c.name); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if list, _ := s.header.AddressList("Bcc"); len(list) != 1 || list[0].Name != "Zoë Secret" {
		t.Errorf("Bcc name does not decode to Zoë Secret: %v", list)
	}
	if _, err := s.header.Date(); err != nil || !strings.HasSuffix(strings.TrimSpace(s.header.Get("Message-Id")), "@example.com>") {
		t.Errorf("Date %q, Message-ID %q", s.header.Get("Date"), s.header.Get("Message-Id"))
	}
	wantTree := []string{"multipart/mixed", "  multipart/alternative", "    text/plain", "    text/html", "  application/pdf", "  text/plain"}
	if !slices.Equal(s.tree, wantTree) {
		t.Errorf("MIME structure %q, want %q", s.tree, wantTree)
	}
	if len(s.parts) != 4 {
		t.Fatalf("%d leaf parts", len(s.parts))
	}
	plain, htmlPart, att1, att2 := s.parts[0], s.parts[1], s.parts[2], s.parts[3]
	for _, p := range []ttPart{plain, htmlPart} {
		if !strings.EqualFold(p.params["charset"], "utf-8") || p.cte != "quoted-printable" {
			t.Errorf("%s part: charset %q, transfer encoding %q; want utf-8, quoted-printable", p.contentType, p.params["charset"], p.cte)
		}
	}
	if got := strings.ReplaceAll(string(plain.data), "\r\n", "\n"); got != body {
		t.Errorf("text part %q, want %q", got, body)
	}
	if got := strings.ReplaceAll(string(htmlPart.data), "\r\n", "\n"); got != html {
		t.Errorf("html part %q, want %q", got, html)
	}
	if att1.filename != "Angebot März.pdf" || att1.disposition != "attachment" || att1.cte != "base64" || !bytes.Equal(att1.data, pdf) {
		t.Errorf("PDF attachment: filename %q disposition %q cte %q, %d bytes (equal %v)", att1.filename, att1.disposition, att1.cte, len(att1.data), bytes.Equal(att1.data, pdf))
	}
	if att2.filename != "notes.txt" || att2.cte != "base64" || string(att2.data) != "line one\nline two\n" {
		t.Errorf("text attachment: filename %q cte %q data %q", att2.filename, att2.cte, att2.data)
	}
	// Gmail has it, readable through get_message.
	var m ttMessage
	e.ok(t, "get_message", map[string]any{"id": res.ID}, &m)
	if m.Subject != subject || !slices.Contains(m.Labels, "SENT") || !strings.Contains(m.BodyText, "Die Zahlen sind vorläufig.") ||
		len(m.Attachments) != 2 || m.Attachments[0].Filename != "Angebot März.pdf" || m.Attachments[0].Size != int64(len(pdf)) {
		t.Errorf("get_message of the sent message: %+v", m)
	}
	if !strings.Contains(m.To, "bob@example.com") || !strings.Contains(m.Cc, "carol@example.com") {
		t.Errorf("get_message of the sent message: to %q cc %q", m.To, m.Cc)
	}
	// A plain message: text/plain alone.
	e.ok(t, "send_email", map[string]any{"to": []string{googletest.FixtureBob}, "subject": "Plain", "body": "Just text."}, &res)
	s = e.lastSent(t, before+2)
	if !slices.Equal(s.tree, []string{"text/plain"}) || string(s.parts[0].data) != "Just text." || s.header.Get("Subject") != "Plain" {
		t.Errorf("plain message: structure %q, body %q, subject %q", s.tree, s.parts[0].data, s.header.Get("Subject"))
	}
	s.checkHeaderNames(t, "Date", "From", "To", "Subject", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding")
}

// testSendReply: replies are threaded, with In-Reply-To, References and
// one "Re:".
func (e *ttEnv) testSendReply(t *testing.T) {
	before := len(e.fg.SentMessages(alice))
	for i, c := range []struct {
		key, subject     string
		wantSubject      string
		wantRefs         []string
		wantThread       string
		wantInReplyTo    string
		to               string
		wantBodyContains string
	}{
		{key: "phoenix-3", wantSubject: "Re: Project Phoenix kickoff", to: googletest.FixtureCarol,
			wantRefs:      []string{"<phoenix-1.CAB@mail.example.com>", "<phoenix-2.CAA@mail.gmail.com>", "<phoenix-3.CAC@mail.example.com>"},
			wantInReplyTo: "<phoenix-3.CAC@mail.example.com>", wantThread: e.f.Threads["phoenix"]},
		{key: "phoenix-1", subject: "Project Phoenix kickoff", wantSubject: "Re: Project Phoenix kickoff", to: googletest.FixtureBob,
			wantRefs:      []string{"<phoenix-1.CAB@mail.example.com>"},
			wantInReplyTo: "<phoenix-1.CAB@mail.example.com>", wantThread: e.f.Threads["phoenix"]},
		{key: "umlaut", wantSubject: "Re: Grüße aus München – Termin nächste Woche", to: "juergen.mueller@example.de",
			wantThread: e.f.Messages["umlaut"]},
	} {
		args := map[string]any{"to": []string{c.to}, "body": "Sounds good.", "reply_to_message_id": e.f.Messages[c.key]}
		if c.subject != "" {
			args["subject"] = c.subject
		}
		var res ttSent
		e.ok(t, "send_email", args, &res)
		s := e.lastSent(t, before+i+1)
		if got := s.decoded(t, "Subject"); got != c.wantSubject {
			t.Errorf("reply to %s: Subject %q, want %q", c.key, got, c.wantSubject)
		}
		if res.ThreadID != c.wantThread {
			t.Errorf("reply to %s: thread %q, want the original's %q (threadId not sent?)", c.key, res.ThreadID, c.wantThread)
		}
		if c.wantInReplyTo != "" {
			if got := s.header.Get("In-Reply-To"); got != c.wantInReplyTo {
				t.Errorf("reply to %s: In-Reply-To %q, want %q", c.key, got, c.wantInReplyTo)
			}
			if got := strings.Fields(s.header.Get("References")); !slices.Equal(got, c.wantRefs) {
				t.Errorf("reply to %s: References %q, want %q", c.key, got, c.wantRefs)
			}
		} else if s.header.Get("In-Reply-To") == "" || s.header.Get("References") != s.header.Get("In-Reply-To") {
			t.Errorf("reply to %s: In-Reply-To %q, References %q; want the original's Message-ID in both", c.key, s.header.Get("In-Reply-To"), s.header.Get("References"))
		}
		s.checkHeaderNames(t, "Date", "From", "To", "Subject", "Message-Id", "In-Reply-To", "References", "Mime-Version", "Content-Type", "Content-Transfer-Encoding")
	}
	// The thread now holds the replies.
	var l ttList
	e.ok(t, "list_messages", map[string]any{"query": "subject:phoenix", "max_results": 100}, &l)
	inThread := 0
	for _, m := range l.Messages {
		if m.ThreadID == e.f.Threads["phoenix"] {
			inThread++
		}
	}
	if inThread != 5 {
		t.Errorf("%d messages in the phoenix thread after two replies, want 5", inThread)
	}
	// A reply to a message that does not exist: not found, nothing sent.
	e.fails(t, "send_email", map[string]any{"to": []string{googletest.FixtureBob}, "body": "x", "reply_to_message_id": "0123456789abcdef"},
		"not found", "0123456789abcdef")
	if n := len(e.fg.SentMessages(alice)); n != before+3 {
		t.Errorf("%d messages sent, want %d", n, before+3)
	}
}

// testSendInjection: CR and LF in any header-bound field are refused naming
// the field, and nothing reaches Gmail.
func (e *ttEnv) testSendInjection(t *testing.T) {
	sentBefore := len(e.fg.SentMessages(alice))
	sendReqs := func() int {
		return e.fg.APIRequests("/gmail/v1/users/me/messages/send") + e.fg.APIRequests("/upload/")
	}
	reqsBefore := sendReqs()
	base := func(extra map[string]any) map[string]any {
		a := map[string]any{"to": []string{googletest.FixtureBob}, "subject": "Hello", "body": "Hi"}
		maps.Copy(a, extra)
		return a
	}
	evil := "evil@attacker.example"
	for _, c := range []struct {
		args  map[string]any
		field string
	}{
		{base(map[string]any{"subject": "Hello\r\nBcc: " + evil}), "subject"},
		{base(map[string]any{"subject": "Hello\nBcc: " + evil}), "subject"},
		{base(map[string]any{"subject": "Hello\rBcc: " + evil}), "subject"},
		{base(map[string]any{"to": []string{"bob@example.com\r\nBcc: " + evil}}), "to[0]"},
		{base(map[string]any{"to": []string{"Bob\r\nBcc: " + evil + " <bob@example.com>"}}), "to[0]"},
		{base(map[string]any{"to": []string{"\"Bob\nX-Injected: 1\" <bob@example.com>"}}), "to[0]"},
		{base(map[string]any{"cc": []string{googletest.FixtureCarol, "carol@example.com\nBcc: " + evil}}), "cc[1]"},
		{base(map[string]any{"bcc": []string{"dave@example.com\r\n\r\nbody"}}), "bcc[0]"},
		{base(map[string]any{"attachments": []any{map[string]any{"filename": "a.txt\r\nBcc: " + evil, "content_base64": "aGk="}}}), "attachments[0].filename"},
		{base(map[string]any{"attachments": []any{map[string]any{"filename": "a.txt", "content_base64": "aGk=", "mime_type": "text/plain\r\nBcc: " + evil}}}), "attachments[0].mime_type"},
		{base(map[string]any{"reply_to_message_id": e.f.Messages["welcome"] + "\r\nBcc: " + evil}), "reply_to_message_id"},
		{base(map[string]any{"account": alice + "\r\nBcc: " + evil}), "account"},
	} {
		e.fails(t, "send_email", c.args, "invalid argument "+c.field)
	}
	if n := len(e.fg.SentMessages(alice)); n != sentBefore {
		t.Errorf("%d messages sent by the injection attempts", n-sentBefore)
	}
	if n := sendReqs(); n != reqsBefore {
		t.Errorf("%d send requests reached Gmail for the injection attempts", n-reqsBefore)
	}
	for _, raw := range e.fg.SentMessages(alice) {
		if bytes.Contains(raw, []byte(evil)) || bytes.Contains(raw, []byte("X-Injected")) {
			t.Errorf("a sent message holds the injected text:\n%s", raw)
		}
	}
	// A body may hold anything: it cannot end the header or the part.
	var res ttSent
	body := "Line\r\nBcc: " + evil + "\r\n\r\n--=_boundary\r\nContent-Type: text/html\r\n\r\n<script>x</script>"
	e.ok(t, "send_email", base(map[string]any{"body": body}), &res)
	s := e.lastSent(t, sentBefore+1)
	s.checkHeaderNames(t, "Date", "From", "To", "Subject", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding")
	if len(s.parts) != 1 || strings.ReplaceAll(string(s.parts[0].data), "\r\n", "\n") != strings.ReplaceAll(body, "\r\n", "\n") {
		t.Errorf("a body with header-like lines: parts %q", s.tree)
	}
}
