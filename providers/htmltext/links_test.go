package htmltext

import (
	"reflect"
	"strings"
	"testing"
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
