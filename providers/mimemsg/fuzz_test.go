package mimemsg

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailcal/mailcal/providers"
)

// FuzzBuild: whatever the subject, display name, bodies, filename and
// attachment bytes, Build either refuses with a *FieldError (and only for
// input that has a reason to be refused) or ErrTooLarge, or it returns a
// message that net/mail and mime/multipart parse back to exactly the
// content given, with exactly the header fields Build sets.
func FuzzBuild(f *testing.F) {
	f.Add("Hello", "Alice", "Hi\n", "", "", []byte(nil))
	f.Add("Grüße 🎉", "Jörg Müller, Sr.", "Text\r\nmore", "<p>HTML</p>", "résumé.pdf", []byte("%PDF\x00\xff"))
	f.Add("=?utf-8?q?x?=", `"quoted" \ name`, "", "<b>only html</b>", "", []byte(nil))
	f.Add("  spaces  ", "   ", "=\n.\nFrom x\n", "x", `a "b"; c.txt`, []byte{})
	f.Add(strings.Repeat("long subject ", 30), strings.Repeat("Ünï ", 40), strings.Repeat("é", 500), "", "f.bin", bytes.Repeat([]byte{0, 1, 2}, 100))
	f.Add("a\r\nBcc: evil@example.com", "n\nX: y", "t", "h", "a\r\n.txt", []byte("x"))
	f.Add(strings.Repeat("x", 200), "", "\r", "\r\n", "日本語.txt", []byte("data"))
	f.Add("tab\there", "a\x00b", "bad\xffutf8", "", "../x", []byte(nil))
	f.Add("", "", "", "", "only-attachment.png", []byte{0x89, 'P', 'N', 'G'})
	f.Add(strings.Repeat("ab  ", 30)+"c", strings.Repeat(`\"`, 40), "a \r\n", "b\t\n", " x ", []byte("y"))
	f.Add("--=_boundary", "x", "--=_AAAA\r\n", "--=_AAAA--", "--=_.txt", []byte("--=_AAAA"))
	f.Fuzz(func(t *testing.T, subject, name, text, html, filename string, data []byte) {
		m := Message{
			From:    providers.Address{Name: name, Email: "me@example.com"},
			To:      []providers.Address{{Name: name, Email: "you@example.org"}},
			Subject: subject,
			Text:    text,
			HTML:    html,
			Date:    date,
		}
		if filename != "" || len(data) > 0 {
			m.Attachments = []providers.Attachment{{Filename: filename, Data: data}}
		}
		raw, err := Build(m)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if errors.As(err, &fe) && !refusable(m) {
				t.Fatalf("clean input refused: %v", err)
			}
			return
		}
		if refusable(m) {
			t.Fatalf("input that should be refused was accepted:\n%q", raw)
		}
		p := parseBack(t, raw)

		want := "Content-Type Date From Message-Id Mime-Version Subject To"
		if !strings.HasPrefix(p.structure, "multipart/") {
			want = "Content-Transfer-Encoding " + want
		}
		if got := headerKeys(p.header); got != want {
			t.Fatalf("header fields %s, want %s", got, want)
		}
		if p.subject != subject {
			t.Fatalf("subject %q came back as %q", subject, p.subject)
		}
		for _, k := range []string{"From", "To"} {
			l, err := p.header.AddressList(k)
			if err != nil || len(l) != 1 || l[0].Name != name {
				t.Fatalf("%s: %q came back as %v, %v (%q)", k, name, l, err, p.header.Get(k))
			}
		}
		var gotText, gotHTML *leaf
		var atts []leaf
		for i := range p.leaves {
			l := &p.leaves[i]
			switch {
			case l.disposition == "attachment":
				atts = append(atts, *l)
			case l.mediaType == "text/plain" && gotText == nil:
				gotText = l
			case l.mediaType == "text/html" && gotHTML == nil:
				gotHTML = l
			default:
				t.Fatalf("unexpected part:\n%s", describe(p))
			}
		}
		if (text != "") != (gotText != nil) || (html != "") != (gotHTML != nil) {
			t.Fatalf("body parts:\n%s", describe(p))
		}
		if gotText != nil && string(gotText.body) != crlf(text) {
			t.Fatalf("text %q came back as %q", text, gotText.body)
		}
		if gotHTML != nil && string(gotHTML.body) != crlf(html) {
			t.Fatalf("html %q came back as %q", html, gotHTML.body)
		}
		if len(atts) != len(m.Attachments) {
			t.Fatalf("attachments:\n%s", describe(p))
		}
		if len(atts) == 1 {
			if atts[0].filename != filename || atts[0].params["name"] != filename {
				t.Fatalf("filename %q came back as %q / %q", filename, atts[0].filename, atts[0].params["name"])
			}
			if !bytes.Equal(atts[0].body, data) {
				t.Fatalf("attachment bytes differ")
			}
		}
	})
}

// refusable is an independent statement of what Build must refuse in the
// fields FuzzBuild varies.
func refusable(m Message) bool {
	ctl := func(s string, tab bool) bool {
		if !utf8.ValidString(s) {
			return true
		}
		for _, r := range s {
			if r < 0x20 && !(tab && r == '\t') || r == 0x7f {
				return true
			}
		}
		return false
	}
	if ctl(m.Subject, true) || ctl(m.From.Name, false) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return true
	}
	if m.Text == "" && m.HTML == "" && len(m.Attachments) == 0 {
		return true
	}
	for _, a := range m.Attachments {
		if strings.TrimSpace(a.Filename) == "" || ctl(a.Filename, false) || strings.ContainsAny(a.Filename, `/\`) || len(a.Filename) > 255 {
			return true
		}
	}
	return false
}

// FuzzParseAddress: ParseAddress never panics, and what it accepts renders
// with FormatAddress to a string that parses to the same address, and
// goes through Build into a To header that net/mail reads back the same.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"a@b.c", "Ann <ann@example.com>", `"Lee, Ann" <a@b.c>`, `"a\"b" <x@y.z>`, "=?utf-8?q?J=C3=B6rg?= <j@x.de>",
		"=?utf-8?b?w7w=?= <u@x.de>", "山田 <taro@例え.jp>", `"odd local"@example.com`, "a@[192.0.2.1]", "a@b.c (Name)",
		"<a@b.c>", "a@b", "x", "", "a@b.c, d@e.f", "g: a@b.c;", "\"\" <a@b.c>", "Ann\r\n <a@b.c>", "=?utf-8?q?=0D?= <a@b.c>",
		`"a@b"@c.d`, `"\\"@x.y`, "A . B <a@b.c>", "=?iso-8859-1?q?J=F6rg?= <j@x.de>", "\"=?utf-8?q?x?=\" <a@b.c>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !strings.Contains(err.Error(), "is not an email address") {
				t.Fatalf("error %v", err)
			}
			return
		}
		r, err := FormatAddress(a)
		if err != nil {
			t.Fatalf("%q parsed to %+v, which does not format: %v", s, a, err)
		}
		b, err := ParseAddress(r)
		if err != nil || b != a {
			t.Fatalf("%q parsed to %+v, renders as %q, which parses to %+v, %v", s, a, r, b, err)
		}
		raw, err := Build(Message{From: a, To: []providers.Address{a}, Text: "x", Date: date})
		if err != nil {
			t.Fatalf("Build with %+v: %v", a, err)
		}
		p := parseBack(t, raw)
		l, err := p.header.AddressList("To")
		if err != nil || len(l) != 1 || l[0].Name != a.Name || l[0].Address != a.Email {
			t.Fatalf("To %+v came back as %v, %v (%q)", a, l, err, p.header.Get("To"))
		}
	})
}
