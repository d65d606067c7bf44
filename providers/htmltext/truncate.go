package htmltext

import (
	"strings"
	"unicode/utf8"
)

// Truncate cuts s to at most limit bytes and returns what is kept and the
// number of bytes cut (len(s) - len(kept); 0 when s fits). The cut falls
// on a rune boundary, preferably at a line break, else at a space, within
// the last fifth of limit (at least 40 bytes or half of limit, at most
// 1024 bytes back); trailing whitespace of the kept part is dropped too
// (and counted as cut). A limit below 0 is 0.
func Truncate(s string, limit int) (string, int) {
	if limit < 0 {
		limit = 0
	}
	if len(s) <= limit {
		return s, 0
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	window := min(max(limit/5, min(40, limit/2)), 1024)
	lo := cut - window
	if lo < 0 {
		lo = 0
	}
	if i := strings.LastIndexByte(s[lo:cut], '\n'); i >= 0 && lo+i > 0 {
		cut = lo + i
	} else if i := strings.LastIndexAny(s[lo:cut], " \t"); i >= 0 && lo+i > 0 {
		cut = lo + i
	}
	kept := strings.TrimRight(s[:cut], " \t\r\n")
	return kept, len(s) - len(kept)
}
