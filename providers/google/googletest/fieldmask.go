package googletest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Partial responses: the fields parameter's selector syntax, checked
// against the method's response schema (with discovery checking on) and
// applied to an answer's JSON. As Google documents it: "a,b" selects
// several fields, "a/b" a field within another, "a(b,c)" sub-fields of an
// object or of each element of an array, "*" every field; a selection the
// answer does not have is 400 "Invalid field selection".

// fieldMask is a parsed partial-response selector ("fields" parameter):
// a nil sub-mask selects the whole value.
type fieldMask map[string]fieldMask

// parseFieldMask parses Google's field selector syntax:
// "a,b/c,d(e,f/g)".
func parseFieldMask(s string) (fieldMask, error) {
	p := &maskParser{s: strings.ReplaceAll(s, " ", "")}
	m := fieldMask{}
	if err := p.list(m); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return m, nil
}

type maskParser struct {
	s string
	i int
}

func (p *maskParser) list(m fieldMask) error {
	for {
		if err := p.item(m); err != nil {
			return err
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return nil
	}
}

func (p *maskParser) item(m fieldMask) error {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",()/", rune(p.s[p.i])) {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return fmt.Errorf("empty field name at %d", start)
	}
	sub, seen := m[name]
	if seen && sub == nil { // already selected whole
		sub = fieldMask{}
		defer func() { m[name] = nil }()
	}
	if sub == nil {
		sub = fieldMask{}
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '/':
		p.i++
		if err := p.item(sub); err != nil {
			return err
		}
		m[name] = sub
	case p.i < len(p.s) && p.s[p.i] == '(':
		p.i++
		if err := p.list(sub); err != nil {
			return err
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return fmt.Errorf("missing )")
		}
		p.i++
		m[name] = sub
	default:
		m[name] = nil
	}
	return nil
}

func (m fieldMask) apply(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range m {
			if k == "*" {
				for kk, vv := range x {
					out[kk] = vv
				}
				continue
			}
			if val, ok := x[k]; ok {
				if sub == nil {
					out[k] = val
				} else {
					out[k] = sub.apply(val)
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.apply(e)
		}
		return out
	default:
		return v
	}
}

// invalidFieldSelection is Google's answer to a fields parameter it cannot
// apply.
func invalidFieldSelection(w http.ResponseWriter, selection string) {
	msg := "Invalid field selection " + selection
	writeAPIErrorBody(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg,
		apiErrorItem{Message: msg, Domain: "global", Reason: "invalidParameter", Location: "fields", LocationType: "parameter"}, nil)
}

// checkFields checks a request's fields parameter against the response
// schema of method id; it answers the request and returns false when a
// selection is malformed or names a field the schema lacks.
func (d *discovery) checkFields(w http.ResponseWriter, id, fields string) bool {
	if fields == "" {
		return true
	}
	m, err := parseFieldMask(fields)
	if err != nil {
		invalidFieldSelection(w, fields)
		return false
	}
	meth := d.methods[id]
	if meth == nil || meth.Response == nil {
		return true
	}
	if bad := d.checkMask(meth.api, meth.Response, m, ""); bad != "" {
		invalidFieldSelection(w, bad)
		return false
	}
	return true
}

// checkMask returns the first selection of m (as "a/b") that schema sc
// lacks; "" when all exist. Arrays are selected into element by element; a
// map (additionalProperties) takes any key.
func (d *discovery) checkMask(api string, sc *discSchema, m fieldMask, at string) string {
	sc = d.resolve(api, sc)
	for sc != nil && sc.Type == "array" {
		sc = d.resolve(api, sc.Items)
	}
	if sc == nil {
		return ""
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := name
		if at != "" {
			path = at + "/" + name
		}
		if name == "*" {
			continue
		}
		p := sc.Properties[name]
		if p == nil {
			p = sc.AdditionalProperties
		}
		if p == nil {
			return path
		}
		if sub := m[name]; sub != nil {
			if bad := d.checkMask(api, p, sub, path); bad != "" {
				return bad
			}
		}
	}
	return ""
}
