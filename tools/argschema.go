package tools

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// Argument structs: a tool's arguments are declared once, as a Go struct.
// The tool's input schema (argSchema) and the check of every call (validate,
// in argcheck.go) both derive from it, so a limit a model is shown is the
// limit it is held to, and is written in one place.
//
// Each exported field is one argument. Embedded structs (like one holding
// the common account argument) contribute their fields, as with
// encoding/json; unexported fields (what a check method prepares) are
// ignored. Three tags describe a field:
//
//	json:"name,omitempty"  the argument's name. A field without omitempty
//	                       must be marked required, so the two tags cannot
//	                       tell different stories.
//	jsonschema:"..."       the description shown to the model; required.
//	                       (The tag our output types and the go-sdk use.)
//	                       {name} placeholders are filled in by argSchema.
//	arg:"rule,rule,..."    the rules:
//
//	required        string: must hold a non-space character; array: at
//	                least one item. Implies min=1 (shown as minLength or
//	                minItems) unless min or enum is given.
//	min=N, max=N    string: length in bytes (minLength, maxLength);
//	                int: the value (minimum, maximum);
//	                array: the number of items (minItems, maxItems).
//	enum=a|b|c      string: one of these values (enum).
//	kind=K          string: text (the default: valid UTF-8 without NUL),
//	                line (text without CR or LF) or token (an opaque
//	                identifier: no spaces or control characters).
//	default=V       string or int: the value of an absent argument (shown as
//	                default, and set by validate before checking). As with
//	                JSON's zero values, an explicit "" or 0 counts as absent.
//	items.min=N, items.max=N, items.kind=K, items.enum=a|b
//	                []string: the rules of each item (bytes, kind, values).
//
// A rule's value may contain neither "," nor, in an enum, "|".
//
// Types: string, int ("integer"), bool and *bool ("boolean", no rules),
// []string, []struct and struct. A struct is an object with its own fields
// (additionalProperties false); a struct field takes no rules and is
// required exactly when one of its own fields is.
//
// Lengths are in bytes while JSON Schema's minLength and maxLength count
// characters: the maxLength shown is the byte limit, which non-ASCII text
// reaches sooner, so the check errs on the strict side and says "bytes".
// Kinds are not shown in the schema; the description says what is expected.
//
// An args struct that breaks these rules (an unknown rule, a rule for
// another type, a missing description, a default that fails its own rules,
// an unknown placeholder) makes argSchema fail, at startup.

// argType is the shape of an argument.
type argType uint8

const (
	argString  argType = iota // string
	argInt                    // int
	argBool                   // bool
	argBoolPtr                // *bool: absent, true or false
	argStrings                // []string
	argObjects                // []struct
	argObject                 // struct
)

var argTypeNames = [...]string{"string", "int", "bool", "*bool", "[]string", "[]struct", "struct"}

// strKind is what a string may contain (see the kind rule).
type strKind uint8

const (
	kindText strKind = iota
	kindLine
	kindToken
)

var strKindNames = [...]string{"text", "line", "token"}

// argLimits are the rules of one value: a string's length in bytes, an int's
// value or an array's number of items; a string's kind and allowed values.
type argLimits struct {
	min, max       int
	hasMin, hasMax bool
	kind           strKind
	enum           []string
}

// argField is one argument of an args struct.
type argField struct {
	name     string // JSON name
	index    []int  // reflect field index, through embedded structs
	typ      argType
	desc     string // placeholders not filled in
	required bool
	lim      argLimits
	items    argLimits // argStrings: each item's
	defStr   string
	defInt   int
	hasDef   bool
	obj      *argPlan // argObject, argObjects: the element's fields
}

// argPlan is what argSchema and validate know of an args struct type: its
// arguments in field order. Plans are built once per type (planFor).
type argPlan struct {
	typ    reflect.Type
	fields []argField
}

// argRules lists each rule and the argument types it applies to.
var argRules = map[string][]argType{
	"required":   {argString, argStrings, argObjects},
	"min":        {argString, argInt, argStrings, argObjects},
	"max":        {argString, argInt, argStrings, argObjects},
	"enum":       {argString},
	"kind":       {argString},
	"default":    {argString, argInt},
	"items.min":  {argStrings},
	"items.max":  {argStrings},
	"items.enum": {argStrings},
	"items.kind": {argStrings},
}

// field returns p's argument named exactly name, or nil.
func (p *argPlan) field(name string) *argField {
	for i := range p.fields {
		if p.fields[i].name == name {
			return &p.fields[i]
		}
	}
	return nil
}

type argPlanEntry struct {
	plan *argPlan
	err  error
}

var argPlans sync.Map // reflect.Type → argPlanEntry

// planFor returns the plan of the struct type t, building it on first use.
func planFor(t reflect.Type) (*argPlan, error) {
	if e, ok := argPlans.Load(t); ok {
		e := e.(argPlanEntry)
		return e.plan, e.err
	}
	p, err := buildPlan(t, nil)
	e, _ := argPlans.LoadOrStore(t, argPlanEntry{p, err})
	return e.(argPlanEntry).plan, e.(argPlanEntry).err
}

// buildPlan reads the fields of the struct type t; stack holds the types
// being built around it, to refuse a type that contains itself.
func buildPlan(t reflect.Type, stack []reflect.Type) (*argPlan, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("args %s: not a struct", t)
	}
	if slices.Contains(stack, t) {
		return nil, fmt.Errorf("args %s: contains itself", t)
	}
	p := &argPlan{typ: t}
	if err := p.addFields(t, nil, append(slices.Clip(stack), t)); err != nil {
		return nil, err
	}
	if len(p.fields) == 0 && len(stack) > 0 {
		return nil, fmt.Errorf("args %s: an object without arguments", t)
	}
	return p, nil
}

// addFields adds the arguments of struct type t, whose value is at index in
// p's type (nil: p's type itself), following embedded structs.
func (p *argPlan) addFields(t reflect.Type, index []int, stack []reflect.Type) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		idx := append(slices.Clip(index), i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			switch sf.Type.Kind() {
			case reflect.Struct:
				if _, ok := sf.Tag.Lookup("arg"); ok {
					return fmt.Errorf("args %s.%s: an embedded struct takes no rules; put them on its fields", t, sf.Name)
				}
				if err := p.addFields(sf.Type, idx, stack); err != nil {
					return err
				}
				continue
			case reflect.Pointer:
				return fmt.Errorf("args %s.%s: embed the struct, not a pointer to it", t, sf.Name)
			}
		}
		if !sf.IsExported() && !(sf.Anonymous && sf.Type.Kind() == reflect.Struct) {
			continue // as encoding/json: an embedded struct named in its json tag is an argument
		}
		f, err := newArgField(sf, name, opts, stack)
		if err != nil {
			return fmt.Errorf("args %s.%s: %w", t, sf.Name, err)
		}
		f.index = idx
		if slices.ContainsFunc(p.fields, func(g argField) bool { return g.name == f.name }) {
			return fmt.Errorf("args %s.%s: a second argument named %s", t, sf.Name, f.name)
		}
		p.fields = append(p.fields, f)
	}
	return nil
}

// newArgField reads one field's type and tags.
func newArgField(sf reflect.StructField, name, jsonOpts string, stack []reflect.Type) (argField, error) {
	f := argField{name: name}
	if name == "" {
		return f, fmt.Errorf("needs a json tag with the argument's name")
	}
	f.desc = strings.TrimSpace(sf.Tag.Get("jsonschema"))
	if f.desc == "" {
		return f, fmt.Errorf("needs a description (jsonschema tag)")
	}
	t := sf.Type
	switch {
	case t.Kind() == reflect.String:
		f.typ = argString
	case t.Kind() == reflect.Int:
		f.typ = argInt
	case t.Kind() == reflect.Bool:
		f.typ = argBool
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool:
		f.typ = argBoolPtr
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.typ = argStrings
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		f.typ = argObjects
	case t.Kind() == reflect.Struct:
		f.typ = argObject
	default:
		return f, fmt.Errorf("type %s is not supported (string, int, bool, *bool, []string, []struct, struct)", t)
	}
	if f.typ == argObjects || f.typ == argObject {
		et := t
		if f.typ == argObjects {
			et = t.Elem()
		}
		obj, err := buildPlan(et, stack)
		if err != nil {
			return f, err
		}
		f.obj = obj
	}
	if err := f.parseRules(sf.Tag.Get("arg")); err != nil {
		return f, err
	}
	return f, f.settle(slices.Contains(strings.Split(jsonOpts, ","), "omitempty"))
}

// parseRules reads an arg tag into f.
func (f *argField) parseRules(tag string) error {
	if tag == "" {
		return nil
	}
	seen := map[string]bool{}
	for rule := range strings.SplitSeq(tag, ",") {
		key, val, hasVal := strings.Cut(strings.TrimSpace(rule), "=")
		types, known := argRules[key]
		switch {
		case !known:
			return fmt.Errorf("unknown rule %q in arg tag (known: %s)", key, strings.Join(slices.Sorted(maps.Keys(argRules)), ", "))
		case !slices.Contains(types, f.typ):
			return fmt.Errorf("rule %s does not apply to a %s", key, argTypeNames[f.typ])
		case seen[key]:
			return fmt.Errorf("rule %s given twice", key)
		case key == "required" && hasVal:
			return fmt.Errorf("rule required takes no value")
		case key != "required" && !hasVal:
			return fmt.Errorf("rule %s needs a value: %s=...", key, key)
		}
		seen[key] = true
		lim := &f.lim
		if k, ok := strings.CutPrefix(key, "items."); ok {
			key, lim = k, &f.items
		}
		var err error
		switch key {
		case "required":
			f.required = true
		case "min":
			lim.min, lim.hasMin, err = f.bound(key, val, lim == &f.items)
		case "max":
			lim.max, lim.hasMax, err = f.bound(key, val, lim == &f.items)
		case "enum":
			lim.enum = strings.Split(val, "|")
			if slices.Contains(lim.enum, "") || len(slices.Compact(slices.Sorted(slices.Values(lim.enum)))) != len(lim.enum) {
				err = fmt.Errorf("enum=%s: values must be distinct and not empty", val)
			}
		case "kind":
			k := slices.Index(strKindNames[:], val)
			if k < 0 {
				err = fmt.Errorf("kind=%s: want one of %s", val, strings.Join(strKindNames[:], ", "))
			}
			lim.kind = strKind(k)
		case "default":
			f.hasDef, f.defStr = true, val
			if f.typ == argInt {
				f.defInt, err = strconv.Atoi(val)
			}
		}
		if err != nil {
			return fmt.Errorf("rule %s: %w", rule, err)
		}
	}
	return nil
}

// bound parses a min or max: any int for an int argument, else a count.
func (f *argField) bound(key, val string, item bool) (int, bool, error) {
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, false, fmt.Errorf("%s wants an integer", key)
	}
	if n < 0 && (f.typ != argInt || item) {
		return 0, false, fmt.Errorf("%s counts bytes or items: at least 0", key)
	}
	return n, true, nil
}

// settle completes f once its tags are read and checks that they agree.
func (f *argField) settle(omitempty bool) error {
	if f.typ == argObject {
		f.required = slices.ContainsFunc(f.obj.fields, func(g argField) bool { return g.required })
		return nil
	}
	if !f.required && !omitempty {
		return fmt.Errorf("optional, but its json tag lacks omitempty: add omitempty, or the rule required")
	}
	if f.required {
		if f.hasDef {
			return fmt.Errorf("a required argument takes no default")
		}
		if f.lim.hasMin && f.lim.min == 0 {
			return fmt.Errorf("required contradicts min=0")
		}
		if !f.lim.hasMin && len(f.lim.enum) == 0 {
			f.lim.min, f.lim.hasMin = 1, true
		}
	}
	for _, l := range []argLimits{f.lim, f.items} {
		if l.hasMin && l.hasMax && l.min > l.max {
			return fmt.Errorf("min %d is over max %d", l.min, l.max)
		}
		for _, v := range l.enum {
			if msg := l.checkString(v); msg != "" {
				return fmt.Errorf("enum value %q breaks the other rules: %s", v, msg)
			}
		}
	}
	if f.hasDef {
		msg := f.lim.checkString(f.defStr)
		if f.typ == argInt {
			msg = f.lim.checkInt(f.defInt)
		}
		if msg != "" {
			return fmt.Errorf("default %s breaks the other rules: %s", f.defStr, msg)
		}
	}
	return nil
}

// argSchema returns the input schema of the args struct type t (or *t):
// its arguments in field order, the required ones, no others allowed.
// Placeholders in descriptions are filled in from vars.
func argSchema(t reflect.Type, vars map[string]string) (mcp.ToolInputSchema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p, err := planFor(t)
	if err != nil {
		return mcp.ToolInputSchema{}, err
	}
	props, order, required, err := p.properties(vars)
	if err != nil {
		return mcp.ToolInputSchema{}, fmt.Errorf("args %s: %w", t, err)
	}
	return mcp.ToolInputSchema{
		Type:                 "object",
		Properties:           props,
		PropertyOrder:        order,
		Required:             required,
		AdditionalProperties: false,
	}, nil
}

// argSchemaFor is argSchema for the args struct type A.
func argSchemaFor[A any](vars map[string]string) (mcp.ToolInputSchema, error) {
	return argSchema(reflect.TypeFor[A](), vars)
}

// properties returns the schemas of p's arguments, their names in order and
// the required ones (nil if none).
func (p *argPlan) properties(vars map[string]string) (map[string]any, []string, []string, error) {
	props := make(map[string]any, len(p.fields))
	order := make([]string, 0, len(p.fields))
	var required []string
	for i := range p.fields {
		f := &p.fields[i]
		s, err := f.schema(vars)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("argument %s: %w", f.name, err)
		}
		props[f.name] = s
		order = append(order, f.name)
		if f.required {
			required = append(required, f.name)
		}
	}
	return props, order, required, nil
}

// objectSchema is the schema of a nested object. Its properties are a plain
// map, marshalled in sorted key order.
func (p *argPlan) objectSchema(vars map[string]string) (map[string]any, error) {
	props, _, required, err := p.properties(vars)
	if err != nil {
		return nil, err
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if required != nil {
		s["required"] = required
	}
	return s, nil
}

// schema is the JSON schema of one argument.
func (f *argField) schema(vars map[string]string) (map[string]any, error) {
	desc, err := fillPlaceholders(f.desc, vars)
	if err != nil {
		return nil, err
	}
	s := map[string]any{"description": desc}
	switch f.typ {
	case argString:
		s["type"] = "string"
		f.lim.stringSchema(s)
		if f.hasDef {
			s["default"] = f.defStr
		}
	case argInt:
		s["type"] = "integer"
		f.lim.numberSchema(s, "minimum", "maximum")
		if f.hasDef {
			s["default"] = f.defInt
		}
	case argBool, argBoolPtr:
		s["type"] = "boolean"
	case argStrings:
		items := map[string]any{"type": "string"}
		f.items.stringSchema(items)
		s["type"], s["items"] = "array", items
		f.lim.numberSchema(s, "minItems", "maxItems")
	case argObjects:
		items, err := f.obj.objectSchema(vars)
		if err != nil {
			return nil, err
		}
		s["type"], s["items"] = "array", items
		f.lim.numberSchema(s, "minItems", "maxItems")
	case argObject:
		obj, err := f.obj.objectSchema(vars)
		if err != nil {
			return nil, err
		}
		maps.Copy(s, obj)
	}
	return s, nil
}

func (l *argLimits) stringSchema(s map[string]any) {
	l.numberSchema(s, "minLength", "maxLength")
	if l.enum != nil {
		s["enum"] = slices.Clone(l.enum)
	}
}

func (l *argLimits) numberSchema(s map[string]any, minKey, maxKey string) {
	if l.hasMin {
		s[minKey] = l.min
	}
	if l.hasMax {
		s[maxKey] = l.max
	}
}

// fillPlaceholders replaces each {name} in s (a name: ASCII letters, digits
// and _, not starting with a digit) by vars[name]. An unknown name is an
// error, so that a misspelt placeholder cannot reach a model. Other braces
// (JSON examples, say) stay as they are; filled-in values are not expanded
// again.
func fillPlaceholders(s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i+1:], '}')
		if j < 0 || !isPlaceholderName(s[i+1:i+1+j]) {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		name := s[i+1 : i+1+j]
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("unknown placeholder {%s} in description (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(vars)), ", "))
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+j:]
	}
}

func isPlaceholderName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
