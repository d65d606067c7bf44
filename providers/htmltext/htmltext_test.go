package htmltext

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func check(t *testing.T, name, in, want string) {
	t.Helper()
	if got := Convert(in); got != want {
		t.Errorf("%s:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

const newsletter = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<title>Weekly Digest</title>
<style type="text/css">
  body { margin: 0; } .preheader { display: none !important; }
</style>
<!--[if mso]><style>td { font-family: Arial; }</style><![endif]-->
</head>
<body style="margin:0;padding:0">
<div class="preheader" style="display:none; max-height:0; overflow:hidden">Your week in review&nbsp;&zwnj;&nbsp;&zwnj;&nbsp;&zwnj;</div>
<table width="100%" cellpadding="0" cellspacing="0" border="0" role="presentation">
  <tr>
    <td align="center">
      <table width="600" role="presentation">
        <tr><td><a href="https://news.example.com/?utm_source=mail"><img src="https://cdn.example.com/logo.png" alt="Example News" width="120"></a></td></tr>
        <tr><td>
          <h1>This week&rsquo;s top stories</h1>
          <p>Hi Sam,</p>
          <p>Here are the   stories
             you missed &mdash; curated for you.</p>
          <h2>1. Go 1.26 released</h2>
          <p>The release brings <strong>faster builds</strong> and <em>new</em> APIs.
             <a href="https://go.dev/blog/go1.26">Read more&nbsp;&rarr;</a></p>
          <table role="presentation"><tr>
            <td style="background:#06c;border-radius:4px"><a href="https://news.example.com/c/abc123" style="color:#fff">View in browser</a></td>
          </tr></table>
        </td></tr>
        <tr><td>
          <a href="https://twitter.com/example"><img src="https://cdn.example.com/tw.png" alt="Twitter"></a>
          <a href="https://facebook.com/example"><img src="https://cdn.example.com/fb.png" alt="Facebook"></a>
        </td></tr>
        <tr><td style="font-size:12px;color:#999">
          &copy; 2024 Example&nbsp;Inc., 1 Main St.<br>
          <a href="https://news.example.com/unsubscribe?u=42">Unsubscribe</a> |
          <a href="mailto:support@example.com">support@example.com</a>
        </td></tr>
      </table>
    </td>
  </tr>
</table>
<img src="https://t.example.com/open.gif?u=42" width="1" height="1" alt="" style="display:block">
<script>document.write("tracking")</script>
</body>
</html>`

func TestNewsletter(t *testing.T) {
	got := Convert(newsletter)
	want := `[Example News] [1]

This week’s top stories

Hi Sam,

Here are the stories you missed — curated for you.

1. Go 1.26 released

The release brings faster builds and new APIs. Read more → (https://go.dev/blog/go1.26)

View in browser (https://news.example.com/c/abc123)

[Twitter] (https://twitter.com/example) [Facebook] (https://facebook.com/example)
© 2024 Example Inc., 1 Main St.
Unsubscribe (https://news.example.com/unsubscribe?u=42) | support@example.com`
	if got != want {
		t.Errorf("newsletter:\n--- got ---\n%s\n--- want ---\n%s", got, want)
	}
	for _, bad := range []string{"Weekly Digest", "margin", "tracking", "preheader", "week in review", "cdn.example.com", "open.gif", "mso"} {
		if strings.Contains(got, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
}

func TestGmailReply(t *testing.T) {
	in := `<div dir="ltr">Thanks, see you then!<div><br></div><div>Sam</div></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Mar 4, 2024 at 9:00 AM Ann Lee &lt;<a href="mailto:ann@example.com">ann@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Lunch at noon?<br>Ann</div></blockquote></div>`
	check(t, "gmail reply", in, "Thanks, see you then!\n\nSam\n\nOn Mon, Mar 4, 2024 at 9:00 AM Ann Lee <ann@example.com> wrote:\n\n> Lunch at noon?\n> Ann")
}

func TestLists(t *testing.T) {
	check(t, "nested", `<ul><li>one</li><li>two<ul><li>two.a</li><li>two.b<ol><li>deep</li></ol></li></ul></li><li>three</li></ul>after`,
		"- one\n- two\n  - two.a\n  - two.b\n    1. deep\n- three\n\nafter")
	check(t, "unclosed items", `<ul><li>a<li>b<li>c</ul>`, "- a\n- b\n- c")
	check(t, "ordered with start", `<ol start="7"><li>x<li>y</ol>`, "7. x\n8. y")
	check(t, "item with paragraphs", `<ul><li><p>first para</p><p>second para</p></li><li>next</li></ul>`,
		"- first para\n\n  second para\n\n- next")
	check(t, "text around", `before<ul><li>a</li></ul>after`, "before\n\n- a\n\nafter")
	check(t, "empty item", `<ul><li></li><li>b</li></ul>`, "- b")
	check(t, "definition list", `<dl><dt>Term</dt><dd>Meaning</dd><dt>T2<dd>M2</dl>`, "Term\nMeaning\nT2\nM2")
}

func TestTables(t *testing.T) {
	check(t, "data table", `<table><thead><tr><th>Item</th><th>Qty</th><th>Price</th></tr></thead>
		<tbody><tr><td>Widget</td><td>2</td><td>$10.00</td></tr><tr><td>Gadget</td><td></td><td>$5.00</td></tr></tbody></table>`,
		"Item | Qty | Price\nWidget | 2 | $10.00\nGadget | $5.00")
	check(t, "layout table with blocks", `<table><tr><td><p>Left column</p></td><td><p>Right column</p></td></tr></table>`,
		"Left column\n\nRight column")
	check(t, "unclosed cells and rows", `<table><tr><td>a<td>b<tr><td>c<td>d</table>x`, "a | b\nc | d\n\nx")
	check(t, "nested tables", `<table><tr><td><table><tr><td>in1</td></tr><tr><td>in2</td></tr></table></td><td>out</td></tr></table>`,
		"in1\nin2\n\nout")
}

func TestLinksAndImages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<a href="https://example.com/a">Docs</a>`, "Docs (https://example.com/a)"},
		{`<a href="https://example.com/">https://example.com</a>`, "https://example.com"},
		{`<a href="http://www.example.com">example.com</a>`, "example.com"},
		{`<a href="mailto:bob@example.com">bob@example.com</a>`, "bob@example.com"},
		{`<a href="mailto:bob@example.com">Bob</a>`, "Bob (mailto:bob@example.com)"},
		{`<a href="javascript:alert(1)">Click</a>`, "Click"},
		{`<a href="  JavaScript:alert(1)">Click</a>`, "Click"},
		{`<a href="data:text/html;base64,PHNjcmlwdD4=">Open</a>`, "Open"},
		{`<a href="/relative/path">Rel</a>`, "Rel"},
		{`<a href="#top">Top</a>`, "Top"},
		{`<a href="https://x.example/a b">sp</a>`, "sp (https://x.example/a%20b)"},
		{"<a href=\"https://x.example/\n  long\">nl</a>", "nl (https://x.example/%20%20long)"},
		{`<a href="HTTPS://X.EXAMPLE/Q">q</a>`, "q (HTTPS://X.EXAMPLE/Q)"},
		{`<a href="https://example.com/x"></a>`, "https://example.com/x"},
		{`<a href="https://example.com/x"><img src="https://img/x.png"></a>`, "https://example.com/x"},
		{`<a href="https://example.com/x"><img src="https://img/x.png" alt="Buy now"></a>`, "[Buy now] (https://example.com/x)"},
		{`<a href="https://a.example">one<a href="https://b.example">two</a>`, "one (https://a.example) two (https://b.example)"},
		{`<a href="https://a.example">unclosed`, "unclosed (https://a.example)"},
		{`<a>no href</a>`, "no href"},
		{`<img src="https://track.example/p.gif">`, ""},
		{`<img src="https://img.example/x.png" alt="  A   chart  ">`, "[A chart]"},
		{`x<img alt="a">y`, "x [a] y"},
		{`<a href="https://e.example" hidden>hidden link</a>shown`, "shown"},
		{`<p>See <a href="https://e.example/p">the page</a>.</p>`, "See the page (https://e.example/p)."},
	} {
		check(t, tc.in, tc.in, tc.want)
	}
}

func TestHiddenAndDropped(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a<script>var x = "</p>hidden";</script>b`, "ab"},
		{`a<SCRIPT type="text/javascript">alert("x")</SCRIPT>b`, "ab"},
		{`a<script>if (a < b) { document.write("<div>x</div>") }</script>b`, "ab"},
		{`a<style>p { color: red }</style>b`, "ab"},
		{`<head><title>T</title><meta charset="utf-8"></head><body>body</body>`, "body"},
		{`<head><title>T</title><body>no head end</body>`, "no head end"},
		{`a<!-- comment <p>x</p> -->b`, "ab"},
		{`a<!--[if mso]><p>outlook only</p><![endif]-->b`, "ab"},
		{`a<template><p>tpl</p></template>b`, "ab"},
		{`a<noscript>enable js</noscript>b`, "ab"},
		{`a<iframe src="https://evil.example">frame</iframe>b`, "ab"},
		{`a<svg><text>svg text</text><path d="M0"/></svg>b`, "ab"},
		{`<div hidden>h</div>shown`, "shown"},
		{`<div hidden="hidden"><p>h<div>deeper</div></p></div>shown`, "shown"},
		{`<span style="display:none">h</span>shown`, "shown"},
		{`<span style="DISPLAY : NONE !important">h</span>shown`, "shown"},
		{`<span style="visibility:hidden">h</span>shown`, "shown"},
		{`<span style="display:block">s</span>`, "s"},
		{`<div style="opacity: 0">h</div>shown`, "shown"},
		{`<div style="opacity:0.5">half</div>`, "half"},
		{`<div style="max-height:0px;overflow:hidden;mso-hide:all">preheader</div>shown`, "shown"},
		{`<div style="max-height:0px">no overflow rule</div>`, "no overflow rule"},
		{`<div style="height: 0; overflow: hidden">h</div>shown`, "shown"},
		{`<div style="font-size:0"><span style="font-size:14px">inline-block gap trick</span></div>`, "inline-block gap trick"},
		{`<p hidden="until-found">h</p>shown`, "shown"},
		{`<td><div style="display:none">unclosed hidden</td><td>next cell</td>`, "next cell"},
		{`<ul><li hidden>h<li>shown</ul>`, "- shown"},
		{`<input type="hidden" value="v">x`, "x"},
		{`<div hidden><div hidden>a</div>still hidden</div>shown`, "shown"},
	} {
		check(t, tc.in, tc.in, tc.want)
	}
}

func TestEntitiesAndWhitespace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`&lt;tag&gt; &amp; &quot;q&quot; &#39;s&#39;`, `<tag> & "q" 's'`},
		{`&copy; &eacute; &#x1F600; &#128512; &hellip;`, "© é 😀 😀 …"},
		{`AT&T &amp R&D`, "AT&T & R&D"},
		{`&bogus; &notin; &not &#0; &#xD800;`, "&bogus; ∉ ¬ \uFFFD \uFFFD"},
		{`a&nbsp;&nbsp;&nbsp;b`, "a b"},
		{"  lots \t of\n\n  space  ", "lots of space"},
		{`a&zwnj;&#8203;b&shy;c&#xFEFF;`, "abc"},
		{"ctrl\x01\x1b[31mchars\x7f", "ctrl[31mchars"},
		{"\u0085C1 controls\u009b", "C1 controls"},
		{`<p>para one</p><p>para two</p>`, "para one\n\npara two"},
		{`line<br>break<br/>again<BR>`, "line\nbreak\nagain"},
		{`a<br><br><br><br><br><br>b`, "a\n\n\nb"},
		{`<p></p><p></p><p>x</p><p></p><div></div><p>y</p>`, "x\n\ny"},
		{"<pre>\n  indented\n\tcode  \n\n\n\n\nend</pre>after", "indented\n\tcode\n\n\nend\n\nafter"},
		{"<pre>a &lt; b</pre>", "a < b"},
		{`<h1>Title</h1><h2>Sub</h2>text`, "Title\n\nSub\n\ntext"},
		{`<blockquote>quoted <b>bold</b><blockquote>deeper</blockquote>back</blockquote>out`,
			"> quoted bold\n>\n> > deeper\n>\n> back\n\nout"},
		{`a<hr>b`, "a\n\n---\n\nb"},
		{`<span>a</span><span>b</span> <span>c</span>`, "ab c"},
		{`<div>a</div><div>b</div>`, "a\nb"},
		{"<textarea>t &amp; x</textarea>", "t & x"},
		{"", ""},
		{"   ", ""},
		{"plain text, no markup", "plain text, no markup"},
	} {
		check(t, tc.in, tc.in, tc.want)
	}
}

func TestBrokenHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<p>unclosed <b>bold <i>italic`, "unclosed bold italic"},
		{`</div></p></li>stray ends</td></table>`, "stray ends"},
		{`<p>a<p>b<p>c`, "a\n\nb\n\nc"},
		{`<div><p>in div</div>after`, "in div\n\nafter"},
		{`<a href="https://x.example" <b>weird</b>`, "weird (https://x.example)"},
		{`<p class="unterminated>text</p>more`, ""},
		{`<div <div>>x</div>`, ">x"},
		{`a <!-- unterminated comment`, "a"},
		{`a <script>unterminated script`, "a"},
		{`<<<>>>`, "<<<>>>"},
		{`a < b > c`, "a < b > c"},
		{`<table><tr><td>cell<p>para in cell</td></tr></table>`, "cell\n\npara in cell"},
		{"\xff\xfe<p>bad \xc3 utf8</p>", "\uFFFD\uFFFD\n\nbad \uFFFD utf8"},
		{`<ul><li>one<ul><li>nested unclosed</ul>`, "- one\n  - nested unclosed"},
		{`<body><head><title>late head</title></head>text`, "text"},
		{`<b/>self<div/>closed<span/>`, "self\nclosed"},
		{`a<script/>alert("x")</script>b`, "ab"},
		{`a<script/><p>x</p></script>b`, "ab"},
		{`a<div hidden/>hidden</div>b`, "ab"},
		{`<a href="https://e.example/"/>text`, "text (https://e.example/)"},
	} {
		check(t, tc.in, tc.in, tc.want)
	}
}

func TestOutputShape(t *testing.T) {
	for _, in := range []string{newsletter, `<p>a</p><br><br><br><br><p>b</p>`, "<pre>\n\n\n\n\nx</pre>"} {
		out := Convert(in)
		if strings.Contains(out, "\n\n\n\n") {
			t.Errorf("more than two blank lines: %q", out)
		}
		if out != strings.TrimSpace(out) {
			t.Errorf("not trimmed: %q", out)
		}
		for _, l := range strings.Split(out, "\n") {
			if l != strings.TrimRight(l, " \t") {
				t.Errorf("trailing space: %q", l)
			}
		}
	}
}

// TestLargeInputs converts pathological inputs of 256 KB and 1 MB (a
// quarter of that under the race detector), plain-text ones through
// ShortenURLs, and checks that the work grows
// linearly, measured in memory allocated rather than in time (which a
// loaded machine makes noisy): 4 times the input may allocate up to 8 times
// the bytes and objects (growing buffers double, so linear work lands
// anywhere from 2 to 8 times; quadratic work would be 16). The output must
// stay proportionate too.
func TestLargeInputs(t *testing.T) {
	const bareLink = `<a href="https://e.example/?utm_a=%[1]d">e.example/?utm_a=%[1]d</a>`
	gens := map[string]func(n int) string{
		"newsletter":      func(n int) string { return strings.Repeat(newsletter, n/len(newsletter)+1) },
		"deep nesting":    func(n int) string { return strings.Repeat("<div><span>", n/11) + "x" },
		"unclosed inline": func(n int) string { return "<table><tr><td>" + strings.Repeat("<b>", n/3) + "</td></tr>" },
		"stray end tags":  func(n int) string { return "<div>" + strings.Repeat("</p></li></td>", n/14) },
		"nested lists":    func(n int) string { return strings.Repeat("<ul><li>x", n/9) },
		"nested quotes":   func(n int) string { return strings.Repeat("<blockquote>x", n/13) },
		"many links":      func(n int) string { return strings.Repeat(`<a href="https://e.example/x">t`, n/31) },
		"nested links":    func(n int) string { return strings.Repeat(`<div><a href="https://e.example/x">t`, n/36) },
		"long word":       func(n int) string { return strings.Repeat("x", n) },
		"big attribute":   func(n int) string { return `<a href="https://e.example/` + strings.Repeat("y", n) + `">t</a>` },
		"entities":        func(n int) string { return strings.Repeat("&amp;&nbsp;&#x1F600;", n/21) },
		"hidden deep":     func(n int) string { return `<div hidden>` + strings.Repeat("<div>", n/5) + "</div>shown" },
		"li in inline":    func(n int) string { return "<ul>" + strings.Repeat("<li><b><i><u>x", n/14) },
		"cells":           func(n int) string { return "<table><tr>" + strings.Repeat("<td>c", n/5) },
		"brs":             func(n int) string { return strings.Repeat("<br>", n/4) + "x" },
		"tracking links":  func(n int) string { return numbered(n, `<a href="https://e.example/?utm_a=%d">t</a>`) },
		"bare links":      func(n int) string { return numbered(n, bareLink) },
		"image links":     func(n int) string { return numbered(n, `<a href="https://e.example/?utm_a=%d"><img src=x></a>`) },
		"text urls":       func(n int) string { return numbered(n, "(https://e.example/?utm_a=%d) ") },
		"text urls, one":  func(n int) string { return strings.Repeat("see https://e.example/?utm_a=1 ", n/32) },
		"url of parens":   func(n int) string { return "https://e.example/?utm_a=1" + strings.Repeat(")", n) },
		"almost urls":     func(n int) string { return strings.Repeat("http:/https:/", n/13) },
	}
	// ShortenURLs, on plain text, the same way.
	plain := map[string]func(n int) string{
		"plain text urls": func(n int) string { return numbered(n, "Read more ( https://e.example/?utm_a=%d )\n") },
		"plain short":     func(n int) string { return numbered(n, "https://e.example/%d ") },
		"plain parens":    func(n int) string { return "x (https://e.example/?utm_a=1" + strings.Repeat(")", n) },
		"plain spaces":    func(n int) string { return "x" + strings.Repeat(" ", n) + "(https://e.example/?utm_a=1)" },
	}
	for name, gen := range plain {
		gens[name] = gen
	}
	size := 1 << 20
	if raceEnabled {
		size = 256 << 10
	}
	for name, gen := range gens {
		small, large := gen(size/4), gen(size)
		var out string
		run := Convert
		if plain[name] != nil {
			run = func(s string) string { short, _ := ShortenURLs(s); return short }
		}
		bs, ns := allocated(func() { run(small) })
		bl, nl := allocated(func() { out = run(large) })
		t.Logf("%s: %d KB: %d KB in %d allocations; %d KB: %d KB in %d allocations (x%.1f, x%.1f)",
			name, len(small)>>10, bs>>10, ns, len(large)>>10, bl>>10, nl, float64(bl)/float64(bs), float64(nl)/float64(max(ns, 1)))
		if bl > 8*bs+64<<10 || nl > 8*ns+1000 {
			t.Errorf("%s: not linear: %d KB of input allocate %d bytes in %d objects, %d KB allocate %d bytes in %d objects",
				name, len(small)>>10, bs, ns, len(large)>>10, bl, nl)
		}
		if len(out) > 4*len(large) || !utf8.ValidString(out) {
			t.Errorf("%s: %d bytes of output for %d of input, valid UTF-8: %v", name, len(out), len(large), utf8.ValidString(out))
		}
	}
}

// numbered repeats format, with %d numbering the copies, to about n bytes.
func numbered(n int, format string) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// allocated returns the bytes and the number of objects that f allocates.
func allocated(f func()) (bytes, objects uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
}

func BenchmarkConvertNewsletter1MB(b *testing.B) {
	in := strings.Repeat(newsletter, (1<<20)/len(newsletter)+1)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		Convert(in)
	}
}
