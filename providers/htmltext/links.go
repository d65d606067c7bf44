package htmltext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Link is a link of a body, as listed by ConvertLinks and ShortenURLs.
type Link struct {
	// N is the link's number, from 1 in order of first appearance; the
	// text refers to the link by the marker "[N]" when it leaves the URL
	// out. Links to the same URL share one number.
	N int `json:"n"`
	// Text is the link's text, whitespace collapsed ("[alt]" for an image);
	// "" when the link had none or its text was the URL itself.
	Text string `json:"text,omitempty"`
	// URL is the full URL: http, https or mailto.
	URL string `json:"url"`
}

// FormatLinks renders links one per line as "[N] URL", for a caller that
// asks for the URLs the text leaves out.
func FormatLinks(links []Link) string {
	var b strings.Builder
	for i, l := range links {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(marker(l.N))
		b.WriteByte(' ')
		b.WriteString(l.URL)
	}
	return b.String()
}

// ShortenURLs shortens the URLs of a plain-text body for a language model.
// Every http and https URL is numbered and listed, in order of first
// appearance, one number per distinct URL. Those that cost more than they
// tell, being longer than 60 bytes or tracking (utm_* and similar
// parameters, a click-tracking redirector, an opaque token such as base64,
// a URL passed as a parameter), are replaced by their host and a marker,
// "example.com/… [2]"; or, when the URL is in brackets after text on its
// line ("Read more ( https://… )", "Read more <https://…>"), the brackets
// and the URL are replaced by the marker alone: "Read more [2]". Short URLs
// stay as they are. A URL ends where a reader would end it: trailing
// punctuation and closing brackets it did not open are not part of it.
// Nothing else in s changes, except that each byte of invalid UTF-8
// becomes U+FFFD.
//
// ConvertLinks does the same for HTML bodies, numbering links the same way,
// so that a caller handles both alike.
func ShortenURLs(s string) (string, []Link) {
	if !utf8.ValidString(s) {
		s = strings.Map(func(r rune) rune { return r }, s)
	}
	var r refs
	out := r.shorten(s)
	return out, r.links
}

// endLink writes the end of a link: its "(url)" or "[n]" (see ConvertLinks).
func (c *converter) endLink(l *link) {
	if l.href == "" {
		return
	}
	c.shownLinks--
	raw := c.linkText.String()[l.text:]
	long := len(raw) > maxLinkText
	var text string
	if long {
		// Not a bare URL; its text is for reading, and not empty unless
		// all of it is white space.
		if text = collapse(prefix(raw, maxLinkLabelText)); text == "" {
			text = collapse(prefix(raw, maxLinkText))
		}
	} else {
		text = collapse(raw)
	}
	bare := !long && normURL(text) == normURL(l.href)
	if !bare {
		c.refs.setText(l.n, text)
	}
	switch {
	case !costly(l.href):
		if text == "" {
			c.inline(l.href)
		} else if !bare {
			c.afterText("(" + l.href + ")")
		}
	case text == "":
		short := label(l.href)
		c.addLinkText(" " + short + " ")
		c.w.space = true
		c.w.word(short)
		c.afterText(c.refs.mark(l.n))
	case bare:
		// The host replaces the URL, unless the URL spans lines (a block
		// inside the link): then it stays, followed by the marker.
		c.w.replaceSince(l.start, label(l.href))
		c.afterText(c.refs.mark(l.n))
	default:
		c.afterText(c.refs.mark(l.n))
	}
}

// afterText writes s, a link's "(url)" or "[n]", after its text.
func (c *converter) afterText(s string) {
	c.w.space = true
	c.w.word(s)
	c.w.afterURL = true
}

// addLinkText adds s to the text of the open links. They share one
// buffer, each from its start, so that nested links cost no more than one;
// once the innermost has more than maxLinkText, all have and s is dropped.
func (c *converter) addLinkText(s string) {
	if n := len(c.links); n > 0 && c.linkText.Len()-c.links[n-1].text <= maxLinkText {
		c.linkText.WriteString(s)
	}
}

// maxInlineURL is the length up to which a URL without tracking is shown.
const maxInlineURL = 60

// maxLinkLabel bounds the host shown for a shortened URL, and maxListText
// the text kept in a Link.
const (
	maxLinkLabel = 48
	maxListText  = 200
)

// refs numbers the links of one body.
type refs struct {
	links  []Link
	byURL  map[string]int // URL to N
	marked int            // the highest number written as a marker, for tests
}

// add numbers url, or finds its number.
func (r *refs) add(url string) int {
	if r.byURL == nil {
		r.byURL = make(map[string]int)
	}
	n, ok := r.byURL[url]
	if !ok {
		n = len(r.links) + 1
		r.byURL[url] = n
		r.links = append(r.links, Link{N: n, URL: url})
	}
	return n
}

// setText records the text of link n, unless it has one.
func (r *refs) setText(n int, text string) {
	if l := &r.links[n-1]; l.Text == "" && text != "" {
		l.Text = cut(text, maxListText)
	}
}

// mark returns the marker of link n.
func (r *refs) mark(n int) string {
	r.marked = max(r.marked, n)
	return marker(n)
}

func marker(n int) string { return "[" + strconv.Itoa(n) + "]" }

// shorten rewrites the URLs of plain text s (see ShortenURLs).
func (r *refs) shorten(s string) string {
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		start, end := nextURL(s, i)
		if start < 0 {
			break
		}
		i = end
		u := s[start:end]
		n := r.add(u)
		if !costly(u) {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		if from, to, ok := bracketed(s, start, end); ok && from >= done {
			b.WriteString(s[done:from])
			b.WriteByte(' ')
			b.WriteString(r.mark(n))
			done = to
			continue
		}
		b.WriteString(s[done:start])
		b.WriteString(label(u))
		b.WriteByte(' ')
		b.WriteString(r.mark(n))
		done = end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// nextURL finds the next http or https URL in s at or after i and returns
// its bounds, or -1, -1.
func nextURL(s string, i int) (int, int) {
	for i < len(s) {
		j := strings.IndexAny(s[i:], "hH")
		if j < 0 {
			return -1, -1
		}
		start := i + j
		i = start + 1
		var scheme int
		switch {
		case hasPrefixFold(s[start:], "https://"):
			scheme = len("https://")
		case hasPrefixFold(s[start:], "http://"):
			scheme = len("http://")
		default:
			continue
		}
		end := urlEnd(s, start, start+scheme)
		if end > start+scheme && !strings.ContainsRune("/?#", rune(s[start+scheme])) {
			return start, end
		}
		i = start + scheme
	}
	return -1, -1
}

// urlEnd returns where the URL that starts at start ends, reading from i:
// at a space, a control character, a quote or angle bracket, a character
// other than a letter, digit or mark outside ASCII, or invalid UTF-8; then
// without trailing punctuation or closing brackets that were not opened in
// the URL.
func urlEnd(s string, start, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f || strings.IndexByte(`<>"`+"`", c) >= 0 {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || invisible(r) || !unicode.In(r, unicode.L, unicode.N, unicode.M) {
			break
		}
		i += size
	}
	u := s[start:i]
	parens, brackets := strings.Count(u, "(")-strings.Count(u, ")"), strings.Count(u, "[")-strings.Count(u, "]")
	for i > start {
		switch last := s[i-1]; {
		case strings.IndexByte(".,;:!?'*", last) >= 0:
		case last == ')' && parens < 0:
			parens++
		case last == ']' && brackets < 0:
			brackets++
		default:
			return i
		}
		i--
	}
	return i
}

// bracketed reports a URL at s[start:end] that is alone in brackets, "(u)",
// "( u )", "<u>" or "[u]", after text on its line, and returns the bounds
// of the brackets and of the spaces before them.
func bracketed(s string, start, end int) (from, to int, ok bool) {
	from, to = start, end
	if from > 0 && s[from-1] == ' ' && to < len(s) && s[to] == ' ' {
		from, to = from-1, to+1
	}
	if from == 0 || to == len(s) {
		return 0, 0, false
	}
	open, close := s[from-1], s[to]
	if !(open == '(' && close == ')' || open == '<' && close == '>' || open == '[' && close == ']') {
		return 0, 0, false
	}
	from, to = from-1, to+1
	for from > 0 && (s[from-1] == ' ' || s[from-1] == '\t') {
		from--
	}
	if from == 0 || s[from-1] == '\n' || s[from-1] == '\r' {
		return 0, 0, false
	}
	return from, to, true
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is lower
// case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// costly reports a URL that costs more than it tells: a mailto URL longer
// than maxInlineURL with header fields (an address alone is always shown),
// or an http or https URL that is longer than maxInlineURL or tracks.
func costly(u string) bool {
	if hasPrefixFold(u, "mailto:") {
		return len(u) > maxInlineURL && strings.Contains(u, "?")
	}
	return len(u) > maxInlineURL || tracking(u)
}

// Query parameters that track the reader rather than name a page.
var trackingParams = set("fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
	"mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking", "mkt_tok",
	"vero_id", "vero_conv", "oly_enc_id", "oly_anon_id", "ck_subscriber_id", "rb_clickid", "s_cid",
	"_ga", "_gl", "elqtrackid", "elqtrack", "mbid", "trk", "trkcampaign", "sc_channel", "sc_campaign",
	"ss_source", "ss_campaign_id", "ml_subscriber", "ml_subscriber_hash", "wickedid", "ref_src", "_kx",
	"spmailingid", "spuserid", "spjobid", "spreportid", "lctg", "ncid")

// Hosts of click-tracking redirectors: by their first label (with at
// least two more) or by their domain.
var (
	trackingLabels  = set("click", "clicks", "track", "tracking", "trk", "links", "link", "email", "redirect", "r", "t", "l", "ct")
	trackingDomains = []string{"list-manage.com", "sendgrid.net", "mandrillapp.com", "hubspotlinks.com", "rs6.net",
		"awstrack.me", "mjt.lu", "exct.net", "sparkpostmail.com", "createsend1.com", "cmail19.com", "cmail20.com",
		"doubleclick.net", "mailchi.mp", "substack.com/redirect"}
)

// tracking reports an http or https URL that goes through a click-tracking
// redirector, carries tracking parameters (utm_* and the like) or a URL as
// a parameter, or has an opaque token in its path, query or fragment.
func tracking(u string) bool {
	i := strings.Index(u, "://")
	if i < 0 {
		return false
	}
	rest := u[i+3:]
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	host := strings.ToLower(rest[:hostEnd])
	if labels := strings.Split(host, "."); len(labels) >= 3 && trackingLabels[labels[0]] {
		return true
	}
	hostPath := strings.ToLower(rest)
	for _, d := range trackingDomains {
		if i := strings.Index(hostPath, d); i >= 0 && (i == 0 || hostPath[i-1] == '.') && i < hostEnd {
			return true
		}
	}
	rest = rest[hostEnd:]
	rest, frag, _ := strings.Cut(rest, "#")
	path, query, _ := strings.Cut(rest, "?")
	for _, seg := range strings.Split(path, "/") {
		if opaque(seg) {
			return true
		}
	}
	for _, p := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(p, "=")
		k = strings.ToLower(k)
		if strings.HasPrefix(k, "utm_") || trackingParams[k] || opaque(v) ||
			hasPrefixFold(v, "http%3a") || hasPrefixFold(v, "https%3a") || hasPrefixFold(v, "http:") || hasPrefixFold(v, "https:") {
			return true
		}
	}
	return opaque(frag)
}

// opaque reports a token that reads as an encoded id rather than words: at
// least 16 characters of base64, hex or percent-encoding, with letters and
// digits mixed so that character classes (lower, upper, digit) change at
// least once per 4 characters. Slugs ("postgres-17-what-changed") change
// class only at their separators, which do not count.
func opaque(t string) bool {
	if len(t) < 16 {
		return false
	}
	letters, digits, changes := 0, 0, 0
	prev := 0 // class of the previous character: 0 none, 1 lower, 2 upper, 3 digit
	for i := 0; i < len(t); i++ {
		c := t[i]
		class := 0
		switch {
		case 'a' <= c && c <= 'z':
			class, letters = 1, letters+1
		case 'A' <= c && c <= 'Z':
			class, letters = 2, letters+1
		case '0' <= c && c <= '9':
			class, digits = 3, digits+1
		case strings.IndexByte("-_.=+~%", c) >= 0:
		default:
			return false
		}
		if class != 0 && prev != 0 && class != prev {
			changes++
		}
		prev = class
	}
	return letters > 0 && digits > 0 && changes*4 >= len(t)
}

// label is the short form of a URL: its host (without "www.") and "/…"
// when the URL goes on, or a mailto URL's address.
func label(u string) string {
	if hasPrefixFold(u, "mailto:") {
		addr, _, _ := strings.Cut(u[len("mailto:"):], "?")
		return cut(addr, maxLinkLabel)
	}
	rest := u
	if i := strings.Index(u, "://"); i >= 0 {
		rest = u[i+3:]
	}
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	host := rest[:hostEnd]
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:] // no user and password
	}
	host = strings.ToLower(host)
	if len(host) > len("www.") {
		host = strings.TrimPrefix(host, "www.")
	}
	if host == "" {
		host = "link"
	}
	host = cut(host, maxLinkLabel)
	if tail := rest[hostEnd:]; tail != "" && tail != "/" && !strings.HasSuffix(host, "…") {
		host += "/…"
	}
	return host
}

// cut shortens s to at most n bytes and an ellipsis, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return prefix(s, n) + "…"
}

// prefix is s cut to at most n bytes on a rune boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// showURL returns href when it is an http, https or mailto URL, cleaned
// for display, else "".
func showURL(href string) string {
	// Browsers strip surrounding whitespace and drop tabs and newlines.
	href = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, strings.TrimSpace(href))
	scheme := ""
	for _, p := range []string{"http://", "https://", "mailto:"} {
		if hasPrefixFold(href, p) {
			scheme = p
		}
	}
	if scheme == "" || !utf8.ValidString(href) {
		return ""
	}
	var b strings.Builder
	for _, r := range href {
		switch {
		case r == ' ':
			b.WriteString("%20")
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || unicode.IsSpace(r) || invisible(r):
			// dropped: nothing a reader could see
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == len(scheme) {
		return "" // nothing after the scheme
	}
	return b.String()
}

// normURL is a URL or link text reduced for comparison: "https://Example.com/"
// and "example.com" are the same, and so are "mailto:a@b.c" and "a@b.c".
func normURL(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"mailto:", "https://", "http://", "www."} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.TrimSuffix(s, "/")
}
