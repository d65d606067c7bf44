package tools

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validate checks decoded arguments against the rules of their args struct
// (see argschema.go): v is a pointer to the struct. It first sets the
// defaults of absent arguments, then returns the first violation in field
// order as an argError naming the argument by its JSON path (subject, to[3],
// attachments[2].filename) and saying what is allowed and what was got.
//
// It enforces exactly what argSchema shows (plus the kind of each string,
// which the descriptions tell), so it runs on every call and costs no
// allocation unless it fails. A struct whose tags are wrong is reported as
// a plain error, not an argument error: argSchema refuses it at startup.
func validate(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("validate: want a pointer to an args struct, got %T", v)
	}
	p, err := planFor(rv.Elem().Type())
	if err != nil {
		return err
	}
	if bad := p.check(rv.Elem()); bad != nil {
		return argError(bad.path, "%s", bad.msg)
	}
	return nil
}

// violation is a broken rule: the argument's path and what is wrong.
type violation struct{ path, msg string }

// check checks the struct value v (settable, for defaults) of p's type.
func (p *argPlan) check(v reflect.Value) *violation {
	for i := range p.fields {
		f := &p.fields[i]
		var fv reflect.Value
		if len(f.index) == 1 {
			fv = v.Field(f.index[0])
		} else {
			fv = v.FieldByIndex(f.index)
		}
		if bad := f.check(fv); bad != nil {
			return bad
		}
	}
	return nil
}

// check checks one argument's value; the violation's path starts with
// f.name.
func (f *argField) check(v reflect.Value) *violation {
	var msg string
	switch f.typ {
	case argString:
		s := v.String()
		if s == "" && f.hasDef {
			s = f.defStr
			v.SetString(s)
		}
		if s == "" || f.required && strings.TrimSpace(s) == "" {
			if f.required {
				return &violation{f.name, "required"}
			}
			return nil // absent
		}
		msg = f.lim.checkString(s)
	case argInt:
		n := int(v.Int())
		if n == 0 && f.hasDef {
			n = f.defInt
			v.SetInt(int64(n))
		}
		msg = f.lim.checkInt(n)
	case argStrings, argObjects:
		n := v.Len()
		if n == 0 {
			if f.required {
				return &violation{f.name, "required"}
			}
			return nil
		}
		if msg = f.lim.checkCount(n); msg != "" {
			break
		}
		for i := range n {
			if f.typ == argStrings {
				if msg := f.items.checkString(v.Index(i).String()); msg != "" {
					return &violation{f.name + "[" + strconv.Itoa(i) + "]", msg}
				}
			} else if bad := f.obj.check(v.Index(i)); bad != nil {
				bad.path = f.name + "[" + strconv.Itoa(i) + "]." + bad.path
				return bad
			}
		}
	case argObject:
		if bad := f.obj.check(v); bad != nil {
			bad.path = f.name + "." + bad.path
			return bad
		}
	}
	if msg != "" {
		return &violation{f.name, msg}
	}
	return nil
}

// checkString checks a present string: its length, kind and value. It
// returns what is wrong, or "".
func (l *argLimits) checkString(s string) string {
	if l.hasMax && len(s) > l.max {
		return fmt.Sprintf("at most %s, got %d", plural(l.max, "byte"), len(s))
	}
	if l.hasMin && len(s) < l.min {
		return fmt.Sprintf("at least %s, got %d", plural(l.min, "byte"), len(s))
	}
	if msg := l.kind.check(s); msg != "" {
		return msg
	}
	if l.enum != nil && !slices.Contains(l.enum, s) {
		return fmt.Sprintf("must be one of %s; got %s", strings.Join(l.enum, ", "), quoteShort(s))
	}
	return ""
}

// checkInt checks an int's value.
func (l *argLimits) checkInt(n int) string {
	switch {
	case l.hasMin && l.hasMax && (n < l.min || n > l.max):
		return fmt.Sprintf("must be between %d and %d, got %d", l.min, l.max, n)
	case l.hasMin && n < l.min:
		return fmt.Sprintf("must be at least %d, got %d", l.min, n)
	case l.hasMax && n > l.max:
		return fmt.Sprintf("must be at most %d, got %d", l.max, n)
	}
	return ""
}

// checkCount checks an array's number of items.
func (l *argLimits) checkCount(n int) string {
	if l.hasMax && n > l.max {
		return fmt.Sprintf("at most %s, got %d", plural(l.max, "item"), n)
	}
	if l.hasMin && n < l.min {
		return fmt.Sprintf("at least %s, got %d", plural(l.min, "item"), n)
	}
	return ""
}

// check checks what s contains.
func (k strKind) check(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8 text"
	}
	switch k {
	case kindText, kindLine:
		if strings.IndexByte(s, 0) >= 0 {
			return "must be text without NUL characters"
		}
		if k == kindLine && (strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0) {
			return "must be one line (no line breaks)"
		}
	case kindToken:
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < utf8.RuneSelf {
				if c <= ' ' || c == 0x7f {
					return fmt.Sprintf("must not contain spaces or control characters; found %q at byte %d", rune(c), i)
				}
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) || unicode.IsControl(r) {
				return fmt.Sprintf("must not contain spaces or control characters; found %q at byte %d", r, i)
			}
			i += size - 1
		}
	}
	return ""
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// quoteShort quotes s for an error message, cut to about 64 bytes.
func quoteShort(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
