package googletest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/gmail/v1"
)

// keysOf maps message ids back to fixture keys.
func (a *apiTest) keysOf(ids []string) []string {
	byID := map[string]string{}
	for k, id := range a.fx.Messages {
		byID[id] = k
	}
	var out []string
	for _, id := range ids {
		k := byID[id]
		if k == "" {
			k = id
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func listAll(t *testing.T, call *gmail.UsersMessagesListCall) []string {
	t.Helper()
	var ids []string
	err := call.Pages(context.Background(), func(r *gmail.ListMessagesResponse) error {
		for _, m := range r.Messages {
			ids = append(ids, m.Id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestGmailListPagination(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	first, err := svc.Users.Messages.List("me").MaxResults(7).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Messages) != 7 || first.NextPageToken == "" || first.ResultSizeEstimate != 32 {
		t.Fatalf("first page: %d messages, token %q, estimate %d", len(first.Messages), first.NextPageToken, first.ResultSizeEstimate)
	}
	// A message arriving between pages does not shift the next page.
	a.s.AddMessage(alice, []byte("From: x@example.com\r\nTo: alice@example.com\r\nSubject: new\r\n\r\nhi\r\n"))
	all := slices.Clone(first.Messages)
	tok := first.NextPageToken
	for tok != "" {
		page, err := svc.Users.Messages.List("me").MaxResults(7).PageToken(tok).Do()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Messages...)
		tok = page.NextPageToken
	}
	var ids []string
	var last int64 = 1 << 62
	for _, m := range all {
		ids = append(ids, m.Id)
		full, err := svc.Users.Messages.Get("me", m.Id).Format("minimal").Do()
		if err != nil {
			t.Fatal(err)
		}
		if full.InternalDate > last || full.ThreadId != m.ThreadId || full.Payload != nil {
			t.Fatalf("order or shape: %+v", full)
		}
		last = full.InternalDate
	}
	keys := a.keysOf(ids)
	if len(all) != 32 || slices.Contains(keys, "spam") || slices.Contains(keys, "trash") || len(slices.Compact(slices.Clone(keys))) != 32 {
		t.Fatalf("listed %d: %v", len(all), keys)
	}
	// The newest fixture comes first; maxResults is capped at 500.
	if a.keysOf([]string{all[0].Id})[0] != "emoji" {
		t.Fatalf("first is %v", a.keysOf([]string{all[0].Id}))
	}
	big, err := svc.Users.Messages.List("me").MaxResults(5000).IncludeSpamTrash(true).Do()
	if err != nil || len(big.Messages) != 35 || big.NextPageToken != "" {
		t.Fatalf("spam and trash included: %v %d", err, len(big.Messages))
	}
	// A token is bound to its query.
	_, err = svc.Users.Messages.List("me").Q("is:unread").PageToken(first.NextPageToken).Do()
	wantAPIError(t, err, 400, "invalidArgument", "pageToken")
	// No match: no messages field, estimate 0.
	none, err := svc.Users.Messages.List("me").Q("xyzzy-nothing").Do()
	if err != nil || none.Messages != nil || none.ResultSizeEstimate != 0 {
		t.Fatalf("empty result: %v %+v", err, none)
	}
}

func TestGmailSearch(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	for _, tc := range []struct {
		q      string
		labels []string
		want   string
	}{
		{q: "from:bob", want: "forwarded invite offsite-3 phoenix-1"},
		{q: "from:me", want: "lunch-2 offsite-2 phoenix-2 sent-solo"},
		{q: "is:unread", want: "calendar-reminder emoji injection invite newsletter pdf-nonascii phoenix-3 report social umlaut"},
		{q: "has:attachment", want: "inline invite offsite-1 pdf-nonascii photo report sent-solo"},
		{q: "subject:phoenix", want: "phoenix-1 phoenix-2 phoenix-3"},
		{q: "label:work", want: "github report"},
		{q: "label:Receipts", want: "receipt"},
		{q: "in:inbox category:promotions", want: "newsletter"},
		{q: "newer_than:1d", want: "calendar-reminder emoji github injection report social umlaut"},
		{q: "newer_than:12h", want: ""}, // Gmail knows d, m and y only
		{q: "older_than:30d", want: "offsite-1 offsite-2 offsite-3 offsite-4 old"},
		{q: "münchen", want: "umlaut"},
		{q: `"staffing plan"`, want: "phoenix-3"},
		{q: "in:spam", want: "spam"},
		{q: "in:anywhere subject:deals", want: "trash"},
		{q: "filename:pdf", want: "offsite-1 pdf-nonascii report sent-solo"},
		{q: "{from:carol from:dave}", want: "lunch-1 old phoenix-3 report"},
		{q: "from:carol OR from:dave -is:unread", want: "lunch-1 old"},
		{q: "to:jane@example.com", want: "multi-rcpt"},
		{q: "is:starred", want: "photo"},
		{q: "rfc822msgid:<lunch-1.CAC@mail.example.com>", want: "lunch-1"},
		{q: "revenue 12", want: "report"},
		{q: "réunion", want: "latin1"},
		{q: "議事録", want: "japanese"},
		{q: "foo:bar", want: ""},
		{labels: []string{"UNREAD", "IMPORTANT"}, want: "phoenix-3 report"},
		// Dates are midnight Pacific time, as Gmail documents.
		{q: "after:2026/03/26 before:2026/03/27", want: "github injection invite newsletter pdf-nonascii social umlaut"},
		{q: fmt.Sprintf("after:%d", fixedNow.Add(-time.Hour).Unix()), want: "calendar-reminder emoji"},
	} {
		call := svc.Users.Messages.List("me").Q(tc.q)
		if tc.labels != nil {
			call.LabelIds(tc.labels...)
		}
		if got := strings.Join(a.keysOf(listAll(t, call)), " "); got != tc.want {
			t.Errorf("q=%q labels=%v: got %q, want %q", tc.q, tc.labels, got, tc.want)
		}
	}
}

func decodePart(t *testing.T, p *gmail.MessagePart) string {
	t.Helper()
	b, err := base64.URLEncoding.DecodeString(p.Body.Data)
	if err != nil {
		t.Fatalf("part %s data: %v", p.PartId, err)
	}
	return string(b)
}

func hdr(p *gmail.MessagePart, name string) string {
	for _, h := range p.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func TestGmailGetFormats(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	get := func(key, format string, hdrs ...string) *gmail.Message {
		t.Helper()
		m, err := svc.Users.Messages.Get("me", a.fx.Messages[key]).Format(format).MetadataHeaders(hdrs...).Do()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := get("report", "full")
	p := m.Payload
	if p.PartId != "" || p.MimeType != "multipart/mixed" || len(p.Parts) != 2 || hdr(p, "Subject") != "Q3 report draft" ||
		!slices.Contains(m.LabelIds, "UNREAD") || m.SizeEstimate < 1000 || m.HistoryId == 0 || m.InternalDate != fixedNow.Add(-2*time.Hour).UnixMilli() {
		t.Fatalf("report: %+v payload %+v", m, p)
	}
	alt, pdf := p.Parts[0], p.Parts[1]
	if alt.PartId != "0" || alt.MimeType != "multipart/alternative" || len(alt.Parts) != 2 || alt.Parts[0].PartId != "0.0" ||
		alt.Parts[1].MimeType != "text/html" || alt.Body == nil || alt.Body.Size != 0 {
		t.Fatalf("alternative: %+v", alt)
	}
	if got := decodePart(t, alt.Parts[0]); !strings.Contains(got, "Revenue is up 12%.") || alt.Parts[0].Body.Size != int64(len(got)) {
		t.Fatalf("text part %q", got)
	}
	if pdf.Filename != "Q3-report-draft.pdf" || pdf.MimeType != "application/pdf" || pdf.Body.AttachmentId == "" || pdf.Body.Data != "" {
		t.Fatalf("attachment part %+v %+v", pdf, pdf.Body)
	}
	att, err := svc.Users.Messages.Attachments.Get("me", m.Id, pdf.Body.AttachmentId).Do()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.URLEncoding.DecodeString(att.Data)
	if !bytes.HasPrefix(data, []byte("%PDF-1.4")) || int64(len(data)) != att.Size || att.Size != pdf.Body.Size {
		t.Fatalf("attachment: %d bytes %q", att.Size, data[:min(10, len(data))])
	}
	_, err = svc.Users.Messages.Attachments.Get("me", m.Id, "ANGjdJnope").Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid attachment token")

	md := get("report", "metadata", "From", "subject")
	if md.Payload == nil || len(md.Payload.Headers) != 2 || md.Payload.Parts != nil || md.Payload.Body != nil || md.Snippet == "" {
		t.Fatalf("metadata: %+v", md.Payload)
	}
	if min := get("report", "minimal"); min.Payload != nil || min.Raw != "" || min.Snippet == "" || len(min.LabelIds) == 0 {
		t.Fatalf("minimal: %+v", min)
	}
	raw := get("umlaut", "raw")
	rb, err := base64.URLEncoding.DecodeString(raw.Raw)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(rb))
	if err != nil || !strings.HasPrefix(parsed.Header.Get("Subject"), "=?UTF-8?b?") || raw.Payload != nil {
		t.Fatalf("raw: %v %q", err, parsed.Header.Get("Subject"))
	}

	// Non-ASCII: headers decoded, bodies UTF-8 (or their own charset).
	u := get("umlaut", "full")
	if hdr(u.Payload, "Subject") != "Grüße aus München – Termin nächste Woche" ||
		hdr(u.Payload, "From") != "Jürgen Müller <juergen.mueller@example.de>" || !strings.Contains(decodePart(t, u.Payload), "können") {
		t.Fatalf("umlaut: %q %q", hdr(u.Payload, "Subject"), hdr(u.Payload, "From"))
	}
	if j := get("japanese", "full"); hdr(j.Payload, "Subject") != "会議の議事録" || !strings.Contains(decodePart(t, j.Payload), "議事録を送ります") {
		t.Fatal("japanese")
	}
	l := get("latin1", "full")
	if body := decodePart(t, l.Payload); !strings.Contains(body, "r\xe9union") || !strings.Contains(l.Snippet, "réunion") ||
		hdr(l.Payload, "Subject") != "Réunion à Paris" || !strings.HasPrefix(hdr(l.Payload, "From"), `"François Dupont"`) &&
		!strings.HasPrefix(hdr(l.Payload, "From"), "François Dupont") {
		t.Fatalf("latin1: %q %q %q", body, l.Snippet, hdr(l.Payload, "From"))
	}
	if pn := get("pdf-nonascii", "full"); pn.Payload.Parts[1].Filename != "Präsentation Q3.pdf" {
		t.Fatalf("RFC 2231 file name %q", pn.Payload.Parts[1].Filename)
	}
	// Snippets are HTML-escaped, as Gmail's are; HTML-only mail has a text
	// snippet without style or script.
	if s := get("phoenix-3", "minimal").Snippet; s != "Count me in. I&#39;ll bring the staffing plan. Carol" {
		t.Fatalf("snippet %q", s)
	}
	n := get("newsletter", "full")
	if n.Payload.MimeType != "text/html" || n.Payload.Parts != nil || strings.Contains(n.Snippet, "font-family") ||
		strings.Contains(n.Snippet, "alert") || !strings.HasPrefix(n.Snippet, "Go 1.26 is out Faster builds &amp; a new iter helper.") {
		t.Fatalf("newsletter snippet %q", n.Snippet)
	}
	inl := get("inline", "full")
	if inl.Payload.MimeType != "multipart/related" || inl.Payload.Parts[1].Body.AttachmentId == "" || hdr(inl.Payload.Parts[1], "Content-ID") != "<logo@acme>" {
		t.Fatalf("inline image: %+v", inl.Payload.Parts[1])
	}
	// Threads: Message-ID, In-Reply-To and References, one threadId.
	p3 := get("phoenix-3", "metadata")
	if p3.ThreadId != a.fx.Threads["phoenix"] || p3.ThreadId != a.fx.Messages["phoenix-1"] || hdr(p3.Payload, "In-Reply-To") != "<phoenix-2.CAA@mail.gmail.com>" {
		t.Fatalf("thread: %s %+v", p3.ThreadId, p3.Payload.Headers)
	}
	if len(get("long", "full").Payload.Body.Data) < 40000 {
		t.Fatal("long body")
	}

	// Errors.
	_, err = svc.Users.Messages.Get("me", "ffffffffffffffff").Do()
	ge := wantAPIError(t, err, 404, "notFound", "Requested entity was not found.")
	if !strings.Contains(string(ge.Body), `"domain":"global"`) || !strings.Contains(string(ge.Body), `"status":"NOT_FOUND"`) {
		t.Fatalf("%s", ge.Body)
	}
	_, err = svc.Users.Messages.Get("me", "not-an-id").Do()
	wantAPIError(t, err, 400, "invalidArgument", "Invalid id value")
	_, err = svc.Users.Messages.Get(FixtureBob, a.fx.Messages["report"]).Do()
	wantAPIError(t, err, 403, "forbidden", "Delegation denied")
	if _, err := svc.Users.Messages.Get(alice, a.fx.Messages["report"]).Format("minimal").Do(); err != nil {
		t.Fatalf("userId as the email: %v", err)
	}
	_, err = svc.Users.Messages.Get("me", a.fx.Messages["report"]).Format("FULLER").Do()
	wantAPIError(t, err, 400, "invalid", "Invalid value at 'format'")

	labels, err := svc.Users.Labels.List("me").Do()
	if err != nil || len(labels.Labels) != len(systemLabels)+2 {
		t.Fatalf("labels: %v %d", err, len(labels.Labels))
	}
	work, err := svc.Users.Labels.Get("me", "Label_1").Do()
	if err != nil || work.Name != "Work" || work.Type != "user" || work.MessagesTotal != 2 || work.MessagesUnread != 1 {
		t.Fatalf("label: %v %+v", err, work)
	}
}
