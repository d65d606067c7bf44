package microsofttest

import (
	"net/url"
	"testing"
)

// TestItemAndReferenceAttachments: an attached Outlook item and a link to a
// cloud file are listed and read with their own @odata.type and without
// contentBytes; $value gives an item's MIME content and refuses a link.
func TestItemAndReferenceAttachments(t *testing.T) {
	m := newMailTest(t)
	msg := m.fx.Messages["report"]
	item := m.s.AttachItem(alice, msg, "Request.eml", []byte("Subject: hi\r\n\r\nhello\r\n"))
	ref := m.s.AttachReference(alice, msg, "Budget.xlsx")
	id := url.PathEscape(msg)
	prefer := []string{"Prefer", `IdType="ImmutableId"`}

	a := m.get("/me/messages/"+id+"/attachments", prefer...)
	types := map[string]string{}
	for _, v := range a.values() {
		types[str(v["name"])] = str(v["@odata.type"])
		if v["@odata.type"] != "#microsoft.graph.fileAttachment" && v["contentBytes"] != nil {
			t.Errorf("%s has contentBytes", v["name"])
		}
	}
	if a.status != 200 || types["Request.eml"] != "#microsoft.graph.itemAttachment" || types["Budget.xlsx"] != "#microsoft.graph.referenceAttachment" ||
		types["Q3-report-draft.pdf"] != "#microsoft.graph.fileAttachment" {
		t.Fatalf("attachments %d %v", a.status, types)
	}
	a = m.get("/me/messages/"+id+"/attachments/"+url.PathEscape(item)+"?$select=id,name,size", prefer...)
	if a.status != 200 || a.body["@odata.type"] != "#microsoft.graph.itemAttachment" || a.body["name"] != "Request.eml" || a.body["contentBytes"] != nil {
		t.Fatalf("item %d %s", a.status, a.raw)
	}
	raw := m.get("/me/messages/"+id+"/attachments/"+url.PathEscape(item)+"/$value", prefer...)
	if raw.status != 200 || string(raw.raw) != "Subject: hi\r\n\r\nhello\r\n" || raw.header.Get("Content-Type") != "message/rfc822" {
		t.Fatalf("item $value %d %q", raw.status, raw.raw)
	}
	a = m.get("/me/messages/"+id+"/attachments/"+url.PathEscape(ref), prefer...)
	if a.status != 200 || a.body["@odata.type"] != "#microsoft.graph.referenceAttachment" || a.body["size"] != 0.0 {
		t.Fatalf("reference %d %s", a.status, a.raw)
	}
	wantError(t, m.get("/me/messages/"+id+"/attachments/"+url.PathEscape(ref)+"/$value", prefer...), 400, "ErrorInvalidRequest")
}
