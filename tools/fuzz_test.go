package tools

import (
	"encoding/json"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// FuzzSendArgs feeds arbitrary JSON to send_email's argument parsing: it
// must never panic, and whatever it accepts must build into a message that
// parses back with no header beyond those we set (no injection).
func FuzzSendArgs(f *testing.F) {
	f.Add(`{"to":["bob@example.com"],"subject":"hi","body":"x"}`)
	f.Add(`{"to":["Bob <bob@example.com>"],"cc":["c@example.com"],"subject":"Grüße","body":"x","html_body":"<b>x</b>"}`)
	f.Add(`{"to":["b@example.com"],"subject":"s","body":"b","attachments":[{"filename":"a.pdf","content_base64":"JVBERg=="}]}`)
	f.Add(`{"to":["b@example.com\r\nBcc: e@example.com"],"subject":"s","body":"b"}`)
	f.Add(`{"to":["b@example.com"],"subject":"s\nX-Evil: 1","body":"b"}`)
	f.Add(`{"to":["\"A, B\" <b@example.com>"],"reply_to_message_id":"18c2a","body":"b"}`)
	f.Add(`{"to":5}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var args map[string]any
		if json.Unmarshal([]byte(raw), &args) != nil {
			return
		}
		var a sendArgs
		if err := bind(args, &a); err != nil {
			return
		}
		if err := validate(&a); err != nil {
			return
		}
		if err := a.check(time.Now()); err != nil {
			return
		}
		m, err := a.message(a.ReplyToMessageID != "")
		if err != nil {
			return
		}
		built, err := mimemsg.Build(mimemsg.Message{
			From: providers.Address{Email: "alice@example.com"}, To: m.To, Cc: m.Cc, Bcc: m.Bcc,
			Subject: m.Subject, Text: m.Text, HTML: m.HTML, Attachments: m.Attachments, Date: time.Unix(0, 0),
		})
		if err != nil {
			return // e.g. too large, or a rule only the builder enforces
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(built)))
		if err != nil {
			t.Fatalf("accepted arguments built an unparsable message: %v", err)
		}
		allowed := map[string]bool{"Date": true, "From": true, "To": true, "Cc": true, "Bcc": true, "Subject": true,
			"Message-Id": true, "Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true, "In-Reply-To": true, "References": true}
		for k := range msg.Header {
			if !allowed[k] {
				t.Fatalf("header %q injected through %s", k, raw)
			}
		}
		got, err := msg.Header.AddressList("To")
		if err != nil || len(got) != len(m.To) {
			t.Fatalf("To header %q parses to %v (%v), want %d addresses", msg.Header.Get("To"), got, err, len(m.To))
		}
	})
}
