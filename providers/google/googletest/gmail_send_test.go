package googletest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
)

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
