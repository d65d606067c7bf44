package mimemsg

import (
	"bytes"
	"encoding/base64"
	"mime"
	"sort"
	"strings"
	"unicode/utf8"
)

const (
	// maxLine is the folding target for header lines. RFC 5322 asks for
	// at most 78 characters; RFC 2047 for at most 76 on lines that carry
	// encoded-words, so 76 satisfies both.
	maxLine = 76
	// maxWord is the length of the longest encoded-word written (RFC 2047
	// allows 75), short enough that "Subject: " plus one word fits maxLine.
	maxWord = 64
)

// field is a header field as tokens: the value is the tokens joined by
// single spaces, and folding happens only between tokens.
type field struct {
	name   string
	tokens []string
}

// writeField writes a header field folded at maxLine between tokens. The
// first token stays on the first line. Tokens are kept short enough by
// validation that no line exceeds RFC 5322's 998.
func writeField(b *bytes.Buffer, f field) {
	b.WriteString(f.name)
	b.WriteByte(':')
	n := len(f.name) + 1
	for i, t := range f.tokens {
		if i > 0 && n+1+len(t) > maxLine {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteByte(' ')
		b.WriteString(t)
		n += 1 + len(t)
	}
	b.WriteString("\r\n")
}

// subjectTokens renders unstructured text. Short plain ASCII words are
// written as they are; anything that would not survive unfolding exactly
// (leading, trailing or repeated spaces, tabs), non-ASCII text, text that
// looks like an encoded-word and words too long to fold are written as
// RFC 2047 encoded-words, which decode to exactly the original.
func subjectTokens(s string) []string {
	if s == "" {
		return nil
	}
	if printableASCII(s) && !strings.Contains(s, "=?") && s[0] != ' ' &&
		s[len(s)-1] != ' ' && !strings.Contains(s, "  ") {
		words := strings.Split(s, " ")
		ok := true
		for _, w := range words {
			if len(w) > maxLine-len("Subject: ") {
				ok = false
				break
			}
		}
		if ok {
			return words
		}
	}
	return encodedWords(s)
}

// qSafe reports whether b may stand for itself in a Q-encoded word in any
// header context (RFC 2047 section 5 (3), the strictest: phrases).
func qSafe(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '!' || b == '*' || b == '+' || b == '-' || b == '/'
}

// encodedWords encodes s (valid UTF-8) as RFC 2047 encoded-words in UTF-8,
// each at most maxWord characters and split only between runes: Q encoding
// for mostly-ASCII text, B encoding otherwise.
func encodedWords(s string) []string {
	esc := 0
	for i := 0; i < len(s); i++ {
		if !qSafe(s[i]) && s[i] != ' ' {
			esc++
		}
	}
	// Q costs len+2*esc, B about 4/3*len.
	useQ := esc*6 <= len(s)
	prefix := "=?utf-8?b?"
	if useQ {
		prefix = "=?utf-8?q?"
	}
	budget := maxWord - len(prefix) - len("?=")
	encLen := func(raw int, qlen int) int {
		if useQ {
			return qlen
		}
		return base64.StdEncoding.EncodedLen(raw)
	}
	var words []string
	start, qlen := 0, 0
	flush := func(end int) {
		if end == start {
			return
		}
		chunk := s[start:end]
		var w strings.Builder
		w.WriteString(prefix)
		if useQ {
			for i := 0; i < len(chunk); i++ {
				c := chunk[i]
				switch {
				case c == ' ':
					w.WriteByte('_')
				case qSafe(c):
					w.WriteByte(c)
				default:
					w.WriteByte('=')
					w.WriteByte("0123456789ABCDEF"[c>>4])
					w.WriteByte("0123456789ABCDEF"[c&15])
				}
			}
		} else {
			w.WriteString(base64.StdEncoding.EncodeToString([]byte(chunk)))
		}
		w.WriteString("?=")
		words = append(words, w.String())
		start, qlen = end, 0
	}
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		rq := 0
		for j := i; j < i+size; j++ {
			if qSafe(s[j]) || s[j] == ' ' {
				rq++
			} else {
				rq += 3
			}
		}
		if encLen(i+size-start, qlen+rq) > budget {
			flush(i)
		}
		qlen += rq
		i += size
	}
	flush(len(s))
	return words
}

// mediaTypeTokens renders a media type (or disposition) with parameters as
// tokens: "type/sub;", "k1=v1;", "k2=v2". Parameters are written by
// mime.FormatMediaType (quoted-strings; RFC 2231 for non-ASCII values), in
// sorted order. It returns nil when mime.FormatMediaType refuses.
func mediaTypeTokens(t string, params map[string]string) []string {
	base := mime.FormatMediaType(t, nil)
	if base == "" {
		return nil
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tokens := []string{base}
	for _, k := range keys {
		one := mime.FormatMediaType(t, map[string]string{k: params[k]})
		if one == "" {
			return nil
		}
		tokens[len(tokens)-1] += ";"
		tokens = append(tokens, strings.TrimPrefix(one, base+"; "))
	}
	return tokens
}
