package microsofttest

import (
	"strings"
	"time"
	"unicode"
)

// $search on messages ("Use the $search query parameter"): KQL in double
// quotes. Words match the beginnings of words of from, subject and body;
// property restrictions (from:, to:, cc:, bcc:, participants:, recipients:,
// subject:, body:, attachment:, hasAttachment(s):, importance:, received:,
// sent:, kind:) narrow to a property; "quoted phrases", AND, OR, NOT and
// parentheses combine them (terms side by side are ANDed). Results are
// sorted by the date sent, newest first, at most 1000 of them.

const maxSearchResults = 1000

type kqlQuery struct{ root kqlNode }

type kqlNode func(m *message) bool

type kqlParser struct {
	toks []string
	i    int
}

// parseKQL reads a $search value.
func parseKQL(v string) (*kqlQuery, *queryError) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
	}
	toks := lexKQL(v)
	if len(toks) == 0 {
		return nil, badQuery("The $search query option is empty.")
	}
	p := &kqlParser{toks: toks}
	root := p.or()
	if p.i < len(p.toks) {
		return nil, badQuery("Syntax error in the $search query '%s'.", v)
	}
	return &kqlQuery{root: root}, nil
}

// lexKQL splits on spaces outside quotes, keeping parentheses apart.
func lexKQL(v string) []string {
	var toks []string
	var cur strings.Builder
	quoted := false
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range v {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case quoted:
			cur.WriteRune(r)
		case r == ' ' || r == '\t':
			flush()
		case r == '(' || r == ')':
			flush()
			toks = append(toks, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

func (p *kqlParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *kqlParser) or() kqlNode {
	l := p.and()
	for p.peek() == "OR" {
		p.i++
		a, b := l, p.and()
		l = func(m *message) bool { return a(m) || b(m) }
	}
	return l
}

func (p *kqlParser) and() kqlNode {
	l := p.not()
	for t := p.peek(); t != "" && t != "OR" && t != ")"; t = p.peek() {
		if t == "AND" {
			p.i++
		}
		a, b := l, p.not()
		l = func(m *message) bool { return a(m) && b(m) }
	}
	return l
}

func (p *kqlParser) not() kqlNode {
	if p.peek() == "NOT" || strings.HasPrefix(p.peek(), "-") && len(p.peek()) > 1 {
		if p.peek() == "NOT" {
			p.i++
		} else {
			p.toks[p.i] = p.toks[p.i][1:]
		}
		inner := p.not()
		return func(m *message) bool { return !inner(m) }
	}
	return p.term()
}

func (p *kqlParser) term() kqlNode {
	t := p.peek()
	p.i++
	switch t {
	case "(":
		inner := p.or()
		if p.peek() == ")" {
			p.i++
		}
		return inner
	case "", ")", "AND", "OR":
		return func(*message) bool { return false }
	}
	// prop:value, or a comparison (received>=2026-03-01).
	if i := strings.IndexAny(t, ":<>="); i > 0 && !strings.HasPrefix(t, `"`) {
		prop, value := t[:i], strings.TrimPrefix(t[i:], ":")
		if n := propertyRestriction(strings.ToLower(prop), value); n != nil {
			return n
		}
	}
	return textMatch(t, func(m *message) []string { return []string{m.fromText(), m.subject, m.text()} })
}

// propertyRestriction is a prop:value term; nil for a property KQL does not
// know on messages (the term is then searched as text).
func propertyRestriction(prop, value string) kqlNode {
	fields := map[string]func(m *message) []string{
		"from":         func(m *message) []string { return []string{m.fromText()} },
		"to":           func(m *message) []string { return recipientTexts(m.to) },
		"cc":           func(m *message) []string { return recipientTexts(m.cc) },
		"bcc":          func(m *message) []string { return recipientTexts(m.bcc) },
		"recipients":   func(m *message) []string { return recipientTexts(m.to, m.cc, m.bcc) },
		"participants": func(m *message) []string { return append(recipientTexts(m.to, m.cc, m.bcc), m.fromText()) },
		"subject":      func(m *message) []string { return []string{m.subject} },
		"body":         func(m *message) []string { return []string{m.text()} },
		"attachment": func(m *message) []string {
			var names []string
			for _, a := range m.attachments {
				names = append(names, a.name)
			}
			return names
		},
	}
	if f, ok := fields[prop]; ok {
		return textMatch(value, f)
	}
	v := strings.ToLower(strings.Trim(value, `"`))
	switch prop {
	case "hasattachment", "hasattachments":
		return func(m *message) bool { return m.hasAttachments() == (v == "true" || v == "yes") }
	case "importance":
		if v == "medium" {
			v = "normal"
		}
		return func(m *message) bool { return m.importance == v }
	case "kind":
		return func(*message) bool { return v == "email" }
	case "isread":
		return func(m *message) bool { return m.isRead == (v == "true" || v == "yes") }
	case "received", "sent":
		in := dateRestriction(v)
		if in == nil {
			return func(*message) bool { return false }
		}
		if prop == "received" {
			return func(m *message) bool { return in(m.received) }
		}
		return func(m *message) bool { return in(m.sent) }
	}
	return nil
}

// dateRestriction reads a KQL date: a day (MM/DD/YYYY or YYYY-MM-DD), a
// comparison with one (>=, <=, >, <), or a range (a..b); days are in UTC.
func dateRestriction(v string) func(time.Time) bool {
	parse := func(s string) (time.Time, bool) {
		for _, layout := range []string{"01/02/2006", "1/2/2006", "2006-01-02"} {
			if d, err := time.Parse(layout, s); err == nil {
				return d, true
			}
		}
		return time.Time{}, false
	}
	if a, b, ok := strings.Cut(v, ".."); ok {
		from, ok1 := parse(a)
		to, ok2 := parse(b)
		if !ok1 || !ok2 {
			return nil
		}
		return func(t time.Time) bool { return !t.Before(from) && t.Before(to.AddDate(0, 0, 1)) }
	}
	for _, op := range []string{">=", "<=", ">", "<", "="} {
		if rest, ok := strings.CutPrefix(v, op); ok {
			d, ok := parse(rest)
			if !ok {
				return nil
			}
			end := d.AddDate(0, 0, 1)
			return map[string]func(time.Time) bool{
				">=": func(t time.Time) bool { return !t.Before(d) },
				"<=": func(t time.Time) bool { return t.Before(end) },
				">":  func(t time.Time) bool { return !t.Before(end) },
				"<":  func(t time.Time) bool { return t.Before(d) },
				"=":  func(t time.Time) bool { return !t.Before(d) && t.Before(end) },
			}[op]
		}
	}
	d, ok := parse(v)
	if !ok {
		return nil
	}
	return func(t time.Time) bool { return !t.Before(d) && t.Before(d.AddDate(0, 0, 1)) }
}

// textMatch matches a word (the beginning of a word of the texts), an
// address (within an address), or a "phrase" (words in a row).
func textMatch(term string, texts func(m *message) []string) kqlNode {
	phrase := strings.HasPrefix(term, `"`)
	term = strings.ToLower(strings.Trim(term, `"`))
	want := words(term)
	return func(m *message) bool {
		for _, t := range texts(m) {
			t = strings.ToLower(t)
			switch {
			case strings.Contains(term, "@"):
				if strings.Contains(t, term) {
					return true
				}
			case phrase:
				if strings.Contains(" "+strings.Join(words(t), " ")+" ", " "+strings.Join(want, " ")+" ") {
					return true
				}
			default:
				if prefixOfAll(want, words(t)) {
					return true
				}
			}
		}
		return false
	}
}

// prefixOfAll: every wanted word begins a word of have.
func prefixOfAll(want, have []string) bool {
	if len(want) == 0 {
		return false
	}
	for _, w := range want {
		found := false
		for _, h := range have {
			if strings.HasPrefix(h, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func words(t string) []string {
	return strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func recipientTexts(lists ...[]Recipient) []string {
	var out []string
	for _, l := range lists {
		for _, r := range l {
			out = append(out, r.Name+" "+r.Address)
		}
	}
	return out
}

func (m *message) fromText() string {
	if m.from == nil {
		return ""
	}
	return m.from.Name + " " + m.from.Address
}

// text is the body's text.
func (m *message) text() string {
	if m.body.typ == "html" {
		return htmlToText(m.body.content)
	}
	return m.body.content
}
