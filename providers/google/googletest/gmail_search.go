package googletest

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Gmail's search syntax (the q parameter): words, phrases, operators,
// OR, braces, parentheses and negation, matched as Gmail documents.

// qterm is one search term; or holds alternatives (a OR b, {a b}), and
// group terms that must all match (parentheses).
type qterm struct {
	neg    bool
	op     string
	val    string
	phrase bool
	or     [][]qterm
}

type gmailQuery []qterm

// Search operators this fake understands; any other "x:y" is searched as
// words, as Gmail does with unknown operators.
var gmailOps = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "label": true, "is": true, "in": true,
	"has": true, "category": true, "filename": true, "newer_than": true, "older_than": true, "after": true,
	"before": true, "newer": true, "older": true, "larger": true, "smaller": true, "rfc822msgid": true,
	"list": true, "deliveredto": true,
}

func parseGmailQuery(q string) gmailQuery {
	p := &queryParser{s: q}
	return p.terms(0)
}

type queryParser struct {
	s string
	i int
}

func (p *queryParser) terms(close byte) gmailQuery {
	var out gmailQuery
	pendingOr := false
	for {
		for p.i < len(p.s) && p.s[p.i] == ' ' {
			p.i++
		}
		if p.i >= len(p.s) {
			return out
		}
		if close != 0 && p.s[p.i] == close {
			p.i++
			return out
		}
		t, ok := p.term()
		if !ok {
			continue
		}
		if t.op == "" && !t.phrase && t.val == "OR" && len(out) > 0 {
			pendingOr = true
			continue
		}
		if t.op == "" && !t.phrase && t.val == "AND" {
			continue
		}
		if pendingOr {
			last := &out[len(out)-1]
			if last.or == nil || last.neg {
				*last = qterm{or: [][]qterm{{*last}}}
			}
			last.or = append(last.or, []qterm{t})
			pendingOr = false
			continue
		}
		out = append(out, t)
	}
}

func (p *queryParser) term() (qterm, bool) {
	var t qterm
	if p.s[p.i] == '-' {
		t.neg = true
		p.i++
		if p.i >= len(p.s) {
			return t, false
		}
	}
	switch p.s[p.i] {
	case '"':
		t.phrase, t.val = true, p.quoted()
		return t, t.val != ""
	case '(':
		p.i++
		g := p.terms(')')
		t.or = [][]qterm{g}
		return t, true
	case '{':
		p.i++
		for _, alt := range p.terms('}') {
			t.or = append(t.or, []qterm{alt})
		}
		return t, len(t.or) > 0
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' && p.s[p.i] != '}' && p.s[p.i] != '(' && p.s[p.i] != '"' {
		p.i++
	}
	word := p.s[start:p.i]
	if op, rest, ok := strings.Cut(word, ":"); ok && gmailOps[strings.ToLower(op)] {
		t.op = strings.ToLower(op)
		switch {
		case rest == "" && p.i < len(p.s) && p.s[p.i] == '"':
			t.val, t.phrase = p.quoted(), true
		case rest == "" && p.i < len(p.s) && p.s[p.i] == '(':
			p.i++
			var vals []string
			for _, g := range p.terms(')') {
				vals = append(vals, g.val)
			}
			t.val = strings.Join(vals, " ")
		default:
			t.val = rest
		}
		return t, true
	}
	if p.i < len(p.s) && p.s[p.i] == '(' { // "x(" without operator: a word
		p.i++
	}
	t.val = word
	return t, word != ""
}

func (p *queryParser) quoted() string {
	p.i++
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '"' {
		p.i++
	}
	v := p.s[start:p.i]
	if p.i < len(p.s) {
		p.i++
	}
	return v
}

func (q gmailQuery) mentionsSpamTrash() bool {
	for _, t := range q {
		v := strings.ToLower(t.val)
		if (t.op == "in" || t.op == "label") && (v == "spam" || v == "trash" || v == "anywhere") {
			return true
		}
		for _, alt := range t.or {
			if gmailQuery(alt).mentionsSpamTrash() {
				return true
			}
		}
	}
	return false
}

func (q gmailQuery) match(m *mailMsg, mb *mailbox, now time.Time) bool {
	for _, t := range q {
		if t.matches(m, mb, now) == t.neg {
			return false
		}
	}
	return true
}

func (t qterm) matches(m *mailMsg, mb *mailbox, now time.Time) bool {
	if t.or != nil {
		for _, alt := range t.or {
			if gmailQuery(alt).match(m, mb, now) {
				return true
			}
		}
		return false
	}
	v := strings.ToLower(t.val)
	has := func(l string) bool { return slices.Contains(m.labels, l) }
	switch t.op {
	case "":
		return textMatch(m.text, m.words, v, t.phrase)
	case "from":
		if v == "me" {
			v = strings.ToLower(mb.email)
		}
		return strings.Contains(m.from, v)
	case "to", "deliveredto":
		if v == "me" {
			v = strings.ToLower(mb.email)
		}
		return strings.Contains(m.to, v) || strings.Contains(m.cc, v) || strings.Contains(m.bcc, v)
	case "cc":
		return strings.Contains(m.cc, v)
	case "bcc":
		return strings.Contains(m.bcc, v)
	case "subject":
		s := strings.ToLower(m.subject)
		return textMatch(s, wordSet(s), v, t.phrase)
	case "label":
		for _, l := range m.labels {
			if strings.EqualFold(l, v) || strings.EqualFold(strings.ReplaceAll(l, "_", "-"), v) {
				return true
			}
			for _, ul := range mb.labels {
				name := strings.ToLower(ul.name)
				if ul.id == l && (name == v || strings.NewReplacer(" ", "-", "/", "-").Replace(name) == v) {
					return true
				}
			}
		}
		return false
	case "is":
		switch v {
		case "unread":
			return has("UNREAD")
		case "read":
			return !has("UNREAD")
		case "starred":
			return has("STARRED")
		case "important":
			return has("IMPORTANT")
		case "chat":
			return has("CHAT")
		}
		return false
	case "in":
		switch v {
		case "anywhere":
			return true
		case "drafts", "draft":
			return has("DRAFT")
		default:
			return has(strings.ToUpper(v))
		}
	case "category":
		if v == "primary" {
			v = "personal"
		}
		return has("CATEGORY_" + strings.ToUpper(v))
	case "has":
		switch v {
		case "attachment":
			return len(m.attachments) > 0
		case "userlabels":
			return slices.ContainsFunc(m.labels, func(l string) bool { return strings.HasPrefix(l, "Label_") })
		case "nouserlabels":
			return !slices.ContainsFunc(m.labels, func(l string) bool { return strings.HasPrefix(l, "Label_") })
		}
		return false
	case "filename":
		for _, p := range m.attachments {
			fn := strings.ToLower(p.filename)
			if strings.Contains(fn, v) || strings.HasSuffix(fn, "."+v) {
				return true
			}
		}
		return false
	case "newer_than", "older_than":
		n, err := strconv.Atoi(strings.TrimRight(v, "dmy"))
		if err != nil || len(v) < 2 {
			return false
		}
		var limit time.Time
		switch v[len(v)-1] {
		case 'd':
			limit = now.AddDate(0, 0, -n)
		case 'm':
			limit = now.AddDate(0, -n, 0)
		case 'y':
			limit = now.AddDate(-n, 0, 0)
		default:
			return false
		}
		if t.op == "newer_than" {
			return m.date.After(limit)
		}
		return m.date.Before(limit)
	case "after", "before", "newer", "older":
		// Dates are midnight Pacific time (Gmail's documented behaviour);
		// seconds since the epoch are exact.
		var when time.Time
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			when = time.Unix(secs, 0)
		} else if d, err := time.ParseInLocation("2006/1/2", strings.ReplaceAll(v, "-", "/"), pacific); err == nil {
			when = d
		} else {
			return false
		}
		if t.op == "after" || t.op == "newer" {
			return !m.date.Before(when)
		}
		return m.date.Before(when)
	case "larger", "smaller":
		mult := 1
		switch {
		case strings.HasSuffix(v, "k"):
			mult, v = 1<<10, strings.TrimSuffix(v, "k")
		case strings.HasSuffix(v, "m"):
			mult, v = 1<<20, strings.TrimSuffix(v, "m")
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return false
		}
		if t.op == "larger" {
			return len(m.raw) > n*mult
		}
		return len(m.raw) < n*mult
	case "rfc822msgid":
		return strings.Trim(strings.ToLower(m.messageID), "<>") == strings.Trim(v, "<>")
	case "list":
		return strings.Contains(m.text, v)
	}
	return false
}

var pacific = mustZone("America/Los_Angeles")

// textMatch is Gmail's word search: every word of the term is a word of the
// text (whole words, case-insensitive); a quoted phrase must appear as is.
func textMatch(text string, words map[string]bool, term string, phrase bool) bool {
	if phrase {
		return strings.Contains(strings.Join(strings.Fields(text), " "), strings.Join(strings.Fields(term), " "))
	}
	ws := strings.FieldsFunc(term, notWordRune)
	if len(ws) == 0 {
		return strings.Contains(text, term)
	}
	for _, w := range ws {
		// Scripts written without spaces match inside words.
		if !words[w] && !(hasCJK(w) && strings.Contains(text, w)) {
			return false
		}
	}
	return true
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai) {
			return true
		}
	}
	return false
}
