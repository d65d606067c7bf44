package tools

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// validSend is a testSendArgs that passes.
func validSend() *testSendArgs {
	return &testSendArgs{To: []string{"a@example.com"}, Subject: "hi", Body: "hello"}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name string
		edit func(a *testSendArgs)
		want string // "" : valid
	}{
		{"valid", func(*testSendArgs) {}, ""},
		{"valid with everything", func(a *testSendArgs) {
			yes := true
			a.Account, a.Cc, a.ReplyTo, a.Track, a.Draft = "me@example.com", []string{"Bob <b@example.com>"}, "18c2f0a", &yes, true
			a.Attachments = []testAttachment{{Filename: "r.pdf", ContentBase64: "AAAA", MIMEType: "application/pdf"}}
			a.Priority, a.Labels, a.MaxResults, a.Window = "high", []string{"INBOX", "STARRED"}, 100, testWindow{From: "2026-11-24T09:00:00Z", Days: 366}
		}, ""},
		{"at the limits", func(a *testSendArgs) {
			a.To = make([]string, 100)
			for i := range a.To {
				a.To[i] = strings.Repeat("a", 320)
			}
			a.Subject, a.ReplyTo, a.MaxResults = strings.Repeat("s", 900), strings.Repeat("i", 256), 1
		}, ""},
		{"unicode token", func(a *testSendArgs) { a.ReplyTo = "id-ü-€-😀" }, ""},

		{"required array missing", func(a *testSendArgs) { a.To = nil }, "invalid argument to: required"},
		{"required array empty", func(a *testSendArgs) { a.To = []string{} }, "invalid argument to: required"},
		{"too many items", func(a *testSendArgs) { a.To = make([]string, 101) }, "invalid argument to: at most 100 items, got 101"},
		{"item too long", func(a *testSendArgs) {
			a.To = []string{"a", "b", "c", strings.Repeat("d", 321)}
		}, "invalid argument to[3]: at most 320 bytes, got 321"},
		{"item with a line break", func(a *testSendArgs) {
			a.To = []string{"a@example.com", "b@example.com\r\nBcc: c@example.com"}
		}, "invalid argument to[1]: must be one line (no line breaks)"},
		{"optional array checked too", func(a *testSendArgs) { a.Cc = make([]string, 101) }, "invalid argument cc: at most 100 items, got 101"},
		{"string too long", func(a *testSendArgs) { a.Subject = strings.Repeat("s", 1000) }, "invalid argument subject: at most 900 bytes, got 1000"},
		{"bytes, not characters", func(a *testSendArgs) { a.Subject = strings.Repeat("é", 451) }, "invalid argument subject: at most 900 bytes, got 902"},
		{"line break", func(a *testSendArgs) { a.Subject = "hi\nBcc: x@example.com" }, "invalid argument subject: must be one line (no line breaks)"},
		{"carriage return", func(a *testSendArgs) { a.Subject = "hi\r" }, "invalid argument subject: must be one line (no line breaks)"},
		{"NUL in text", func(a *testSendArgs) { a.Body = "a\x00b" }, "invalid argument body: must be text without NUL characters"},
		{"NUL in line", func(a *testSendArgs) { a.Subject = "a\x00b" }, "invalid argument subject: must be text without NUL characters"},
		{"invalid UTF-8", func(a *testSendArgs) { a.Body = "a\xffb" }, "invalid argument body: must be valid UTF-8 text"},
		{"text may hold line breaks and tabs", func(a *testSendArgs) { a.Body = "a\r\n\tb" }, ""},
		{"token with a space", func(a *testSendArgs) { a.ReplyTo = "abc def" }, `invalid argument reply_to_message_id: must not contain spaces or control characters; found ' ' at byte 3`},
		{"token with a tab", func(a *testSendArgs) { a.ReplyTo = "\tabc" }, `invalid argument reply_to_message_id: must not contain spaces or control characters; found '\t' at byte 0`},
		{"token with DEL", func(a *testSendArgs) { a.ReplyTo = "ab\x7f" }, `found '\x7f' at byte 2`},
		{"token with a no-break space", func(a *testSendArgs) { a.ReplyTo = "ab\u00a0c" }, `found '\u00a0' at byte 2`},
		{"token with a line separator", func(a *testSendArgs) { a.ReplyTo = "é\u2028" }, `found '\u2028' at byte 2`},
		{"token with a C1 control", func(a *testSendArgs) { a.ReplyTo = "a\u0085" }, `found '\u0085' at byte 1`},
		{"token invalid UTF-8", func(a *testSendArgs) { a.ReplyTo = "a\xc3" }, "invalid argument reply_to_message_id: must be valid UTF-8 text"},
		{"token in an embedded struct", func(a *testSendArgs) { a.Account = "me @example.com" }, "invalid argument account: must not contain spaces"},
		{"too many objects", func(a *testSendArgs) { a.Attachments = make([]testAttachment, 51) }, "invalid argument attachments: at most 50 items, got 51"},
		{"object field required", func(a *testSendArgs) {
			a.Attachments = []testAttachment{{Filename: "a", ContentBase64: "AA"}, {Filename: "b", ContentBase64: "AA"}, {ContentBase64: "AA"}}
		}, "invalid argument attachments[2].filename: required"},
		{"required string of spaces", func(a *testSendArgs) {
			a.Attachments = []testAttachment{{Filename: " \t ", ContentBase64: "AA"}}
		}, "invalid argument attachments[0].filename: required"},
		{"object field rules", func(a *testSendArgs) {
			a.Attachments = []testAttachment{{Filename: "a", ContentBase64: "AA", MIMEType: "text/plain; charset=utf-8"}}
		}, "invalid argument attachments[0].mime_type: must not contain spaces or control characters; found ' ' at byte 11"},
		{"object field too long", func(a *testSendArgs) {
			a.Attachments = []testAttachment{{Filename: strings.Repeat("f", 256), ContentBase64: "AA"}}
		}, "invalid argument attachments[0].filename: at most 255 bytes, got 256"},
		{"not in enum", func(a *testSendArgs) { a.Priority = "urgent" }, `invalid argument priority: must be one of low, normal, high; got "urgent"`},
		{"enum is case-sensitive", func(a *testSendArgs) { a.Priority = "High" }, `must be one of low, normal, high; got "High"`},
		{"long value quoted short", func(a *testSendArgs) { a.Priority = long }, `got "` + long[:64] + `"…`},
		{"item not in enum", func(a *testSendArgs) { a.Labels = []string{"INBOX", "SPAM"} }, `invalid argument labels[1]: must be one of INBOX, STARRED; got "SPAM"`},
		{"empty item not in enum", func(a *testSendArgs) { a.Labels = []string{""} }, `invalid argument labels[0]: must be one of INBOX, STARRED; got ""`},
		{"int over", func(a *testSendArgs) { a.MaxResults = 101 }, "invalid argument max_results: must be between 1 and 100, got 101"},
		{"int under", func(a *testSendArgs) { a.MaxResults = -5 }, "invalid argument max_results: must be between 1 and 100, got -5"},
		{"nested object", func(a *testSendArgs) { a.Window.Days = 400 }, "invalid argument window.days: must be between 1 and 366, got 400"},
		{"nested object string", func(a *testSendArgs) { a.Window.From = "today and tomorrow" }, "invalid argument window.from: must not contain spaces"},
		{"first violation in field order", func(a *testSendArgs) { a.Subject, a.To = "a\nb", nil }, "invalid argument to: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := validSend()
			tc.edit(a)
			err := validate(a)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validate = nil, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "invalid argument ") {
				t.Errorf("validate = %q\n         want %q", err, tc.want)
			}
			var ue *userError
			if !errors.As(err, &ue) {
				t.Errorf("validate = %T, want the argError type", err)
			}
		})
	}
}

func TestValidateBoundsAndCounts(t *testing.T) {
	type args struct {
		Offset int      `json:"offset,omitempty" arg:"min=0" jsonschema:"d"`
		Limit  int      `json:"limit,omitempty" arg:"max=10" jsonschema:"d"`
		Code   string   `json:"code,omitempty" arg:"min=4,max=8" jsonschema:"d"`
		Tags   []string `json:"tags,omitempty" arg:"min=2,items.min=1" jsonschema:"d"`
		One    []string `json:"one,omitempty" arg:"min=1,max=1" jsonschema:"d"`
		ID     string   `json:"id" arg:"required,kind=token" jsonschema:"d"`
	}
	for _, tc := range []struct {
		a    args
		want string
	}{
		{args{ID: "x"}, ""},
		{args{ID: "x", Offset: -1}, "invalid argument offset: must be at least 0, got -1"},
		{args{ID: "x", Limit: 11}, "invalid argument limit: must be at most 10, got 11"},
		{args{ID: "x", Limit: -11}, ""},
		{args{ID: "x", Code: "ab"}, "invalid argument code: at least 4 bytes, got 2"},
		{args{ID: "x", Code: "  "}, "invalid argument code: at least 4 bytes, got 2"},
		{args{ID: "x", Code: strings.Repeat("c", 9)}, "invalid argument code: at most 8 bytes, got 9"},
		{args{ID: "x", Tags: []string{"a"}}, "invalid argument tags: at least 2 items, got 1"},
		{args{ID: "x", Tags: []string{"a", ""}}, "invalid argument tags[1]: at least 1 byte, got 0"},
		{args{ID: "x", One: []string{"a", "b"}}, "invalid argument one: at most 1 item, got 2"},
		{args{}, "invalid argument id: required"},
		{args{ID: " "}, "invalid argument id: required"},
	} {
		a := tc.a
		err := validate(&a)
		if got := errString(err); got != tc.want {
			t.Errorf("validate(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidateAppliesDefaults(t *testing.T) {
	a := validSend()
	if err := validate(a); err != nil {
		t.Fatal(err)
	}
	if a.MaxResults != 20 || a.Priority != "normal" || a.Window.Days != 7 {
		t.Errorf("defaults: max_results %d, priority %q, window.days %d; want 20, normal, 7", a.MaxResults, a.Priority, a.Window.Days)
	}
	if a.Subject != "hi" || a.Account != "" || a.Window.From != "" {
		t.Errorf("validate changed what it has no default for: %+v", a)
	}
	// Given values are kept.
	a = validSend()
	a.MaxResults, a.Priority, a.Window.Days = 5, "low", 1
	if err := validate(a); err != nil {
		t.Fatal(err)
	}
	if a.MaxResults != 5 || a.Priority != "low" || a.Window.Days != 1 {
		t.Errorf("given values changed: %d %q %d", a.MaxResults, a.Priority, a.Window.Days)
	}
	// Defaults inside arrays of objects, too.
	type item struct {
		Kind string `json:"kind,omitempty" arg:"enum=a|b,default=b" jsonschema:"d"`
	}
	type args struct {
		Items []item `json:"items,omitempty" jsonschema:"d"`
	}
	b := args{Items: []item{{}, {Kind: "a"}}}
	if err := validate(&b); err != nil || b.Items[0].Kind != "b" || b.Items[1].Kind != "a" {
		t.Errorf("validate = %v, items %+v; want kinds b, a", err, b.Items)
	}
}

func TestValidateWantsAPointer(t *testing.T) {
	for _, v := range []any{*validSend(), (*testSendArgs)(nil), nil, new(int)} {
		err := validate(v)
		var ue *userError
		if err == nil || errors.As(err, &ue) {
			t.Errorf("validate(%T) = %v, want a plain error", v, err)
		}
	}
}

// TestValidateConcurrently builds a type's plan from many goroutines at
// once (run with -race).
func TestValidateConcurrently(t *testing.T) {
	argPlans.Delete(reflect.TypeFor[testSendArgs]())
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			a := validSend()
			a.Subject = strings.Repeat("s", 901)
			errs[i] = validate(a)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if errString(err) != "invalid argument subject: at most 900 bytes, got 901" {
			t.Errorf("validate = %v", err)
		}
	}
}

// BenchmarkValidateSend measures the check of a typical send_email call:
// it runs on every call, so it should cost no allocation.
func BenchmarkValidateSend(b *testing.B) {
	a := &testSendArgs{
		testAccount: testAccount{Account: "me@example.com"},
		To:          []string{"Ann <ann@example.com>", "bob@example.com", "carol@example.org"},
		Cc:          []string{"dave@example.net"},
		Subject:     "Quarterly report: figures and next steps",
		Body:        strings.Repeat("Hello Ann, here are the figures we talked about. ", 40),
		ReplyTo:     "18c2f0a9d3e4b5c6",
		Attachments: []testAttachment{{Filename: "report.pdf", ContentBase64: strings.Repeat("QUJD", 2500), MIMEType: "application/pdf"}},
	}
	if err := validate(a); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := validate(a); err != nil {
			b.Fatal(err)
		}
	}
}
