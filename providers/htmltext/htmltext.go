// Package htmltext turns HTML mail bodies into readable plain text for a
// language model, and keeps URLs from crowding out the text: long and
// tracking URLs give way to numbered markers ("Read more [3]"), and the
// full list goes to the caller (ConvertLinks; ShortenURLs for plain-text
// bodies; FormatLinks to show the list).
//
// Convert works on golang.org/x/net/html's tokenizer, which copes with any
// input, however broken, in one linear pass. It only reads the string it is
// given: nothing is ever fetched (no images, no stylesheets, no links).
package htmltext

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// maxBlankLines is the most consecutive blank lines Convert writes.
const maxBlankLines = 2

// Convert renders an HTML document or fragment as plain text:
//   - <script>, <style>, <head>, <title>, <template>, <noscript>, <iframe>,
//     <svg>, <math>, comments, and elements with the hidden attribute or an
//     inline style that hides them (display:none, visibility:hidden,
//     opacity:0, a zero height with overflow:hidden) are dropped, so that
//     text a reader of the mail cannot see does not reach the model
//     (stylesheet rules and tricks like white-on-white are not detected);
//   - block elements (p, div, headings, blockquote, pre, lists, table rows,
//     br, hr) break lines; paragraphs, headings, tables and top-level lists
//     are set off by a blank line; blockquotes are prefixed with "> ";
//   - list items start with "- " (numbered "1. " in <ol>), nested lists
//     are indented; table cells on one row are separated by " | ";
//   - a link renders as "text (url)" when its url is http, https or mailto
//     and differs from its text, and as "text [n]" when the url costs more
//     than it tells (see ConvertLinks); other urls (javascript:, data:,
//     relative) are never shown; images render as "[alt]" when they have
//     alt text, never their src;
//   - entities are decoded, whitespace is collapsed (kept in <pre>),
//     invisible characters and control characters are dropped, at most two
//     blank lines follow each other and the result is trimmed.
//
// The output is valid UTF-8 (invalid input bytes become U+FFFD).
//
// Convert is ConvertLinks without the list of links.
func Convert(s string) string {
	text, _ := convert(s)
	return text
}

// ConvertLinks is Convert, and returns the links of s too, so that the
// text can leave out the URLs that cost more than they tell:
//   - every link with an http, https or mailto URL is numbered, from 1 in
//     order of appearance (links to the same URL share a number), and
//     listed in links, whether its URL is shown or not;
//   - a URL that tracks (utm_* and similar parameters, a click-tracking
//     redirector, an opaque token such as base64 in its path or query, a
//     URL passed as a parameter) or is longer than 60 bytes is left out,
//     and the marker "[n]" follows the link's text instead: "Read more [3]";
//   - when the text of such a link is the URL itself, or it has no text
//     (an image without alt text), its host stands in: "example.com/… [4]";
//   - URLs in text outside links are shortened as ShortenURLs does;
//   - other URLs are shown in full: "text (url)", or the URL alone when
//     the link has no text or its text is the URL; a mailto URL is always
//     shown unless it is long and carries header fields (?subject=…).
//
// The link text is always kept. FormatLinks renders links for a reader
// who wants the URLs.
func ConvertLinks(s string) (text string, links []Link) {
	text, r := convert(s)
	return text, r.links
}

func convert(s string) (string, *refs) {
	c := converter{counts: make(map[string]int)}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF, or a read error of the strings.Reader that cannot
			// happen: either way the input is done.
			c.popTo(0)
			c.w.flushLine()
			return strings.TrimSpace(c.w.out.String()), &c.refs
		case html.TextToken:
			if c.skipping() {
				continue
			}
			c.text(string(z.Text()))
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			var attrs map[string]string
			if hasAttr {
				attrs = readAttrs(z)
			}
			// "<div/>" opens a div: the self-closing flag means nothing on
			// HTML elements that are not void (and browsers ignore it).
			c.start(tag, attrs)
		case html.EndTagToken:
			name, _ := z.TagName()
			c.end(string(name))
		}
		// Comments and doctypes are dropped.
	}
}

// readAttrs reads the attributes Convert looks at.
func readAttrs(z *html.Tokenizer) map[string]string {
	var attrs map[string]string
	for {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "href", "alt", "hidden", "style", "start", "type":
			if attrs == nil {
				attrs = make(map[string]string, 2)
			}
			if _, dup := attrs[string(k)]; !dup { // the first one counts, as in browsers
				attrs[string(k)] = string(v)
			}
		}
		if !more {
			return attrs
		}
	}
}

// Element classes.
var (
	voidElements = set("area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link",
		"meta", "param", "source", "track", "wbr", "basefont", "bgsound", "frame", "image")
	// dropped with their content
	skipElements = set("script", "style", "head", "title", "template", "noscript", "iframe", "noembed",
		"noframes", "svg", "math", "object", "applet", "canvas", "select", "datalist", "map")
	// set off by blank lines
	paragraphElements = set("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "xmp",
		"listing", "plaintext", "table", "dl", "figure", "address", "fieldset")
	// on lines of their own
	blockElements = set("div", "section", "article", "header", "footer", "nav", "aside", "main", "center",
		"figcaption", "form", "legend", "details", "summary", "dialog", "dt", "dd", "caption", "tr",
		"li", "ul", "ol", "dir", "menu", "hgroup", "search", "body", "html", "option", "frameset", "tbody",
		"thead", "tfoot", "textarea")
	preElements = set("pre", "xmp", "listing", "plaintext", "textarea")
	// whose start closes an open <p> (HTML's "close a p element")
	closesP = set("address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
		"dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
		"header", "hgroup", "hr", "listing", "main", "menu", "nav", "ol", "p", "pre", "search", "section",
		"summary", "table", "ul", "xmp", "plaintext")
	// that stop the search for an element to close implicitly
	scopeElements = set("html", "body", "table", "td", "th", "caption", "template", "button", "object",
		"applet", "marquee", "blockquote", "div")
	// and, for some, the elements that contain them
	stopLi     = set("ul", "ol", "dir", "menu")
	stopDl     = set("dl")
	stopTr     = set("table", "tbody", "thead", "tfoot")
	stopTd     = set("tr", "table")
	stopOption = set("select", "datalist")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// element is an open element.
type element struct {
	tag string
}

type list struct {
	ordered bool
	n       int
}

type link struct {
	href  string   // shown url, or "" when not shown
	n     int      // its number in refs, when shown
	start position // where its text starts in the output
	text  int      // where its text starts in converter.linkText
}

// maxLinkText is the length of link text that Convert reads: a link with
// more is not a bare URL. maxLinkLabelText is what it reads of longer text.
const (
	maxLinkText      = 4096
	maxLinkLabelText = 1024
)

type converter struct {
	w          writer
	stack      []element
	counts     map[string]int // open elements by tag, to ignore stray end tags in O(1)
	skipAt     int            // when > 0: dropping content until the stack is shorter than this
	lists      []list
	links      []*link         // open links, innermost last
	linkText   strings.Builder // the text of the open links, from the outermost's start
	shownLinks int             // open links with a shown url
	refs       refs            // numbered links
	pre        int
	quote      int
	rowCells   int
}

func (c *converter) skipping() bool { return c.skipAt > 0 }

func (c *converter) start(tag string, attrs map[string]string) {
	c.w.preStart = false
	if tag == "body" && c.counts["head"] > 0 {
		c.popTag("head")
	}
	if closesP[tag] && c.counts["p"] > 0 {
		c.closeInScope("p", nil)
	}
	switch tag {
	case "li":
		c.closeInScope("li", stopLi)
	case "dt", "dd":
		c.closeInScope("dt", stopDl)
		c.closeInScope("dd", stopDl)
	case "tr":
		c.closeInScope("tr", stopTr)
	case "td", "th":
		c.closeInScope("td", stopTd)
		c.closeInScope("th", stopTd)
	case "option":
		c.closeInScope("option", stopOption)
	case "a":
		c.closeInScope("a", nil)
	}

	hidden := skipElements[tag] || isHidden(attrs)
	void := voidElements[tag]
	if !void {
		c.stack = append(c.stack, element{tag: tag})
		c.counts[tag]++
		if hidden && !c.skipping() {
			c.skipAt = len(c.stack)
		}
	}
	if c.skipping() || hidden {
		return
	}
	c.open(tag, attrs)
	if void {
		c.close(tag)
	}
}

// closeInScope closes the innermost open tag, unless an element of stop or
// a scope boundary comes first. The search is bounded: implied end tags
// are a nicety, and the bound keeps broken input linear.
func (c *converter) closeInScope(tag string, stop map[string]bool) {
	if c.counts[tag] == 0 {
		return
	}
	for i, n := len(c.stack)-1, 0; i >= 0 && n < 64; i, n = i-1, n+1 {
		t := c.stack[i].tag
		if t == tag {
			c.popTo(i)
			return
		}
		if stop[t] || scopeElements[t] {
			return
		}
	}
}

func (c *converter) end(tag string) {
	c.w.preStart = false
	switch {
	case tag == "br":
		// </br> is a <br> in browsers.
		c.start("br", nil)
		return
	case tag == "p" && c.counts["p"] == 0:
		// </p> without <p> is an empty paragraph in browsers.
		if !c.skipping() {
			c.w.paragraph()
		}
		return
	}
	c.popTag(tag)
}

// popTag closes the innermost open element tag and everything opened
// after it. Stray end tags are ignored. Each element is pushed and popped
// once, so this is linear overall.
func (c *converter) popTag(tag string) {
	if c.counts[tag] == 0 {
		return
	}
	for i := len(c.stack) - 1; i >= 0; i-- {
		if c.stack[i].tag == tag {
			c.popTo(i)
			return
		}
	}
}

// popTo closes the elements at stack[i:], innermost first.
func (c *converter) popTo(i int) {
	for len(c.stack) > i {
		e := c.stack[len(c.stack)-1]
		c.stack = c.stack[:len(c.stack)-1]
		c.counts[e.tag]--
		if c.skipping() {
			if len(c.stack) < c.skipAt {
				c.skipAt = 0 // the dropped element itself: no close action
			}
			continue
		}
		c.close(e.tag)
	}
}

func isHidden(attrs map[string]string) bool {
	if attrs == nil {
		return false
	}
	if _, ok := attrs["hidden"]; ok {
		return true
	}
	if st, ok := attrs["style"]; ok {
		st = strings.ToLower(st)
		st = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, st)
		zeroHeight, overflowHidden := false, false
		for _, decl := range strings.Split(st, ";") {
			prop, val, _ := strings.Cut(strings.TrimSuffix(decl, "!important"), ":")
			switch {
			case prop == "display" && val == "none",
				prop == "visibility" && (val == "hidden" || val == "collapse"),
				prop == "opacity" && isZero(val):
				return true
			case (prop == "max-height" || prop == "height") && isZero(val):
				zeroHeight = true
			case prop == "overflow" && val == "hidden":
				overflowHidden = true
			}
		}
		if zeroHeight && overflowHidden {
			return true
		}
	}
	if attrs["type"] == "hidden" {
		return true
	}
	return false
}

// isZero reports a CSS length or number that is zero: "0", "0px", "0.0em".
func isZero(v string) bool {
	v = strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz%")
	if v == "" {
		return false
	}
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && f == 0
}

// open performs the start of a shown element.
func (c *converter) open(tag string, attrs map[string]string) {
	w := &c.w
	switch {
	case tag == "br":
		w.hardBreak()
		return
	case tag == "hr":
		w.paragraph()
		w.word("---")
		w.paragraph()
		return
	case tag == "img" || tag == "image" || tag == "area" || tag == "input" && attrs["type"] == "image":
		if alt := collapse(attrs["alt"]); alt != "" {
			c.inline("[" + alt + "]")
		}
		return
	case tag == "ul" || tag == "ol" || tag == "dir" || tag == "menu":
		if len(c.lists) == 0 {
			w.paragraph()
		} else {
			w.flushLine()
		}
		l := list{ordered: tag == "ol", n: 1}
		if v, err := strconv.Atoi(strings.TrimSpace(attrs["start"])); err == nil && v > -1e6 && v < 1e6 {
			l.n = v
		}
		c.lists = append(c.lists, l)
		c.setIndent()
		return
	case tag == "li":
		w.flushLine()
		marker := "- "
		if n := len(c.lists); n > 0 && c.lists[n-1].ordered {
			marker = strconv.Itoa(c.lists[n-1].n) + ". "
			c.lists[n-1].n++
		}
		w.bullet = marker
		return
	case tag == "blockquote":
		w.paragraph()
		c.quote++
		c.setIndent()
		return
	case tag == "tr":
		w.flushLine()
		c.rowCells = 0
		return
	case tag == "td" || tag == "th":
		if c.rowCells > 0 {
			w.sep = true
		}
		c.rowCells++
		return
	case tag == "a":
		l := &link{href: showURL(attrs["href"]), start: w.position(), text: c.linkText.Len()}
		if l.href != "" {
			l.n = c.refs.add(l.href)
			c.shownLinks++
		}
		c.links = append(c.links, l)
		return
	}
	if preElements[tag] {
		w.paragraph()
		c.pre++
		w.pre = c.pre > 0
		w.preStart = true
		return
	}
	if paragraphElements[tag] {
		w.paragraph()
	} else if blockElements[tag] {
		w.flushLine()
	}
}

// close performs the end of a shown element.
func (c *converter) close(tag string) {
	w := &c.w
	switch tag {
	case "ul", "ol", "dir", "menu":
		w.flushLine()
		if len(c.lists) > 0 {
			c.lists = c.lists[:len(c.lists)-1]
		}
		c.setIndent()
		if len(c.lists) == 0 {
			w.paragraph()
		}
		return
	case "li":
		w.flushLine()
		w.bullet = ""
		return
	case "blockquote":
		w.paragraph()
		if c.quote > 0 {
			c.quote--
		}
		c.setIndent()
		w.paragraph()
		return
	case "td", "th":
		w.space = true
		return
	case "a":
		if n := len(c.links); n > 0 {
			l := c.links[n-1]
			c.links = c.links[:n-1]
			c.endLink(l)
			if n == 1 {
				c.linkText.Reset()
			}
		}
		return
	}
	if preElements[tag] {
		w.paragraph()
		if c.pre > 0 {
			c.pre--
		}
		w.pre = c.pre > 0
		return
	}
	if paragraphElements[tag] {
		w.paragraph()
	} else if blockElements[tag] {
		w.flushLine()
	}
}

// maxIndent bounds the levels of quote and list indentation shown, so that
// deeply nested input cannot make the output quadratic.
const maxIndent = 8

func (c *converter) setIndent() {
	c.w.quotePrefix = strings.Repeat("> ", min(c.quote, maxIndent))
	c.w.depth = min(len(c.lists), maxIndent)
}

// inline writes s as a word of its own.
func (c *converter) inline(s string) {
	c.addLinkText(" " + s + " ")
	c.w.space = true
	c.w.word(s)
	c.w.space = true
}

func (c *converter) text(s string) {
	c.addLinkText(s)
	if c.shownLinks == 0 { // link text is kept as it is
		s = c.refs.shorten(s)
	}
	c.w.text(s)
}

// collapse collapses whitespace and drops invisible characters.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case invisible(r) || r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// invisible reports format characters that newsletters use as padding and
// that carry nothing for a reader (zero-width space and non-joiner, soft
// hyphen, word joiner, BOM, combining grapheme joiner).
func invisible(r rune) bool {
	switch r {
	case 0x00ad, 0x034f, 0x180e, 0x200b, 0x200c, 0x2060, 0xfeff:
		return true
	}
	return false
}
