package quoted

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers/htmltext"
)

// FuzzText: with nothing earlier, a body is never changed; with an earlier
// message, every word left was in the body, and the count is not negative.
func FuzzText(f *testing.F) {
	f.Add("Tuesday works.\n\nOn Mon, Bob wrote:\n> Hi Alice,\n> let's kick off", first)
	f.Add("x\n>\n> \n>>\ny", "")
	f.Add("Ok\n\n-----Original Message-----\nFrom: a\nSent: b\nTo: c\nSubject: d\n\nHi Alice,\n", first)
	f.Fuzz(func(t *testing.T, body, earlier string) {
		if got, n := Text(body, NewCorpus()); got != body || n != 0 {
			t.Fatalf("nothing earlier, yet %q became %q (%d removed)", body, got, n)
		}
		got, n := Text(body, corpus(earlier))
		if n < 0 {
			t.Fatalf("%d removed", n)
		}
		in := words(body)
		for _, w := range words(got) {
			if !slices.Contains(in, w) {
				t.Fatalf("word %q is not in the body", w)
			}
		}
	})
}

// FuzzHTML: with nothing earlier, HTML converts as htmltext converts it;
// with an earlier message, every word left was in the converted body.
func FuzzHTML(f *testing.F) {
	f.Add(`<p>Yes</p><div class="gmail_quote">On Mon, Bob wrote:<blockquote>Hi Alice,</blockquote></div>`, first)
	f.Add(`<blockquote type="cite">a</blockquote><div>b</div><blockquote type="cite">c</blockquote><p>d`, "a c")
	f.Add(`<div id="appendonsend"></div><hr><div id="divRplyFwdMsg">From: x</div><div>Hi Alice`, first)
	f.Fuzz(func(t *testing.T, src, earlier string) {
		want, _ := htmltext.ConvertLinks(src)
		if got, _, n := HTML(src, NewCorpus()); got != want || n != 0 {
			t.Fatalf("nothing earlier, yet the text is %q, not %q (%d removed)", got, want, n)
		}
		got, _, n := HTML(src, corpus(earlier))
		if n < 0 {
			t.Fatalf("%d removed", n)
		}
		in := words(want)
		for _, w := range words(got) {
			if !slices.Contains(in, w) && !strings.Contains(strings.ToLower(src), w) {
				t.Fatalf("word %q is not in the body", w)
			}
		}
	})
}
