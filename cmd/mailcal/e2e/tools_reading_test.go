//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// get_thread and get_attachment through the binary, for a Google and a
// Microsoft account, on the fixtures' "offsite" conversation: four
// messages quoting their history as Gmail, Outlook and Apple Mail do, the
// first with a CSV (windows-1252), a PDF and a PNG.

type ttThread struct {
	Account     string `json:"account"`
	ThreadID    string `json:"thread_id"`
	Subject     string `json:"subject"`
	QuotedChars int    `json:"quoted_chars_removed"`
	Messages    []struct {
		ID          string         `json:"id"`
		From        string         `json:"from"`
		Subject     string         `json:"subject"`
		Text        string         `json:"text"`
		QuotedChars int            `json:"quoted_chars_removed"`
		Attachments []ttAttachment `json:"attachments"`
	} `json:"messages"`
}

type ttFile struct {
	Filename    string `json:"filename"`
	MIMEType    string `json:"mime_type"`
	Size        int64  `json:"size"`
	Kind        string `json:"kind"`
	Text        string `json:"text"`
	Pages       int    `json:"pages"`
	ResourceURI string `json:"resource_uri"`
}

func TestE2EReading(t *testing.T) {
	t.Parallel()
	bothProviders(t, googleAccount, microsoftAccount, func(t *testing.T, a *provAccount) {
		t.Run("thread", a.testThread)
		t.Run("attachments", a.testAttachments)
	})
}

// testThread: by a message's id and by the thread's id, oldest first, each
// reply without the history it quotes but with all it adds, in one
// upstream request; fewer text bytes than reading the messages one by one.
func (a *provAccount) testThread(t *testing.T) {
	keys := []string{"offsite-1", "offsite-2", "offsite-3", "offsite-4"}
	var th ttThread
	a.callOK(t, a.c, "get_thread", map[string]any{"message_id": a.msgs["offsite-3"]}, &th)
	if th.Account != alice || th.ThreadID == "" || th.Subject != "Offsite venue options" || len(th.Messages) != 4 {
		t.Fatalf("get_thread by message_id: account %q thread %q subject %q, %d messages", th.Account, th.ThreadID, th.Subject, len(th.Messages))
	}
	for i, m := range th.Messages {
		if m.ID != a.msgs[keys[i]] {
			t.Fatalf("message %d is %s, want %s (oldest first)", i, m.ID, keys[i])
		}
		if m.Subject != "" {
			t.Errorf("%s repeats the conversation's subject: %q", keys[i], m.Subject)
		}
	}
	first := th.Messages[0]
	if !strings.Contains(first.Text, "three venues for the team offsite") || first.QuotedChars != 0 || len(first.Attachments) != 3 {
		t.Errorf("the first message: %d attachments, %d removed, text %q", len(first.Attachments), first.QuotedChars, first.Text)
	}
	for i, m := range th.Messages[1:] {
		if m.QuotedChars <= 0 {
			t.Errorf("%s: nothing removed", keys[i+1])
		}
		if strings.Contains(m.Text, "three venues") || strings.Contains(m.Text, "wrote:") || strings.Contains(m.Text, "From:") {
			t.Errorf("%s keeps quoted history: %q", keys[i+1], m.Text)
		}
	}
	wantIn := func(i int, parts ...string) {
		t.Helper()
		for _, p := range parts {
			if !strings.Contains(th.Messages[i].Text, p) {
				t.Errorf("%s lost %q: %q", keys[i], p, th.Messages[i].Text)
			}
		}
	}
	wantIn(1, "The lake house sounds best to me.", "Can we get a quote for two nights?", "Alice")
	wantIn(2, "4,200 EUR for two nights", "Bob")
	// Apple Mail's inline answers stay, the lines it quotes go.
	wantIn(3, "Great, that fits the budget. I'll book it today.", "I'll send the invitation next week.", "Eve")
	if strings.Contains(th.Messages[3].Text, "4,200 EUR") || strings.Contains(th.Messages[2].Text, "Can we get a quote") {
		t.Errorf("a quote of the message before is left: %q / %q", th.Messages[2].Text, th.Messages[3].Text)
	}
	if th.QuotedChars != th.Messages[1].QuotedChars+th.Messages[2].QuotedChars+th.Messages[3].QuotedChars {
		t.Errorf("quoted_chars_removed %d is not the messages' sum", th.QuotedChars)
	}

	// By the thread's id: the same, in one upstream request.
	a.resetAPI()
	var again ttThread
	r := a.callOK(t, a.c, "get_thread", map[string]any{"thread_id": th.ThreadID}, &again)
	if n := a.apiRequests(); n != 1 {
		t.Errorf("get_thread by thread_id made %d upstream requests, want 1", n)
	}
	if len(again.Messages) != 4 || again.Messages[3].Text != th.Messages[3].Text {
		t.Errorf("by thread_id: %d messages", len(again.Messages))
	}
	one := 0
	for _, k := range keys {
		one += len(a.callOK(t, a.c, "get_message", map[string]any{"id": a.msgs[k]}, nil).text())
	}
	t.Logf("%s: get_thread of 4 messages: %d text bytes; 4 get_message calls: %d", a.name, len(r.text()), one)
	if len(r.text()) >= one {
		t.Errorf("get_thread answered %d text bytes, 4 get_message calls %d: the quotes were not removed", len(r.text()), one)
	}
	if !strings.Contains(r.text(), "untrusted") || !strings.Contains(r.text(), "oldest first") {
		t.Errorf("get_thread text: %s", tail(r.text(), 400))
	}

	a.callFails(t, a.c, "get_thread", nil, "exactly one of thread_id and message_id")
	a.callFails(t, a.c, "get_thread", map[string]any{"thread_id": th.ThreadID, "message_id": first.ID}, "exactly one")
	a.callFails(t, a.c, "get_thread", map[string]any{"message_id": a.bobMsg}, "not found")
}

// testAttachments: a CSV and a PDF as text, a PNG as an embedded resource
// the official Go SDK decodes, an over-bound file refused with its size.
func (a *provAccount) testAttachments(t *testing.T) {
	var m ttMessage
	msg := a.msgs["offsite-1"]
	a.callOK(t, a.c, "get_message", map[string]any{"id": msg}, &m)
	ids := map[string]string{}
	for _, at := range m.Attachments {
		ids[at.Filename] = at.ID
	}
	get := func(name string) (ttFile, wireResult) {
		t.Helper()
		var f ttFile
		r := a.callOK(t, a.c, "get_attachment", map[string]any{"message_id": msg, "attachment_id": ids[name]}, &f)
		return f, r
	}
	csv, r := get("venues.csv")
	if csv.Kind != "text" || csv.MIMEType != "text/csv" || !strings.Contains(csv.Text, "Lake house;40;2 100 €") || !strings.Contains(r.text(), "Old mill;35;1 900 €") {
		t.Errorf("venues.csv: %+v", csv)
	}
	pdf, r := get("floor-plan.pdf")
	if pdf.Kind != "pdf" || pdf.Pages != 1 || !strings.Contains(pdf.Text, fixturetest.OffsitePDFText) || !strings.Contains(r.text(), fixturetest.OffsitePDFText) {
		t.Errorf("floor-plan.pdf: %+v", pdf)
	}
	png, r := get("lake-house.png")
	if png.Kind != "file" || png.MIMEType != "image/png" || png.ResourceURI == "" || strings.Contains(png.ResourceURI, alice) || len(r.Content) != 2 || r.Content[1].Type != "resource" {
		t.Errorf("lake-house.png: %+v, content %+v", png, r.Content)
	}

	// The official Go SDK's client decodes the embedded resource.
	cs := sdkHTTP(t, a.s, "/mcp", "Authorization", "Bearer "+a.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_attachment", Arguments: map[string]any{"message_id": msg, "attachment_id": ids["lake-house.png"]}})
	if err != nil || res.IsError {
		t.Fatalf("go-sdk get_attachment: %v %+v", err, res)
	}
	var blob *sdk.ResourceContents
	for _, c := range res.Content {
		if er, ok := c.(*sdk.EmbeddedResource); ok {
			blob = er.Resource
		}
	}
	if blob == nil || blob.MIMEType != "image/png" || !bytes.Equal(blob.Blob, fixturetest.OffsitePNG) || blob.URI != png.ResourceURI {
		t.Fatalf("go-sdk: the PNG is not an embedded resource with its bytes: %+v", res.Content)
	}

	// Over the bound: the error names the size and the bound.
	big := make([]byte, 6<<20)
	rand.Read(big)
	id := a.deliver(bigMessage(big))
	var bm ttMessage
	a.callOK(t, a.c, "get_message", map[string]any{"id": id}, &bm)
	if len(bm.Attachments) != 1 {
		t.Fatalf("the large message's attachments: %+v", bm.Attachments)
	}
	a.callFails(t, a.c, "get_attachment", map[string]any{"message_id": id, "attachment_id": bm.Attachments[0].ID}, `"archive.zip"`, "6.0 MB", "at most 5.0 MB")
	a.callFails(t, a.c, "get_attachment", map[string]any{"message_id": msg, "attachment_id": "999"}, "not found")
}

// bigMessage is a message carrying data as a zip file.
func bigMessage(data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Dave <dave@example.com>\r\nTo: %s\r\nSubject: The archive\r\nDate: %s\r\nMessage-ID: <archive.%d@example.com>\r\n", alice, time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe archive is attached.\r\n--b1\r\n")
	b.WriteString("Content-Type: application/zip; name=\"archive.zip\"\r\nContent-Disposition: attachment; filename=\"archive.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.Bytes()
}
