package microsoft

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers"
)

// Immutable ids look like this (68 characters).
const (
	idInbox   = "AQMkADAwATM0MDAAMi1iNTcwLWI2NTEtMDACLTAwCgAuAAADwInbox000000000000AAA="
	idDeleted = "AQMkADAwATM0MDAAMi1iNTcwLWI2NTEtMDACLTAwCgAuAAADwDeleted0000000000AAA="
	idJunk    = "AQMkADAwATM0MDAAMi1iNTcwLWI2NTEtMDACLTAwCgAuAAADwJunk00000000000000AAA="
	idProj    = "AQMkADAwATM0MDAAMi1iNTcwLWI2NTEtMDACLTAwCgAuAAADwProjects0000000000AAA="
)

func msgID(i int) string {
	return fmt.Sprintf("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A%032dAAA=", i)
}

func graphMessage(i int, folder string, read bool) map[string]any {
	return map[string]any{
		"id": msgID(i), "conversationId": fmt.Sprintf("AAQkADAwATM0MDAAMi1iNTcwLWI2NTEtMDACLTAwCgAQ%08d=", i),
		"subject":          fmt.Sprintf("Message %d", i),
		"from":             map[string]any{"emailAddress": map[string]string{"name": "Bob Smith", "address": "bob@fabrikam.com"}},
		"toRecipients":     []any{map[string]any{"emailAddress": map[string]string{"name": "", "address": alice}}},
		"receivedDateTime": fmt.Sprintf("2026-10-01T%02d:00:00Z", i%24),
		"bodyPreview":      "Some text that makes a snippet, as in real mail.",
		"isRead":           read, "hasAttachments": i%2 == 0, "parentFolderId": folder, "categories": []string{},
	}
}

// serveFolders answers the folder requests of the default listing.
func serveFolders(f *fakeGraph) {
	f.on("GET /me/mailFolders", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{
			map[string]any{"id": idInbox, "displayName": "Inbox", "childFolders": []any{map[string]any{"id": idProj, "displayName": "Projects"}}},
			map[string]any{"id": idDeleted, "displayName": "Deleted Items", "childFolders": []any{}},
			map[string]any{"id": idJunk, "displayName": "Junk Email", "childFolders": []any{}},
		}})
	})
	f.on("GET /me/mailFolders/deleteditems", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": idDeleted})
	})
	f.on("GET /me/mailFolders/junkemail", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": idJunk})
	})
}

func TestListDefault(t *testing.T) {
	f := newFake(t)
	serveFolders(f)
	f.on("GET /me/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{graphMessage(2, idInbox, false), graphMessage(1, idProj, true)},
			"@odata.nextLink": f.base() + "/me/messages?%24select=x&%24top=2&%24skip=2"})
	})
	mb := mustMail(t, newAPI(t, f))
	ctx := context.Background()
	page, err := mb.List(ctx, providers.MessageQuery{MaxResults: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("GET /me/messages"); n != 1 || len(f.requests()) != 4 {
		t.Fatalf("%d list requests, %d in all; want 1 list after 3 folder requests", n, len(f.requests()))
	}
	last := f.requests()[3]
	q := last.Query
	if q.Get("$select") != summaryFields || q.Get("$top") != "2" || q.Get("$orderby") != "receivedDateTime desc" || q.Has("$search") ||
		q.Get("$filter") != "receivedDateTime ge 1900-01-01T00:00:00Z and parentFolderId ne '"+idDeleted+"' and parentFolderId ne '"+idJunk+"'" {
		t.Fatalf("query %v", q)
	}
	if p := last.Header.Get("Prefer"); !strings.Contains(p, `IdType="ImmutableId"`) {
		t.Fatalf("Prefer %q", p)
	}
	if last.Header.Get("Authorization") != "Bearer "+testToken.AccessToken {
		t.Fatalf("Authorization %q", last.Header.Get("Authorization"))
	}
	m := page.Messages[0]
	if m.ID != msgID(2) || m.From != "Bob Smith <bob@fabrikam.com>" || m.To != alice || m.Subject != "Message 2" || !m.Unread || !m.HasAttachments ||
		m.Date.Format("15:04") != "02:00" || !slices.Equal(m.Labels, []string{"Inbox"}) || m.ThreadID == "" || m.Snippet == "" {
		t.Fatalf("summary %+v", m)
	}
	if l := page.Messages[1].Labels; !slices.Equal(l, []string{"Inbox/Projects"}) {
		t.Fatalf("labels %v", l)
	}

	// The next page: one request, same parameters, Graph's $skip; the
	// folders are not read again.
	f.reset()
	page2, err := mb.List(ctx, providers.MessageQuery{MaxResults: 2, PageToken: page.NextPageToken, UnreadOnly: false})
	if err != nil {
		t.Fatal(err)
	}
	if rs := f.requests(); len(rs) != 1 || rs[0].Query.Get("$skip") != "2" || rs[0].Query.Get("$filter") != q.Get("$filter") || rs[0].Path != "/v1.0/me/messages" {
		t.Fatalf("next page requests %+v", rs)
	}
	_ = page2

	// unread_only adds to the filter.
	f.reset()
	if _, err := mb.List(ctx, providers.MessageQuery{UnreadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if rs := f.requests(); len(rs) != 1 || !strings.HasSuffix(rs[0].Query.Get("$filter"), " and isRead eq false") || rs[0].Query.Get("$top") != "20" {
		t.Fatalf("unread requests %+v", rs)
	}
}

func TestListFolders(t *testing.T) {
	f := newFake(t)
	serveFolders(f)
	var paths []string
	for _, p := range []string{"inbox", "sentitems", idProj} {
		f.on("GET /me/mailFolders/"+p+"/messages", func(w http.ResponseWriter, r *http.Request) {
			paths = append(paths, r.URL.Path)
			writeJSON(w, 200, map[string]any{"value": []any{graphMessage(3, idProj, false)}})
		})
	}
	mb := mustMail(t, newAPI(t, f))
	ctx := context.Background()
	for label, want := range map[string]string{"INBOX": "inbox", "SentItems": "sentitems", "SENT": "sentitems", "inbox/projects": idProj, "PROJECTS": idProj, idProj: idProj} {
		wantLabel := "Inbox/Projects"
		if !strings.HasPrefix(want, "AQ") {
			wantLabel = want // a well-known folder's rows carry its well-known name
		}
		paths = nil
		page, err := mb.List(ctx, providers.MessageQuery{Label: label})
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if len(paths) != 1 || paths[0] != "/v1.0/me/mailFolders/"+want+"/messages" {
			t.Fatalf("%s: %v", label, paths)
		}
		if len(page.Messages) != 1 || page.Messages[0].Labels[0] != wantLabel {
			t.Fatalf("%s: %+v", label, page.Messages)
		}
	}
	// Well-known names cost no folder request.
	if n := f.count("GET /me/mailFolders"); n != 1 {
		t.Fatalf("folders read %d times, want once (kept)", n)
	}
	_, err := mb.List(ctx, providers.MessageQuery{Label: "Receipts"})
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, `folder "Receipts"`) || !strings.Contains(pe.Message, "Inbox/Projects") {
		t.Fatalf("%v", pe)
	}
	// A well-known folder the mailbox lacks.
	_, err = mb.List(ctx, providers.MessageQuery{Label: "archive"})
	if pe := wantKind(t, err, providers.ErrNotFound); !strings.Contains(pe.Message, `folder "archive"`) {
		t.Fatalf("%v", pe)
	}
}

func TestListSearch(t *testing.T) {
	f := newFake(t)
	serveFolders(f)
	f.on("GET /me/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{
			graphMessage(5, idInbox, false), graphMessage(4, idDeleted, false), graphMessage(3, idJunk, false), graphMessage(2, idInbox, true),
		}, "@odata.nextLink": f.base() + "/me/messages?%24search=%22x%22&%24top=4&%24skiptoken=MSZZVlhKbGNYVmxjM1JKWkQxbVlUazFNV"})
	})
	mb := mustMail(t, newAPI(t, f))
	page, err := mb.List(context.Background(), providers.MessageQuery{Query: `subject:"big deal" from:bob \ x`, UnreadOnly: true, MaxResults: 4})
	if err != nil {
		t.Fatal(err)
	}
	rs := f.requests()
	q := rs[len(rs)-1].Query
	if q.Get("$search") != `"subject:\"big deal\" from:bob \\ x"` || q.Has("$filter") || q.Has("$orderby") || q.Get("$top") != "4" {
		t.Fatalf("query %v", q)
	}
	if len(page.Messages) != 1 || page.Messages[0].ID != msgID(5) {
		t.Fatalf("search kept %+v, want only the unread one outside Deleted Items and Junk Email", page.Messages)
	}
	f.reset()
	if _, err := mb.List(context.Background(), providers.MessageQuery{Query: `subject:"big deal" from:bob \ x`, UnreadOnly: true, MaxResults: 4, PageToken: page.NextPageToken}); err != nil {
		t.Fatal(err)
	}
	if rs := f.requests(); len(rs) != 1 || rs[0].Query.Get("$skiptoken") != "MSZZVlhKbGNYVmxjM1JKWkQxbVlUazFNV" || rs[0].Query.Get("$search") != q.Get("$search") {
		t.Fatalf("next page %+v", rs)
	}
}

// TestPageTokensHostile: tokens are checked before any request, a token of
// another listing is refused, and a next link to another host is never
// requested (only its $skip is kept).
func TestPageTokensHostile(t *testing.T) {
	f := newFake(t)
	evil := newFake(t)
	f.on("GET /me/mailFolders/inbox/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{graphMessage(1, idInbox, false)},
			"@odata.nextLink": evil.srv.URL + "/steal?%24skip=10"})
	})
	mb := mustMail(t, newAPI(t, f))
	ctx := context.Background()
	page, err := mb.List(ctx, providers.MessageQuery{Label: "inbox"})
	if err != nil {
		t.Fatal(err)
	}
	f.reset()
	if _, err := mb.List(ctx, providers.MessageQuery{Label: "inbox", PageToken: page.NextPageToken}); err != nil {
		t.Fatal(err)
	}
	if rs := f.requests(); len(rs) != 1 || rs[0].Path != "/v1.0/me/mailFolders/inbox/messages" || rs[0].Query.Get("$skip") != "10" || len(evil.requests()) != 0 {
		t.Fatalf("requests %+v, evil %d", rs, len(evil.requests()))
	}
	f.reset()
	other := pageToken{Hash: listingHash("messages", "inbox", "", "false"), Skip: 10}
	for name, tok := range map[string]string{
		"garbage":         "not-a-token!",
		"other listing":   page.NextPageToken, // used below with another label
		"no position":     pageToken{Hash: other.Hash}.encode(),
		"negative":        pageToken{Hash: other.Hash, Skip: -5}.encode(),
		"bad skiptoken":   pageToken{Hash: other.Hash, SkipToken: "x&$expand=attachments"}.encode(),
		"both":            pageToken{Hash: other.Hash, Skip: 3, SkipToken: "abc"}.encode(),
		"too long":        strings.Repeat("A", 600),
		"json, not ours":  "eyJ1cmwiOiJodHRwczovL2V2aWwuZXhhbXBsZS8ifQ",
		"truncated token": page.NextPageToken[:len(page.NextPageToken)-3],
	} {
		label := "inbox"
		if name == "other listing" {
			label = "sentitems"
		}
		_, err := mb.List(ctx, providers.MessageQuery{Label: label, PageToken: tok})
		var fe *providers.FieldError
		if !errors.As(err, &fe) || fe.Field != "page_token" {
			t.Errorf("%s: %v, want a page_token field error", name, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("hostile tokens made %d requests", n)
	}
}

func TestGetMessage(t *testing.T) {
	f := newFake(t)
	html := `<html><body><p>Hello <b>Alice</b>,</p><p>See <a href="https://click.example.com/track?u=12345678901234567890&amp;id=abcdefabcdef">the report</a>.</p></body></html>`
	f.on("GET /me/messages/"+msgID(7), func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Prefer") != `IdType="ImmutableId"` || !strings.Contains(r.URL.Query().Get("$select"), "body") ||
			r.URL.Query().Get("$expand") != "attachments($select=id,name,contentType,size,isInline)" {
			t.Errorf("get %v %v", r.Header, r.URL.Query())
		}
		m := graphMessage(7, idInbox, true)
		m["ccRecipients"] = []any{map[string]any{"emailAddress": map[string]string{"name": "Carol", "address": "carol@fabrikam.com"}}}
		m["replyTo"] = []any{map[string]any{"emailAddress": map[string]string{"address": "noreply@fabrikam.com"}}}
		m["internetMessageId"] = "<report-7@fabrikam.com>"
		m["body"] = map[string]string{"contentType": "html", "content": html}
		m["attachments"] = []any{
			map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "id": "AAMkAtt1=", "name": "q3.pdf", "contentType": "application/pdf", "size": 52311, "isInline": false},
			map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "id": "AAMkAtt2=", "name": "logo.png", "contentType": "image/png", "size": 2001, "isInline": true},
		}
		writeJSON(w, 200, m)
	})
	mb := mustMail(t, newAPI(t, f))
	m, err := mb.Get(context.Background(), msgID(7))
	if err != nil {
		t.Fatal(err)
	}
	if !m.BodyFromHTML || !strings.Contains(m.BodyText, "Hello Alice") || strings.Contains(m.BodyText, "<b>") || strings.Contains(m.BodyText, "click.example.com/track") {
		t.Fatalf("body %q", m.BodyText)
	}
	if len(m.Links) != 1 || !strings.Contains(m.Links[0].URL, "click.example.com") || !strings.Contains(m.BodyText, "[1]") {
		t.Fatalf("links %+v in %q", m.Links, m.BodyText)
	}
	if m.Cc != "Carol <carol@fabrikam.com>" || m.ReplyTo != "noreply@fabrikam.com" || m.MessageID != "<report-7@fabrikam.com>" {
		t.Fatalf("headers %+v", m)
	}
	if len(m.Attachments) != 1 || m.Attachments[0] != (providers.AttachmentInfo{ID: "AAMkAtt1=", Filename: "q3.pdf", MIMEType: "application/pdf", Size: 52311}) || !m.HasAttachments {
		t.Fatalf("attachments %+v", m.Attachments)
	}

	// A text body keeps its text; long URLs become [n] markers.
	f.on("GET /me/messages/"+msgID(8), func(w http.ResponseWriter, r *http.Request) {
		m := graphMessage(8, idInbox, true)
		m["body"] = map[string]string{"contentType": "text", "content": "Hi,\r\nsee https://example.com/a/very/long/path/that/goes/on/and/on?with=tracking&utm_source=x\r\n"}
		writeJSON(w, 200, m)
	})
	m, err = mb.Get(context.Background(), msgID(8))
	if err != nil || m.BodyFromHTML || !strings.HasPrefix(m.BodyText, "Hi,\nsee ") || strings.Contains(m.BodyText, "\r") {
		t.Fatalf("%v %+v", err, m)
	}

	_, err = mb.Get(context.Background(), msgID(9))
	wantKind(t, err, providers.ErrNotFound)
	var fe *providers.FieldError
	if _, err := mb.Get(context.Background(), "../../me/sendMail?x="); !errors.As(err, &fe) || fe.Field != "id" {
		t.Fatalf("a hostile id: %v", err)
	}
}

func TestKQLQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"pizza":                     `"pizza"`,
		`from:bob subject:"a b"`:    `"from:bob subject:\"a b\""`,
		"new\nline\ttab":            `"new line tab"`,
		`back\slash`:                `"back\\slash"`,
		"participants:a@b.com OR x": `"participants:a@b.com OR x"`,
	} {
		if got := kqlSearch(in); got != want {
			t.Errorf("kqlSearch(%q) = %s, want %s", in, got, want)
		}
	}
	if odataString("O'Brien") != "'O''Brien'" {
		t.Fatal(odataString("O'Brien"))
	}
}
