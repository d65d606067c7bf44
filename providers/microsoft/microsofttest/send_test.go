package microsofttest

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func recipients(addrs ...string) []map[string]any {
	var out []map[string]any
	for _, a := range addrs {
		out = append(out, map[string]any{"emailAddress": map[string]string{"address": a}})
	}
	return out
}

func TestSendMail(t *testing.T) {
	m := newMailTest(t)
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 tiny"))
	a := m.post("/me/sendMail", map[string]any{"message": map[string]any{
		"subject": "Minutes", "body": map[string]string{"contentType": "Text", "content": "See attached.\nAlice"},
		"toRecipients": recipients("bob@example.com"), "ccRecipients": recipients("carol@example.com"),
		"bccRecipients": recipients("dave@example.com"), "internetMessageHeaders": []map[string]string{{"name": "X-Mailcal", "value": "1"}},
		"attachments": []map[string]any{{"@odata.type": "#microsoft.graph.fileAttachment", "name": "minutes.pdf",
			"contentType": "application/pdf", "contentBytes": pdf}},
	}})
	if a.status != 202 || len(a.raw) != 0 {
		t.Fatalf("sendMail %d %s", a.status, a.raw)
	}
	sent := m.s.Sent(alice)
	if len(sent) != 1 {
		t.Fatalf("%d sent", len(sent))
	}
	s := sent[0]
	if s.Via != "sendMail" || s.Subject != "Minutes" || s.ContentType != "text" || s.Body != "See attached.\nAlice" ||
		s.From.Address != alice || len(s.To) != 1 || s.To[0].Address != "bob@example.com" || len(s.Bcc) != 1 ||
		len(s.Attachments) != 1 || string(s.Attachments[0].Data) != "%PDF-1.4 tiny" || len(s.Headers) != 1 || !s.SavedToSentItems {
		t.Fatalf("sent %+v", s)
	}
	// The copy in Sent Items, in a conversation of its own.
	got := m.get("/me/messages/" + url.PathEscape(s.ID) + "?$select=subject,parentFolderId,conversationId,isDraft,from,hasAttachments")
	if got.status != 200 || got.body["isDraft"] != false || got.body["hasAttachments"] != true || got.body["conversationId"] != s.ConversationID ||
		field(got.body, "from", "emailAddress", "address") != alice || s.ConversationID == m.fx.Conversations["phoenix"] {
		t.Fatalf("Sent Items copy %d %s", got.status, got.raw)
	}
	// Not saved: the reference's own example writes the flag as a string.
	if a := m.post("/me/sendMail", map[string]any{"message": map[string]any{"subject": "x", "toRecipients": recipients("bob@example.com")},
		"saveToSentItems": "false"}); a.status != 202 || m.s.Sent(alice)[1].SavedToSentItems || m.s.Sent(alice)[1].ID != "" {
		t.Fatalf("saveToSentItems false: %d %+v", a.status, m.s.Sent(alice))
	}
	for _, c := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{}, 400, "ErrorInvalidParameter"},
		{map[string]any{"message": map[string]any{"subject": "no one"}}, 400, "ErrorInvalidRecipients"},
		{map[string]any{"message": map[string]any{"toRecipients": recipients("not an address")}}, 400, "ErrorInvalidRecipients"},
		{map[string]any{"message": map[string]any{"toRecipients": recipients("bob@example.com"), "shoeSize": 1}}, 400, "RequestBodyRead"},
		{map[string]any{"subject": "x", "toRecipients": recipients("bob@example.com")}, 400, "RequestBodyRead"},
		{map[string]any{"message": map[string]any{"toRecipients": recipients("bob@example.com"),
			"internetMessageHeaders": []map[string]string{{"name": "In-Reply-To", "value": "<x@y>"}}}}, 400, "InvalidInternetMessageHeader"},
		{map[string]any{"message": map[string]any{"toRecipients": recipients("bob@example.com"),
			"body": map[string]string{"contentType": "markdown", "content": "x"}}}, 400, "RequestBodyRead"},
		{map[string]any{"message": map[string]any{"toRecipients": recipients("bob@example.com"),
			"attachments": []map[string]any{{"name": "a.txt", "contentBytes": "eA=="}}}}, 400, "RequestBodyRead"},
		{map[string]any{"message": map[string]any{"toRecipients": recipients("bob@example.com"),
			"attachments": []map[string]any{{"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt", "contentBytes": "!!"}}}}, 400, "RequestBodyRead"},
		{"{not json", 400, "BadRequest"},
	} {
		wantError(t, m.post("/me/sendMail", c.body), c.status, c.code)
	}
	if n := len(m.s.Sent(alice)); n != 2 {
		t.Fatalf("%d sent after the refused ones", n)
	}
}

// TestRequestSize: a request past 4 MB is refused with 413, whatever it
// carries; just under it passes.
func TestRequestSize(t *testing.T) {
	m := newMailTest(t)
	msg := func(n int) map[string]any {
		return map[string]any{"message": map[string]any{"subject": "big", "toRecipients": recipients("bob@example.com"),
			"attachments": []map[string]any{{"@odata.type": "#microsoft.graph.fileAttachment", "name": "big.bin",
				"contentBytes": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'a'}, n))}}}}
	}
	wantError(t, m.post("/me/sendMail", msg(3<<20+1000)), http.StatusRequestEntityTooLarge, "BadRequest")
	if a := m.post("/me/sendMail", msg(2<<20)); a.status != 202 {
		t.Fatalf("a 2 MB attachment: %d %s", a.status, a.raw)
	}
	draft := m.post("/me/messages", map[string]any{"subject": "d"})
	id := url.PathEscape(str(draft.body["id"]))
	wantError(t, m.post("/me/messages/"+id+"/attachments", map[string]any{
		"@odata.type": "#microsoft.graph.fileAttachment", "name": "big.bin",
		"contentBytes": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'a'}, 3<<20+500))}), 413, "BadRequest")
	a := m.post("/me/messages/"+id+"/attachments", map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "name": "notes.txt",
		"contentType": "text/plain", "contentBytes": base64.StdEncoding.EncodeToString([]byte("hello"))})
	if a.status != 201 || a.body["name"] != "notes.txt" || a.body["size"] != 5.0 {
		t.Fatalf("POST attachment %d %s", a.status, a.raw)
	}
	if a := m.get("/me/messages/" + id + "?$select=hasAttachments"); a.body["hasAttachments"] != true {
		t.Fatalf("the draft has no attachment: %s", a.raw)
	}
	att := url.PathEscape(str(a.body["id"]))
	if a := request(t, m.s, "DELETE", "/me/messages/"+id+"/attachments/"+att, m.tok, nil); a.status != 204 {
		t.Fatalf("DELETE attachment %d", a.status)
	}
	wantError(t, m.get("/me/messages/"+id+"/attachments/"+att), 404, "ErrorItemNotFound")
}

func TestSendMIME(t *testing.T) {
	m := newMailTest(t)
	raw := "From: Alice <alice@contoso.example>\r\nTo: Bob <bob@example.com>\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Hallo Bob\r\n--b1\r\nContent-Type: text/csv; name=\"a.csv\"\r\nContent-Disposition: attachment; filename=\"a.csv\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nYSxiCjEsMgo=\r\n--b1--\r\n"
	a := m.post("/me/sendMail", []byte(base64.StdEncoding.EncodeToString([]byte(raw))))
	if a.status != 202 {
		t.Fatalf("MIME sendMail %d %s", a.status, a.raw)
	}
	s := m.s.Sent(alice)[0]
	if s.Subject != "Grüße" || s.Body != "Hallo Bob" || len(s.Attachments) != 1 || string(s.Attachments[0].Data) != "a,b\n1,2\n" ||
		!bytes.Equal(s.MIME, []byte(raw)) || s.To[0].Address != "bob@example.com" {
		t.Fatalf("sent %+v", s)
	}
	wantError(t, m.post("/me/sendMail", []byte("not base64!")), 400, "ErrorMimeContentInvalidBase64String")
}

func TestDraftSend(t *testing.T) {
	m := newMailTest(t)
	prefer := `IdType="ImmutableId"`
	d := m.post("/me/messages", map[string]any{"subject": "Plan", "body": map[string]string{"contentType": "HTML", "content": "<p>Plan</p>"},
		"toRecipients": recipients("carol@example.com")}, "Prefer", prefer)
	if d.status != 201 || d.body["isDraft"] != true || d.body["from"] != nil {
		t.Fatalf("draft %d %s", d.status, d.raw)
	}
	immutable := str(d.body["id"])
	plain := m.get("/me/mailFolders/drafts/messages?$select=subject").values()[0]["id"]
	a := request(t, m.s, "PATCH", "/me/messages/"+url.PathEscape(immutable), m.tok, map[string]any{"subject": "Plan B",
		"ccRecipients": recipients("dave@example.com")})
	if a.status != 200 || a.body["subject"] != "Plan B" {
		t.Fatalf("PATCH draft %d %s", a.status, a.raw)
	}
	if a := m.post("/me/messages/"+url.PathEscape(immutable)+"/send", nil); a.status != 202 {
		t.Fatalf("send %d %s", a.status, a.raw)
	}
	// Sending moved it to Sent Items: the ordinary id is gone, the
	// immutable one works.
	wantError(t, m.get("/me/messages/"+url.PathEscape(str(plain))), 404, "ErrorItemNotFound")
	sent := m.get("/me/messages/"+url.PathEscape(immutable)+"?$select=isDraft,parentFolderId,subject", "Prefer", prefer)
	if sent.status != 200 || sent.body["isDraft"] != false || sent.body["id"] != immutable {
		t.Fatalf("after send %d %s", sent.status, sent.raw)
	}
	if s := m.s.Sent(alice); len(s) != 1 || s[0].Via != "send" || s[0].ImmutableID != immutable || len(s[0].Cc) != 1 {
		t.Fatalf("sent %+v", s)
	}
	wantError(t, m.post("/me/messages/"+url.PathEscape(immutable)+"/send", nil), 400, "ErrorInvalidOperation")
	// A draft without recipients cannot be sent.
	d = m.post("/me/messages", map[string]any{"subject": "nobody"})
	wantError(t, m.post("/me/messages/"+url.PathEscape(str(d.body["id"]))+"/send", nil), 400, "ErrorInvalidRecipients")
}

func TestReplies(t *testing.T) {
	m := newMailTest(t)
	orig := url.PathEscape(m.fx.Messages["phoenix-3"])
	// A draft reply: RE: subject, the sender as recipient, the
	// conversation kept, the original quoted.
	d := m.post("/me/messages/"+orig+"/createReply", map[string]any{"comment": "Sounds good."},
		"Prefer", `outlook.timezone="Pacific Standard Time"`)
	if d.status != 201 || d.body["subject"] != "RE: Project Phoenix kickoff" || d.body["conversationId"] != m.fx.Conversations["phoenix"] ||
		field(d.body["toRecipients"].([]any)[0], "emailAddress", "address") != "carol@example.com" || d.body["isDraft"] != true {
		t.Fatalf("createReply %d %s", d.status, d.raw)
	}
	html := str(field(d.body, "body", "content"))
	if !strings.HasPrefix(html, `<div dir="ltr">Sounds good.</div>`) || !strings.Contains(html, "<b>From:</b> &#34;Carol Chen&#34; &lt;carol@example.com&gt;") ||
		!strings.Contains(html, "<b>Sent:</b> Sunday, March 22, 2026 3:00 AM") || !strings.Contains(html, "staffing plan") {
		t.Fatalf("reply body %s", html)
	}
	if a := m.post("/me/messages/"+url.PathEscape(str(d.body["id"]))+"/send", nil); a.status != 202 {
		t.Fatalf("send reply %d", a.status)
	}
	s := m.s.Sent(alice)[0]
	if s.InReplyTo != "<phoenix-3.CAC@mail.example.com>" || !strings.HasSuffix(s.References, "<phoenix-2.CAA@mail.gmail.com> <phoenix-3.CAC@mail.example.com>") ||
		s.ConversationID != m.fx.Conversations["phoenix"] || !strings.Contains(s.UniqueBody, "Sounds good.") || strings.Contains(s.UniqueBody, "staffing") {
		t.Fatalf("sent reply %+v", s)
	}
	// The copy's Internet headers carry In-Reply-To.
	copyID := url.PathEscape(s.ID)
	hs := m.get("/me/messages/" + copyID + "?$select=internetMessageHeaders").body["internetMessageHeaders"].([]any)
	found := false
	for _, h := range hs {
		found = found || field(h, "name") == "In-Reply-To" && field(h, "value") == "<phoenix-3.CAC@mail.example.com>"
	}
	if !found {
		t.Fatalf("headers %v", hs)
	}
	// replyAll at once: everyone but the owner.
	if a := m.post("/me/messages/"+orig+"/replyAll", map[string]any{"comment": "All in."}); a.status != 202 {
		t.Fatalf("replyAll %d %s", a.status, a.raw)
	}
	s = m.s.Sent(alice)[1]
	if len(s.To) != 2 || s.To[0].Address != "carol@example.com" || s.To[1].Address != "bob@example.com" || s.Via != "replyAll" {
		t.Fatalf("replyAll to %+v", s.To)
	}
	// Either a comment or a body.
	wantError(t, m.post("/me/messages/"+orig+"/reply", map[string]any{"comment": "x",
		"message": map[string]any{"body": map[string]string{"contentType": "text", "content": "y"}}}), 400, "ErrorInvalidRequest")
	// A forward carries the attachments and needs recipients.
	report := url.PathEscape(m.fx.Messages["report"])
	wantError(t, m.post("/me/messages/"+report+"/forward", map[string]any{"comment": "FYI"}), 400, "ErrorInvalidRecipients")
	if a := m.post("/me/messages/"+report+"/forward", map[string]any{"comment": "FYI", "toRecipients": recipients("eve@example.com")}); a.status != 202 {
		t.Fatalf("forward %d %s", a.status, a.raw)
	}
	s = m.s.Sent(alice)[2]
	if s.Subject != "FW: Q3 report draft" || len(s.Attachments) != 1 || s.Attachments[0].Name != "Q3-report-draft.pdf" || s.To[0].Address != "eve@example.com" {
		t.Fatalf("forward %+v", s)
	}
	// A reply to one's own sent message goes to its recipients.
	d = m.post("/me/messages/"+url.PathEscape(m.fx.Messages["sent-solo"])+"/createReply", nil)
	if to, _ := d.body["toRecipients"].([]any); d.status != 201 || len(to) != 1 || field(to[0], "emailAddress", "address") != "dave@example.com" {
		t.Fatalf("reply to a sent message: %d %s", d.status, d.raw)
	}
	// Replying needs Mail.Send; a draft reply only Mail.ReadWrite.
	rw := access(t, m.s, bob, "Mail.ReadWrite")
	bfx := m.s.LoadFixtures(bob)
	wantError(t, request(t, m.s, "POST", "/me/messages/"+url.PathEscape(bfx.Messages["report"])+"/reply", rw, map[string]any{}), 403, "ErrorAccessDenied")
	if a := request(t, m.s, "POST", "/me/messages/"+url.PathEscape(bfx.Messages["report"])+"/createReply", rw, nil); a.status != 201 {
		t.Fatalf("createReply without a body: %d %s", a.status, a.raw)
	}
}

func TestUploadSession(t *testing.T) {
	m := newMailTest(t)
	d := m.post("/me/messages", map[string]any{"subject": "Big file", "toRecipients": recipients("bob@example.com")})
	id := url.PathEscape(str(d.body["id"]))
	wantError(t, m.post("/me/messages/"+id+"/attachments/createUploadSession", map[string]any{"AttachmentItem": map[string]any{
		"attachmentType": "file", "name": "small.bin", "size": 1 << 20}}), 400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize")
	wantError(t, m.post("/me/messages/"+id+"/attachments/createUploadSession", map[string]any{}), 400, "ErrorInvalidParameter")
	const size = 5<<20 + 123
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	us := m.post("/me/messages/"+id+"/attachments/createUploadSession", map[string]any{"AttachmentItem": map[string]any{
		"attachmentType": "file", "name": "big.bin", "size": size, "contentType": "application/octet-stream"}})
	upload := str(us.body["uploadUrl"])
	if us.status != 201 || !strings.Contains(upload, "authtoken=") || str(us.body["expirationDateTime"]) == "" {
		t.Fatalf("createUploadSession %d %s", us.status, us.raw)
	}
	token, _ := url.Parse(upload)
	found := false
	for _, sec := range m.s.Secrets() {
		found = found || sec == token.Query().Get("authtoken")
	}
	if !found {
		t.Fatal("the upload URL's token is not among the Secrets")
	}
	put := func(u string, from, to int) answer {
		t.Helper()
		req, _ := http.NewRequest("PUT", u, bytes.NewReader(data[from:to+1]))
		req.Header.Set("Content-Range", "bytes "+itoa(from)+"-"+itoa(to)+"/"+itoa(size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		a.status, a.header = resp.StatusCode, resp.Header
		buf := new(bytes.Buffer)
		buf.ReadFrom(resp.Body)
		a.raw = buf.Bytes()
		return a
	}
	const chunk = 2 << 20
	if a := put(upload, 0, chunk-1); a.status != 200 || !strings.Contains(string(a.raw), `"nextExpectedRanges":["2097152"]`) {
		t.Fatalf("first chunk %d %s", a.status, a.raw)
	}
	if a := put(upload, 0, chunk-1); a.status != 416 {
		t.Fatalf("overlap %d %s", a.status, a.raw)
	}
	if a := put(upload, 2*chunk, size-1); a.status != 416 {
		t.Fatalf("out of order %d %s", a.status, a.raw)
	}
	bad := strings.Replace(upload, "authtoken=", "authtoken=x", 1)
	if a := put(bad, chunk, 2*chunk-1); a.status != 401 {
		t.Fatalf("wrong token %d", a.status)
	}
	put(upload, chunk, 2*chunk-1)
	last := put(upload, 2*chunk, size-1)
	if last.status != 201 || !strings.Contains(last.header.Get("Location"), "/Attachments('") {
		t.Fatalf("last chunk %d %v %s", last.status, last.header, last.raw)
	}
	if a := m.post("/me/messages/"+id+"/send", nil); a.status != 202 {
		t.Fatalf("send %d %s", a.status, a.raw)
	}
	s := m.s.Sent(alice)[0]
	if len(s.Attachments) != 1 || !bytes.Equal(s.Attachments[0].Data, data) || s.Attachments[0].Name != "big.bin" {
		t.Fatalf("sent attachments %d", len(s.Attachments))
	}
	if a := put(upload, 0, chunk-1); a.status != 404 {
		t.Fatalf("a finished session took more: %d", a.status)
	}
}
