package tools

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/fixturetest"
)

func structured[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var v T
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func threadFixture() providers.Thread {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	msg := func(id, from, subject, text, html string, ago time.Duration) providers.ThreadMessage {
		m := providers.ThreadMessage{Message: providers.Message{MessageSummary: providers.MessageSummary{
			ID: id, ThreadID: "t9", From: from, To: "alice@example.com", Subject: subject, Date: at.Add(ago), Labels: []string{"INBOX"},
		}, BodyText: text}, HTML: html}
		if html != "" {
			m.BodyFromHTML = true
		}
		return m
	}
	first := "Hi Alice,\n\nlet's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\nAgenda: scope, timeline, staffing.\n\nCheers,\nBob"
	second := "Tuesday works for me. Adding Carol.\n\nAlice\n\nOn Mon, Bob Builder <bob@example.com> wrote:\n> Hi Alice,\n>\n> let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\n> Agenda: scope, timeline, staffing.\n"
	thirdHTML := `<div>Count me in. I'll bring the <b>staffing plan</b>.</div><div class="gmail_quote"><div class="gmail_attr">On Mon, Alice wrote:</div><blockquote class="gmail_quote">Tuesday works for me. Adding Carol.<br><br>Alice</blockquote></div>`
	m3 := msg("m3", "Carol <carol@example.com>", "Re: Project Phoenix kickoff", "Count me in. I'll bring the staffing plan.\n\nOn Mon, Alice wrote:\n> Tuesday works for me. Adding Carol.\n> \n> Alice", thirdHTML, 2*time.Hour)
	m3.Unread = true
	m3.Attachments = []providers.AttachmentInfo{{ID: "a1", Filename: "plan.csv", MIMEType: "text/csv", Size: 20}}
	return providers.Thread{ID: "t9", Messages: []providers.ThreadMessage{
		msg("m1", "Bob <bob@example.com>", "Project Phoenix kickoff", first, "", 0),
		msg("m2", "Alice <alice@example.com>", "Re: Project Phoenix kickoff", second, "", time.Hour),
		m3,
		msg("m4", "Dave <dave@example.com>", "Budget (was: Project Phoenix kickoff)", "Budget question.\n\nOn Mon, Eve wrote:\n> The venue is booked for Thursday.", "", 3*time.Hour),
	}}
}

func TestGetThread(t *testing.T) {
	e := newEnv(t, false, alice)
	e.prov.reading().threads = []providers.Thread{threadFixture()}
	for _, args := range []map[string]any{{"thread_id": "t9"}, {"message_id": "m2"}} {
		res := e.call(t, "get_thread", args)
		text := wantOK(t, res)
		r := structured[ThreadResult](t, res)
		if r.ThreadID != "t9" || len(r.Messages) != 4 || r.Subject != "Project Phoenix kickoff" || r.Account != "alice@example.com" {
			t.Fatalf("result %+v", r)
		}
		ids := []string{}
		for _, m := range r.Messages {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != "m1,m2,m3,m4" {
			t.Fatalf("order %v", ids)
		}
		if m := r.Messages[1]; m.Text != "Tuesday works for me. Adding Carol.\n\nAlice" || m.QuotedChars == 0 || m.Subject != "" {
			t.Fatalf("reply %+v", m)
		}
		if m := r.Messages[2]; !strings.Contains(m.Text, "staffing plan") || strings.Contains(m.Text, "Tuesday works") || !m.Unread || len(m.Attachments) != 1 {
			t.Fatalf("HTML reply %+v", m)
		}
		// A quote of mail outside the conversation stays; a changed
		// subject is shown.
		if m := r.Messages[3]; !strings.Contains(m.Text, "venue is booked") || m.QuotedChars != 0 || m.Subject == "" {
			t.Fatalf("last %+v", m)
		}
		if r.QuotedChars != r.Messages[1].QuotedChars+r.Messages[2].QuotedChars {
			t.Fatalf("total removed %d", r.QuotedChars)
		}
		for _, want := range []string{"Conversation t9", "4 messages, oldest first", "Quoted history of earlier messages removed", "Attachment a1: plan.csv", "untrusted data"} {
			if !strings.Contains(text, want) {
				t.Errorf("text lacks %q:\n%s", want, text)
			}
		}
		if strings.Count(text, "kick off Project Phoenix") != 1 {
			t.Errorf("the first message's text is repeated:\n%s", text)
		}
	}
}

func TestGetThreadArguments(t *testing.T) {
	e := newEnv(t, false, alice)
	e.prov.reading().threads = []providers.Thread{threadFixture()}
	wantError(t, e.call(t, "get_thread", nil), "thread_id", "exactly one")
	wantError(t, e.call(t, "get_thread", map[string]any{"thread_id": "t9", "message_id": "m1"}), "exactly one")
	wantError(t, e.call(t, "get_thread", map[string]any{"thread_id": "t9", "max_body_chars": 5}), "max_body_chars")
	wantError(t, e.call(t, "get_thread", map[string]any{"thread_id": "nope"}), "nope")
	r := structured[ThreadResult](t, e.call(t, "get_thread", map[string]any{"thread_id": "t9", "max_body_chars": 100}))
	if m := r.Messages[0]; !m.Truncated || len([]rune(m.Text)) > 100 || m.TextChars <= 100 {
		t.Fatalf("cut %+v", m)
	}
}

func TestGetAttachment(t *testing.T) {
	const docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	e := newEnv(t, false, alice)
	png := fixturetest.PNG(16, 16, color.RGBA{10, 20, 30, 255})
	files := map[string]providers.AttachmentContent{
		"csv":   {AttachmentInfo: providers.AttachmentInfo{Filename: "bilan.csv", MIMEType: "text/csv"}, Charset: "iso-8859-1", Data: []byte("r\xe9sultat;montant\r\nQ3;12\r\n")},
		"html":  {AttachmentInfo: providers.AttachmentInfo{Filename: "page.html", MIMEType: "text/html"}, Data: []byte("<html><body><h1>Title</h1><script>x()</script><p>Body text</p></body></html>")},
		"json":  {AttachmentInfo: providers.AttachmentInfo{Filename: "data.json", MIMEType: "application/json"}, Data: []byte(`{"a":1}`)},
		"pdf":   {AttachmentInfo: providers.AttachmentInfo{Filename: "report.pdf", MIMEType: "application/pdf"}, Data: fixturetest.PDF("Q3 report (draft)")},
		"pdf2":  {AttachmentInfo: providers.AttachmentInfo{Filename: "scan", MIMEType: "application/octet-stream"}, Data: fixturetest.PDF("Hidden PDF")},
		"png":   {AttachmentInfo: providers.AttachmentInfo{Filename: "beach.png", MIMEType: "image/png"}, Data: png},
		"liar":  {AttachmentInfo: providers.AttachmentInfo{Filename: "notes.txt", MIMEType: "text/plain"}, Data: png},
		"big":   {AttachmentInfo: providers.AttachmentInfo{Filename: "video.mp4", MIMEType: "video/mp4"}, Data: make([]byte, maxResourceBytes+1)},
		"bad":   {AttachmentInfo: providers.AttachmentInfo{Filename: "broken.pdf", MIMEType: "application/pdf"}, Data: []byte("%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 9 0 R>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF")},
		"bytes": {AttachmentInfo: providers.AttachmentInfo{Filename: "blob.bin", MIMEType: "application/octet-stream"}, Data: []byte{0, 1, 2, 3, 0xff}},
		"docx":  {AttachmentInfo: providers.AttachmentInfo{Filename: "memo.docx", MIMEType: docx}, Data: []byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")},
		"utf16": {AttachmentInfo: providers.AttachmentInfo{Filename: "notes.txt", MIMEType: "text/plain"}, Data: []byte("\xff\xfeH\x00i\x00 \x00\xe9\x00")},
	}
	for id, f := range files {
		f.ID = id
		e.prov.reading().files[[2]string{"m1", id}] = f
	}
	get := func(id string, more ...any) *mcp.CallToolResult {
		args := map[string]any{"message_id": "m1", "attachment_id": id}
		for i := 0; i+1 < len(more); i += 2 {
			args[more[i].(string)] = more[i+1]
		}
		return e.call(t, "get_attachment", args)
	}
	for _, c := range []struct {
		id, kind, mime string
		want           []string
	}{
		{"csv", "text", "text/csv", []string{"résultat;montant\nQ3;12"}},
		{"html", "text", "text/html", []string{"Title", "Body text"}},
		{"json", "text", "application/json", []string{`{"a":1}`}},
		{"pdf", "pdf", "application/pdf", []string{"Q3 report (draft)"}},
		{"pdf2", "pdf", "application/pdf", []string{"Hidden PDF"}},
		{"utf16", "text", "text/plain", []string{"Hi é"}},
	} {
		res := get(c.id)
		text := wantOK(t, res)
		r := structured[AttachmentResult](t, res)
		if r.Kind != c.kind || r.MIMEType != c.mime || len(res.Content) != 1 {
			t.Errorf("%s: %+v", c.id, r)
		}
		for _, w := range c.want {
			if !strings.Contains(r.Text, w) || !strings.Contains(text, w) {
				t.Errorf("%s: %q missing from %q", c.id, w, r.Text)
			}
		}
		if strings.Contains(r.Text, "x()") || strings.HasPrefix(r.Text, "\uFEFF") {
			t.Errorf("%s: script text kept", c.id)
		}
	}
	if r := structured[AttachmentResult](t, get("pdf")); r.Pages != 1 || r.PagesRead != 1 {
		t.Errorf("pdf pages %+v", r)
	}
	for id, mt := range map[string]string{"png": "image/png", "liar": "image/png", "bytes": "application/octet-stream", "docx": docx} {
		res := get(id)
		wantOK(t, res)
		r := structured[AttachmentResult](t, res)
		if r.Kind != "file" || r.MIMEType != mt || !strings.HasPrefix(r.ResourceURI, "mailcal://attachment/m1/") {
			t.Fatalf("%s: %+v", id, r)
		}
		if len(res.Content) != 2 {
			t.Fatalf("%s: %d content blocks", id, len(res.Content))
		}
		er, ok := res.Content[1].(mcp.EmbeddedResource)
		if !ok {
			t.Fatalf("%s: %T", id, res.Content[1])
		}
		blob, ok := er.Resource.(mcp.BlobResourceContents)
		if !ok || blob.MIMEType != mt || blob.URI != r.ResourceURI {
			t.Fatalf("%s: resource %+v", id, er.Resource)
		}
		data, err := base64.StdEncoding.DecodeString(blob.Blob)
		if err != nil || !bytes.Equal(data, files[id].Data) {
			t.Fatalf("%s: blob does not decode to the file", id)
		}
	}
	wantError(t, get("big"), `"video.mp4"`, "5242881 bytes", "at most 5.0 MB (5242880 bytes)")
	wantError(t, get("bad"), `"broken.pdf"`, "could not be read")
	wantError(t, get("nope"), "nope")
	r := structured[AttachmentResult](t, get("csv", "max_chars", 100))
	if r.Truncated {
		t.Fatalf("short text cut: %+v", r)
	}
	// Text-like and PDF files may be read up to maxReadBytes, others up to
	// maxResourceBytes.
	e.prov.reading().limits = nil
	get("csv")
	get("png")
	if l := e.prov.reading().limits; len(l) != 2 || l[0] != maxReadBytes || l[1] != maxResourceBytes {
		t.Fatalf("limits %v", l)
	}
}

func TestPDFTextBounded(t *testing.T) {
	// Hostile and damaged PDFs: an error, never a panic.
	for _, data := range [][]byte{
		[]byte("%PDF-1.7\n"),
		[]byte("%PDF-1.4\nxref\n0 99999999\ntrailer <</Size 99999999 /Root 1 0 R>>\nstartxref\n9\n%%EOF"),
		append(fixturetest.PDF("x")[:200], []byte("garbage")...),
	} {
		if _, err := pdfText(t.Context(), data, 1000); err == nil {
			t.Errorf("no error for %q", data[:min(len(data), 40)])
		}
	}
	ctx, cancel := contextWithCancel(t)
	cancel()
	if _, err := pdfText(ctx, fixturetest.PDF("late"), 1000); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("an ended call: %v", err)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func TestGetThreadShortensTheOldest(t *testing.T) {
	e := newEnv(t, false, alice)
	th := providers.Thread{ID: "big"}
	for i := range 50 {
		th.Messages = append(th.Messages, providers.ThreadMessage{Message: providers.Message{
			MessageSummary: providers.MessageSummary{ID: fmt.Sprintf("b%d", i), Subject: "Big", Date: time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)},
			BodyText:       strings.Repeat(fmt.Sprintf("word%d ", i), 1000),
		}})
	}
	e.prov.reading().threads = []providers.Thread{th}
	r := structured[ThreadResult](t, e.call(t, "get_thread", map[string]any{"thread_id": "big", "max_body_chars": 5000}))
	total := 0
	for _, m := range r.Messages {
		total += len([]rune(m.Text))
	}
	first, last := r.Messages[0], r.Messages[49]
	if total > maxThreadChars || len([]rune(first.Text)) > oldTextChars || !first.Truncated || len([]rune(last.Text)) < 4000 {
		t.Fatalf("%d characters in all; the oldest %d, the latest %d", total, len([]rune(first.Text)), len([]rune(last.Text)))
	}
}

// TestPDFInflationBounded: a page whose content inflates past
// maxPDFStreamBytes (a few kilobytes on the wire) is skipped, not read.
func TestPDFInflationBounded(t *testing.T) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n"))
	w.Write(make([]byte, maxPDFStreamBytes+1)) // zeros: a 8 MB stream in a few kB
	w.Close()
	b := bytes.NewBuffer(fixturetest.PDFPage(z.Bytes(), "/FlateDecode"))
	if b.Len() > 64<<10 {
		t.Fatalf("the bomb is %d bytes", b.Len())
	}
	doc, err := pdfText(t.Context(), b.Bytes(), 1000)
	if err != nil || doc.pages != 1 || !strings.Contains(doc.text, "page 1: too large to read") || strings.Contains(doc.text, "bomb") {
		t.Fatalf("%v %+v", err, doc)
	}
}
