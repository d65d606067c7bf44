package microsofttest

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

func (m *mailTest) message(key string, query string, headers ...string) map[string]any {
	m.t.Helper()
	a := m.get("/me/messages/"+url.PathEscape(m.fx.Messages[key])+query, headers...)
	if a.status != 200 {
		m.t.Fatalf("message %s: %d %s", key, a.status, a.raw)
	}
	return a.body
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func TestFixturesFiled(t *testing.T) {
	m := newMailTest(t)
	if len(m.fx.Messages) != 34 || len(m.fx.Events) != 19 {
		t.Fatalf("%d messages, %d events", len(m.fx.Messages), len(m.fx.Events))
	}
	folderOf := map[string]string{}
	for _, wk := range []string{"inbox", "sentitems", "junkemail", "deleteditems"} {
		a := m.get("/me/mailFolders/" + wk)
		folderOf[wk] = str(a.body["id"])
	}
	for key, want := range map[string]string{"welcome": "inbox", "phoenix-2": "sentitems", "spam": "junkemail", "trash": "deleteditems",
		"receipt": m.fx.Receipts} {
		got := str(m.message(key, "?$select=parentFolderId")["parentFolderId"])
		if folderOf[want] != "" {
			want = folderOf[want]
		}
		if got != want {
			t.Errorf("%s in folder %s, want %s", key, got, want)
		}
	}
	report := m.message("report", "")
	if report["isRead"] != false || report["importance"] != "high" || report["hasAttachments"] != true ||
		!slices.Contains(report["categories"].([]any), "Work") || field(report, "flag", "flagStatus") != "notFlagged" ||
		report["inferenceClassification"] != "focused" || field(report, "from", "emailAddress", "address") != fixturetest.Dave ||
		field(report, "body", "contentType") != "html" || !strings.Contains(str(field(report, "body", "content")), "<b>Q3 report</b>") {
		t.Fatalf("report %v", report)
	}
	photo := m.message("photo", "")
	if photo["isRead"] != true || field(photo, "flag", "flagStatus") != "flagged" || photo["importance"] != "normal" {
		t.Fatalf("photo %v", photo)
	}
	if n := m.message("newsletter", ""); n["inferenceClassification"] != "other" {
		t.Fatalf("newsletter %v", n["inferenceClassification"])
	}
	// The Receipts subfolder of Inbox; Work is a category.
	a := m.get("/me/mailFolders/Inbox/childFolders")
	if vs := a.values(); a.status != 200 || len(vs) != 1 || vs[0]["displayName"] != "Receipts" || vs[0]["totalItemCount"] != 1.0 {
		t.Fatalf("childFolders %d %s", a.status, a.raw)
	}
	// Expanded with the top-level folders, as a client learns them in one
	// request; the nested $select applies to the children.
	a = m.get("/me/mailFolders?$select=id,displayName&$expand=" + url.QueryEscape("childFolders($select=id,displayName)"))
	var inbox map[string]any
	for _, v := range a.values() {
		if v["displayName"] == "Inbox" {
			inbox = v
		}
	}
	kids, _ := inbox["childFolders"].([]any)
	if a.status != 200 || len(kids) != 1 || kids[0].(map[string]any)["displayName"] != "Receipts" || kids[0].(map[string]any)["totalItemCount"] != nil {
		t.Fatalf("$expand=childFolders: %d %s", a.status, a.raw)
	}
	if a = m.get("/me/mailFolders?$expand=parentFolder"); a.status != 400 {
		t.Fatalf("$expand of no navigation property: %d %s", a.status, a.raw)
	}
	a = m.get("/me/outlook/masterCategories")
	if vs := a.values(); len(vs) != 1 || vs[0]["displayName"] != "Work" {
		t.Fatalf("categories %s", a.raw)
	}
	// Conversations: the thread's messages share one, the others not.
	conv := m.fx.Conversations["phoenix"]
	for _, key := range []string{"phoenix-1", "phoenix-2", "phoenix-3"} {
		if got := m.message(key, "?$select=conversationId")["conversationId"]; got != conv {
			t.Errorf("%s in conversation %v, want %s", key, got, conv)
		}
	}
	if m.fx.Conversations["lunch"] == conv || m.message("welcome", "?$select=conversationId")["conversationId"] == conv {
		t.Fatal("unrelated messages share a conversation")
	}
}

func TestBodies(t *testing.T) {
	m := newMailTest(t)
	// A plain-text message is served as HTML unless text is preferred.
	long := m.message("umlaut", "")
	html := str(field(long, "body", "content"))
	if field(long, "body", "contentType") != "html" || !strings.Contains(html, `<div class="PlainText">Hallo Alice,<br>`) ||
		long["subject"] != "Grüße aus München – Termin nächste Woche" || field(long, "from", "emailAddress", "name") != "Jürgen Müller" {
		t.Fatalf("umlaut %v", long)
	}
	a := m.get("/me/messages/"+url.PathEscape(m.fx.Messages["newsletter"]), "Prefer", `outlook.body-content-type="text"`)
	text := str(field(a.body, "body", "content"))
	if a.header.Get("Preference-Applied") != `outlook.body-content-type="text"` || field(a.body, "body", "contentType") != "text" ||
		!strings.Contains(text, "Read more<https://weeklybyte.example/r/1?utm_source=mail>") || strings.Contains(text, "<p>") ||
		strings.Contains(text, "alert(1)") {
		t.Fatalf("newsletter as text: %v %q", a.header, text)
	}
	if l := m.message("latin1", "", "Prefer", `outlook.body-content-type="text"`); l["subject"] != "Réunion à Paris" ||
		!strings.Contains(str(field(l, "body", "content")), "la réunion à Paris est confirmée") || field(l, "from", "emailAddress", "name") != "François Dupont" {
		t.Fatalf("latin1 %v", l)
	}
	if j := m.message("japanese", "", "Prefer", `outlook.body-content-type="text"`); !strings.Contains(str(field(j, "body", "content")), "議事録を送ります") {
		t.Fatalf("japanese %v", j)
	}
	// bodyPreview, uniqueBody and internetMessageHeaders (only on $select).
	p2 := m.message("phoenix-2", "")
	if _, has := p2["uniqueBody"]; has || p2["internetMessageHeaders"] != nil || !strings.HasPrefix(str(p2["bodyPreview"]), "Tuesday works for me.") {
		t.Fatalf("default properties %v", p2)
	}
	p2 = m.message("phoenix-2", "?$select=uniqueBody,internetMessageHeaders,subject", "Prefer", `outlook.body-content-type="text"`)
	unique := str(field(p2, "uniqueBody", "content"))
	if !strings.Contains(unique, "Adding Carol") || strings.Contains(unique, "wrote:") || p2["body"] != nil || p2["subject"] == nil {
		t.Fatalf("uniqueBody %q %v", unique, p2)
	}
	headers, _ := p2["internetMessageHeaders"].([]any)
	if !slices.ContainsFunc(headers, func(h any) bool {
		return field(h, "name") == "In-Reply-To" && field(h, "value") == "<phoenix-1.CAB@mail.example.com>"
	}) {
		t.Fatalf("headers %v", headers)
	}
}

func TestAttachments(t *testing.T) {
	m := newMailTest(t)
	id := url.PathEscape(m.fx.Messages["pdf-nonascii"])
	a := m.get("/me/messages/" + id + "/attachments?$select=name,contentType,size,isInline")
	vs := a.values()
	if a.status != 200 || len(vs) != 1 || vs[0]["name"] != "Präsentation Q3.pdf" || vs[0]["contentType"] != "application/pdf" ||
		vs[0]["contentBytes"] != nil || vs[0]["isInline"] != false {
		t.Fatalf("attachments %d %s", a.status, a.raw)
	}
	att := url.PathEscape(str(vs[0]["id"]))
	a = m.get("/me/messages/" + id + "/attachments/" + att)
	data, err := base64.StdEncoding.DecodeString(str(a.body["contentBytes"]))
	if a.status != 200 || err != nil || !strings.HasPrefix(string(data), "%PDF-1.4") || a.body["size"] != float64(len(data)) ||
		a.body["@odata.type"] != "#microsoft.graph.fileAttachment" {
		t.Fatalf("attachment %d %.300s", a.status, a.raw)
	}
	raw := m.get("/me/messages/" + id + "/attachments/" + att + "/$value")
	if raw.status != 200 || string(raw.raw) != string(data) || raw.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("$value %d %q", raw.status, raw.header)
	}
	wantError(t, m.get("/me/messages/"+id+"/attachments/"+url.PathEscape(m.fx.Messages["report"])), 404, "ErrorItemNotFound")
	// An inline image: listed, but no hasAttachments.
	inline := m.message("inline", "?$expand=attachments")
	atts, _ := inline["attachments"].([]any)
	if inline["hasAttachments"] != false || len(atts) != 1 || field(atts[0], "isInline") != true || field(atts[0], "contentId") != "logo@acme" {
		t.Fatalf("inline %v", inline)
	}
	wantError(t, m.get("/me/messages/"+id+"?$expand=mentions"), 400, "RequestBroker--ParseUri")
	// Mail.ReadBasic gives no body and no attachments (a user who never
	// consented to more: consent accumulates).
	s := setup(t, Options{})
	id = url.PathEscape(s.LoadFixtures(bob).Messages["pdf-nonascii"])
	basic := access(t, s, bob, "Mail.ReadBasic")
	b := request(t, s, "GET", "/me/messages/"+id, basic, nil)
	if b.status != 200 || b.body["body"] != nil || b.body["bodyPreview"] != nil || b.body["subject"] == nil {
		t.Fatalf("ReadBasic %d %s", b.status, b.raw)
	}
	wantError(t, request(t, s, "GET", "/me/messages/"+id+"/attachments", basic, nil), 403, "ErrorAccessDenied")
}

func TestImmutableIDs(t *testing.T) {
	m := newMailTest(t)
	prefer := `IdType="ImmutableId"`
	a := m.get("/me/messages/"+url.PathEscape(m.fx.Messages["welcome"]), "Prefer", prefer)
	immutable := str(a.body["id"])
	if a.status != 200 || immutable == m.fx.Messages["welcome"] || !strings.HasPrefix(immutable, "AAkAL") ||
		a.header.Get("Preference-Applied") != prefer {
		t.Fatalf("immutable id %d %v %s", a.status, a.header, immutable)
	}
	// Moving changes the ordinary id, not the immutable one.
	moved := m.post("/me/messages/"+url.PathEscape(m.fx.Messages["welcome"])+"/move", map[string]string{"destinationId": "archive"})
	if moved.status != 201 || moved.body["id"] == m.fx.Messages["welcome"] {
		t.Fatalf("move %d %s", moved.status, moved.raw)
	}
	wantError(t, m.get("/me/messages/"+url.PathEscape(m.fx.Messages["welcome"])), 404, "ErrorItemNotFound")
	if a := m.get("/me/messages/" + url.PathEscape(str(moved.body["id"]))); a.status != 200 {
		t.Fatalf("new id %d", a.status)
	}
	a = m.get("/me/messages/"+url.PathEscape(immutable), "Prefer", prefer)
	if a.status != 200 || a.body["id"] != immutable || a.body["subject"] != "Alice, finish setting up your new Google Account" {
		t.Fatalf("immutable after the move %d %s", a.status, a.raw)
	}
	wantError(t, m.post("/me/messages/"+url.PathEscape(immutable)+"/move", map[string]string{"destinationId": "nowhere"}), 400, "ErrorInvalidIdMalformed")
	wantError(t, m.post("/me/messages/"+url.PathEscape(immutable)+"/move", map[string]string{}), 400, "ErrorInvalidParameter")
}

func TestUpdateAndDelete(t *testing.T) {
	m := newMailTest(t)
	id := url.PathEscape(m.fx.Messages["report"])
	a := request(t, m.s, "PATCH", "/me/messages/"+id, m.tok, map[string]any{"isRead": true, "categories": []string{"Work", "Q3"},
		"flag": map[string]string{"flagStatus": "flagged"}})
	if a.status != 200 || a.body["isRead"] != true || field(a.body, "flag", "flagStatus") != "flagged" || len(a.body["categories"].([]any)) != 2 {
		t.Fatalf("PATCH %d %s", a.status, a.raw)
	}
	wantError(t, request(t, m.s, "PATCH", "/me/messages/"+id, m.tok, map[string]any{"subject": "changed"}), 400, "ErrorInvalidPropertyUpdateSentMessage")
	wantError(t, request(t, m.s, "PATCH", "/me/messages/"+id, m.tok, map[string]any{"shoeSize": 42}), 400, "RequestBodyRead")
	wantError(t, request(t, m.s, "PATCH", "/me/messages/"+id, m.tok, map[string]any{"isRead": "yes"}), 400, "RequestBodyRead")
	if a := request(t, m.s, "DELETE", "/me/messages/"+id, m.tok, nil); a.status != 204 {
		t.Fatalf("DELETE %d", a.status)
	}
	// In Deleted Items now, under a new id; deleting it there removes it.
	a = m.get("/me/mailFolders/deleteditems/messages?$select=subject")
	var deleted string
	for _, v := range a.values() {
		if v["subject"] == "Q3 report draft" {
			deleted = str(v["id"])
		}
	}
	if deleted == "" {
		t.Fatalf("not in Deleted Items: %s", a.raw)
	}
	if a := request(t, m.s, "DELETE", "/me/messages/"+url.PathEscape(deleted), m.tok, nil); a.status != 204 {
		t.Fatalf("DELETE from Deleted Items %d", a.status)
	}
	wantError(t, m.get("/me/messages/"+url.PathEscape(deleted)), 404, "ErrorItemNotFound")
}
