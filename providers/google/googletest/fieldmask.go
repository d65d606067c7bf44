package googletest

import (
	"fmt"
	"strings"
)

// Partial responses: the fields parameter's selector syntax, applied to
// an answer's JSON.

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
