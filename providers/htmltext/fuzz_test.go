package htmltext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzConvert: Convert never panics; its output is valid UTF-8, trimmed,
// without trailing spaces on lines or more than two blank lines in a row;
// and text without markup comes out with only its whitespace collapsed
// and its URLs shortened.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{
		newsletter,
		"", "plain text", "a &amp; b &notin; &#x1F600; &#0;", "<p>a<p>b<ul><li>x<li>y</ul>",
		`<a href="javascript:alert(1)">x</a><a href="https://e.example">y</a><img alt="z" src="https://t.example">`,
		"<pre>\n  a\n\n\n\n b</pre>", "<blockquote><blockquote>q</blockquote></blockquote>", "<table><tr><td>a<td>b</table>",
		"<div hidden><p>h</div>s", "<script>x</script><style>y</style><!-- c -->", "\xff\xfe<p>\xc3</p>",
		"<br><br><br><br><br>x<br><br><br><br>", `<div style="display:none">x</div>`, "<ol start=-5><li>a</ol>",
		"<a href=https://e.example><a href=mailto:x@y.z>n</a></a>", "<<<>>> < > &", "\x00\x01\r\n\r\t",
		strings.Repeat("<ul><li>", 20) + "deep", "<textarea><p>t</p></textarea><title>t</title>",
		"<svg><p>x</p></svg>after", "<plaintext><b>raw", "<table><tr><td><pre>a\nb</pre><td>c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Convert(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 output %q", out)
		}
		if out != strings.TrimSpace(out) {
			t.Fatalf("untrimmed output %q", out)
		}
		if strings.Contains(out, "\n\n\n\n") {
			t.Fatalf("more than two blank lines: %q", out)
		}
		for _, l := range strings.Split(out, "\n") {
			if l != strings.TrimRight(l, " \t") {
				t.Fatalf("trailing whitespace in %q", l)
			}
		}
		if !strings.ContainsAny(s, "<&") {
			short, _ := ShortenURLs(s)
			if want := collapse(short); out != want {
				t.Fatalf("text without markup %q: got %q, want %q", s, out, want)
			}
		}
	})
}
