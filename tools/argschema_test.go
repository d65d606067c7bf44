package tools

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The test args structs look like the real tools' (send_email with its
// attachments, list_messages' paging) and use every type and rule.

type testAccount struct {
	Account string `json:"account,omitempty" arg:"max=254,kind=token" jsonschema:"{account_role} email address; may be left out when one connected account can {account_can}"`
}

type testAttachment struct {
	Filename      string `json:"filename" arg:"required,max=255,kind=line" jsonschema:"file name shown to the recipient, e.g. report.pdf"`
	ContentBase64 string `json:"content_base64" arg:"required" jsonschema:"the file's bytes, base64-encoded"`
	MIMEType      string `json:"mime_type,omitempty" arg:"max=255,kind=token" jsonschema:"e.g. application/pdf; default: from the file name"`
}

type testWindow struct {
	From string `json:"from,omitempty" arg:"max=40,kind=token" jsonschema:"start, RFC 3339"`
	Days int    `json:"days,omitempty" arg:"min=1,max=366,default=7" jsonschema:"length in days"`
}

type testSendArgs struct {
	testAccount
	To          []string         `json:"to" arg:"required,max=100,items.max=320,items.kind=line" jsonschema:"recipients: \"a@example.com\" or \"Name <a@example.com>\""`
	Cc          []string         `json:"cc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"copy recipients, same format as to"`
	Subject     string           `json:"subject,omitempty" arg:"max=900,kind=line" jsonschema:"subject line"`
	Body        string           `json:"body,omitempty" arg:"max=5242880" jsonschema:"plain-text body"`
	ReplyTo     string           `json:"reply_to_message_id,omitempty" arg:"max=256,kind=token" jsonschema:"id of the message this one replies to"`
	Attachments []testAttachment `json:"attachments,omitempty" arg:"max=50" jsonschema:"files to attach"`
	Priority    string           `json:"priority,omitempty" arg:"enum=low|normal|high,default=normal" jsonschema:"how urgent"`
	Labels      []string         `json:"labels,omitempty" arg:"max=5,items.enum=INBOX|STARRED" jsonschema:"labels to add"`
	MaxResults  int              `json:"max_results,omitempty" arg:"min=1,max=100,default=20" jsonschema:"1 to 100"`
	Track       *bool            `json:"track,omitempty" jsonschema:"ask for a read receipt; default: the account's setting"`
	Draft       bool             `json:"draft,omitempty" jsonschema:"save as a draft instead"`
	Window      testWindow       `json:"window,omitempty" jsonschema:"when to send"`
	Ignored     string           `json:"-"`

	prepared string // what a check method would build: not an argument
}

var testVars = map[string]string{"account_role": "sending account's", "account_can": "send"}

func marshalSchema(t *testing.T, typ reflect.Type, vars map[string]string) []byte {
	t.Helper()
	s, err := argSchema(typ, vars)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestArgSchemaJSON compares bytes: key order is part of what a golden
// tools/list snapshot compares (json.Marshal escapes < and >, as the
// server's answers do).
func TestArgSchemaJSON(t *testing.T) {
	want := `{
	"additionalProperties": false,
	"properties": {
		"account": {"description": "sending account's email address; may be left out when one connected account can send", "maxLength": 254, "type": "string"},
		"to": {"description": "recipients: \"a@example.com\" or \"Name \u003ca@example.com\u003e\"", "items": {"maxLength": 320, "type": "string"}, "maxItems": 100, "minItems": 1, "type": "array"},
		"cc": {"description": "copy recipients, same format as to", "items": {"maxLength": 320, "type": "string"}, "maxItems": 100, "type": "array"},
		"subject": {"description": "subject line", "maxLength": 900, "type": "string"},
		"body": {"description": "plain-text body", "maxLength": 5242880, "type": "string"},
		"reply_to_message_id": {"description": "id of the message this one replies to", "maxLength": 256, "type": "string"},
		"attachments": {"description": "files to attach", "items": {
			"additionalProperties": false,
			"properties": {
				"content_base64": {"description": "the file's bytes, base64-encoded", "minLength": 1, "type": "string"},
				"filename": {"description": "file name shown to the recipient, e.g. report.pdf", "maxLength": 255, "minLength": 1, "type": "string"},
				"mime_type": {"description": "e.g. application/pdf; default: from the file name", "maxLength": 255, "type": "string"}
			},
			"required": ["filename", "content_base64"],
			"type": "object"
		}, "maxItems": 50, "type": "array"},
		"priority": {"default": "normal", "description": "how urgent", "enum": ["low", "normal", "high"], "type": "string"},
		"labels": {"description": "labels to add", "items": {"enum": ["INBOX", "STARRED"], "type": "string"}, "maxItems": 5, "type": "array"},
		"max_results": {"default": 20, "description": "1 to 100", "maximum": 100, "minimum": 1, "type": "integer"},
		"track": {"description": "ask for a read receipt; default: the account's setting", "type": "boolean"},
		"draft": {"description": "save as a draft instead", "type": "boolean"},
		"window": {"additionalProperties": false, "description": "when to send", "properties": {
			"days": {"default": 7, "description": "length in days", "maximum": 366, "minimum": 1, "type": "integer"},
			"from": {"description": "start, RFC 3339", "maxLength": 40, "type": "string"}
		}, "type": "object"}
	},
	"required": ["to"],
	"type": "object"
}`
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(want)); err != nil {
		t.Fatal(err)
	}
	got := marshalSchema(t, reflect.TypeFor[testSendArgs](), testVars)
	if !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("schema:\n got %s\nwant %s", got, compact.Bytes())
	}
}

func TestArgSchemaIsStable(t *testing.T) {
	first := marshalSchema(t, reflect.TypeFor[testSendArgs](), testVars)
	for range 20 {
		argPlans.Delete(reflect.TypeFor[testSendArgs]()) // build afresh, too
		if got := marshalSchema(t, reflect.TypeFor[*testSendArgs](), testVars); !bytes.Equal(got, first) {
			t.Fatalf("schema changed between builds:\n%s\n%s", first, got)
		}
	}
}

// TestArgSchemaHasNoNullsOrEmpties walks the schema: a null, an empty
// object or an empty array would be noise in what a model reads.
func TestArgSchemaHasNoNullsOrEmpties(t *testing.T) {
	var root any
	if err := json.Unmarshal(marshalSchema(t, reflect.TypeFor[testSendArgs](), testVars), &root); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case nil:
			t.Errorf("%s: null", path)
		case map[string]any:
			if len(v) == 0 {
				t.Errorf("%s: empty object", path)
			}
			for k, x := range v {
				walk(path+"/"+k, x)
			}
		case []any:
			if len(v) == 0 {
				t.Errorf("%s: empty array", path)
			}
			for i, x := range v {
				walk(path+"/"+string(rune('0'+i)), x)
			}
		}
	}
	walk("", root)
}

func TestArgSchemaRequiredFollowsNestedFields(t *testing.T) {
	type inner struct {
		ID string `json:"id" arg:"required,kind=token" jsonschema:"an id"`
	}
	type args struct {
		Ref inner `json:"ref" jsonschema:"what it refers to"`
	}
	s, err := argSchemaFor[args](nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Required, []string{"ref"}) {
		t.Errorf("required = %v, want [ref]: an object with a required field is required", s.Required)
	}
	if err := validate(&args{}); err == nil || err.Error() != "invalid argument ref.id: required" {
		t.Errorf("validate(empty) = %v", err)
	}
}

// TestArgSchemaNamedEmbeddedStruct: as with encoding/json, an embedded
// struct given a name in its json tag is one (object) argument, even when
// its type is unexported.
func TestArgSchemaNamedEmbeddedStruct(t *testing.T) {
	type args struct {
		testAccount `json:"owner,omitempty" jsonschema:"who owns it"`
	}
	got := marshalSchema(t, reflect.TypeFor[args](), map[string]string{"account_role": "the owner's", "account_can": "own"})
	want := `{"additionalProperties":false,"properties":{"owner":{"additionalProperties":false,"description":"who owns it","properties":{"account":{"description":"the owner's email address; may be left out when one connected account can own","maxLength":254,"type":"string"}},"type":"object"}},"required":[],"type":"object"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	a := args{testAccount{Account: "a b"}}
	if err := validate(&a); err == nil || !strings.HasPrefix(err.Error(), "invalid argument owner.account: must not contain spaces") {
		t.Errorf("validate = %v", err)
	}
}

func TestArgSchemaWithoutArguments(t *testing.T) {
	type args struct{ testAccount }
	got := marshalSchema(t, reflect.TypeFor[args](), testVars)
	want := `{"additionalProperties":false,"properties":{"account":{"description":"sending account's email address; may be left out when one connected account can send","maxLength":254,"type":"string"}},"required":[],"type":"object"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestArgSchemaRefusesBadDeclarations(t *testing.T) {
	type node struct {
		Children []node `json:"children,omitempty" jsonschema:"sub-nodes"`
	}
	type embedded struct {
		*testAccount
	}
	type twice struct {
		testAccount
		Account string `json:"account,omitempty" jsonschema:"again"`
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"unknown rule", struct {
			A string `json:"a,omitempty" arg:"maxlen=3" jsonschema:"d"`
		}{}, `unknown rule "maxlen"`},
		{"rule for another type", struct {
			A int `json:"a,omitempty" arg:"kind=token" jsonschema:"d"`
		}{}, "rule kind does not apply to a int"},
		{"items rule on a string", struct {
			A string `json:"a,omitempty" arg:"items.max=3" jsonschema:"d"`
		}{}, "rule items.max does not apply to a string"},
		{"rules on bool", struct {
			A bool `json:"a,omitempty" arg:"required" jsonschema:"d"`
		}{}, "rule required does not apply to a bool"},
		{"rules on struct", struct {
			A testWindow `json:"a,omitempty" arg:"max=3" jsonschema:"d"`
		}{}, "rule max does not apply to a struct"},
		{"rule twice", struct {
			A string `json:"a,omitempty" arg:"max=3,max=4" jsonschema:"d"`
		}{}, "rule max given twice"},
		{"required with a value", struct {
			A string `json:"a" arg:"required=true" jsonschema:"d"`
		}{}, "rule required takes no value"},
		{"max without a value", struct {
			A string `json:"a,omitempty" arg:"max" jsonschema:"d"`
		}{}, "rule max needs a value: max=..."},
		{"bad number", struct {
			A string `json:"a,omitempty" arg:"max=lots" jsonschema:"d"`
		}{}, "max wants an integer"},
		{"negative length", struct {
			A string `json:"a,omitempty" arg:"max=-1" jsonschema:"d"`
		}{}, "counts bytes or items"},
		{"bad kind", struct {
			A string `json:"a,omitempty" arg:"kind=email" jsonschema:"d"`
		}{}, "kind=email: want one of text, line, token"},
		{"empty enum value", struct {
			A string `json:"a,omitempty" arg:"enum=a||b" jsonschema:"d"`
		}{}, "values must be distinct and not empty"},
		{"repeated enum value", struct {
			A string `json:"a,omitempty" arg:"enum=a|b|a" jsonschema:"d"`
		}{}, "values must be distinct and not empty"},
		{"enum breaking max", struct {
			A string `json:"a,omitempty" arg:"max=3,enum=abc|abcd" jsonschema:"d"`
		}{}, `enum value "abcd" breaks the other rules: at most 3 bytes`},
		{"min over max", struct {
			A int `json:"a,omitempty" arg:"min=5,max=4" jsonschema:"d"`
		}{}, "min 5 is over max 4"},
		{"items min over max", struct {
			A []string `json:"a,omitempty" arg:"items.min=5,items.max=4" jsonschema:"d"`
		}{}, "min 5 is over max 4"},
		{"default out of range", struct {
			A int `json:"a,omitempty" arg:"min=1,max=10,default=20" jsonschema:"d"`
		}{}, "default 20 breaks the other rules: must be between 1 and 10, got 20"},
		{"default not in enum", struct {
			A string `json:"a,omitempty" arg:"enum=x|y,default=z" jsonschema:"d"`
		}{}, "default z breaks the other rules: must be one of x, y"},
		{"default breaking kind", struct {
			A string `json:"a,omitempty" arg:"kind=token,default=a b" jsonschema:"d"`
		}{}, "default a b breaks the other rules"},
		{"default not an int", struct {
			A int `json:"a,omitempty" arg:"default=many" jsonschema:"d"`
		}{}, "rule default=many"},
		{"required with default", struct {
			A string `json:"a" arg:"required,default=x" jsonschema:"d"`
		}{}, "a required argument takes no default"},
		{"required with min=0", struct {
			A []string `json:"a" arg:"required,min=0" jsonschema:"d"`
		}{}, "required contradicts min=0"},
		{"optional without omitempty", struct {
			A string `json:"a" jsonschema:"d"`
		}{}, "lacks omitempty"},
		{"no json name", struct {
			A string `json:",omitempty" jsonschema:"d"`
		}{}, "needs a json tag with the argument's name"},
		{"no description", struct {
			A string `json:"a,omitempty"`
		}{}, "needs a description"},
		{"unsupported type", struct {
			A float64 `json:"a,omitempty" jsonschema:"d"`
		}{}, "type float64 is not supported"},
		{"unsupported slice", struct {
			A []int `json:"a,omitempty" jsonschema:"d"`
		}{}, "type []int is not supported"},
		{"object without arguments", struct {
			A struct{ b int } `json:"a,omitempty" jsonschema:"d"`
		}{}, "an object without arguments"},
		{"recursive", node{}, "contains itself"},
		{"embedded pointer", embedded{}, "embed the struct, not a pointer"},
		{"rules on embedded", struct {
			testAccount `arg:"max=3"`
		}{}, "an embedded struct takes no rules"},
		{"duplicate name", twice{}, "a second argument named account"},
		{"not a struct", "", "not a struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := argSchema(reflect.TypeOf(tc.v), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.v == "" {
				return
			}
			// validate reports the broken declaration too, but not as an
			// argument error.
			err = validate(reflect.New(reflect.TypeOf(tc.v)).Interface())
			if _, isArg := err.(*userError); err == nil || isArg {
				t.Errorf("validate = %#v, want a plain error", err)
			}
		})
	}
}

func TestFillPlaceholders(t *testing.T) {
	vars := map[string]string{"search_syntax": "Gmail syntax", "n": "{n}", "Mixed_1": "ok"}
	for _, tc := range []struct{ in, want, err string }{
		{in: "no braces", want: "no braces"},
		{in: "search in {search_syntax}.", want: "search in Gmail syntax."},
		{in: "{search_syntax}{search_syntax}", want: "Gmail syntaxGmail syntax"},
		{in: "value {n} is not expanded again", want: "value {n} is not expanded again"},
		{in: "{Mixed_1}", want: "ok"},
		{in: `a JSON example {"a": 1} and {} and { spaced } and {1x} stay`, want: `a JSON example {"a": 1} and {} and { spaced } and {1x} stay`},
		{in: "an open { brace, then {search_syntax}", want: "an open { brace, then Gmail syntax"},
		{in: "unclosed {search_syntax", want: "unclosed {search_syntax"},
		{in: "typo {serch_syntax}", err: "unknown placeholder {serch_syntax} in description (known: Mixed_1, n, search_syntax)"},
		{in: "{Search_syntax}", err: "unknown placeholder {Search_syntax}"},
	} {
		got, err := fillPlaceholders(tc.in, vars)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("fillPlaceholders(%q) error = %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("fillPlaceholders(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestArgSchemaPlaceholderErrorsNameTheArgument(t *testing.T) {
	type args struct {
		Attachments []struct {
			Name string `json:"name,omitempty" jsonschema:"see {naming}"`
		} `json:"attachments,omitempty" jsonschema:"files"`
	}
	_, err := argSchemaFor[args](map[string]string{"nameing": "x"})
	if err == nil || !strings.Contains(err.Error(), "argument attachments: argument name: unknown placeholder {naming}") {
		t.Errorf("err = %v", err)
	}
	if _, err := argSchemaFor[testSendArgs](nil); err == nil || !strings.Contains(err.Error(), "argument account: unknown placeholder {account_role}") {
		t.Errorf("no vars: err = %v", err)
	}
}
