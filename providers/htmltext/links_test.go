package htmltext

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// long is a URL just over maxInlineURL, without tracking.
const long = "https://example.com/articles/2024/11/a-rather-long-but-honest-slug"

func TestLongIsLong(t *testing.T) {
	if len(long) <= maxInlineURL || tracking(long) {
		t.Fatalf("long: %d bytes, tracking %v", len(long), tracking(long))
	}
}

func TestTracking(t *testing.T) {
	for u, want := range map[string]bool{
		"https://go.dev/blog/go1.26":                                 false,
		"https://en.wikipedia.org/wiki/Go_(programming_language)":    false,
		"https://github.com/golang/go/issues/61405":                  false,
		"https://example.com/IMG_20240101_123456.jpg":                false,
		"https://example.com/iphone15promax2024review":               false,
		"https://shop.example/item?id=42&color=blue#reviews":         false,
		"https://t.co/abc":                                           false,
		"https://example.com/?utm_source=x":                          true,
		"https://example.com/a?GCLID=abc":                            true,
		"https://l.facebook.com/l.php?u=x":                           true,
		"https://e.example/v/3f2a9c4e-8b1d-4e5f-a6b7-c8d9e0f1a2b3":   true,
		"https://e.example/#aGVsbG8gd29ybGQx2Zm9v":                   true,
		"https://e.example/r?url=http://x":                           true,
		"https://substack.com/redirect/2/eyJ":                        true,
		"https://example.com/substack.com/redirect":                  false,
		"https://u1.ct.sendgrid.net/ls/click":                        true,
		"https://e.example/o?token=dGhpc2lzYXRlc3R0b2tlbjEyMw%3D%3D": true,
	} {
		if got := tracking(u); got != want {
			t.Errorf("tracking(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestConvertLinks(t *testing.T) {
	const at60 = "https://example.com/articles/2024/11/a-rather-long-but-hones"
	if len(at60) != maxInlineURL {
		t.Fatalf("at60 is %d bytes", len(at60))
	}
	for _, tc := range []struct {
		name, in, want string
		links          []Link
	}{
		{"short stays inline", `<a href="https://example.com/a">Docs</a>`, "Docs (https://example.com/a)",
			[]Link{{1, "Docs", "https://example.com/a"}}},
		{"60 bytes stay inline", `<a href="` + at60 + `">x</a>`, "x (" + at60 + ")", []Link{{1, "x", at60}}},
		{"longer gets a marker", `<p>See <a href="` + long + `">the article</a>.</p>`, "See the article [1].",
			[]Link{{1, "the article", long}}},
		{"utm", `<a href="https://e.example/?utm_source=mail">Home</a> next`, "Home [1] next",
			[]Link{{1, "Home", "https://e.example/?utm_source=mail"}}},
		{"tracking parameter", `<a href="https://e.example/p?fbclid=x">P</a>`, "P [1]", []Link{{1, "P", "https://e.example/p?fbclid=x"}}},
		{"redirector host", `<a href="https://click.e.example/x">Go</a>`, "Go [1]", []Link{{1, "Go", "https://click.e.example/x"}}},
		{"redirector domain", `<a href="https://e.list-manage.com/u">U</a>`, "U [1]", []Link{{1, "U", "https://e.list-manage.com/u"}}},
		{"url as parameter", `<a href="https://e.example/r?u=https%3A%2F%2Fx.y">R</a>`, "R [1]",
			[]Link{{1, "R", "https://e.example/r?u=https%3A%2F%2Fx.y"}}},
		{"base64 path", `<a href="https://e.example/l/aGVsbG8gd29ybGQx2Zm9v">L</a>`, "L [1]",
			[]Link{{1, "L", "https://e.example/l/aGVsbG8gd29ybGQx2Zm9v"}}},
		{"hex id query", `<a href="https://e.example/v?id=5f3c9a0b7e2d41c8">V</a>`, "V [1]",
			[]Link{{1, "V", "https://e.example/v?id=5f3c9a0b7e2d41c8"}}},
		{"slug stays", `<a href="https://e.example/2024/11/postgres-17-what-changed">P</a>`,
			"P (https://e.example/2024/11/postgres-17-what-changed)", []Link{{1, "P", "https://e.example/2024/11/postgres-17-what-changed"}}},
		{"short id stays", `<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ">T</a>`,
			"T (https://www.youtube.com/watch?v=dQw4w9WgXcQ)", []Link{{1, "T", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}}},
		{"mailto stays", `<a href="mailto:bob@example.com">Bob</a>`, "Bob (mailto:bob@example.com)",
			[]Link{{1, "Bob", "mailto:bob@example.com"}}},
		{"long mailto address stays", `<a href="mailto:` + strings.Repeat("b", 60) + `@example.com">B</a>`,
			"B (mailto:" + strings.Repeat("b", 60) + "@example.com)", []Link{{1, "B", "mailto:" + strings.Repeat("b", 60) + "@example.com"}}},
		{"long mailto with fields", `<a href="mailto:bob@example.com?subject=Unsubscribe&amp;body=Please%20remove%20me%20from%20the%20list">Unsubscribe</a>`,
			"Unsubscribe [1]", []Link{{1, "Unsubscribe", "mailto:bob@example.com?subject=Unsubscribe&body=Please%20remove%20me%20from%20the%20list"}}},
		{"bare short stays", `<a href="https://example.com/">https://example.com</a>`, "https://example.com",
			[]Link{{1, "", "https://example.com/"}}},
		{"bare long", `<p>At <a href="` + long + `">` + long + `</a>.</p>`, "At example.com/… [1].", []Link{{1, "", long}}},
		{"bare long, www", `<a href="https://WWW.Example.com/?utm_source=x">www.example.com/?utm_source=x</a>`,
			"example.com/… [1]", []Link{{1, "", "https://WWW.Example.com/?utm_source=x"}}},
		{"bare long in a list item", `<ul><li><a href="` + long + `">` + long + `</a></ul>`, "- example.com/… [1]", []Link{{1, "", long}}},
		{"bare long in a cell", `<table><tr><td>x<td><a href="` + long + `">` + long + `</a></table>`,
			"x | example.com/… [1]", []Link{{1, "", long}}},
		{"bare long in a quote", `<blockquote>a<br><a href="` + long + `">` + long + `</a> b</blockquote>`,
			"> a\n> example.com/… [1] b", []Link{{1, "", long}}},
		{"bare long across blocks keeps its text", `<a href="` + long + `"><div>` + long + `</div></a>`,
			long + "\n[1]", []Link{{1, "", long}}},
		{"user and port", `<a href="https://u:p@Host.example:8080/?utm_x=1"></a>`, "host.example:8080/… [1]",
			[]Link{{1, "", "https://u:p@Host.example:8080/?utm_x=1"}}},
		{"host only", `<a href="https://click.e.example"></a>`, "click.e.example [1]", []Link{{1, "", "https://click.e.example"}}},
		{"empty text, short", `<a href="https://example.com/x"></a>`, "https://example.com/x", []Link{{1, "", "https://example.com/x"}}},
		{"empty text, long", `a<a href="` + long + `"> </a>.`, "a example.com/… [1].", []Link{{1, "", long}}},
		{"image without alt", `<a href="` + long + `"><img src="https://img.example/b.png"></a>`, "example.com/… [1]", []Link{{1, "", long}}},
		{"image with alt", `<a href="` + long + `"><img src="https://img.example/b.png" alt="Buy now"></a>`, "[Buy now] [1]",
			[]Link{{1, "[Buy now]", long}}},
		{"duplicates share a number", `<a href="` + long + `"><img src=x></a> <a href="` + long + `">Read</a> <a href="` + long + `">Again</a>`,
			"example.com/… [1] Read [1] Again [1]", []Link{{1, "Read", long}}},
		{"numbered in order, shown or not", `<a href="https://a.example">A</a> <a href="` + long + `">L</a> <a href="https://a.example">A2</a> <a href="mailto:x@y.example">x@y.example</a>`,
			"A (https://a.example) L [2] A2 (https://a.example) x@y.example",
			[]Link{{1, "A", "https://a.example"}, {2, "L", long}, {3, "", "mailto:x@y.example"}}},
		{"nothing after the scheme", "<a href=\"mailto:\x14 \">m</a><a href=\"https://\u200b\">h</a>", "mh", nil},
		{"not shown, not listed", `<a href="javascript:go()">J</a><a href="/rel">R</a><a href="#t">T</a><a href="` + long + `" hidden>H</a><div hidden><a href="https://h.example">h</a></div>x`,
			"JRTx", nil},
		{"text urls outside links", `<p>Copy this: ` + long + `, or https://a.example/x.</p>`,
			"Copy this: example.com/… [1], or https://a.example/x.", []Link{{1, "", long}, {2, "", "https://a.example/x"}}},
		{"text urls and links share numbers", `<p>(see ` + long + `)</p><a href="` + long + `">Same</a>`,
			"(see example.com/… [1])\n\nSame [1]", []Link{{1, "Same", long}}},
		{"text url inside a link is its text", `<a href="https://t.example/?utm_a=1">Visit ` + long + `</a>`,
			"Visit " + long + " [1]", []Link{{1, "Visit " + long, "https://t.example/?utm_a=1"}}},
		{"text url in a link without a shown url", `<a href="#top">` + long + `</a>`, "example.com/… [1]", []Link{{1, "", long}}},
		{"nested inline link", `<a href="` + long + `">out <a href="https://b.example">in</a></a>`,
			"out [1] in (https://b.example)", []Link{{1, "out", long}, {2, "in", "https://b.example"}}},
		{"marker then letter", `<a href="` + long + `">a</a>b`, "a [1] b", []Link{{1, "a", long}}},
	} {
		text, links := ConvertLinks(tc.in)
		if text != tc.want || !reflect.DeepEqual(links, tc.links) {
			t.Errorf("%s: ConvertLinks(%q)\n got %q %v\nwant %q %v", tc.name, tc.in, text, links, tc.want, tc.links)
		}
		if c := Convert(tc.in); c != text {
			t.Errorf("%s: Convert %q, ConvertLinks %q", tc.name, c, text)
		}
	}
}

func TestLinkTextIsBounded(t *testing.T) {
	text := strings.Repeat("word ", 100)
	_, links := ConvertLinks(`<a href="` + long + `">` + text + `</a>`)
	if len(links) != 1 || len(links[0].Text) > maxListText+len("…") || !strings.HasPrefix(links[0].Text, "word word") {
		t.Errorf("links %+v", links)
	}
}

func TestShortenURLs(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		links          []Link
	}{
		{"none", "no links here, http:// alone, https:///x", "no links here, http:// alone, https:///x", nil},
		{"short stays", "see https://example.com/a.", "see https://example.com/a.", []Link{{1, "", "https://example.com/a"}}},
		{"long", "see " + long + ".", "see example.com/… [1].", []Link{{1, "", long}}},
		{"tracking", "HTTPS://E.example/?utm_source=x\nnext", "e.example/… [1]\nnext", []Link{{1, "", "HTTPS://E.example/?utm_source=x"}}},
		{"parentheses after text", "Read more (" + long + ") now", "Read more [1] now", []Link{{1, "", long}}},
		{"mailchimp style", "Read more ( " + long + " ).", "Read more [1].", []Link{{1, "", long}}},
		{"angle brackets", "Read more <" + long + ">", "Read more [1]", []Link{{1, "", long}}},
		{"markdown", "[Read more](" + long + ")", "[Read more] [1]", []Link{{1, "", long}}},
		{"brackets alone on a line", "text\n(" + long + ")\n", "text\n(example.com/… [1])\n", []Link{{1, "", long}}},
		{"line of its own", "Read:\n" + long + "\n", "Read:\nexample.com/… [1]\n", []Link{{1, "", long}}},
		{"short in brackets", "Home (https://a.example)", "Home (https://a.example)", []Link{{1, "", "https://a.example"}}},
		{"balanced parentheses", "w " + long + "_(x)), end", "w example.com/… [1]), end", []Link{{1, "", long + "_(x)"}}},
		{"trailing punctuation", long + "?!…", "example.com/… [1]?!…", []Link{{1, "", long}}},
		{"quotes end", `href="` + long + `"`, `href="example.com/… [1]"`, []Link{{1, "", long}}},
		{"duplicates", long + " and " + long, "example.com/… [1] and example.com/… [1]", []Link{{1, "", long}}},
		{"url in url", "https://t.example/r?u=https://dest.example/p", "t.example/… [1]",
			[]Link{{1, "", "https://t.example/r?u=https://dest.example/p"}}},
		{"order", "https://a.example " + long + " https://b.example", "https://a.example example.com/… [2] https://b.example",
			[]Link{{1, "", "https://a.example"}, {2, "", long}, {3, "", "https://b.example"}}},
		{"unicode", "日本 " + long + "。次", "日本 example.com/… [1]。次", []Link{{1, "", long}}},
		{"invalid utf-8 is replaced, ends a URL", "https://a.example/\xffx", "https://a.example/\uFFFDx", []Link{{1, "", "https://a.example/"}}},
		{"long host", "https://" + strings.Repeat("a", 80) + ".example/?utm_a", strings.Repeat("a", maxLinkLabel) + "… [1]",
			[]Link{{1, "", "https://" + strings.Repeat("a", 80) + ".example/?utm_a"}}},
	} {
		text, links := ShortenURLs(tc.in)
		if text != tc.want || !reflect.DeepEqual(links, tc.links) {
			t.Errorf("%s: ShortenURLs(%q)\n got %q %v\nwant %q %v", tc.name, tc.in, text, links, tc.want, tc.links)
		}
	}
}

// TestNumberingAgrees: a body gets the same numbers whether it comes as
// HTML or as text, so a caller handles both alike.
func TestNumberingAgrees(t *testing.T) {
	plain := "One https://a.example then " + long + " and https://a.example again, " + long + "."
	_, fromText := ShortenURLs(plain)
	_, fromHTML := ConvertLinks("<p>" + plain + "</p>")
	if !reflect.DeepEqual(fromText, fromHTML) || len(fromText) != 2 {
		t.Errorf("ShortenURLs %v, ConvertLinks %v", fromText, fromHTML)
	}
}

func TestFormatLinks(t *testing.T) {
	if got := FormatLinks(nil); got != "" {
		t.Errorf("no links: %q", got)
	}
	got := FormatLinks([]Link{{1, "A", "https://a.example"}, {2, "", long}, {10, "x", "mailto:x@y.example"}})
	want := "[1] https://a.example\n[2] " + long + "\n[10] mailto:x@y.example"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// urlish matches what a reader spends on URLs: URLs in full, markers and
// shortened hosts.
var urlish = regexp.MustCompile(`(?:https?://|mailto:)\S+|\[\d+\]|\S+/…`)

// urlShare is the part of s, in bytes, that urlish matches.
func urlShare(s string) float64 {
	n := 0
	for _, m := range urlish.FindAllString(s, -1) {
		n += len(m)
	}
	return float64(n) / float64(max(len(s), 1))
}

// TestNewsletterFixture measures, on a realistic newsletter (Mailchimp
// layout; SendGrid, Substack, DoubleClick and utm-tagged links), the share
// of the text that goes on URLs before and after shortening, and checks
// that no link text is lost. "Before" is what Convert returned before links
// were shortened (testdata/newsletter.before.txt, kept as it came out).
// The plain-text version of the newsletter goes through ShortenURLs.
func TestNewsletterFixture(t *testing.T) {
	in := readFile(t, "testdata/newsletter.html")
	before := readFile(t, "testdata/newsletter.before.txt")
	text, links := ConvertLinks(in)
	b, a := urlShare(before), urlShare(text)
	t.Logf("HTML: URLs take %.1f%% of %d bytes before, %.1f%% of %d bytes after", 100*b, len(before), 100*a, len(text))
	if b < 0.5 || a >= 0.15 {
		t.Errorf("HTML: URL share %.3f before, %.3f after", b, a)
	}

	// Every link of the fixture is listed once, its text is in the output,
	// and its URL is shown or referred to by its marker.
	hrefs, texts := fixtureLinks(t, in)
	var urls []string
	for _, l := range links {
		urls = append(urls, l.URL)
	}
	if !reflect.DeepEqual(urls, hrefs) {
		t.Errorf("links %q\nwant %q", urls, hrefs)
	}
	for i, tx := range texts {
		want := tx
		if normURL(tx) == normURL(hrefs[i]) && costly(hrefs[i]) {
			want = label(hrefs[i]) // the link's text was its URL
		}
		if want != "" && !strings.Contains(text, want) {
			t.Errorf("link text %q (for %s) is missing", want, hrefs[i])
		}
	}
	checkMarkers(t, text, links)
	if list := FormatLinks(links); strings.Count(list, "\n")+1 != len(links) {
		t.Errorf("FormatLinks: %d lines for %d links", strings.Count(list, "\n")+1, len(links))
	}

	plain := readFile(t, "testdata/newsletter.txt")
	short, plainLinks := ShortenURLs(plain)
	b, a = urlShare(plain), urlShare(short)
	t.Logf("text: URLs take %.1f%% of %d bytes before, %.1f%% of %d bytes after", 100*b, len(plain), 100*a, len(short))
	if b < 0.5 || a >= 0.15 {
		t.Errorf("text: URL share %.3f before, %.3f after", b, a)
	}
	checkMarkers(t, short, plainLinks)
	// Nothing but URLs changed: the words around them are the same.
	if w, g := words(plain), words(short); !reflect.DeepEqual(w, g) {
		t.Errorf("words changed:\n%q\n%q", w, g)
	}
}

// checkMarkers: every link whose URL is left out is referred to by its
// marker, and links are numbered 1, 2, 3….
func checkMarkers(t *testing.T, text string, links []Link) {
	t.Helper()
	for i, l := range links {
		if l.N != i+1 {
			t.Errorf("link %d numbered %d", i, l.N)
		}
		if costly(l.URL) && !strings.Contains(text, marker(l.N)) {
			t.Errorf("no marker for %v", l)
		}
		if !costly(l.URL) && !strings.Contains(text, l.URL) && !strings.Contains(text, strings.TrimSuffix(normURL(l.URL), "/")) {
			t.Errorf("short URL %v is not shown", l)
		}
	}
}

// words are the words of s other than URLs, markers and shortened hosts,
// without brackets.
func words(s string) []string {
	var w []string
	for _, f := range strings.Fields(urlish.ReplaceAllString(s, " ")) {
		if f = strings.Trim(f, "()<>"); f != "" {
			w = append(w, f)
		}
	}
	return w
}

// fixtureLinks reads the links of an HTML document with x/net/html, apart
// from the converter: the distinct http, https and mailto URLs in order,
// and each link's text (an image's "[alt]").
func fixtureLinks(t *testing.T, doc string) (hrefs, texts []string) {
	t.Helper()
	seen := map[string]bool{}
	z := html.NewTokenizer(strings.NewReader(doc))
	in := -1
	var text strings.Builder
	for {
		switch z.Next() {
		case html.ErrorToken:
			return hrefs, texts
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			for _, a := range tok.Attr {
				switch {
				case tok.Data == "a" && a.Key == "href" && showURL(a.Val) != "":
					u := showURL(a.Val)
					if !seen[u] {
						seen[u] = true
						hrefs = append(hrefs, u)
					}
					in = len(hrefs) - 1
					for in >= 0 && hrefs[in] != u {
						in--
					}
					text.Reset()
				case tok.Data == "img" && a.Key == "alt" && in >= 0 && a.Val != "":
					text.WriteString(" [" + a.Val + "] ")
				}
			}
		case html.TextToken:
			if in >= 0 {
				text.Write(z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "a" && in >= 0 {
				for len(texts) < len(hrefs) {
					texts = append(texts, "")
				}
				if texts[in] == "" {
					texts[in] = collapse(text.String())
				}
				in = -1
			}
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
