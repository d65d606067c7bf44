package google

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/mailcal/mailcal/providers"
)

var composeScopes = []string{"openid", "email", gmail.GmailModifyScope}

// parts returns a message's leaves: file name (or content type) → body.
func parts(t *testing.T, m *mail.Message) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(ct string, body io.Reader, h map[string][]string)
	walk = func(ct string, body io.Reader, h map[string][]string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			r := multipart.NewReader(body, params["boundary"])
			for {
				p, err := r.NextPart()
				if err != nil {
					return
				}
				walk(p.Header.Get("Content-Type"), p, p.Header)
			}
		}
		b, _ := io.ReadAll(body)
		key := mt
		if _, dp, err := mime.ParseMediaType(strings.Join(h["Content-Disposition"], "")); err == nil && dp["filename"] != "" {
			key = dp["filename"]
		}
		out[key] = string(b)
	}
	walk(m.Header.Get("Content-Type"), m.Body, m.Header)
	return out
}

func TestForward(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, composeScopes...), alice)
	ctx := context.Background()
	orig, err := mb.Get(ctx, fx.attachment)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := mb.Forward(ctx, providers.ForwardMessage{MessageID: fx.attachment, To: []providers.Address{{Email: bob}}, Note: "See below.", IncludeAttachments: true})
	if err != nil {
		t.Fatal(err)
	}
	m := sentLast(t, s)
	if m.Header.Get("Subject") != "Fwd: Report" || m.Header.Get("In-Reply-To") != "<report@example.com>" || m.Header.Get("To") != bob {
		t.Errorf("forward headers %v", m.Header)
	}
	if sent.ThreadID != orig.ThreadID {
		t.Errorf("forward in thread %s, original in %s", sent.ThreadID, orig.ThreadID)
	}
	p := parts(t, m)
	text := p["text/plain"]
	if !strings.HasPrefix(text, "See below.") || !strings.Contains(text, "From: carol@example.com") || !strings.Contains(text, "The report is attached.") {
		t.Errorf("forward text %q", text)
	}
	if !strings.HasPrefix(p["q3.pdf"], "JVBERi0xLjQK") && !strings.Contains(p["q3.pdf"], "JVBERi0") {
		t.Errorf("the PDF did not go along: %v", p)
	}

	if _, err := mb.Forward(ctx, providers.ForwardMessage{MessageID: fx.attachment, To: []providers.Address{{Email: bob}}}); err != nil {
		t.Fatal(err)
	}
	if p := parts(t, sentLast(t, s)); p["q3.pdf"] != "" {
		t.Errorf("include_attachments false sent the PDF: %v", p)
	}

	// An HTML-only original goes as HTML with a text version.
	if _, err := mb.Forward(ctx, providers.ForwardMessage{MessageID: fx.htmlOnly, To: []providers.Address{{Email: bob}}, Note: "<b>FYI</b>"}); err != nil {
		t.Fatal(err)
	}
	p = parts(t, sentLast(t, s))
	if !strings.Contains(p["text/plain"], "Café news") || !strings.Contains(p["text/html"], "&lt;b&gt;FYI&lt;/b&gt;") {
		t.Errorf("HTML forward %v", p)
	}

	n := len(s.SentMessages(alice))
	_, err = mb.Forward(ctx, providers.ForwardMessage{MessageID: "00000000deadbeef", To: []providers.Address{{Email: bob}}})
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, "message_id") {
		t.Errorf("%v", pe)
	}
	if len(s.SentMessages(alice)) != n {
		t.Error("forwarded a missing message")
	}
}

func TestDraftLifecycle(t *testing.T) {
	s := fake(t)
	fx := addMail(s)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, composeScopes...), alice)
	ctx := context.Background()
	orig, err := mb.Get(ctx, fx.thread)
	if err != nil {
		t.Fatal(err)
	}

	d, err := mb.CreateDraft(ctx, providers.OutgoingMessage{To: []providers.Address{{Name: "Bob", Email: bob}}, Text: "Draft reply.", ReplyTo: fx.thread})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.MessageID == "" || d.ThreadID != orig.ThreadID {
		t.Fatalf("reply draft %+v, want it in thread %s", d, orig.ThreadID)
	}
	if len(s.SentMessages(alice)) != 0 {
		t.Fatal("creating a draft sent it")
	}
	nd, err := mb.CreateDraft(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: "carol@example.com"}}, Subject: "New", Text: "Hello",
		Attachments: []providers.Attachment{{Filename: "a.txt", MIMEType: "text/plain", Data: []byte("abc")}}})
	if err != nil {
		t.Fatal(err)
	}

	page, err := mb.ListDrafts(ctx, providers.DraftQuery{MaxResults: 1})
	if err != nil || len(page.Drafts) != 1 || page.Drafts[0].ID != nd.ID || page.NextPageToken == "" {
		t.Fatalf("first page %+v, %v; want the newest draft and a next page", page, err)
	}
	if r := page.Drafts[0]; r.Subject != "New" || len(r.To) != 1 || r.To[0].Email != "carol@example.com" || r.Snippet == "" || r.Date.IsZero() {
		t.Errorf("listed draft %+v", r)
	}
	page, err = mb.ListDrafts(ctx, providers.DraftQuery{MaxResults: 1, PageToken: page.NextPageToken})
	if err != nil || len(page.Drafts) != 1 || page.Drafts[0].ID != d.ID || page.NextPageToken != "" {
		t.Fatalf("second page %+v, %v", page, err)
	}

	got, err := mb.GetDraft(ctx, nd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "New" || got.Text != "Hello" || len(got.Attachments) != 1 || got.Attachments[0].Filename != "a.txt" {
		t.Errorf("draft %+v", got)
	}
	// New text, the attachment kept.
	if _, err := mb.UpdateDraft(ctx, nd.ID, providers.DraftUpdate{KeepAttachments: true,
		OutgoingMessage: providers.OutgoingMessage{To: []providers.Address{{Email: "carol@example.com"}}, Text: "Hello again"}}); err != nil {
		t.Fatal(err)
	}
	if got, err = mb.GetDraft(ctx, nd.ID); err != nil || got.Text != "Hello again" || len(got.Attachments) != 1 || got.Attachments[0].Filename != "a.txt" || got.Attachments[0].Size != 3 {
		t.Errorf("draft with its attachment kept %+v, %v", got, err)
	}

	// An update replaces everything given and keeps a reply in its thread
	// with its subject.
	up, err := mb.UpdateDraft(ctx, d.ID, providers.DraftUpdate{OutgoingMessage: providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Cc: []providers.Address{{Email: "dave@example.com"}}, Text: "Better reply."}})
	if err != nil {
		t.Fatal(err)
	}
	if up.ID != d.ID || up.ThreadID != orig.ThreadID || up.MessageID == d.MessageID {
		t.Errorf("updated %+v, was %+v", up, d)
	}
	got, err = mb.GetDraft(ctx, d.ID)
	if err != nil || got.Subject != "Re: Plans" || got.Text != "Better reply." || len(got.Cc) != 1 || got.Cc[0].Email != "dave@example.com" {
		t.Errorf("updated draft %+v, %v", got, err)
	}
	_, err = mb.UpdateDraft(ctx, d.ID, providers.DraftUpdate{OutgoingMessage: providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "Other", Text: "x"}})
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "subject" {
		t.Errorf("a reply draft's subject changed: %v", err)
	}

	sent, err := mb.SendDraft(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sent.ThreadID != orig.ThreadID {
		t.Errorf("sent draft in thread %s, want %s", sent.ThreadID, orig.ThreadID)
	}
	m := sentLast(t, s)
	if m.Header.Get("In-Reply-To") != "<plans-2@example.com>" || m.Header.Get("Cc") != "dave@example.com" {
		t.Errorf("sent draft headers %v", m.Header)
	}
	if _, err := mb.GetDraft(ctx, d.ID); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("a sent draft is still there: %v", err)
	}
	_, err = mb.SendDraft(ctx, d.ID)
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, "draft_id") {
		t.Errorf("sending a sent draft again: %v", pe)
	}

	if err := mb.DeleteDraft(ctx, nd.ID); err != nil {
		t.Fatal(err)
	}
	if err := mb.DeleteDraft(ctx, nd.ID); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("deleting a deleted draft: %v", err)
	}
	if n := len(s.Drafts(alice)); n != 0 || len(s.SentMessages(alice)) != 1 {
		t.Errorf("%d drafts left, %d sent; want none and 1", n, len(s.SentMessages(alice)))
	}
}

// A draft too large for a JSON request goes through the upload endpoint,
// created and updated alike.
func TestLargeDraft(t *testing.T) {
	s := fake(t)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, composeScopes...), alice)
	ctx := context.Background()
	big := providers.Attachment{Filename: "big.bin", MIMEType: "application/octet-stream", Data: bytes.Repeat([]byte("0123456789abcdef"), 6<<16)} // 6 MB
	d, err := mb.CreateDraft(ctx, providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Subject: "Big", Text: "See file.", Attachments: []providers.Attachment{big}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.UpdateDraft(ctx, d.ID, providers.DraftUpdate{OutgoingMessage: providers.OutgoingMessage{To: []providers.Address{{Email: bob}}, Text: "Still big.", Attachments: []providers.Attachment{big, big}}}); err != nil {
		t.Fatal(err)
	}
	got, err := mb.GetDraft(ctx, d.ID)
	if err != nil || got.Text != "Still big." || len(got.Attachments) != 2 || got.Attachments[1].Size < 6<<20 {
		t.Fatalf("large draft %+v, %v", got.DraftSummary, err)
	}
	if n := s.HTTPRequests("/upload/gmail/v1/users/me/drafts"); n != 2 {
		t.Errorf("%d upload requests, want 2 (create and update)", n)
	}
}
