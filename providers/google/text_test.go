package google

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
)

func TestToUTF8(t *testing.T) {
	for _, tc := range []struct {
		in      []byte
		charset string
		want    string
	}{
		{[]byte("caf\xc3\xa9"), "UTF-8", "café"},
		{[]byte("caf\xe9"), "ISO-8859-1", "café"},
		{[]byte("\x93quoted\x94 \x80"), "windows-1252", "“quoted” €"},
		{[]byte("caf\xe9"), "", "café"},              // not UTF-8, no charset: windows-1252
		{[]byte("caf\xe9"), "us-ascii", "café"},      // mislabelled
		{[]byte("caf\xc3\xa9"), "x-unknown", "café"}, // unknown but valid UTF-8
		{[]byte("\x82\xa0"), "Shift_JIS", "あ"},
		{[]byte("\xb0\xa1"), "gb2312", "啊"},
		{[]byte("\xf0\xd2\xc9\xd7\xc5\xd4"), "koi8-r", "Привет"},
	} {
		if got := toUTF8(tc.in, tc.charset); got != tc.want {
			t.Errorf("toUTF8(%q, %q) = %q, want %q", tc.in, tc.charset, got, tc.want)
		}
	}
}

func TestDecodeHeader(t *testing.T) {
	for in, want := range map[string]string{
		"Plain subject": "Plain subject",
		"=?UTF-8?B?w4lsw6hhbm9yZQ==?= <e@example.com>":      "Élèanore <e@example.com>",
		"=?ISO-8859-1?Q?Caf=E9?= =?ISO-8859-1?Q?_cr=E8me?=": "Café crème",
		"Déjà décodé":       "Déjà décodé",
		"folded\r\n line":   "folded line",
		"=?x-bogus?Q?abc?=": "=?x-bogus?Q?abc?=",
		"raw 8-bit caf\xe9": "raw 8-bit café",
	} {
		if got := decodeHeader(in); got != want {
			t.Errorf("decodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

func hdr(kv ...string) []*gmail.MessagePartHeader {
	var hs []*gmail.MessagePartHeader
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, &gmail.MessagePartHeader{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

func TestPartWalker(t *testing.T) {
	root := &gmail.MessagePart{MimeType: "multipart/mixed", Parts: []*gmail.MessagePart{
		{MimeType: "multipart/alternative", Parts: []*gmail.MessagePart{
			{MimeType: "text/plain", Headers: hdr("Content-Type", `text/plain; charset="iso-8859-1"`), Body: &gmail.MessagePartBody{Data: "Y2Fm6Q"}},
			{MimeType: "text/html", Body: &gmail.MessagePartBody{Data: "PGI-aGk8L2I-"}},
		}},
		{MimeType: "application/pdf", Filename: "report.pdf", Body: &gmail.MessagePartBody{AttachmentId: "att1", Size: 1234}},
		{MimeType: "text/plain", Headers: hdr("Content-Disposition", "attachment"), Body: &gmail.MessagePartBody{AttachmentId: "att2", Size: 5}},
		{MimeType: "message/rfc822", Body: &gmail.MessagePartBody{AttachmentId: "att3", Size: 99}, Parts: []*gmail.MessagePart{{MimeType: "text/plain"}}},
		{MimeType: "image/png", Body: &gmail.MessagePartBody{AttachmentId: "att4", Size: 7}},
	}}
	var w partWalker
	w.visit(root, 0)
	if w.plain == nil || partCharset(w.plain) != "iso-8859-1" || w.html == nil {
		t.Fatalf("plain %v html %v", w.plain, w.html)
	}
	if got := toUTF8(decodeBase64URL(w.plain.Body.Data), partCharset(w.plain)); got != "café" {
		t.Fatalf("plain body %q", got)
	}
	if got := string(decodeBase64URL(w.html.Body.Data)); got != "<b>hi</b>" {
		t.Fatalf("html body %q", got)
	}
	if len(w.attachments) != 4 || w.attachments[0].Filename != "report.pdf" || w.attachments[0].ID != "att1" || w.attachments[0].Size != 1234 ||
		w.attachments[2].Filename != "message.eml" || w.attachments[3].MIMEType != "image/png" {
		t.Fatalf("attachments %+v", w.attachments)
	}
}

// TestMapEvent maps events given as the client library's (CreateEvent's
// answer) and as decoded from Google's JSON (ListEvents'): the same event
// maps the same either way.
func TestMapEvent(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	mapped := func(ev *calendar.Event, loc *time.Location) providers.Event {
		t.Helper()
		a := eventOf(ev)
		got := mapEvent(&a, loc)
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var decoded eventAnswer
		if err := decodeJSON(raw, &decoded); err != nil {
			t.Fatal(err)
		}
		if fromJSON := mapEvent(&decoded, loc); !reflect.DeepEqual(fromJSON, got) {
			t.Fatalf("from JSON %s: %+v, from the library's event: %+v", raw, fromJSON, got)
		}
		return got
	}
	ev := &calendar.Event{
		Id: "e1", Summary: "Standup", Description: "daily", Location: "Room 1", RecurringEventId: "r1", HtmlLink: "https://calendar.example/e1",
		Start:     &calendar.EventDateTime{DateTime: "2026-11-03T09:00:00-05:00", TimeZone: "America/New_York"},
		End:       &calendar.EventDateTime{DateTime: "2026-11-03T09:30:00-05:00", TimeZone: "America/New_York"},
		Organizer: &calendar.EventOrganizer{Email: "boss@example.com", DisplayName: "Boss"},
		Attendees: []*calendar.EventAttendee{{Email: "a@example.com", ResponseStatus: "accepted"}, {Email: "b@example.com", DisplayName: "B", ResponseStatus: "tentative"}},
	}
	got := mapped(ev, paris)
	if got.Start != "2026-11-03T15:00:00+01:00" || got.End != "2026-11-03T15:30:00+01:00" || got.AllDay ||
		got.Organizer != "Boss <boss@example.com>" || got.Status != "confirmed" || len(got.Attendees) != 2 || got.Attendees[0].Response != "accepted" ||
		got.Attendees[1].Name != "B" || got.Description != "daily" || got.Location != "Room 1" || got.RecurringEventID != "r1" || got.HTMLLink == "" {
		t.Fatalf("%+v", got)
	}
	got = mapped(ev, nil) // the event's own zone
	if got.Start != "2026-11-03T09:00:00-05:00" {
		t.Fatalf("%+v", got)
	}
	got = mapped(&calendar.Event{Start: &calendar.EventDateTime{Date: "2026-12-24"}, End: &calendar.EventDateTime{Date: "2026-12-26"}, Status: "tentative"}, paris)
	if !got.AllDay || got.Start != "2026-12-24" || got.End != "2026-12-26" || got.Status != "tentative" || got.Organizer != "" || got.Attendees != nil {
		t.Fatalf("%+v", got)
	}
	if got = mapped(&calendar.Event{Id: "bare"}, paris); got.Start != "" || got.End != "" || got.AllDay || got.Organizer != "" {
		t.Fatalf("an event without times: %+v", got)
	}
}

func TestMsgIDs(t *testing.T) {
	got := msgIDs("<a@x> junk <b@x>\r\n <a@x> <bad id@x> <c@x>")
	if strings.Join(got, " ") != "<a@x> <b@x> <c@x>" {
		t.Fatalf("%q", got)
	}
	var long []string
	for i := range 40 {
		long = append(long, fmt.Sprintf("<%d@x>", i))
	}
	got = msgIDs(strings.Join(long, " "))
	if len(got) != maxReferences-1 || got[0] != "<0@x>" || got[len(got)-1] != "<39@x>" {
		t.Fatalf("%q", got)
	}
}

// TestParseDate: parseDate agrees with mail.ParseDate on every form, the
// common one it reads itself and those it leaves to ParseDate.
func TestParseDate(t *testing.T) {
	for _, v := range []string{
		"Sat, 31 Oct 2026 00:28:00 +0100",
		"Sat, 1 Nov 2026 09:05:00 -0800",
		"Sun, 01 Nov 2026 09:05:00 +0000",
		"  Mon, 02 Nov 2026 10:00:00 +0530  ",
		"Mon, 02 Nov 2026 10:00:00 +0100 (CET)",
		"Mon, 02 Nov 2026 10:00 +0100",
		"2 Nov 2026 10:00:00 +0100",
		"Mon, 02 Nov 26 10:00:00 +0100",
		"Mon, 02 Nov 2026 10:00:00 GMT",
		"Mon, 02 Nov 2026 10:00:00 UT",
		"Mon, 02 Nov 2026\r\n 10:00:00 +0100",
		"Tue, 02 Nov 2026 10:00:00 +0100", // the wrong day of the week
		"Mon, 31 Feb 2026 10:00:00 +0100",
		"yesterday",
		"",
	} {
		got, gerr := parseDate(v)
		want, werr := mail.ParseDate(v)
		if (gerr == nil) != (werr == nil) || !got.Equal(want) || got.Format(time.RFC3339) != want.Format(time.RFC3339) {
			t.Errorf("parseDate(%q) = %v, %v; mail.ParseDate: %v, %v", v, got, gerr, want, werr)
		}
	}
}

// TestLoadZoneCache: a zone is read once and handed out again; names that
// do not load are refused every time and not kept.
func TestLoadZoneCache(t *testing.T) {
	a, err := loadZone("Europe/Berlin")
	if err != nil || a.String() != "Europe/Berlin" {
		t.Fatalf("loadZone: %v %v", a, err)
	}
	if b, err := loadZone("Europe/Berlin"); err != nil || b != a {
		t.Errorf("second loadZone: %p %v, want the first one (%p)", b, err, a)
	}
	for _, bad := range []string{"Local", "Nowhere/City", "../../etc/passwd", ""} {
		for range 2 {
			if loc, err := loadZone(bad); err == nil && bad != "" {
				t.Errorf("loadZone(%q) = %v, want an error", bad, loc)
			}
		}
		if _, cached := zoneCache.Load(bad); cached && bad != "" {
			t.Errorf("%q is cached", bad)
		}
	}
}
