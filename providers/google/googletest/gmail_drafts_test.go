package googletest

import (
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	"google.golang.org/api/gmail/v1"
)

// users.drafts as the reference documents them: a draft holds a DRAFT
// message, in the thread given when it belongs there; update gives it a new
// message; list pages newest first; send sends it and the draft is gone;
// delete answers 204; unknown drafts 404; reading needs only a read scope,
// writing a compose one.
func TestGmailDrafts(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail()
	raw := func(b []byte) *gmail.Message { return &gmail.Message{Raw: base64.URLEncoding.EncodeToString(b)} }

	phoenix, err := svc.Users.Messages.Get("me", a.fx.Messages["phoenix-3"]).Format("metadata").Do()
	if err != nil {
		t.Fatal(err)
	}
	reply := raw(rawMessage("carol@example.com", "Re: Project Phoenix kickoff", "In-Reply-To: <phoenix-3.CAC@mail.example.com>"))
	reply.ThreadId = phoenix.ThreadId
	d1, err := svc.Users.Drafts.Create("me", &gmail.Draft{Message: reply}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if d1.Id == "" || d1.Message.ThreadId != phoenix.ThreadId || !slices.Equal(d1.Message.LabelIds, []string{"DRAFT"}) {
		t.Fatalf("created %+v (message %+v), want a DRAFT in the phoenix thread", d1, d1.Message)
	}
	// A thread the message does not belong in (another subject): its own.
	other := raw(rawMessage("bob@example.com", "Lunch"))
	other.ThreadId = phoenix.ThreadId
	d2, err := svc.Users.Drafts.Create("me", &gmail.Draft{Message: other}).Do()
	if err != nil || d2.Message.ThreadId != d2.Message.Id {
		t.Fatalf("a draft of another subject: %+v, %v; want its own thread", d2, err)
	}
	_, err = svc.Users.Drafts.Create("me", &gmail.Draft{}).Do()
	wantAPIError(t, err, http.StatusBadRequest, "invalidArgument", "Missing draft message")

	up, err := svc.Users.Drafts.Update("me", d2.Id, &gmail.Draft{Id: d2.Id, Message: raw(rawMessage("bob@example.com", "Lunch on Friday"))}).Do()
	if err != nil || up.Id != d2.Id || up.Message.Id == d2.Message.Id {
		t.Fatalf("updated %+v, %v; want the same draft with a new message", up, err)
	}
	if _, err := svc.Users.Messages.Get("me", d2.Message.Id).Do(); err == nil {
		t.Error("the replaced message is still there")
	}
	got, err := svc.Users.Drafts.Get("me", d2.Id).Format("metadata").Do()
	if err != nil || hdr(got.Message.Payload, "Subject") != "Lunch on Friday" {
		t.Fatalf("drafts.get: %+v, %v", got, err)
	}

	page, err := a.gmail(gmailRead).Users.Drafts.List("me").MaxResults(1).Do()
	if err != nil || len(page.Drafts) != 1 || page.Drafts[0].Id != d2.Id || page.NextPageToken == "" || page.ResultSizeEstimate != 2 {
		t.Fatalf("first page %+v, %v; want the last saved draft first", page, err)
	}
	page, err = svc.Users.Drafts.List("me").MaxResults(1).PageToken(page.NextPageToken).Do()
	if err != nil || len(page.Drafts) != 1 || page.Drafts[0].Id != d1.Id || page.NextPageToken != "" {
		t.Fatalf("second page %+v, %v", page, err)
	}
	_, err = a.gmail(gmailRead).Users.Drafts.Create("me", &gmail.Draft{Message: raw(rawMessage("bob@example.com", "x"))}).Do()
	wantAPIError(t, err, http.StatusForbidden, "insufficientPermissions", "")

	sent, err := svc.Users.Drafts.Send("me", &gmail.Draft{Id: d1.Id}).Do()
	if err != nil || sent.ThreadId != phoenix.ThreadId || !slices.Contains(sent.LabelIds, "SENT") {
		t.Fatalf("drafts.send: %+v, %v", sent, err)
	}
	if n := len(a.s.SentMessages(alice)); n != 1 {
		t.Errorf("%d messages sent, want 1", n)
	}
	_, err = svc.Users.Drafts.Get("me", d1.Id).Do()
	wantAPIError(t, err, http.StatusNotFound, "notFound", "Requested entity was not found.")
	_, err = svc.Users.Drafts.Send("me", &gmail.Draft{Id: d1.Id}).Do()
	wantAPIError(t, err, http.StatusNotFound, "notFound", "Requested entity was not found.")

	if err := svc.Users.Drafts.Delete("me", d2.Id).Do(); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, svc.Users.Drafts.Delete("me", d2.Id).Do(), http.StatusNotFound, "notFound", "Requested entity was not found.")
	if _, err := svc.Users.Messages.Get("me", up.Message.Id).Do(); err == nil {
		t.Error("a deleted draft's message is still there (drafts.delete deletes for good)")
	}
	if n := len(a.s.Drafts(alice)); n != 0 {
		t.Errorf("%d drafts left", n)
	}
}
