package htmltext

import (
	"bytes"
	"strings"
	"unicode"
)

// writer assembles lines: words with collapsed whitespace, line prefixes
// for quotes and lists, and bounded runs of blank lines.
type writer struct {
	out     strings.Builder
	started bool // a line has been written to out

	line       bytes.Buffer // the current line's content
	lines      int          // how many times line was ended, to tell lines apart
	linePrefix string       // its prefix, fixed when it started
	space      bool         // a space is due before the next word
	sep        bool         // a cell separator is due before the next word
	afterURL   bool         // the line ends with a "(url)" or "[n]": a space before a letter

	blanks      int    // blank lines due before the next line
	blankPrefix string // their prefix

	quotePrefix string // "> " per blockquote
	depth       int    // list nesting
	bullet      string // marker of the next line that starts (a list item's first)

	pre      bool // whitespace is kept
	preStart bool // a newline right after <pre> is dropped
}

// text writes character data.
func (w *writer) text(s string) {
	for _, r := range s {
		if w.preStart {
			w.preStart = false
			if r == '\n' {
				continue
			}
		}
		switch {
		case w.pre && r == '\n':
			w.hardBreak()
		case w.pre && (r == '\t' || r == ' ' || r == 0xa0):
			w.startLine()
			w.space, w.sep = false, false
			if r == '\t' {
				w.line.WriteByte('\t')
			} else {
				w.line.WriteByte(' ')
			}
		case unicode.IsSpace(r):
			w.space = true
		case invisible(r) || r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			// nothing to read
		default:
			w.char(r)
		}
	}
}

// word writes s (no control characters) as text.
func (w *writer) word(s string) { w.text(s) }

// char writes a visible character, after any due space or separator.
func (w *writer) char(r rune) {
	if w.line.Len() == 0 {
		w.startLine()
	} else if w.sep {
		w.line.WriteString(" | ")
	} else if w.space || w.afterURL && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		w.line.WriteByte(' ')
	}
	w.space, w.sep, w.afterURL = false, false, false
	w.line.WriteRune(r)
}

func (w *writer) startLine() {
	if w.line.Len() > 0 {
		return
	}
	prefix := w.quotePrefix
	switch {
	case w.bullet != "":
		prefix += strings.Repeat("  ", max(w.depth-1, 0)) + w.bullet
		w.bullet = ""
	case w.depth > 0:
		prefix += strings.Repeat("  ", w.depth)
	}
	w.linePrefix = prefix
}

// flushLine ends the current line, if it has anything.
func (w *writer) flushLine() {
	w.space, w.sep = false, false
	if w.line.Len() == 0 {
		return
	}
	content := strings.TrimRight(w.line.String(), " \t")
	w.line.Reset()
	w.lines++
	if content == "" { // whitespace only, in <pre>
		w.blank()
		return
	}
	if w.started {
		for i := 0; i < min(w.blanks, maxBlankLines); i++ {
			w.out.WriteString(strings.TrimRight(w.blankPrefix, " "))
			w.out.WriteByte('\n')
		}
	}
	w.blanks = 0
	w.out.WriteString(w.linePrefix)
	w.out.WriteString(content)
	w.out.WriteByte('\n')
	w.started = true
}

// blank asks for one more blank line before the next line.
func (w *writer) blank() {
	if w.blanks == 0 || len(w.quotePrefix) < len(w.blankPrefix) {
		w.blankPrefix = w.quotePrefix
	}
	if w.blanks < maxBlankLines {
		w.blanks++
	}
}

// hardBreak is <br>: it ends the line, or makes an empty one.
func (w *writer) hardBreak() {
	if w.line.Len() > 0 {
		w.flushLine()
		return
	}
	w.space, w.sep = false, false
	w.blank()
}

// paragraph ends the line and asks for a blank line before the next.
func (w *writer) paragraph() {
	w.flushLine()
	if w.blanks == 0 {
		w.blank()
	} else if len(w.quotePrefix) < len(w.blankPrefix) {
		w.blankPrefix = w.quotePrefix
	}
}

// position is a place in the current line.
type position struct{ lines, n int }

func (w *writer) position() position { return position{w.lines, w.line.Len()} }

// replaceSince replaces what was written since p with s, keeping the space
// or cell separator in front of it. It reports false, and changes nothing,
// when that is no longer on the current line or is empty.
func (w *writer) replaceSince(p position, s string) bool {
	if p.lines != w.lines || w.line.Len() <= p.n {
		return false
	}
	rest := w.line.Bytes()[p.n:]
	lead := 0
	switch {
	case bytes.HasPrefix(rest, []byte(" | ")):
		lead = 3
	case rest[0] == ' ':
		lead = 1
	}
	if lead == len(rest) {
		return false
	}
	w.line.Truncate(p.n + lead)
	w.line.WriteString(s)
	return true
}
