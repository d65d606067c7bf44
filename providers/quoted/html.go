package quoted

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/mailcal/mailcal/providers/htmltext"
)

// HTML removes the quoted history of the earlier messages from an HTML
// body and turns what is left into text (htmltext.ConvertLinks): first the
// quotes clients mark (Gmail's gmail_quote, <blockquote type="cite"> with
// its attribution, Outlook's appendonsend and divRplyFwdMsg with what
// follows them, Yahoo's yahoo_quoted), each only when all its text is in
// the earlier messages; then, on the text, what Text removes (quotes no
// client marked: Outlook desktop's header blocks, plain <blockquote>s). It
// says how many characters of text it removed.
func HTML(src string, earlier *Corpus) (string, []htmltext.Link, int) {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		text, links := htmltext.ConvertLinks(src)
		t, n := Text(text, earlier)
		return t, links, n
	}
	removed := 0
	changed := false
	for _, nodes := range candidates(doc) {
		if nodes[0].Parent == nil {
			continue // inside a quote removed before
		}
		text := htmltext.Convert(render(nodes))
		if !hasWords(strings.Split(text, "\n")) || !allContained(strings.Split(text, "\n"), earlier) {
			continue
		}
		// A quote between two parts of an inline answer leaves a marker.
		if nodes[0].DataAtom == atom.Blockquote || nodes[len(nodes)-1].DataAtom == atom.Blockquote {
			if textBefore(nodes[0]) && textAfter(nodes[len(nodes)-1]) {
				marker := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
				marker.AppendChild(&html.Node{Type: html.TextNode, Data: Marker})
				nodes[0].Parent.InsertBefore(marker, nodes[0])
			}
		}
		for _, n := range nodes {
			if n.Parent != nil {
				n.Parent.RemoveChild(n)
			}
		}
		removed += utf8.RuneCountInString(text)
		changed = true
	}
	if changed {
		var b bytes.Buffer
		if err := html.Render(&b, doc); err == nil {
			src = b.String()
		}
	}
	text, links := htmltext.ConvertLinks(src)
	t, n := Text(text, earlier)
	return t, links, removed + n
}

// candidates are the quotes clients mark, outermost first, in document
// order: each a list of sibling nodes to remove together.
func candidates(doc *html.Node) [][]*html.Node {
	var out [][]*html.Node
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		if depth > 512 {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			if q := quoteAt(c); q != nil {
				out = append(out, q)
				continue
			}
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	return out
}

// quoteAt returns the nodes of a quote that starts at n, or nil.
func quoteAt(n *html.Node) []*html.Node {
	id, class := attr(n, "id"), " "+attr(n, "class")+" "
	switch {
	case id == "appendonsend":
		// Outlook: everything after this marker is the quoted message.
		return withFollowing(n)
	case id == "divRplyFwdMsg" || strings.HasPrefix(id, "x_divRplyFwdMsg"):
		nodes := withFollowing(n)
		if p := prevElement(n); p != nil && p.DataAtom == atom.Hr {
			nodes = append([]*html.Node{p}, nodes...)
		}
		return nodes
	case strings.Contains(class, " gmail_quote ") || strings.Contains(class, " gmail_quote_container ") || strings.Contains(class, " yahoo_quoted "):
		return []*html.Node{n}
	case n.DataAtom == atom.Blockquote && strings.EqualFold(attr(n, "type"), "cite"):
		nodes := []*html.Node{n}
		// Thunderbird's moz-cite-prefix or Apple Mail's attribution
		// just above.
		if p := prevElement(n); p != nil {
			t := strings.TrimSpace(htmltext.Convert(render([]*html.Node{p})))
			if strings.Contains(" "+attr(p, "class")+" ", " moz-cite-prefix ") || attribution.MatchString(t) {
				nodes = append([]*html.Node{p}, nodes...)
			}
		}
		return nodes
	}
	return nil
}

// textAfter and textBefore report whether the document has visible text
// after (before) n.
func textAfter(n *html.Node) bool {
	for c := n; c != nil; c = c.Parent {
		for s := c.NextSibling; s != nil; s = s.NextSibling {
			if hasText(s, 0) {
				return true
			}
		}
	}
	return false
}

func textBefore(n *html.Node) bool {
	for c := n; c != nil; c = c.Parent {
		for s := c.PrevSibling; s != nil; s = s.PrevSibling {
			if hasText(s, 0) {
				return true
			}
		}
	}
	return false
}

func hasText(n *html.Node, depth int) bool {
	switch {
	case depth > 512:
		return false
	case n.Type == html.TextNode:
		return strings.TrimSpace(n.Data) != ""
	case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style || n.DataAtom == atom.Head || n.DataAtom == atom.Title):
		return false
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if hasText(c, depth+1) {
			return true
		}
	}
	return false
}

// withFollowing is n and its following siblings.
func withFollowing(n *html.Node) []*html.Node {
	var out []*html.Node
	for c := n; c != nil; c = c.NextSibling {
		out = append(out, c)
	}
	return out
}

// prevElement is the element before n among its siblings, skipping
// whitespace; nil when there is none or text comes between.
func prevElement(n *html.Node) *html.Node {
	for p := n.PrevSibling; p != nil; p = p.PrevSibling {
		switch p.Type {
		case html.ElementNode:
			return p
		case html.TextNode:
			if strings.TrimSpace(p.Data) != "" {
				return nil
			}
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key && a.Namespace == "" {
			return a.Val
		}
	}
	return ""
}

func render(nodes []*html.Node) string {
	var b bytes.Buffer
	for _, n := range nodes {
		_ = html.Render(&b, n)
	}
	return b.String()
}
