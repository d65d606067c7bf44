package microsoft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

const draftID = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0ADraft000000000000000000000000000AAA="

func newMessage(atts ...providers.Attachment) providers.OutgoingMessage {
	return providers.OutgoingMessage{
		To:      []providers.Address{{Name: "Bob Smith", Email: "bob@fabrikam.com"}},
		Cc:      []providers.Address{{Email: "carol@fabrikam.com"}},
		Subject: "Quarterly report", Text: "Here it is.", Attachments: atts,
	}
}

// serveDrafts answers draft creation, attachments, upload sessions and
// send as Graph documents them; uploads lists the Content-Range of each
// chunk received.
func serveDrafts(t *testing.T, f *fakeGraph) (uploads *[]string, uploaded *bytes.Buffer) {
	uploads, uploaded = &[]string{}, &bytes.Buffer{}
	draft := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]any{"id": draftID, "conversationId": "AAQkConv1=", "isDraft": true})
	}
	f.on("POST /me/messages", draft)
	f.on("POST /me/messages/"+msgID(1)+"/createReply", draft)
	f.on("POST /me/messages/"+draftID+"/attachments", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]any{"id": "AAMkAtt="})
	})
	f.on("POST /me/messages/"+draftID+"/attachments/createUploadSession", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"uploadUrl": f.srv.URL + "/upload/session-1?authtoken=eyJhbGciOi.secret-session-token.sig",
			"expirationDateTime": "2026-11-28T12:00:00Z", "nextExpectedRanges": []string{"0-"}})
	})
	f.mu.Lock()
	f.routes["PUT /upload/session-1"] = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("an upload chunk carried the access token")
		}
		*uploads = append(*uploads, r.Header.Get("Content-Range"))
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		uploaded.Write(b.Bytes())
		var start, end, total int
		fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total)
		if end+1 == total {
			w.Header().Set("Location", "https://outlook.office.com/api/v2.0/Users('x')/Messages('y')/Attachments('z')")
			w.WriteHeader(http.StatusCreated)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"nextExpectedRanges": []string{fmt.Sprintf("%d-", end+1)}})
	}
	f.mu.Unlock()
	f.on("POST /me/messages/"+draftID+"/send", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	f.on("DELETE /me/messages/"+draftID, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	f.on("GET /me/messages/"+msgID(1), func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": msgID(1), "subject": "Plans", "conversationId": "AAQkConv1="})
	})
	return uploads, uploaded
}

func bodyOf(t *testing.T, s seen) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.Body, &m); err != nil {
		t.Fatalf("%s %s: body %q: %v", s.Method, s.Path, s.Body, err)
	}
	return m
}

func TestSendSmallAttachments(t *testing.T) {
	f := newFake(t)
	serveDrafts(t, f)
	mb := mustMail(t, newAPI(t, f))
	sent, err := mb.Send(context.Background(), newMessage(
		providers.Attachment{Filename: "a.txt", Data: []byte("hello")},
		providers.Attachment{Filename: "b.pdf", MIMEType: "application/pdf", Data: bytes.Repeat([]byte{1}, 1<<20)},
	))
	if err != nil {
		t.Fatal(err)
	}
	if sent.ID != draftID || sent.ThreadID != "AAQkConv1=" {
		t.Fatalf("sent %+v", sent)
	}
	rs := f.requests()
	if len(rs) != 2 || rs[0].Path != "/v1.0/me/messages" || rs[1].Path != "/v1.0/me/messages/"+draftID+"/send" {
		t.Fatalf("requests %+v", rs)
	}
	b := bodyOf(t, rs[0])
	atts, _ := b["attachments"].([]any)
	if b["subject"] != "Quarterly report" || len(atts) != 2 || atts[0].(map[string]any)["contentType"] != "text/plain; charset=utf-8" ||
		atts[0].(map[string]any)["contentBytes"] != "aGVsbG8=" || atts[1].(map[string]any)["@odata.type"] != "#microsoft.graph.fileAttachment" {
		t.Fatalf("draft %v", b)
	}
	to := b["toRecipients"].([]any)[0].(map[string]any)["emailAddress"].(map[string]any)
	if to["address"] != "bob@fabrikam.com" || to["name"] != "Bob Smith" || b["body"].(map[string]any)["contentType"] != "Text" {
		t.Fatalf("draft %v", b)
	}
}

func TestSendLargeAttachment(t *testing.T) {
	f := newFake(t)
	uploads, uploaded := serveDrafts(t, f)
	mb := mustMail(t, newAPI(t, f))
	big := bytes.Repeat([]byte("0123456789abcdef"), (7<<20)/16) // 7 MiB: 3 chunks
	sent, err := mb.Send(context.Background(), newMessage(
		providers.Attachment{Filename: "big.bin", Data: big},
		providers.Attachment{Filename: "small.txt", Data: []byte("x")},
	))
	if err != nil || sent.ID != draftID {
		t.Fatalf("%v %+v", err, sent)
	}
	want := []string{fmt.Sprintf("bytes 0-%d/%d", uploadChunk-1, len(big)), fmt.Sprintf("bytes %d-%d/%d", uploadChunk, 2*uploadChunk-1, len(big)),
		fmt.Sprintf("bytes %d-%d/%d", 2*uploadChunk, len(big)-1, len(big))}
	if strings.Join(*uploads, ",") != strings.Join(want, ",") || !bytes.Equal(uploaded.Bytes(), big) {
		t.Fatalf("chunks %v, want %v; %d bytes arrived", *uploads, want, uploaded.Len())
	}
	if n := f.count("POST /me/messages/" + draftID + "/attachments/createUploadSession"); n != 1 {
		t.Fatalf("%d upload sessions", n)
	}
	s := bodyOf(t, f.requests()[1])["AttachmentItem"].(map[string]any)
	if s["attachmentType"] != "file" || s["name"] != "big.bin" || s["size"] != float64(len(big)) {
		t.Fatalf("session %v", s)
	}
	// The small one went inline in the draft.
	if atts, _ := bodyOf(t, f.requests()[0])["attachments"].([]any); len(atts) != 1 {
		t.Fatalf("inline %v", atts)
	}
}

func TestUploadURLChecked(t *testing.T) {
	f := newFake(t)
	serveDrafts(t, f)
	f.on("POST /me/messages/"+draftID+"/attachments/createUploadSession", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"uploadUrl": "https://attacker.example.com/collect?authtoken=x"})
	})
	mb := mustMail(t, newAPI(t, f))
	_, err := mb.Send(context.Background(), newMessage(providers.Attachment{Filename: "big.bin", Data: make([]byte, 4<<20)}))
	wantKind(t, err, providers.ErrInvalidAnswer)
	if f.count("POST /me/messages/"+draftID+"/send") != 0 || f.count("DELETE /me/messages/"+draftID) != 1 {
		t.Fatalf("requests %+v", f.requests())
	}
	a := newAPI(t, f)
	for raw, ok := range map[string]bool{
		"https://outlook.office.com/api/v2.0/Users('a')/AttachmentSessions('b')?authtoken=x": true,
		"https://eu.outlook.office365.com/api/v2.0/x":                                        true,
		"http://outlook.office.com/x":                                                        false,
		"https://outlook.office.com.evil.example/x":                                          false,
		"https://user@outlook.office.com/x":                                                  false,
		f.srv.URL + "/upload/x":                                                              true,
	} {
		if _, err := a.checkUploadURL(raw); (err == nil) != ok {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

func TestSendReply(t *testing.T) {
	f := newFake(t)
	serveDrafts(t, f)
	mb := mustMail(t, newAPI(t, f))
	m := newMessage()
	m.Subject, m.ReplyTo = "", msgID(1)
	sent, err := mb.Send(context.Background(), m)
	if err != nil || sent.ThreadID != "AAQkConv1=" {
		t.Fatalf("%v %+v", err, sent)
	}
	rs := f.requests()
	if len(rs) != 3 || rs[1].Path != "/v1.0/me/messages/"+msgID(1)+"/createReply" {
		t.Fatalf("requests %+v", rs)
	}
	msg := bodyOf(t, rs[1])["message"].(map[string]any)
	if _, has := msg["subject"]; has || msg["body"].(map[string]any)["content"] != "Here it is." {
		t.Fatalf("reply %v", msg)
	}
	// Another subject would leave the conversation.
	m.Subject = "Something else"
	_, err = mb.Send(context.Background(), m)
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "subject" {
		t.Fatalf("%v", err)
	}
	m.Subject, m.ReplyTo = "", msgID(2)
	_, err = mb.Send(context.Background(), m)
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, "reply_to_message_id") {
		t.Fatal(pe)
	}
}

// TestSendWithoutDrafts: a grant with Mail.Send only gets 403 for drafts;
// the message goes through sendMail (no id), and the next send of the same
// token goes there at once.
func TestSendWithoutDrafts(t *testing.T) {
	f := newFake(t)
	serveDrafts(t, f)
	f.on("POST /me/messages", func(w http.ResponseWriter, r *http.Request) {
		graphErr(w, 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	})
	f.on("POST /me/sendMail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	f.on("POST /me/messages/"+msgID(1)+"/reply", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	f.on("POST /me/messages/"+msgID(1)+"/createReply", func(w http.ResponseWriter, r *http.Request) {
		t.Error("a draft was tried again for a token known to lack Mail.ReadWrite")
	})
	mb := mustMail(t, newAPI(t, f))
	sent, err := mb.Send(context.Background(), newMessage(providers.Attachment{Filename: "a.txt", Data: []byte("hi")}))
	if err != nil || sent.ID != "" {
		t.Fatalf("%v %+v", err, sent)
	}
	rs := f.requests()
	if len(rs) != 2 || rs[1].Path != "/v1.0/me/sendMail" {
		t.Fatalf("requests %+v", rs)
	}
	b := bodyOf(t, rs[1])
	if b["saveToSentItems"] != true || b["message"].(map[string]any)["subject"] != "Quarterly report" || len(b["message"].(map[string]any)["attachments"].([]any)) != 1 {
		t.Fatalf("sendMail %v", b)
	}
	f.reset()
	m := newMessage()
	m.Subject, m.ReplyTo = "", msgID(1)
	sent, err = mb.Send(context.Background(), m)
	if err != nil || sent.ThreadID != "AAQkConv1=" || f.count("POST /me/messages/"+msgID(1)+"/reply") != 1 {
		t.Fatalf("%v %+v %+v", err, sent, f.requests())
	}
	// Too large for one request: an error naming the limit and the scope.
	_, err = mb.Send(context.Background(), newMessage(providers.Attachment{Filename: "big.bin", Data: make([]byte, 5<<20)}))
	if pe := wantKind(t, err, providers.ErrTooLarge); !strings.Contains(pe.Message, "4 MB") || !strings.Contains(pe.Message, "mail.modify") {
		t.Fatal(pe)
	}
	// Another token (reconnected with mail.modify) tries drafts again.
	other, _ := newAPI(t, f).Mail(providers.StaticSource(&oauth2.Token{AccessToken: "another-token"}), alice)
	f.reset()
	_, _ = other.Send(context.Background(), newMessage())
	if f.count("POST /me/messages") != 1 {
		t.Fatalf("requests %+v", f.requests())
	}
}

// TestSendNotRetried: a send whose outcome is unknown (503, 504) is tried
// once and reported as uncertain; the draft is kept (it may be the sent
// message). A 429 was not processed and is retried.
func TestSendNotRetried(t *testing.T) {
	for _, status := range []int{503, 504, 500} {
		f := newFake(t)
		serveDrafts(t, f)
		f.on("POST /me/messages/"+draftID+"/send", func(w http.ResponseWriter, r *http.Request) {
			graphErr(w, status, "ServiceUnavailable", "try later")
		})
		mb := mustMail(t, newAPI(t, f))
		_, err := mb.Send(context.Background(), newMessage())
		if pe := wantKind(t, err, providers.ErrUncertain); !strings.Contains(pe.Message, "Sent Items") {
			t.Fatal(pe)
		}
		if n := f.count("POST /me/messages/" + draftID + "/send"); n != 1 {
			t.Fatalf("%d: send tried %d times", status, n)
		}
		if n := f.count("DELETE /me/messages/" + draftID); n != 0 {
			t.Fatalf("%d: the draft of an uncertain send was deleted", status)
		}
	}
	f := newFake(t)
	serveDrafts(t, f)
	n := 0
	f.on("POST /me/messages/"+draftID+"/send", func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			w.Header().Set("Retry-After", "0")
			graphErr(w, 429, "ApplicationThrottled", "slow down")
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	if _, err := mustMail(t, newAPI(t, f)).Send(context.Background(), newMessage()); err != nil || n != 2 {
		t.Fatalf("%v after %d tries", err, n)
	}
	// A refusal (400) certainly sent nothing: the draft is deleted.
	f = newFake(t)
	serveDrafts(t, f)
	f.on("POST /me/messages/"+draftID+"/send", func(w http.ResponseWriter, r *http.Request) {
		graphErr(w, 400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
	})
	_, err := mustMail(t, newAPI(t, f)).Send(context.Background(), newMessage())
	wantKind(t, err, providers.ErrInvalid)
	if f.count("DELETE /me/messages/"+draftID) != 1 {
		t.Fatal("the refused draft was left")
	}
}

func TestSendTooLarge(t *testing.T) {
	f := newFake(t)
	mb := mustMail(t, newAPI(t, f))
	_, err := mb.Send(context.Background(), newMessage(providers.Attachment{Filename: "huge.bin", Data: make([]byte, 30<<20)}))
	wantKind(t, err, providers.ErrTooLarge)
	if len(f.requests()) != 0 {
		t.Fatal("a message over the limit made requests")
	}
}

// TestOneRequestAtATime: a call's requests go one after another (folders,
// then the listing; draft, upload chunks, send), so that mailcal's 4 calls
// per account stay within Graph's 4 concurrent requests per mailbox.
func TestOneRequestAtATime(t *testing.T) {
	f := newFake(t)
	serveFolders(f)
	serveDrafts(t, f)
	f.on("GET /me/messages", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{"value": []any{}}) })
	f.latency = 5 * time.Millisecond
	mb := mustMail(t, newAPI(t, f))
	if _, err := mb.List(context.Background(), providers.MessageQuery{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Send(context.Background(), newMessage(providers.Attachment{Filename: "big.bin", Data: make([]byte, 7<<20)})); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) < 8 || f.maxInFlight != 1 {
		t.Fatalf("%d requests, at most %d at once; want one at a time", len(f.seen), f.maxInFlight)
	}
}
