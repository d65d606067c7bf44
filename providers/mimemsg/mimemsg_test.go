package mimemsg

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
)

var (
	alice = providers.Address{Name: "Alice Example", Email: "alice@example.com"}
	bob   = providers.Address{Email: "bob@example.org"}
	date  = time.Date(2024, 3, 5, 14, 30, 0, 0, time.FixedZone("CET", 3600))
)

// limits are a provider's, as a sending provider passes them (Gmail's here).
var limits = providers.Limits{MaxMessageBytes: 36700160, MaxRecipients: 500}

const (
	MaxMessageBytes = 36700160
	MaxRecipients   = 500
)

func base() Message {
	return Message{Limits: limits, From: alice, To: []providers.Address{bob}, Subject: "Hello", Text: "Hi Bob,\nsee you.\n", Date: date}
}

func build(t *testing.T, m Message) parsed {
	t.Helper()
	raw, err := Build(m)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return parseBack(t, raw)
}

func TestTextOnly(t *testing.T) {
	p := build(t, base())
	if p.structure != "text/plain" {
		t.Fatalf("structure %s", p.structure)
	}
	if got, want := headerKeys(p.header), "Content-Transfer-Encoding Content-Type Date From Message-Id Mime-Version Subject To"; got != want {
		t.Errorf("headers %s, want %s", got, want)
	}
	l := p.leaves[0]
	if l.params["charset"] != "utf-8" || string(l.body) != "Hi Bob,\r\nsee you.\r\n" {
		t.Errorf("text part %v %q", l.params, l.body)
	}
	if p.header.Get("Date") != "Tue, 05 Mar 2024 14:30:00 +0100" {
		t.Errorf("Date %q", p.header.Get("Date"))
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date parses to %v, %v", d, err)
	}
	if p.header.Get("Mime-Version") != "1.0" || p.subject != "Hello" {
		t.Errorf("Mime-Version %q, subject %q", p.header.Get("Mime-Version"), p.subject)
	}
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != alice.Name || from[0].Address != alice.Email {
		t.Errorf("From %v %v", from, err)
	}
	if p.header.Get("To") != "bob@example.org" {
		t.Errorf("To %q", p.header.Get("To"))
	}
}

func TestStructures(t *testing.T) {
	pdf := providers.Attachment{Filename: "report.pdf", Data: []byte("%PDF-1.7\n\x00\x01\xff binary")}
	for _, tc := range []struct {
		name      string
		edit      func(*Message)
		structure string
	}{
		{"text", func(m *Message) {}, "text/plain"},
		{"html only", func(m *Message) { m.Text, m.HTML = "", "<p>Hi</p>" }, "text/html"},
		{"alternative", func(m *Message) { m.HTML = "<p>Hi</p>" }, "multipart/alternative[text/plain text/html]"},
		{"text and attachment", func(m *Message) { m.Attachments = []providers.Attachment{pdf} },
			"multipart/mixed[text/plain application/pdf]"},
		{"html and attachment", func(m *Message) { m.Text, m.HTML = "", "<b>x</b>"; m.Attachments = []providers.Attachment{pdf} },
			"multipart/mixed[text/html application/pdf]"},
		{"alternative and attachments", func(m *Message) {
			m.HTML = "<p>Hi</p>"
			m.Attachments = []providers.Attachment{pdf, {Filename: "notes.txt", MIMEType: "text/plain; charset=utf-8", Data: []byte("n\r\n")}}
		}, "multipart/mixed[multipart/alternative[text/plain text/html] application/pdf text/plain]"},
		{"attachment only", func(m *Message) { m.Text = ""; m.Attachments = []providers.Attachment{pdf} },
			"multipart/mixed[application/pdf]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(&m)
			p := build(t, m)
			if p.structure != tc.structure {
				t.Fatalf("structure %s, want %s", p.structure, tc.structure)
			}
			var atts []providers.Attachment
			for _, l := range p.leaves {
				switch {
				case l.disposition == "attachment":
					if l.params["name"] != l.filename {
						t.Errorf("name param %q, filename %q", l.params["name"], l.filename)
					}
					atts = append(atts, providers.Attachment{Filename: l.filename, Data: l.body})
				case l.mediaType == "text/plain":
					if string(l.body) != crlf(m.Text) {
						t.Errorf("text %q", l.body)
					}
				case l.mediaType == "text/html":
					if string(l.body) != crlf(m.HTML) {
						t.Errorf("html %q", l.body)
					}
				default:
					t.Errorf("unexpected part %s", l.mediaType)
				}
				if strings.HasPrefix(l.mediaType, "text/") && l.disposition == "" && l.params["charset"] != "utf-8" {
					t.Errorf("%s without charset=utf-8", l.mediaType)
				}
			}
			if len(atts) != len(m.Attachments) {
				t.Fatalf("%d attachments back, want %d", len(atts), len(m.Attachments))
			}
			for i, a := range atts {
				if a.Filename != m.Attachments[i].Filename || !bytes.Equal(a.Data, m.Attachments[i].Data) {
					t.Errorf("attachment %d: %q %q", i, a.Filename, a.Data)
				}
			}
			if _, ok := p.header["Content-Transfer-Encoding"]; ok == strings.HasPrefix(tc.structure, "multipart/") {
				t.Errorf("top-level Content-Transfer-Encoding present: %v", ok)
			}
		})
	}
}

func TestNonASCIIHeaders(t *testing.T) {
	m := base()
	m.From = providers.Address{Name: "Jörg Müller, Sr.", Email: "jorg@example.de"}
	m.To = []providers.Address{
		{Name: `O'Brien, "Pat"`, Email: "pat@example.ie"},
		{Name: "山田 太郎", Email: "taro@example.jp"},
		{Name: "=?utf-8?q?not_encoded?=", Email: "lit@example.com"},
		{Name: "  spaced  out  ", Email: "sp@example.com"},
		{Name: strings.Repeat("Ünïcødé ", 20), Email: "long@example.com"},
		{Name: "Zoë", Email: "zoe@bücher.example"},
		{Name: strings.Repeat(`"`, 60), Email: "quotes@example.com"},
		{Name: strings.Repeat("long ascii name ", 8), Email: strings.Repeat("l", 64) + "@" + strings.Repeat("d", 60) + ".example.com"},
	}
	m.Cc = []providers.Address{{Name: "a\\b", Email: "\"odd local\"@example.com"}}
	m.Subject = "Grüße — Привет — 你好 — a subject long enough to need folding over several lines 🎉"
	p := build(t, m)
	if p.subject != m.Subject {
		t.Errorf("subject %q", p.subject)
	}
	check := func(key string, want []providers.Address) {
		t.Helper()
		got, err := p.header.AddressList(key)
		if err != nil {
			t.Fatalf("%s: %v (%q)", key, err, p.header.Get(key))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d addresses", key, len(got))
		}
		for i := range got {
			if got[i].Name != want[i].Name || got[i].Address != want[i].Email {
				t.Errorf("%s[%d] = %q <%s>, want %q <%s>", key, i, got[i].Name, got[i].Address, want[i].Name, want[i].Email)
			}
		}
	}
	check("From", []providers.Address{m.From})
	check("To", m.To)
	check("Cc", m.Cc)
	raw, _ := Build(m)
	for _, w := range regexp.MustCompile(`=\?[^?]*\?[bBqQ]\?[^?]*\?=`).FindAll(raw, -1) {
		if len(w) > 75 {
			t.Errorf("encoded-word of %d characters: %s", len(w), w)
		}
	}
}

func TestFolding(t *testing.T) {
	m := base()
	m.Subject = strings.TrimSpace(strings.Repeat("word ", 60))
	for i := 0; i < 40; i++ {
		m.To = append(m.To, providers.Address{Name: fmt.Sprintf("Person Number %d", i), Email: fmt.Sprintf("p%d@example.com", i)})
	}
	m.References = []string{"<a1@x.example>", "<a2@x.example>", "<a3@x.example>", "<a4@x.example>", "<a5@x.example>", "<a6@x.example>"}
	raw, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseBack(t, raw) // checks header lines ≤ 78
	if p.subject != m.Subject {
		t.Errorf("subject %q", p.subject)
	}
	if !bytes.Contains(raw, []byte("Subject: word word")) || bytes.Contains(raw, []byte("=?utf-8")) {
		t.Errorf("plain ASCII subject should be folded, not encoded:\n%s", raw)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 41 {
		t.Fatalf("To: %d, %v", len(to), err)
	}
	if got := p.header.Get("References"); got != strings.Join(m.References, " ") {
		t.Errorf("References %q", got)
	}

	// A word too long to fold, and whitespace unfolding would lose, are
	// encoded so that they come back exactly.
	for _, s := range []string{
		strings.Repeat("x", 300),
		"https://example.com/" + strings.Repeat("path/", 30),
		"  leading", "trailing ", "two  spaces", "tab\there", "=?utf-8?q?x?=",
		strings.Repeat("word  ", 30) + "x", strings.Repeat("x ", 60) + " ", "a " + strings.Repeat("b", 100),
		"",
	} {
		m := base()
		m.Subject = s
		if p := build(t, m); p.subject != s {
			t.Errorf("subject %q came back as %q", s, p.subject)
		}
	}
}

func TestBodies(t *testing.T) {
	long := strings.Repeat("é", 3000) + "\n" + strings.Repeat("a", 5000)
	for _, s := range []string{
		"unix\nlines\n", "dos\r\nlines\r\n", "mac\rlines\r", "trailing space \nand tab\t\n",
		"=3D not encoded =\n", ".\n..\nFrom here\n", long, "no final newline", "\n\n\n",
		"日本語のテキスト\n", "\x01\x7f controls survive",
	} {
		m := base()
		m.Text = s
		m.HTML = "<p>" + s + "</p>"
		raw, err := Build(m)
		if err != nil {
			t.Fatal(err)
		}
		p := parseBack(t, raw)
		if string(p.leaves[0].body) != crlf(s) || string(p.leaves[1].body) != crlf(m.HTML) {
			t.Errorf("body %q came back as %q", s, p.leaves[0].body)
		}
		for _, l := range bytes.Split(raw, []byte("\r\n")) {
			if len(l) > 78 {
				t.Fatalf("line of %d characters", len(l))
			}
		}
	}
	m := base()
	m.Text = "bad \xff utf-8"
	if _, err := Build(m); fieldOf(err) != "body" {
		t.Errorf("invalid UTF-8 body: %v", err)
	}
	m = base()
	m.HTML = "\xc3"
	if _, err := Build(m); fieldOf(err) != "html_body" {
		t.Errorf("invalid UTF-8 html: %v", err)
	}
	m = base()
	m.Text = ""
	if _, err := Build(m); fieldOf(err) != "body" {
		t.Errorf("no body: %v", err)
	}
}

func TestAttachments(t *testing.T) {
	bin := make([]byte, 10000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	m := base()
	m.Attachments = []providers.Attachment{
		{Filename: "Résumé – final.pdf", Data: bin},
		{Filename: `quote "and" semi; colon.txt`, Data: []byte("x")},
		{Filename: "日本語ファイル名.png", MIMEType: "image/png", Data: []byte{0x89, 'P', 'N', 'G'}},
		{Filename: "noext", Data: nil},
		{Filename: "data.weird-extension-xyz", Data: []byte("?")},
		{Filename: "photo.JPG", MIMEType: "IMAGE/JPEG", Data: []byte{1}},
		{Filename: "x.csv", MIMEType: "text/csv; charset=utf-8; name=evil.exe", Data: []byte("a,b\n")},
		{Filename: " spaced  name .txt", Data: []byte("s")},
		{Filename: strings.Repeat("ü", 126) + ".b", Data: []byte("long")},
		{Filename: "mail.eml", Data: []byte("From: x\r\n\r\nhi\r\n")},
	}
	wantTypes := []string{"application/pdf", "text/plain", "image/png", "application/octet-stream",
		"application/octet-stream", "image/jpeg", "text/csv", "text/plain", "application/octet-stream",
		"application/octet-stream"}
	p := build(t, m)
	atts := p.leaves[1:]
	if len(atts) != len(m.Attachments) {
		t.Fatalf("%s", describe(p))
	}
	for i, l := range atts {
		a := m.Attachments[i]
		if l.filename != a.Filename || l.params["name"] != a.Filename {
			t.Errorf("%d: filename %q name %q, want %q", i, l.filename, l.params["name"], a.Filename)
		}
		if !bytes.Equal(l.body, a.Data) {
			t.Errorf("%d: data differs", i)
		}
		if i < len(wantTypes) && l.mediaType != wantTypes[i] {
			t.Errorf("%d: type %s, want %s", i, l.mediaType, wantTypes[i])
		}
		if l.disposition != "attachment" {
			t.Errorf("%d: disposition %q", i, l.disposition)
		}
	}
	if atts[6].params["charset"] != "utf-8" {
		t.Errorf("params of a given type are kept: %v", atts[6].params)
	}

	for _, tc := range []struct {
		a     providers.Attachment
		field string
		msg   string
	}{
		{providers.Attachment{Filename: ""}, "attachments[0].filename", "empty"},
		{providers.Attachment{Filename: "  "}, "attachments[0].filename", "empty"},
		{providers.Attachment{Filename: "../etc/passwd"}, "attachments[0].filename", "path separator"},
		{providers.Attachment{Filename: `c:\x.txt`}, "attachments[0].filename", "path separator"},
		{providers.Attachment{Filename: strings.Repeat("a", 256)}, "attachments[0].filename", "at most 255"},
		{providers.Attachment{Filename: "bad\xff.txt"}, "attachments[0].filename", "UTF-8"},
		{providers.Attachment{Filename: "a.txt", MIMEType: "pdf"}, "attachments[0].mime_type", "not a MIME type"},
		{providers.Attachment{Filename: "a.txt", MIMEType: "text/"}, "attachments[0].mime_type", "not a MIME type"},
		{providers.Attachment{Filename: "a.txt", MIMEType: "a b/c"}, "attachments[0].mime_type", "not a MIME type"},
		{providers.Attachment{Filename: "a.txt", MIMEType: "multipart/mixed; boundary=x"}, "attachments[0].mime_type", "octet-stream"},
		{providers.Attachment{Filename: "a.eml", MIMEType: "message/rfc822"}, "attachments[0].mime_type", "octet-stream"},
	} {
		m := base()
		m.Attachments = []providers.Attachment{tc.a}
		_, err := Build(m)
		if fieldOf(err) != tc.field || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %s: …%s…", tc.a, err, tc.field, tc.msg)
		}
	}
}

func fieldOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return fmt.Sprintf("(not a FieldError: %v)", err)
}

// TestHeaderInjection tries CR, LF, CRLF, NUL and other controls in every
// field that reaches a header; each must be refused naming the field.
func TestHeaderInjection(t *testing.T) {
	payloads := []string{"x\r\nBcc: evil@example.com", "x\nBcc: evil@example.com", "x\rBcc: evil@example.com",
		"x\x00y", "x\x1by", "x\x7fy", "x\r\n\r\n<html>", "\r\n"}
	for _, pl := range payloads {
		for _, tc := range []struct {
			field string
			edit  func(*Message)
		}{
			{"subject", func(m *Message) { m.Subject = "Hi " + pl }},
			{"from", func(m *Message) { m.From.Name = pl }},
			{"from", func(m *Message) { m.From.Email = "a" + pl + "@example.com" }},
			{"from", func(m *Message) { m.From.Email = "a@example.com" + pl }},
			{"to[1]", func(m *Message) { m.To = append(m.To, providers.Address{Name: pl, Email: "c@example.com"}) }},
			{"to[0]", func(m *Message) { m.To[0].Email = pl + "c@example.com" }},
			{"cc[0]", func(m *Message) { m.Cc = []providers.Address{{Name: "n" + pl, Email: "c@example.com"}} }},
			{"bcc[0]", func(m *Message) { m.Bcc = []providers.Address{{Email: "c@example.com" + pl}} }},
			{"attachments[0].filename", func(m *Message) { m.Attachments = []providers.Attachment{{Filename: "a" + pl + ".txt"}} }},
			{"attachments[0].mime_type", func(m *Message) {
				m.Attachments = []providers.Attachment{{Filename: "a.txt", MIMEType: "text/plain" + pl}}
			}},
			{"in_reply_to", func(m *Message) { m.InReplyTo = "<a@b>" + pl }},
			{"references[1]", func(m *Message) { m.References = []string{"<a@b>", "<c@d>" + pl} }},
			{"message_id", func(m *Message) { m.MessageID = "<id@example.com>" + pl }},
		} {
			m := base()
			tc.edit(&m)
			raw, err := Build(m)
			if err == nil {
				t.Errorf("%s with %q accepted:\n%s", tc.field, pl, raw)
				continue
			}
			if f := fieldOf(err); f != tc.field {
				t.Errorf("%s with %q: error names %s: %v", tc.field, pl, f, err)
			}
		}
	}
	// A tab is allowed in the subject (encoded), nowhere else.
	m := base()
	m.Subject = "a\tb"
	if p := build(t, m); p.subject != "a\tb" {
		t.Errorf("tab subject %q", p.subject)
	}
	m = base()
	m.From.Name = "a\tb"
	if _, err := Build(m); fieldOf(err) != "from" {
		t.Errorf("tab in name: %v", err)
	}
}

func TestRecipients(t *testing.T) {
	m := base()
	m.To = nil
	if _, err := Build(m); fieldOf(err) != "to" {
		t.Errorf("no recipients: %v", err)
	}
	m.Bcc = []providers.Address{bob}
	p := build(t, m) // Bcc only: no To header, Bcc kept for Gmail
	if _, ok := p.header["To"]; ok || p.header.Get("Bcc") != "bob@example.org" {
		t.Errorf("bcc only: %v", p.header)
	}
	m = base()
	m.To, m.Cc, m.Bcc = nil, nil, nil
	for i := 0; i < MaxRecipients; i++ {
		a := providers.Address{Email: fmt.Sprintf("r%d@example.com", i)}
		switch i % 3 {
		case 0:
			m.To = append(m.To, a)
		case 1:
			m.Cc = append(m.Cc, a)
		default:
			m.Bcc = append(m.Bcc, a)
		}
	}
	p = build(t, m)
	n := 0
	for _, k := range []string{"To", "Cc", "Bcc"} {
		l, err := p.header.AddressList(k)
		if err != nil {
			t.Fatal(err)
		}
		n += len(l)
	}
	if n != MaxRecipients {
		t.Errorf("%d recipients back", n)
	}
	m.Bcc = append(m.Bcc, bob)
	if _, err := Build(m); fieldOf(err) != "to" || !strings.Contains(err.Error(), "at most 500") {
		t.Errorf("501 recipients: %v", err)
	}
	m = base()
	m.To = []providers.Address{{Email: "not an address"}}
	if _, err := Build(m); fieldOf(err) != "to[0]" {
		t.Errorf("bad address: %v", err)
	}
	m = base()
	m.From = providers.Address{}
	if _, err := Build(m); fieldOf(err) != "from" {
		t.Errorf("no from: %v", err)
	}
}

func TestSizeLimit(t *testing.T) {
	m := base()
	m.Attachments = []providers.Attachment{{Filename: "big.bin", Data: make([]byte, 27<<20)}}
	_, err := Build(m)
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, providers.ErrTooLarge) {
		t.Fatalf("27 MB attachment: %v", err)
	}
	if !strings.Contains(err.Error(), "36700160") || !strings.Contains(err.Error(), "35 MB") {
		t.Errorf("error should say the limit: %v", err)
	}
	// Just under the limit once encoded: accepted.
	n := (MaxMessageBytes - 4096) / 78 * 57
	m.Attachments[0].Data = make([]byte, n)
	raw, err := Build(m)
	if err != nil {
		t.Fatalf("%d bytes: %v", n, err)
	}
	if len(raw) > MaxMessageBytes {
		t.Fatalf("built %d bytes", len(raw))
	}
	// The final check counts headers and text too.
	m.Text = strings.Repeat("x", MaxMessageBytes-len(raw)+10)
	if _, err := Build(m); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over by headers and text: %v", err)
	}
}

func TestThreadingAndIDs(t *testing.T) {
	m := base()
	m.Subject = ReplySubject("Lunch?")
	m.InReplyTo = "<CAF=abc+123@mail.gmail.com>"
	m.References = []string{"<root@example.com>"}
	p := build(t, m)
	if p.header.Get("In-Reply-To") != m.InReplyTo {
		t.Errorf("In-Reply-To %q", p.header.Get("In-Reply-To"))
	}
	if got := p.header.Get("References"); got != "<root@example.com> <CAF=abc+123@mail.gmail.com>" {
		t.Errorf("References %q", got)
	}
	if p.subject != "Re: Lunch?" {
		t.Errorf("subject %q", p.subject)
	}
	m.References = []string{"<root@example.com>", m.InReplyTo}
	if got := build(t, m).header.Get("References"); got != "<root@example.com> <CAF=abc+123@mail.gmail.com>" {
		t.Errorf("References %q", got)
	}
	m.References = []string{m.InReplyTo, "<later@example.com>"}
	if got := build(t, m).header.Get("References"); got != "<CAF=abc+123@mail.gmail.com> <later@example.com>" {
		t.Errorf("References %q", got)
	}
	m.References, m.InReplyTo = []string{"<a@x>", "<b@x>"}, ""
	if p := build(t, m); p.header.Get("References") != "<a@x> <b@x>" || p.header.Get("In-Reply-To") != "" {
		t.Errorf("References without In-Reply-To: %v", p.header)
	}

	idRe := regexp.MustCompile(`^<[a-z2-7]{26}@example\.com>$`)
	id1, id2 := build(t, base()).header.Get("Message-Id"), build(t, base()).header.Get("Message-Id")
	if !idRe.MatchString(id1) || id1 == id2 {
		t.Errorf("generated ids %q %q", id1, id2)
	}
	m = base()
	m.From.Email = "x@bücher.example"
	if id := build(t, m).header.Get("Message-Id"); !strings.HasSuffix(id, "@xn--bcher-kva.example>") {
		t.Errorf("IDN id %q", id)
	}
	m = base()
	m.MessageID = "<given@example.net>"
	if id := build(t, m).header.Get("Message-Id"); id != m.MessageID {
		t.Errorf("given id %q", id)
	}
	for _, bad := range []string{"no-brackets@x", "<>", "<a b@c>", "<a<b@c>", "<é@x>", "<" + strings.Repeat("a", 600) + ">"} {
		m := base()
		m.InReplyTo = bad
		if _, err := Build(m); fieldOf(err) != "in_reply_to" {
			t.Errorf("in_reply_to %q: %v", bad, err)
		}
	}

	m = base()
	m.Date = time.Time{}
	d, err := build(t, m).header.Date()
	if err != nil || time.Since(d) > time.Minute {
		t.Errorf("default date %v %v", d, err)
	}
	m.Date = time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Build(m); fieldOf(err) != "date" {
		t.Errorf("year 12000: %v", err)
	}
}

func TestBoundaries(t *testing.T) {
	m := base()
	m.HTML = "<p>x</p>"
	// Content that tries to contain a boundary-looking line.
	m.Text = "--=_AAAAAAAAAAAAAAAAAAAAAAAAAA\r\n--=_AAAAAAAAAAAAAAAAAAAAAAAAAA--\r\n"
	m.Attachments = []providers.Attachment{{Filename: "a.txt", Data: []byte(m.Text)}}
	raw, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseBack(t, raw)
	if string(p.leaves[0].body) != m.Text || string(p.leaves[2].body) != m.Text {
		t.Errorf("%s", describe(p))
	}
	bs := regexp.MustCompile(`boundary="([^"]+)"`).FindAllSubmatch(raw, -1)
	if len(bs) != 2 || bytes.Equal(bs[0][1], bs[1][1]) {
		t.Fatalf("boundaries %q", bs)
	}
	raw2, _ := Build(m)
	if bytes.Equal(regexp.MustCompile(`boundary="([^"]+)"`).Find(raw2), bs[0][0]) {
		t.Error("boundaries repeat between messages")
	}
}

func TestReplySubject(t *testing.T) {
	for in, want := range map[string]string{
		"Lunch":          "Re: Lunch",
		"Re: Lunch":      "Re: Lunch",
		"RE: Lunch":      "RE: Lunch",
		"re:Lunch":       "re:Lunch",
		"Re[2]: Lunch":   "Re[2]: Lunch",
		"Re[]: Lunch":    "Re: Re[]: Lunch",
		"Fwd: Lunch":     "Re: Fwd: Lunch",
		"Regarding x":    "Re: Regarding x",
		"  padded  ":     "Re: padded",
		"":               "Re:",
		"Re":             "Re: Re",
		"Grüße":          "Re: Grüße",
		"Re: Re: double": "Re: Re: double",
	} {
		if got := ReplySubject(in); got != want {
			t.Errorf("ReplySubject(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]providers.Address{
		"a@b.c":                           {Email: "a@b.c"},
		"  a@b.c  ":                       {Email: "a@b.c"},
		"<a@b.c>":                         {Email: "a@b.c"},
		"Ann Lee <ann@example.com>":       {Name: "Ann Lee", Email: "ann@example.com"},
		`"Lee, Ann" <ann@example.com>`:    {Name: "Lee, Ann", Email: "ann@example.com"},
		`"Ann \"Q\" Lee" <a@example.com>`: {Name: `Ann "Q" Lee`, Email: "a@example.com"},
		"Jörg <j@example.de>":             {Name: "Jörg", Email: "j@example.de"},
		"=?utf-8?q?J=C3=B6rg?= <j@x.de>":  {Name: "Jörg", Email: "j@x.de"},
		"山田 <taro@例え.jp>":                 {Name: "山田", Email: "taro@例え.jp"},
		"a@b":                             {Email: "a@b"},
		"first.last+tag@sub.example.com":  {Email: "first.last+tag@sub.example.com"},
		`"odd local"@example.com`:         {Email: "odd local@example.com"},
		"a@[192.0.2.1]":                   {Email: "a@[192.0.2.1]"},
		"a@b.c (Ann Lee)":                 {Name: "Ann Lee", Email: "a@b.c"},
	} {
		got, err := ParseAddress(in)
		if err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		s, err := FormatAddress(got)
		if err != nil {
			t.Errorf("FormatAddress(%+v): %v", got, err)
		}
		if back, err := ParseAddress(s); err != nil || back != got {
			t.Errorf("%q re-renders as %q which parses to %+v, %v", in, s, back, err)
		}
	}
	for _, in := range []string{
		"", "   ", "x", "@b.c", "a@", "a@b.c, d@e.f", "a@b.c d@e.f", "Ann <a@b.c", "a@b..c", ".a@b.c",
		"a b@c.d", "a@b.c\r\nBcc: x@y.z", "Ann\n <a@b.c>", "a\x00@b.c", "Ann\t<a@b.c>",
		"=?utf-8?q?A=0D=0ABcc:_x@y.z?= <a@b.c>", "=?utf-8?q?A=00?= <a@b.c>", "\xff <a@b.c>",
		"undisclosed-recipients:;", "group: a@b.c, d@e.f;", "a@b.c>", strings.Repeat("a", 250) + "@example.com",
	} {
		if a, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %+v, want an error", in, a)
		} else if !strings.Contains(err.Error(), "is not an email address") {
			t.Errorf("ParseAddress(%q): %v", in, err)
		}
	}
	_, err := ParseAddressList("to", []string{"a@b.c", "Ann <ann@example.com>", "x"})
	if err == nil || err.Error() != `to[2]: "x" is not an email address: it has no @` {
		t.Errorf("list error: %v", err)
	}
	if fieldOf(err) != "to[2]" {
		t.Errorf("list error field: %v", fieldOf(err))
	}
	l, err := ParseAddressList("cc", []string{"a@b.c", `"B, C" <b@c.d>`})
	if err != nil || len(l) != 2 || l[1].Name != "B, C" {
		t.Errorf("list %v %v", l, err)
	}
	if l, err := ParseAddressList("bcc", nil); l != nil || err != nil {
		t.Errorf("empty list %v %v", l, err)
	}
	// net/mail parses the rendering of every parsed address too.
	for _, a := range []providers.Address{{Name: "Lee, Ann", Email: "a@b.c"}, {Name: "Ünï, \"x\"", Email: "u@b.c"}} {
		s, _ := FormatAddress(a)
		if p, err := mail.ParseAddress(s); err != nil || p.Name != a.Name {
			t.Errorf("%q: %v %v", s, p, err)
		}
	}
}

func TestForwardSubject(t *testing.T) {
	for in, want := range map[string]string{
		"Plans":           "Fwd: Plans",
		"  Plans ":        "Fwd: Plans",
		"Fwd: Plans":      "Fwd: Plans",
		"FW: Plans":       "FW: Plans",
		"Re: Plans":       "Fwd: Re: Plans",
		"":                "Fwd:",
		"Fwdx":            "Fwd: Fwdx",
		"fwd:no space":    "fwd:no space",
		"Forward: thanks": "Fwd: Forward: thanks",
	} {
		if got := ForwardSubject("", in); got != want {
			t.Errorf("ForwardSubject(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ForwardSubject("FW:", "Plans"); got != "FW: Plans" {
		t.Errorf("with prefix FW: %q", got)
	}
}
