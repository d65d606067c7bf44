package htmltext

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzConvert: Convert never panics; its output is valid UTF-8, trimmed,
// without trailing spaces on lines or more than two blank lines in a row;
// and text without markup comes out with only its whitespace collapsed
// and its URLs shortened. ConvertLinks and ShortenURLs never panic either;
// their output is valid UTF-8 and of a size linear in the input; their
// links are numbered 1, 2, 3…, with distinct valid URLs, and every marker
// written refers to one of them; every link left out has its marker.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{
		newsletter, long, "x (" + long + ") y\n<" + long + ">", "https://t.example/?utm_a=1 https://a.example/",
		`<a href="` + long + `">` + long + `</a><a href="` + long + `"><img src=x></a>`,
		`<td>a<td><a href="https://e.example/?utm_a=1"><div>https://e.example/?utm_a=1</div></a>`,
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
	for _, name := range []string{"testdata/newsletter.html", "testdata/newsletter.txt"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
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

		text, r := convert(s)
		if text != out {
			t.Fatalf("Convert %q, ConvertLinks %q", out, text)
		}
		checkLinks(t, "ConvertLinks", s, text, r, 16)
		if utf8.ValidString(s) {
			var sr refs
			checkLinks(t, "ShortenURLs", s, sr.shorten(s), &sr, 2)
		}
		short, links := ShortenURLs(s)
		checkLinks(t, "ShortenURLs", s, short, &refs{links: links}, 3)
	})
}

// checkLinks checks the text and links that ConvertLinks or ShortenURLs
// made of s: output of at most growth times the input (and a little),
// valid UTF-8, links numbered in order with distinct valid URLs, markers
// only for listed links, and a marker for every link left out.
func checkLinks(t *testing.T, name, s, text string, r *refs, growth int) {
	t.Helper()
	if len(text) > growth*len(s)+256 {
		t.Fatalf("%s: %d bytes of output for %d of input", name, len(text), len(s))
	}
	if !utf8.ValidString(text) {
		t.Fatalf("%s: invalid UTF-8 output %q", name, text)
	}
	if r.marked > len(r.links) {
		t.Fatalf("%s: marker [%d] with %d links", name, r.marked, len(r.links))
	}
	seen := make(map[string]bool)
	for i, l := range r.links {
		if l.N != i+1 || seen[l.URL] || showURL(l.URL) != l.URL || !utf8.ValidString(l.Text) {
			t.Fatalf("%s: link %d: %+v (seen %v)", name, i, l, seen[l.URL])
		}
		seen[l.URL] = true
		if costly(l.URL) && !strings.Contains(text, marker(l.N)) {
			t.Fatalf("%s: no marker for %+v in %q", name, l, text)
		}
	}
}
