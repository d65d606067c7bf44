package googletest

import (
	"bytes"
	"encoding/base64"
	"testing"

	gmail "google.golang.org/api/gmail/v1"
)

func TestGmailThreadsGet(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail()
	id := a.fx.Threads["offsite"]
	th, err := svc.Users.Threads.Get("me", id).Format("full").Do()
	if err != nil {
		t.Fatal(err)
	}
	if th.Id != id || len(th.Messages) != 4 || th.HistoryId == 0 || th.Snippet == "" {
		t.Fatalf("thread %s: %d messages", th.Id, len(th.Messages))
	}
	for i, key := range []string{"offsite-1", "offsite-2", "offsite-3", "offsite-4"} {
		m := th.Messages[i]
		if m.Id != a.fx.Messages[key] || m.ThreadId != id || m.Payload == nil || len(m.Payload.Parts) == 0 {
			t.Fatalf("message %d: %s, want %s (oldest first)", i, m.Id, a.fx.Messages[key])
		}
	}
	md, err := svc.Users.Threads.Get("me", id).Format("metadata").MetadataHeaders("Subject").Do()
	if err != nil || len(md.Messages) != 4 || len(md.Messages[0].Payload.Headers) != 1 || md.Messages[0].Payload.Parts != nil {
		t.Fatalf("metadata: %v", err)
	}
	min, err := svc.Users.Threads.Get("me", id).Format("minimal").Do()
	if err != nil || len(min.Messages) != 4 || min.Messages[0].Payload != nil {
		t.Fatalf("minimal: %v", err)
	}
	_, err = svc.Users.Threads.Get("me", id).Format("raw").Do()
	wantAPIError(t, err, 400, "invalid", "Invalid value at 'format'")
	_, err = svc.Users.Threads.Get("me", "00000000deadbeef").Do()
	wantAPIError(t, err, 404, "notFound", "Requested entity was not found.")
	_, err = svc.Users.Threads.Get("me", "not-an-id").Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid id value")
	// The metadata scope reaches threads, but not their bodies.
	_, err = a.gmail(scopeGmailMetadata).Users.Threads.Get("me", id).Format("full").Do()
	wantAPIError(t, err, 403, "forbidden", "Metadata scope doesn't allow format FULL")
}

// TestGmailAttachmentIDsChange: every read of a message mints new
// attachment ids, each of which stays valid, and is valid for its message
// only.
func TestGmailAttachmentIDsChange(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail()
	msg := a.fx.Messages["offsite-1"]
	pdfOf := func() *gmail.MessagePart {
		m, err := svc.Users.Messages.Get("me", msg).Do()
		if err != nil {
			t.Fatal(err)
		}
		return m.Payload.Parts[2]
	}
	p1, p2 := pdfOf(), pdfOf()
	if p1.Filename != "floor-plan.pdf" || p1.PartId != p2.PartId || p1.Body.AttachmentId == p2.Body.AttachmentId {
		t.Fatalf("part %s/%s, ids %s and %s", p1.PartId, p2.PartId, p1.Body.AttachmentId, p2.Body.AttachmentId)
	}
	for _, id := range []string{p1.Body.AttachmentId, p2.Body.AttachmentId} {
		att, err := svc.Users.Messages.Attachments.Get("me", msg, id).Do()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := base64.URLEncoding.DecodeString(att.Data)
		if !bytes.HasPrefix(data, []byte("%PDF-")) || att.Size != int64(len(data)) {
			t.Fatalf("attachment %d bytes", len(data))
		}
	}
	_, err := svc.Users.Messages.Attachments.Get("me", a.fx.Messages["report"], p1.Body.AttachmentId).Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid attachment token")
	tampered := []byte(p1.Body.AttachmentId)
	tampered[len(tampered)-1] ^= 1
	_, err = svc.Users.Messages.Attachments.Get("me", msg, string(tampered)).Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid attachment token")
}
