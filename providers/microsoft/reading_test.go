package microsoft_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/fixturetest"
	"github.com/mailcal/mailcal/providers/microsoft"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// The mailbox over the Graph fake, which behaves as Graph documents
// (conversationId filters, $orderby's rule, attachments and $value).

const reader = "reader@contoso.example"

func fakeMailbox(t *testing.T) (*microsofttest.Server, *microsofttest.Fixtures, providers.Mail) {
	t.Helper()
	s := microsofttest.New(microsofttest.Options{})
	t.Cleanup(s.Close)
	s.AddUser(reader)
	fx := s.LoadFixtures(reader)
	tok, err := s.Token(context.Background(), reader, "Mail.Read", "Mail.Send")
	if err != nil {
		t.Fatal(err)
	}
	api, err := microsoft.New(microsoft.Options{GraphURL: s.GraphURL()})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := api.Mail(providers.StaticSource(tok), reader)
	if err != nil {
		t.Fatal(err)
	}
	return s, fx, mb
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
}

func TestThreadOverTheFake(t *testing.T) {
	s, fx, mb := fakeMailbox(t)
	ctx := context.Background()
	conv := fx.Conversations["offsite"]
	if _, err := mb.List(ctx, providers.MessageQuery{MaxResults: 1}); err != nil { // the account's folders
		t.Fatal(err)
	}
	before := s.APIRequests("/v1.0/")
	th, err := mb.Thread(ctx, providers.ThreadQuery{ThreadID: conv})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.APIRequests("/v1.0/") - before; n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if th.ID != conv || len(th.Messages) != 4 {
		t.Fatalf("%s: %d messages", th.ID, len(th.Messages))
	}
	for i, key := range []string{"offsite-1", "offsite-2", "offsite-3", "offsite-4"} {
		m := th.Messages[i]
		want, err := mb.Get(ctx, fx.Messages[key]) // its immutable id
		if err != nil || m.ID != want.ID || m.ThreadID != conv || len(m.Labels) == 0 {
			t.Fatalf("message %d: %s, want %s", i, m.ID, key)
		}
		// Graph gives the HTML body of a multipart/alternative message.
		if m.HTML == "" || !m.BodyFromHTML {
			t.Fatalf("%s: no HTML body", key)
		}
	}
	first := th.Messages[0]
	if len(first.Attachments) != 3 || first.Attachments[0].Filename != "venues.csv" || !first.HasAttachments {
		t.Fatalf("attachments %+v", first.Attachments)
	}

	before = s.APIRequests("/v1.0/")
	th2, err := mb.Thread(ctx, providers.ThreadQuery{MessageID: fx.Messages["offsite-4"]})
	if err != nil || th2.ID != conv || len(th2.Messages) != 4 || s.APIRequests("/v1.0/")-before != 2 {
		t.Fatalf("by message: %v %d messages, %d requests", err, len(th2.Messages), s.APIRequests("/v1.0/")-before)
	}

	// Longer than a page: the pages are followed, oldest first.
	for i := range 60 {
		date := fx.Now.Add(-72*time.Hour + time.Duration(i)*time.Minute).Format(time.RFC1123Z)
		s.AddMessage(reader, fmt.Appendf(nil, "From: Carol <carol@example.com>\r\nTo: %s\r\nSubject: Re: Lunch on Friday?\r\nDate: %s\r\n"+
			"Message-ID: <lunch-x%d@example.com>\r\nIn-Reply-To: <lunch-1.CAC@mail.example.com>\r\nReferences: <lunch-1.CAC@mail.example.com>\r\n\r\nAnswer %d\r\n",
			reader, date, i, i), microsofttest.Filing{Folder: "inbox", Read: true})
	}
	long, err := mb.Thread(ctx, providers.ThreadQuery{MessageID: fx.Messages["lunch-1"]})
	if err != nil || len(long.Messages) < 62 {
		t.Fatalf("a long conversation: %v, %d messages", err, len(long.Messages))
	}
	for i := 1; i < len(long.Messages); i++ {
		if long.Messages[i].Date.Before(long.Messages[i-1].Date) {
			t.Fatalf("message %d is older than the one before", i)
		}
	}

	_, err = mb.Thread(ctx, providers.ThreadQuery{ThreadID: "AAQkAGI2TG93AAA="})
	wantKind(t, err, providers.ErrNotFound)
	var fe *providers.FieldError
	if _, err := mb.Thread(ctx, providers.ThreadQuery{ThreadID: "x' or 1 eq 1"}); !errors.As(err, &fe) || fe.Field != "thread_id" {
		t.Fatalf("a hostile id: %v", err)
	}
}

func TestAttachmentOverTheFake(t *testing.T) {
	s, fx, mb := fakeMailbox(t)
	ctx := context.Background()
	msg := fx.Messages["offsite-1"]
	m, err := mb.Get(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, a := range m.Attachments {
		ids[a.Filename] = a.ID
	}
	csv, err := mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ids["venues.csv"]})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(csv.Data, []byte("Lake house;40;2 100 \x80")) || csv.MIMEType != "text/csv" || csv.Filename != "venues.csv" {
		t.Fatalf("csv %+v %q", csv.AttachmentInfo, csv.Data)
	}
	png, err := mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ids["lake-house.png"]})
	if err != nil || !bytes.Equal(png.Data, fixturetest.OffsitePNG) {
		t.Fatalf("png: %v", err)
	}

	// Over the limit: refused before $value is read.
	before := s.APIRequests("/v1.0/")
	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ids["floor-plan.pdf"], Limit: func(providers.AttachmentInfo) int64 { return 10 }})
	var se *providers.SizeError
	if !errors.As(err, &se) || se.Limit != 10 || se.Size < 100 || s.APIRequests("/v1.0/")-before != 1 {
		t.Fatalf("over the limit: %v, %d requests", err, s.APIRequests("/v1.0/")-before)
	}

	item := s.AttachItem(reader, msg, "Original request.eml", []byte("Subject: hi\r\n\r\nhello\r\n"))
	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: item})
	if err == nil || !strings.Contains(err.Error(), "Outlook item") || !strings.Contains(err.Error(), "Original request.eml") {
		t.Fatalf("item attachment: %v", err)
	}
	ref := s.AttachReference(reader, msg, "Budget.xlsx")
	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ref})
	if err == nil || !strings.Contains(err.Error(), "OneDrive or SharePoint") || !strings.Contains(err.Error(), "Budget.xlsx") {
		t.Fatalf("reference attachment: %v", err)
	}
	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: "AAMkAGI2THVSAAA="})
	wantKind(t, err, providers.ErrNotFound)
	var fe *providers.FieldError
	if _, err := mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: "../x"}); !errors.As(err, &fe) || fe.Field != "attachment_id" {
		t.Fatalf("a hostile id: %v", err)
	}
}
