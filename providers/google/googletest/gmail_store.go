package googletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// Storing messages: AddMessage for tests, the mailbox's labels and
// threads, and what Gmail derives from a message (ids, attachment ids,
// snippet, searchable text).

// AddMessage puts a received message (raw RFC 5322 bytes) in a user's
// mailbox and returns its id. labels are label ids (INBOX, UNREAD,
// IMPORTANT, CATEGORY_…) or names of user labels, created when new; none
// means INBOX and UNREAD. The internal date is the Date header's, else the
// server's now. The message joins the thread of a message it refers to
// (In-Reply-To, References) with the same subject. It panics if raw does not
// parse (a test's mistake).
func (s *Server) AddMessage(email string, raw []byte, labels ...string) string {
	parsed, err := parseMessage(raw)
	if err != nil {
		panic("googletest: AddMessage: " + err.Error())
	}
	if len(labels) == 0 {
		labels = []string{"INBOX", "UNREAD"}
	}
	date := s.Now()
	if d, err := mail.ParseDate(parsed.header("Date")); err == nil {
		date = d
	}
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	mb := a.mailboxLocked(email)
	ids := make([]string, 0, len(labels))
	for _, l := range labels {
		ids = append(ids, mb.ensureLabel(l))
	}
	return a.addLocked(mb, parsed, date, ids, mb.threadFor(parsed)).id
}

// ensureLabel returns the id of a system label, user label id or name,
// creating a user label for a new name. Call with a.mu held.
func (mb *mailbox) ensureLabel(l string) string {
	if slices.Contains(systemLabels, l) {
		return l
	}
	for _, ul := range mb.labels {
		if ul.id == l || strings.EqualFold(ul.name, l) {
			return ul.id
		}
	}
	ul := &userLabel{id: fmt.Sprintf("Label_%d", len(mb.labels)+1), name: l}
	mb.labels = append(mb.labels, ul)
	return ul.id
}

// SentMessages returns the raw RFC 5322 bytes of every message the user
// sent through the API, as the client sent them (before Gmail added Date or
// Message-ID or fixed From), oldest first.
func (s *Server) SentMessages(email string) [][]byte {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	mb := s.api.mail[strings.ToLower(email)]
	if mb == nil {
		return nil
	}
	out := make([][]byte, len(mb.sent))
	for i, b := range mb.sent {
		out[i] = slices.Clone(b)
	}
	return out
}

// threadFor returns the thread a message belongs in: that of a message it
// refers to whose subject matches, else "" (a new thread).
func (mb *mailbox) threadFor(p *parsedMsg) string {
	refs := fixturetest.MessageIDs(p.header("In-Reply-To") + " " + p.header("References"))
	if len(refs) == 0 {
		return ""
	}
	subj := fixturetest.ThreadSubject(p.header("Subject"))
	for i := len(mb.order) - 1; i >= 0; i-- {
		m := mb.order[i]
		if slices.Contains(refs, m.messageID) && fixturetest.ThreadSubject(m.subject) == subj {
			return m.threadID
		}
	}
	return ""
}

// addLocked stores a parsed message. Call with a.mu held.
func (a *apiState) addLocked(mb *mailbox, p *parsedMsg, date time.Time, labels []string, thread string) *mailMsg {
	a.seq++
	id := fmt.Sprintf("%016x", uint64(date.UnixMilli())<<20|a.seq&0xfffff)
	for mb.msgs[id] != nil {
		a.seq++
		id = fmt.Sprintf("%016x", uint64(date.UnixMilli())<<20|a.seq&0xfffff)
	}
	if thread == "" {
		thread = id
	}
	mb.history += 7
	m := &mailMsg{
		id: id, threadID: thread, labels: slices.Compact(slices.Clone(labels)), raw: p.raw, date: date, history: mb.history,
		root: p.root, messageID: strings.TrimSpace(p.header("Message-ID")), subject: p.header("Subject"),
		from: strings.ToLower(p.header("From")), to: strings.ToLower(p.allHeaders("To")),
		cc: strings.ToLower(p.allHeaders("Cc")), bcc: strings.ToLower(p.allHeaders("Bcc")),
		attachments: map[string]*mimePart{},
	}
	var text strings.Builder
	text.WriteString(m.subject + "\n" + p.header("From") + "\n" + p.allHeaders("To") + "\n" + p.allHeaders("Cc") + "\n")
	var firstPlain, firstHTML string
	var walk func(*mimePart)
	walk = func(pt *mimePart) {
		if pt.parts != nil {
			for _, c := range pt.parts {
				walk(c)
			}
			return
		}
		if pt.filename != "" || pt.disposition == "attachment" || pt.mimeType == "message/rfc822" {
			sum := sha256.Sum256([]byte("attachment " + id + " " + pt.partID))
			long := bytes.Repeat(sum[:], 4)
			pt.attID = "ANGjdJ" + base64.RawURLEncoding.EncodeToString(long)
			m.attachments[pt.attID] = pt
			text.WriteString(pt.filename + "\n")
			return
		}
		switch pt.mimeType {
		case "text/plain":
			t := toUTF8(pt.body, pt.params["charset"])
			if firstPlain == "" {
				firstPlain = t
			}
			text.WriteString(t + "\n")
		case "text/html":
			t := htmlToText(toUTF8(pt.body, pt.params["charset"]))
			if firstHTML == "" {
				firstHTML = t
			}
			text.WriteString(t + "\n")
		}
	}
	// Attachment ids depend on the message id: give this message its own
	// copy of the part tree.
	m.root = clonePart(p.root)
	walk(m.root)
	snippet := firstPlain
	if strings.TrimSpace(snippet) == "" {
		snippet = firstHTML
	}
	m.snippet = makeSnippet(snippet)
	m.text = strings.ToLower(text.String())
	m.words = wordSet(m.text)
	mb.msgs[id] = m
	mb.order = append(mb.order, m)
	return m
}

func clonePart(p *mimePart) *mimePart {
	c := *p
	c.parts = nil
	for _, ch := range p.parts {
		c.parts = append(c.parts, clonePart(ch))
	}
	if p.parts != nil && c.parts == nil {
		c.parts = []*mimePart{}
	}
	return &c
}

// makeSnippet is Gmail's snippet: the start of the text, whitespace
// collapsed, HTML-escaped (Gmail's snippets carry &#39; and &quot;).
func makeSnippet(t string) string {
	t = strings.Join(strings.Fields(t), " ")
	if utf8.RuneCountInString(t) > 200 {
		r := []rune(t)[:200]
		t = string(r)
		if i := strings.LastIndexByte(t, ' '); i > 150 {
			t = t[:i]
		}
	}
	return snippetEscaper.Replace(t)
}

var snippetEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

var (
	styleRE   = regexp.MustCompile(`(?is)<(style|script|head|title)\b.*?</(style|script|head|title)\s*>`)
	commentRE = regexp.MustCompile(`(?s)<!--.*?-->`)
	tagRE     = regexp.MustCompile(`<[^>]*>`)
	blockRE   = regexp.MustCompile(`(?i)<(br|/p|/div|/tr|/h[1-6]|/li|/table|hr)\b[^>]*>`)
)

func htmlToText(h string) string {
	h = commentRE.ReplaceAllString(styleRE.ReplaceAllString(h, " "), " ")
	h = blockRE.ReplaceAllString(h, "\n")
	h = tagRE.ReplaceAllString(h, " ")
	h = html.UnescapeString(h)
	var lines []string
	for _, l := range strings.Split(h, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func wordSet(t string) map[string]bool {
	ws := map[string]bool{}
	for _, w := range strings.FieldsFunc(t, notWordRune) {
		ws[w] = true
	}
	return ws
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
