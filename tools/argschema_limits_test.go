package tools

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testLimitArgs adds the rules testSendArgs lacks: a required enum, a
// string minimum, an int minimum of 0, array minimums above 1, item
// minimums, a required array of objects.
type testLimitArgs struct {
	Provider string       `json:"provider" arg:"required,enum=google|gmail|calendar" jsonschema:"which provider"`
	Code     string       `json:"code,omitempty" arg:"min=4,max=8,kind=token" jsonschema:"a code"`
	Offset   int          `json:"offset,omitempty" arg:"min=0" jsonschema:"where to start"`
	Pairs    []string     `json:"pairs" arg:"required,min=2,max=4,items.min=3,items.max=5" jsonschema:"two to four pairs"`
	Spans    []testWindow `json:"spans" arg:"required,max=3" jsonschema:"time spans"`
}

// limitCase is an argument object with one value at, or just past, a limit
// the schema shows.
type limitCase struct {
	path  string // JSON path of the value
	rule  string // the schema keyword
	value any    // the argument object (or, inside, the value being built)
	ok    bool   // at the limit: must pass
}

// TestValidateEnforcesEverySchemaLimit reads each limit from the generated
// schema itself, builds calls at and just past it from an otherwise valid
// call, and sends them through bind and validate: at the limit passes, past
// it fails naming the argument. A limit shown but not enforced, enforced
// off by one, or reported under the wrong name fails here.
func TestValidateEnforcesEverySchemaLimit(t *testing.T) {
	tested := map[string]int{}
	for _, typ := range []reflect.Type{reflect.TypeFor[testSendArgs](), reflect.TypeFor[testLimitArgs]()} {
		var schema map[string]any
		if err := json.Unmarshal(marshalSchema(t, typ, testVars), &schema); err != nil {
			t.Fatal(err)
		}
		if err := bindAndValidate(typ, validValue(schema)); err != nil {
			t.Fatalf("%s: the minimal valid call fails: %v", typ, err)
		}
		for _, c := range objectCases("", schema) {
			tested[c.rule]++
			err := bindAndValidate(typ, c.value)
			switch {
			case c.ok && err != nil:
				t.Errorf("%s %s at its %s: %v", typ, c.path, c.rule, err)
			case !c.ok && err == nil:
				t.Errorf("%s %s past its %s: accepted", typ, c.path, c.rule)
			case !c.ok && !strings.HasPrefix(err.Error(), "invalid argument "+c.path+": "):
				t.Errorf("%s %s past its %s: %q does not name %s", typ, c.path, c.rule, err, c.path)
			}
		}
	}
	for _, kw := range []string{"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum", "enum"} {
		if tested[kw] == 0 {
			t.Errorf("no %s limit was tested", kw)
		}
	}
	t.Logf("cases per keyword: %v", tested)
}

func bindAndValidate(typ reflect.Type, args any) error {
	v := reflect.New(typ).Interface()
	if err := bind(args, v); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return validate(v)
}

// objectCases returns the cases of each property of the object schema s,
// each as a valid object with that property set.
func objectCases(path string, s map[string]any) []limitCase {
	props := s["properties"].(map[string]any)
	required := schemaRequired(s)
	var out []limitCase
	for _, name := range slices.Sorted(maps.Keys(props)) {
		p := name
		if path != "" {
			p = path + "." + name
		}
		for _, c := range propertyCases(p, props[name].(map[string]any), required[name]) {
			obj := validValue(s).(map[string]any)
			obj[name] = c.value
			c.value = obj
			out = append(out, c)
		}
	}
	return out
}

// propertyCases returns the values at and past each limit of the property
// schema s. An optional argument's zero value means absent (and may take a
// default), so "just past" a minimum skips that value.
func propertyCases(path string, s map[string]any, required bool) []limitCase {
	var out []limitCase
	add := func(rule string, v any, ok bool) { out = append(out, limitCase{path, rule, v, ok}) }
	_, hasDefault := s["default"]
	switch s["type"] {
	case "string":
		if enum, ok := s["enum"].([]any); ok {
			for _, e := range enum {
				add("enum", e, true)
			}
			add("enum", "not-"+enum[0].(string), false)
		}
		if n, ok := schemaInt(s, "maxLength"); ok {
			add("maxLength", strings.Repeat("a", n), true)
			add("maxLength", strings.Repeat("a", n+1), false)
		}
		if n, ok := schemaInt(s, "minLength"); ok {
			add("minLength", strings.Repeat("a", n), true)
			if n > 1 || required {
				add("minLength", strings.Repeat("a", n-1), false)
			}
		}
	case "integer":
		if n, ok := schemaInt(s, "maximum"); ok {
			add("maximum", n, true)
			add("maximum", n+1, false)
		}
		if n, ok := schemaInt(s, "minimum"); ok {
			add("minimum", n, true)
			under := n - 1
			if under == 0 && hasDefault {
				under--
			}
			add("minimum", under, false)
		}
	case "array":
		items := s["items"].(map[string]any)
		list := func(n int) []any {
			l := make([]any, n)
			for i := range l {
				l[i] = validValue(items)
			}
			return l
		}
		if n, ok := schemaInt(s, "maxItems"); ok {
			add("maxItems", list(n), true)
			add("maxItems", list(n+1), false)
		}
		min, hasMin := schemaInt(s, "minItems")
		if hasMin {
			add("minItems", list(min), true)
			if min > 1 || required {
				add("minItems", list(min-1), false)
			}
		}
		var inner []limitCase
		if items["type"] == "object" {
			inner = objectCases(path+"[0]", items)
		} else {
			inner = propertyCases(path+"[0]", items, true) // an empty item is not an absent one
		}
		for _, c := range inner {
			l := list(max(min, 1))
			l[0] = c.value
			c.value = l
			out = append(out, c)
		}
	case "object":
		out = append(out, objectCases(path, s)...)
	}
	return out
}

// validValue returns the smallest valid value of schema s: an object holds
// its required properties only.
func validValue(s map[string]any) any {
	switch s["type"] {
	case "string":
		if enum, ok := s["enum"].([]any); ok {
			return enum[0]
		}
		n, _ := schemaInt(s, "minLength")
		return strings.Repeat("a", max(n, 1))
	case "integer":
		if n, ok := schemaInt(s, "minimum"); ok {
			return n
		}
		return 0
	case "boolean":
		return false
	case "array":
		n, _ := schemaInt(s, "minItems")
		l := make([]any, n)
		for i := range l {
			l[i] = validValue(s["items"].(map[string]any))
		}
		return l
	case "object":
		obj := map[string]any{}
		props := s["properties"].(map[string]any)
		for name := range schemaRequired(s) {
			obj[name] = validValue(props[name].(map[string]any))
		}
		return obj
	}
	panic(fmt.Sprintf("no valid value for %v", s))
}

func schemaInt(s map[string]any, key string) (int, bool) {
	f, ok := s[key].(float64)
	return int(f), ok
}

func schemaRequired(s map[string]any) map[string]bool {
	req := map[string]bool{}
	list, _ := s["required"].([]any)
	for _, r := range list {
		req[r.(string)] = true
	}
	return req
}
