package microsofttest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// $filter: the subset of OData's expression language Outlook's collections
// take ("Use the $filter query parameter"): eq, ne, gt, ge, lt, le, and, or,
// not, parentheses, startswith and contains, any() on collections; literals
// as OData writes them (strings in single quotes with '' for a quote,
// dates unquoted). Errors as ODataLib words them; nodes Outlook does not
// support (endswith, all(), properties it cannot filter on) are
// ErrorInvalidUrlQueryFilter.

type fieldKind int

const (
	fString fieldKind = iota
	fEnum             // compared case-insensitively, like strings
	fBool
	fDate
	fStrings    // a collection of strings (categories)
	fRecipients // a collection of recipients: emailAddress/address, emailAddress/name
	fUnsupported
)

// schema is an entity type's properties for the query options.
type schema struct {
	typeName string               // microsoft.graph.message
	fields   map[string]fieldKind // by canonical path
	sortable []string             // canonical paths $orderby takes
	// selectable are the properties $select takes (top-level names).
	selectable []string
}

// canonical resolves a path case-insensitively.
func (sc *schema) canonical(path string) (string, bool) {
	for p := range sc.fields {
		if strings.EqualFold(p, path) {
			return p, true
		}
	}
	return "", false
}

// entity gives a property's value: string, bool, time.Time, []string,
// []Recipient, or nil.
type entity interface{ field(path string) any }

// queryError is a 400 of a query option.
type queryError struct{ code, message string }

func badQuery(format string, args ...any) *queryError {
	return &queryError{"BadRequest", fmt.Sprintf(format, args...)}
}

func (sc *schema) unknownProperty(name string) *queryError {
	return &queryError{"RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, sc.typeName)}
}

var invalidNodes = &queryError{"ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."}

type filterExpr struct {
	eval  func(entity) bool
	props []string // the properties filtered on, in order of first appearance
}

type token struct {
	kind string // ident, string, literal, punct, end
	text string
	pos  int
}

type filterParser struct {
	src    string
	toks   []token
	i      int
	sc     *schema
	props  []string
	lambda string // the lambda variable in scope
	elem   fieldKind
}

func parseFilter(src string, sc *schema) (f *filterExpr, qerr *queryError) {
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks, sc: sc}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*queryError); ok {
				f, qerr = nil, e
				return
			}
			panic(r)
		}
	}()
	eval := p.parseOr()
	if p.peek().kind != "end" {
		p.syntax()
	}
	return &filterExpr{eval: eval, props: p.props}, nil
}

func lexFilter(src string) ([]token, *queryError) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("(),:", c) >= 0:
			toks = append(toks, token{"punct", string(c), i})
			i++
		case c == '\'':
			var sb strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(src) {
					return nil, badQuery("There is an unterminated string literal at position %d in '%s'.", i, src)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						sb.WriteByte('\'')
						j++
						continue
					}
					break
				}
				sb.WriteByte(src[j])
			}
			toks = append(toks, token{"string", sb.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-':
			j := i + 1
			for j < len(src) && strings.IndexByte(" (),", src[j]) < 0 {
				j++
			}
			toks = append(toks, token{"literal", src[i:j], i})
			i = j
		case unicode.IsLetter(rune(c)) || c == '_' || c == '$':
			j := i + 1
			for j < len(src) && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])) || strings.IndexByte("_./", src[j]) >= 0) {
				j++
			}
			toks = append(toks, token{"ident", src[i:j], i})
			i = j
		default:
			return nil, badQuery("Syntax error: character '%c' is not valid at position %d in '%s'.", c, i, src)
		}
	}
	return append(toks, token{"end", "", len(src)}), nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) take() token { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func (p *filterParser) syntax() {
	panic(badQuery("Syntax error at position %d in '%s'.", p.peek().pos, p.src))
}

func (p *filterParser) expect(punct string) {
	if t := p.take(); t.kind != "punct" || t.text != punct {
		p.i--
		p.syntax()
	}
}

func (p *filterParser) keyword(k string) bool {
	if t := p.peek(); t.kind == "ident" && t.text == k {
		p.take()
		return true
	}
	return false
}

func (p *filterParser) parseOr() func(entity) bool {
	l := p.parseAnd()
	for p.keyword("or") {
		a, b := l, p.parseAnd()
		l = func(e entity) bool { return a(e) || b(e) }
	}
	return l
}

func (p *filterParser) parseAnd() func(entity) bool {
	l := p.parseNot()
	for p.keyword("and") {
		a, b := l, p.parseNot()
		l = func(e entity) bool { return a(e) && b(e) }
	}
	return l
}

func (p *filterParser) parseNot() func(entity) bool {
	if p.keyword("not") {
		inner := p.parseNot()
		return func(e entity) bool { return !inner(e) }
	}
	return p.parseTerm()
}

// operand is a parsed operand: a property (path, kind) or a literal.
type operand struct {
	path string
	kind fieldKind
	lit  any // string, bool, time.Time, float64, nil
	edm  string
	prop bool
}

var comparisons = []string{"eq", "ne", "gt", "ge", "lt", "le"}

func (p *filterParser) parseTerm() func(entity) bool {
	if t := p.peek(); t.kind == "punct" && t.text == "(" {
		p.take()
		e := p.parseOr()
		p.expect(")")
		return e
	}
	if t := p.peek(); t.kind == "ident" {
		switch t.text {
		case "startswith", "contains", "endswith":
			return p.parseFunction()
		}
		if strings.HasSuffix(t.text, "/any") || strings.HasSuffix(t.text, "/all") {
			return p.parseLambda()
		}
	}
	left := p.parseOperand()
	op := p.peek()
	if op.kind != "ident" || !slices.Contains(comparisons, op.text) {
		if left.prop && left.kind == fBool { // a Boolean property alone
			path := left.path
			return func(e entity) bool { v, _ := e.field(path).(bool); return v }
		}
		p.syntax()
	}
	p.take()
	right := p.parseOperand()
	return p.comparison(left, op.text, right)
}

func (p *filterParser) parseOperand() operand {
	t := p.take()
	switch t.kind {
	case "string":
		return operand{lit: t.text, edm: "Edm.String"}
	case "literal":
		if d, err := time.Parse(time.RFC3339Nano, t.text); err == nil {
			return operand{lit: d, edm: "Edm.DateTimeOffset"}
		}
		if d, err := time.Parse("2006-01-02", t.text); err == nil {
			return operand{lit: d, edm: "Edm.Date"}
		}
		if n, err := strconv.ParseFloat(t.text, 64); err == nil {
			return operand{lit: n, edm: "Edm.Int32"}
		}
		p.i--
		p.syntax()
	case "ident":
		switch t.text {
		case "true", "false":
			return operand{lit: t.text == "true", edm: "Edm.Boolean"}
		case "null":
			return operand{edm: "null"}
		}
		return p.property(t.text)
	}
	p.i--
	p.syntax()
	return operand{}
}

// property resolves a property path, or inside a lambda its variable's.
func (p *filterParser) property(path string) operand {
	if p.lambda != "" {
		if rest, ok := strings.CutPrefix(path, p.lambda); ok && (rest == "" || rest[0] == '/') {
			rest = strings.TrimPrefix(rest, "/")
			switch {
			case p.elem == fStrings && rest == "":
				return operand{path: "", kind: fString, prop: true, edm: "Edm.String"}
			case p.elem == fRecipients && (strings.EqualFold(rest, "emailAddress/address") || strings.EqualFold(rest, "emailAddress/name")):
				return operand{path: strings.ToLower(rest[len("emailAddress/"):]), kind: fString, prop: true, edm: "Edm.String"}
			}
			panic(invalidNodes)
		}
	}
	canon, ok := p.sc.canonical(path)
	if !ok {
		panic(p.sc.unknownProperty(path))
	}
	kind := p.sc.fields[canon]
	if kind == fUnsupported {
		panic(invalidNodes)
	}
	if !slices.Contains(p.props, canon) {
		p.props = append(p.props, canon)
	}
	edm := map[fieldKind]string{fString: "Edm.String", fEnum: "Edm.String", fBool: "Edm.Boolean", fDate: "Edm.DateTimeOffset"}[kind]
	return operand{path: canon, kind: kind, prop: true, edm: edm}
}

func (p *filterParser) comparison(l operand, op string, r operand) func(entity) bool {
	if !l.prop && r.prop { // 'x' eq subject
		l, r = r, l
		op = map[string]string{"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}[op]
	}
	if !l.prop || r.prop {
		panic(invalidNodes) // comparing two properties, or two literals
	}
	if l.kind == fStrings || l.kind == fRecipients {
		panic(badQuery("The parent value for a property access of a property '%s' is not a single value. Property access can only be applied to a single value.", l.path))
	}
	compatible := r.edm == "null" || r.edm == l.edm || l.kind == fDate && r.edm == "Edm.Date"
	if !compatible {
		names := map[string]string{"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual"}
		panic(badQuery("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", l.edm, r.edm, names[op]))
	}
	if l.kind == fBool && op != "eq" && op != "ne" {
		panic(invalidNodes)
	}
	path, lit := l.path, r.lit
	return func(e entity) bool {
		v := e.field(path)
		if lit == nil || v == nil { // null: only eq null and ne null hold
			return op == "eq" && v == nil && lit == nil || op == "ne" && (v == nil) != (lit == nil)
		}
		c := 0
		switch x := v.(type) {
		case string:
			s, _ := lit.(string)
			c = strings.Compare(strings.ToLower(x), strings.ToLower(s))
		case bool:
			if b, _ := lit.(bool); x != b {
				c = 1
			}
		case time.Time:
			d, _ := lit.(time.Time)
			c = x.Compare(d)
		}
		switch op {
		case "eq":
			return c == 0
		case "ne":
			return c != 0
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	}
}

func (p *filterParser) parseFunction() func(entity) bool {
	name := p.take().text
	if name == "endswith" {
		panic(invalidNodes)
	}
	p.expect("(")
	arg := p.parseOperand()
	p.expect(",")
	lit := p.parseOperand()
	p.expect(")")
	if !arg.prop || arg.kind != fString && arg.kind != fEnum {
		panic(invalidNodes)
	}
	s, ok := lit.lit.(string)
	if !ok {
		panic(badQuery("No function signature for the function with name '%s' matches the specified arguments.", name))
	}
	path, want := arg.path, strings.ToLower(s)
	return func(e entity) bool {
		v, _ := e.field(path).(string)
		if name == "contains" {
			return strings.Contains(strings.ToLower(v), want)
		}
		return strings.HasPrefix(strings.ToLower(v), want)
	}
}

// parseLambda reads path/any(v: expr).
func (p *filterParser) parseLambda() func(entity) bool {
	t := p.take()
	coll, kind, _ := strings.Cut(t.text, "/")
	if strings.Count(t.text, "/") > 1 {
		coll, kind = t.text[:strings.LastIndex(t.text, "/")], t.text[strings.LastIndex(t.text, "/")+1:]
	}
	if kind == "all" || p.lambda != "" {
		panic(invalidNodes)
	}
	canon, ok := p.sc.canonical(coll)
	if !ok {
		panic(p.sc.unknownProperty(coll))
	}
	elem := p.sc.fields[canon]
	if elem != fStrings && elem != fRecipients {
		panic(invalidNodes)
	}
	if !slices.Contains(p.props, canon) {
		p.props = append(p.props, canon)
	}
	p.expect("(")
	v := p.take()
	if v.kind != "ident" {
		p.i--
		p.syntax()
	}
	p.expect(":")
	p.lambda, p.elem = v.text, elem
	body := p.parseOr()
	p.lambda = ""
	p.expect(")")
	return func(e entity) bool {
		switch items := e.field(canon).(type) {
		case []string:
			return slices.ContainsFunc(items, func(s string) bool { return body(stringEntity(s)) })
		case []Recipient:
			return slices.ContainsFunc(items, func(r Recipient) bool { return body(recipientEntity(r)) })
		}
		return false
	}
}

// stringEntity and recipientEntity are a lambda variable's value.
type stringEntity string

func (s stringEntity) field(string) any { return string(s) }

type recipientEntity Recipient

func (r recipientEntity) field(path string) any {
	if path == "name" {
		return r.Name
	}
	return r.Address
}
