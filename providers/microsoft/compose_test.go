package microsoft

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// composeEnv is the Graph fake with alice's fixture mailbox and her
// mailbox client (mail read, write and send).
type composeEnv struct {
	s  *microsofttest.Server
	fx *microsofttest.Fixtures
	mb providers.Mail
}

func newComposeEnv(t *testing.T) *composeEnv {
	return newComposeEnvScopes(t, "User.Read", "Mail.ReadWrite", "Mail.Send")
}

// newComposeEnvScopes is alice's mailbox on a fake Graph, with a token of
// these scopes.
func newComposeEnvScopes(t *testing.T, scopes ...string) *composeEnv {
	t.Helper()
	const alice = "alice@contoso.example"
	s := microsofttest.New(microsofttest.Options{})
	t.Cleanup(s.Close)
	s.AddUser(alice)
	fx := s.LoadFixtures(alice)
	tok, err := s.Token(context.Background(), alice, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Options{GraphURL: s.GraphURL()})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := api.Mail(providers.StaticSource(tok), alice)
	if err != nil {
		t.Fatal(err)
	}
	return &composeEnv{s: s, fx: fx, mb: mb}
}

func (e *composeEnv) id(key string) string { return microsofttest.ImmutableID(e.fx.Messages[key]) }

func TestForwardOutlook(t *testing.T) {
	e := newComposeEnv(t)
	ctx := context.Background()
	bob := []providers.Address{{Name: "Bob", Email: "bob@example.com"}}
	sent, err := e.mb.Forward(ctx, providers.ForwardMessage{MessageID: e.id("report"), To: bob, Cc: []providers.Address{{Email: "carol@example.com"}},
		Bcc: []providers.Address{{Email: "dave@example.com"}}, Note: "See the numbers.", IncludeAttachments: true})
	if err != nil {
		t.Fatal(err)
	}
	all := e.s.Sent("alice@contoso.example")
	m := all[len(all)-1]
	if m.Subject != "FW: Q3 report draft" || len(m.Attachments) != 1 || m.Attachments[0].Name != "Q3-report-draft.pdf" ||
		len(m.To) != 1 || m.To[0].Address != "bob@example.com" || len(m.Cc) != 1 || len(m.Bcc) != 1 || !strings.Contains(m.UniqueBody, "See the numbers.") {
		t.Errorf("forward %+v", m)
	}
	if sent.ID == "" || sent.ThreadID != m.ConversationID {
		t.Errorf("result %+v, sent in %s", sent, m.ConversationID)
	}

	if _, err := e.mb.Forward(ctx, providers.ForwardMessage{MessageID: e.id("report"), To: bob, Note: "Text only."}); err != nil {
		t.Fatal(err)
	}
	all = e.s.Sent("alice@contoso.example")
	if m := all[len(all)-1]; len(m.Attachments) != 0 || !strings.Contains(m.UniqueBody, "Text only.") {
		t.Errorf("a forward without attachments carried %d", len(m.Attachments))
	}
	if n := len(e.s.Drafts("alice@contoso.example")); n != 0 {
		t.Errorf("forwards left %d drafts", n)
	}

	// Another mailbox's message is not found in alice's.
	e.s.AddUser("bob@contoso.example")
	other := microsofttest.ImmutableID(e.s.LoadFixtures("bob@contoso.example").Messages["report"])
	n := len(e.s.Sent("alice@contoso.example"))
	_, err = e.mb.Forward(ctx, providers.ForwardMessage{MessageID: other, To: bob})
	if !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "message_id") {
		t.Errorf("forwarding a missing message: %v", err)
	}
	if len(e.s.Sent("alice@contoso.example")) != n {
		t.Error("a forward of a missing message was sent")
	}
}

func TestDraftsOutlook(t *testing.T) {
	e := newComposeEnv(t)
	ctx := context.Background()
	const alice = "alice@contoso.example"
	bob := []providers.Address{{Name: "Bob", Email: "bob@example.com"}}

	reply, err := e.mb.CreateDraft(ctx, providers.OutgoingMessage{To: bob, Text: "Draft reply.", ReplyTo: e.id("phoenix-3")})
	if err != nil {
		t.Fatal(err)
	}
	if reply.ID == "" || reply.ID != reply.MessageID || reply.ThreadID != e.fx.Conversations["phoenix"] {
		t.Fatalf("reply draft %+v, want it in the phoenix conversation", reply)
	}
	plain, err := e.mb.CreateDraft(ctx, providers.OutgoingMessage{To: bob, Subject: "Numbers", Text: "Attached.",
		Attachments: []providers.Attachment{{Filename: "n.csv", MIMEType: "text/csv", Data: []byte("a,b\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.s.Sent(alice)) != 0 {
		t.Fatal("saving drafts sent something")
	}

	page, err := e.mb.ListDrafts(ctx, providers.DraftQuery{MaxResults: 1})
	if err != nil || len(page.Drafts) != 1 || page.NextPageToken == "" {
		t.Fatalf("first page %+v, %v", page, err)
	}
	next, err := e.mb.ListDrafts(ctx, providers.DraftQuery{MaxResults: 1, PageToken: page.NextPageToken})
	if err != nil || len(next.Drafts) != 1 || next.NextPageToken != "" {
		t.Fatalf("second page %+v, %v", next, err)
	}
	ids := []string{page.Drafts[0].ID, next.Drafts[0].ID}
	if !slices.Contains(ids, reply.ID) || !slices.Contains(ids, plain.ID) {
		t.Errorf("listed %v, want both drafts", ids)
	}

	d, err := e.mb.GetDraft(ctx, plain.ID)
	if err != nil || d.Subject != "Numbers" || d.Text != "Attached." || len(d.Attachments) != 1 || d.Attachments[0].Filename != "n.csv" || len(d.To) != 1 {
		t.Fatalf("draft %+v, %v", d, err)
	}
	// Attachments kept, then replaced.
	if _, err := e.mb.UpdateDraft(ctx, plain.ID, providers.DraftUpdate{KeepAttachments: true,
		OutgoingMessage: providers.OutgoingMessage{To: bob, Text: "Kept."}}); err != nil {
		t.Fatal(err)
	}
	if d, err := e.mb.GetDraft(ctx, plain.ID); err != nil || d.Text != "Kept." || len(d.Attachments) != 1 || d.Attachments[0].Filename != "n.csv" {
		t.Fatalf("draft with kept attachments %+v, %v", d, err)
	}
	if _, err := e.mb.UpdateDraft(ctx, plain.ID, providers.DraftUpdate{OutgoingMessage: providers.OutgoingMessage{To: []providers.Address{{Email: "carol@example.com"}}, Text: "New text.",
		Attachments: []providers.Attachment{{Filename: "m.csv", Data: []byte("c\n")}}}}); err != nil {
		t.Fatal(err)
	}
	d, err = e.mb.GetDraft(ctx, plain.ID)
	if err != nil || d.Subject != "Numbers" || d.Text != "New text." || len(d.To) != 1 || d.To[0].Email != "carol@example.com" ||
		len(d.Attachments) != 1 || d.Attachments[0].Filename != "m.csv" {
		t.Fatalf("updated draft %+v, %v", d, err)
	}

	sent, err := e.mb.SendDraft(ctx, reply.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := e.s.Sent(alice)
	if len(s) != 1 || s[0].ImmutableID != reply.ID || s[0].ConversationID != e.fx.Conversations["phoenix"] || sent.ID != reply.ID {
		t.Fatalf("sent %+v (result %+v)", s, sent)
	}
	if _, err := e.mb.SendDraft(ctx, reply.ID); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("sending a sent draft again: %v", err)
	}
	// Only drafts: a received message is neither sent nor deleted.
	if err := e.mb.DeleteDraft(ctx, e.id("report")); !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "not a draft") {
		t.Errorf("delete_draft of a received message: %v", err)
	}
	if err := e.mb.DeleteDraft(ctx, plain.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.mb.DeleteDraft(ctx, plain.ID); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("deleting a deleted draft: %v", err)
	}
	if _, err := e.mb.SendDraft(ctx, plain.ID); !errors.Is(err, providers.ErrNotFound) || len(e.s.Sent(alice)) != 1 {
		t.Errorf("sending a deleted draft: %v, %d sent", err, len(e.s.Sent(alice)))
	}
	if n := len(e.s.Drafts(alice)); n != 0 {
		t.Errorf("%d drafts left", n)
	}
}

// Without Mail.ReadWrite (no drafts), a forward with its attachments is one
// forward request; without them it is refused, saying what scope it needs.
func TestForwardWithoutDrafts(t *testing.T) {
	const alice = "alice@contoso.example"
	e := newComposeEnvScopes(t, "User.Read", "Mail.Read", "Mail.Send")
	s, fx, mb := e.s, e.fx, e.mb
	ctx := context.Background()
	report := microsofttest.ImmutableID(fx.Messages["report"])
	bob := []providers.Address{{Email: "bob@example.com"}}
	sent, err := mb.Forward(ctx, providers.ForwardMessage{MessageID: report, To: bob, Note: "FYI", IncludeAttachments: true})
	if err != nil {
		t.Fatal(err)
	}
	all := s.Sent(alice)
	if len(all) != 1 || all[0].Via != "forward" || len(all[0].Attachments) != 1 || sent.ID != "" {
		t.Fatalf("sent %+v, result %+v; want one forward with the PDF and no id", all, sent)
	}
	_, err = mb.Forward(ctx, providers.ForwardMessage{MessageID: report, To: bob})
	if !errors.Is(err, providers.ErrForbidden) || !strings.Contains(err.Error(), "mail.modify") {
		t.Errorf("a forward without attachments and without drafts: %v", err)
	}
	if len(s.Sent(alice)) != 1 {
		t.Error("it was sent")
	}
}
