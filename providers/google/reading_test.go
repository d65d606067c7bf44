package google

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/fixturetest"
)

func TestThread(t *testing.T) {
	s := fake(t)
	fx := s.LoadFixtures(alice)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	ctx := context.Background()

	s.ResetAPIStats()
	th, err := mb.Thread(ctx, providers.ThreadQuery{ThreadID: fx.Threads["offsite"]})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.APIRequests("/gmail/"); n != 1 {
		t.Fatalf("%d requests for a thread, want 1", n)
	}
	if th.ID != fx.Threads["offsite"] || len(th.Messages) != 4 || th.More {
		t.Fatalf("thread %s: %d messages", th.ID, len(th.Messages))
	}
	for i, key := range []string{"offsite-1", "offsite-2", "offsite-3", "offsite-4"} {
		m := th.Messages[i]
		if m.ID != fx.Messages[key] || m.ThreadID != th.ID {
			t.Fatalf("message %d is %s, want %s", i, m.ID, key)
		}
		// Each has a text part: the text is read, no HTML kept.
		if m.HTML != "" || m.BodyText == "" || m.BodyFromHTML {
			t.Fatalf("%s: %+v", key, m)
		}
	}
	first := th.Messages[0]
	if len(first.Attachments) != 3 || first.Attachments[0].Filename != "venues.csv" || first.Attachments[1].ID == "" || !strings.Contains(first.BodyText, "three venues") {
		t.Fatalf("first %+v", first.Attachments)
	}

	// By a message's id: its thread id first.
	s.ResetAPIStats()
	th2, err := mb.Thread(ctx, providers.ThreadQuery{MessageID: fx.Messages["offsite-3"]})
	if err != nil || th2.ID != th.ID || len(th2.Messages) != 4 || s.APIRequests("/gmail/") != 2 {
		t.Fatalf("by message: %v %s %d, %d requests", err, th2.ID, len(th2.Messages), s.APIRequests("/gmail/"))
	}

	// The account's own labels by name (one labels.list more).
	s.ResetAPIStats()
	work, err := mb.Thread(ctx, providers.ThreadQuery{MessageID: fx.Messages["report"]})
	if err != nil || len(work.Messages) != 1 || !slices.Contains(work.Messages[0].Labels, "Work") || slices.Contains(work.Messages[0].Labels, "Label_1") ||
		!slices.Contains(work.Messages[0].Labels, "INBOX") || s.APIRequests("/gmail/") != 3 {
		t.Fatalf("labels %v, %d requests", work.Messages[0].Labels, s.APIRequests("/gmail/"))
	}

	// An HTML-only message keeps its HTML for the reader.
	th3, err := mb.Thread(ctx, providers.ThreadQuery{MessageID: fx.Messages["newsletter"]})
	if err != nil || len(th3.Messages) != 1 || !strings.Contains(th3.Messages[0].HTML, "<h1>Go 1.26 is out</h1>") || !th3.Messages[0].BodyFromHTML {
		t.Fatalf("html-only: %v %+v", err, th3)
	}

	_, err = mb.Thread(ctx, providers.ThreadQuery{ThreadID: "00000000deadbeef"})
	wantKind(t, err, providers.ErrNotFound)
	if !strings.Contains(err.Error(), "no such conversation") {
		t.Fatalf("not found: %v", err)
	}
	_, err = mb.Thread(ctx, providers.ThreadQuery{MessageID: "00000000deadbeef"})
	wantKind(t, err, providers.ErrNotFound)
	var fe *providers.FieldError
	if _, err := mb.Thread(ctx, providers.ThreadQuery{ThreadID: "../labels"}); !errors.As(err, &fe) || fe.Field != "thread_id" {
		t.Fatalf("bad thread id: %v", err)
	}
	if _, err := mb.Thread(ctx, providers.ThreadQuery{MessageID: "x y"}); !errors.As(err, &fe) || fe.Field != "message_id" {
		t.Fatalf("bad message id: %v", err)
	}
}

func TestAttachment(t *testing.T) {
	s := fake(t)
	fx := s.LoadFixtures(alice)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
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
	// The ids are part ids: the same on every read, though Gmail's
	// attachment ids change.
	again, _ := mb.Get(ctx, msg)
	for _, a := range again.Attachments {
		if ids[a.Filename] != a.ID || !partID.MatchString(a.ID) {
			t.Fatalf("%s: id %q, then %q", a.Filename, ids[a.Filename], a.ID)
		}
	}

	s.ResetAPIStats()
	csv, err := mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ids["venues.csv"]})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(csv.Data, []byte("Lake house;40;2 100 \x80")) || csv.Charset != "windows-1252" || csv.MIMEType != "text/csv" ||
		csv.Filename != "venues.csv" || csv.Size != int64(len(csv.Data)) {
		t.Fatalf("csv %+v %q", csv.AttachmentInfo, csv.Data)
	}
	if n := s.APIRequests("/gmail/"); n != 2 {
		t.Fatalf("%d requests, want 2 (the parts, the data)", n)
	}
	png, err := mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ids["lake-house.png"]})
	if err != nil || !bytes.Equal(png.Data, fixturetest.OffsitePNG) || png.MIMEType != "image/png" {
		t.Fatalf("png: %v %+v", err, png.AttachmentInfo)
	}

	// A limit below the declared size: refused before the data is read.
	s.ResetAPIStats()
	var asked providers.AttachmentInfo
	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: ids["floor-plan.pdf"], Limit: func(i providers.AttachmentInfo) int64 { asked = i; return 100 }})
	var se *providers.SizeError
	if !errors.As(err, &se) || se.Limit != 100 || se.Size != asked.Size || se.Name != "floor-plan.pdf" || asked.MIMEType != "application/pdf" {
		t.Fatalf("over the limit: %v (asked about %+v)", err, asked)
	}
	if n := s.APIRequests("/gmail/v1/users/me/messages/" + msg + "/attachments"); n != 0 {
		t.Fatalf("the data was read (%d requests) although over the limit", n)
	}

	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: "9.9"})
	wantKind(t, err, providers.ErrNotFound)
	_, err = mb.Attachment(ctx, providers.AttachmentQuery{MessageID: "00000000deadbeef", AttachmentID: "1"})
	wantKind(t, err, providers.ErrNotFound)
	var fe *providers.FieldError
	if _, err := mb.Attachment(ctx, providers.AttachmentQuery{MessageID: msg, AttachmentID: "../../x"}); !errors.As(err, &fe) || fe.Field != "attachment_id" {
		t.Fatalf("bad attachment id: %v", err)
	}
}
