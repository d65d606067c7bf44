package tools

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// oneLineReference is oneLine as it was written first: every call
// allocates.
func oneLineReference(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

// TestOneLine: oneLine gives what the reference gives, on chosen values and
// on random ones made of spaces of every kind, multi-byte runes and
// invalid UTF-8.
func TestOneLine(t *testing.T) {
	cases := []string{
		"", " ", "a", "Q3 report draft", "  leading", "trailing  ", "two  spaces", "tab\there", "line\r\nbreak",
		"Grüße aus München – Termin nächste Woche", "🎉 We launched! 🚀", "no\u00a0break", "nel\u0085x",
		"bad \xff utf-8", "\xff", "a\u3000b", strings.Repeat("x", 200), strings.Repeat("é ", 100),
	}
	pieces := []string{"a", "bc", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "é", "語", "🚀", "\xff", "\xe2\x82", "…"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		for _, max := range []int{1, 2, 3, 5, 8, 32, 80} {
			if got, want := oneLine(s, max), oneLineReference(s, max); got != want {
				t.Fatalf("oneLine(%q, %d) = %q, want %q", s, max, got, want)
			}
		}
	}
}

func BenchmarkOneLine(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		oneLine("Grüße aus München – Termin nächste Woche", 70)
		oneLine("Dave Davis", 32)
		oneLine("Hi Alice, attached is the draft of the Q3 report. Revenue is up 12%. Comments by Friday, please.", 60)
	}
}
