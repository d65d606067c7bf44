package microsofttest

import (
	"fmt"
	"html"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers/fixturetest"
)

// The mailbox: folders, messages, conversations, categories, and how
// Outlook derives a message's properties (body preview, unique body, text
// and HTML renderings of the body).

type mailbox struct {
	key        [8]byte
	owner      Account
	folders    []*folder // root first
	msgs       []*message
	nextSeq    uint64
	categories []category
	cals       []*calendar
	events     []*event
	sent       []SentMessage
	invites    []Invitation
	timeZone   string // mailboxSettings; a Windows name
	// workingHours are mailboxSettings' (nil: defaultWorkingHours).
	workingHours *WorkingHours
}

type folder struct {
	seq       uint64
	name      string // displayName
	wellKnown string // "" for a folder of the user's
	parent    *folder
}

type category struct{ name, color string }

// Recipient is an address and its display name.
type Recipient struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type bodyContent struct {
	typ     string // "html" or "text"
	content string
}

type message struct {
	seq                       uint64
	folder                    *folder
	conv                      uint64
	internetMessageID         string
	inReplyTo, references     string
	subject                   string
	body, uniqueBody          bodyContent
	from, sender              *Recipient
	to, cc, bcc, replyTo      []Recipient
	received, sent            time.Time
	created, modified         time.Time
	isRead, isDraft           bool
	importance, flag          string
	inference                 string // focused or other
	categories                []string
	headers                   []Header // internetMessageHeaders (received or sent messages)
	attachments               []*attachment
	changes                   int
	readReceipt, delivReceipt bool
}

type attachment struct {
	seq         uint64
	name        string
	contentType string
	contentID   string
	inline      bool
	data        []byte
	modified    time.Time
	// kind is "" for a fileAttachment, "item" for an itemAttachment (data:
	// the attached item's MIME content), "reference" for a
	// referenceAttachment (a link to a cloud file: no data).
	kind string
}

// The well-known folders under the root, as Outlook names them.
var wellKnownFolders = [][2]string{
	{"archive", "Archive"}, {"conversationhistory", "Conversation History"}, {"deleteditems", "Deleted Items"},
	{"drafts", "Drafts"}, {"inbox", "Inbox"}, {"junkemail", "Junk Email"}, {"outbox", "Outbox"}, {"sentitems", "Sent Items"},
}

// mailboxLocked returns a user's mailbox, creating it with Outlook's
// folders. Call with g.mu held.
func (s *Server) mailboxLocked(name string) *mailbox {
	a := s.accounts.get(name)
	key := lowerKey(a.UPN)
	mb := s.graph.mailboxes[key]
	if mb == nil {
		mb = &mailbox{key: mailboxKey(a.UPN), owner: a, timeZone: a.TimeZone}
		root := mb.addFolder("Top of Information Store", "msgfolderroot", nil)
		for _, wk := range wellKnownFolders {
			mb.addFolder(wk[1], wk[0], root)
		}
		mb.addCalendar(calendar{name: "Calendar", isDefault: true, color: "auto", canEdit: true,
			owner: Recipient{Name: a.DisplayName, Address: a.Email}})
		s.graph.mailboxes[key] = mb
	}
	return mb
}

func (mb *mailbox) next() uint64 {
	mb.nextSeq++
	return mb.nextSeq
}

func (mb *mailbox) addFolder(name, wellKnown string, parent *folder) *folder {
	f := &folder{seq: mb.next(), name: name, wellKnown: wellKnown, parent: parent}
	mb.folders = append(mb.folders, f)
	return f
}

// wellKnown returns a well-known folder.
func (mb *mailbox) wellKnown(name string) *folder {
	for _, f := range mb.folders {
		if strings.EqualFold(f.wellKnown, name) {
			return f
		}
	}
	return nil
}

// folderByPath finds a folder by well-known name, or by display names
// from the root's children ("Inbox/Receipts"), creating the user's folders
// of a path that does not exist yet when create is set.
func (mb *mailbox) folderByPath(path string, create bool) *folder {
	if f := mb.wellKnown(path); f != nil {
		return f
	}
	cur := mb.wellKnown("msgfolderroot")
	for _, name := range strings.Split(path, "/") {
		var found *folder
		for _, f := range mb.folders {
			if f.parent == cur && strings.EqualFold(f.name, name) {
				found = f
			}
		}
		if found == nil {
			if !create {
				return nil
			}
			found = mb.addFolder(name, "", cur)
		}
		cur = found
	}
	return cur
}

func (mb *mailbox) folderID(f *folder) string {
	return itemID{mailbox: mb.key, kind: kindFolder, b: f.seq}.String()
}

// findFolder resolves a folder id or well-known name; ok is false for a
// malformed id.
func (mb *mailbox) findFolder(idOrName string) (f *folder, ok bool) {
	if f := mb.wellKnown(idOrName); f != nil {
		return f, true
	}
	id, ok := parseID(idOrName)
	if !ok {
		return nil, false
	}
	if id.mailbox != mb.key || id.kind != kindFolder {
		return nil, true
	}
	for _, f := range mb.folders {
		if f.seq == id.b {
			return f, true
		}
	}
	return nil, true
}

// messageID is the id of a message as the request's preference asks.
func (mb *mailbox) messageID(m *message, immutable bool) string {
	if immutable {
		return itemID{mailbox: mb.key, kind: kindMessage, b: m.seq, immutable: true}.String()
	}
	return itemID{mailbox: mb.key, kind: kindMessage, a: m.folder.seq, b: m.seq}.String()
}

// findMessage resolves a message id, ordinary or immutable; ok is false for
// a malformed id. An ordinary id of a message that has moved since is not
// found, as in Outlook.
func (mb *mailbox) findMessage(s string) (m *message, ok bool) {
	id, ok := parseID(s)
	if !ok {
		return nil, false
	}
	if id.mailbox != mb.key || id.kind != kindMessage {
		return nil, true
	}
	for _, m := range mb.msgs {
		if m.seq == id.b && (id.immutable || m.folder.seq == id.a) {
			return m, true
		}
	}
	return nil, true
}

func (mb *mailbox) conversationID(m *message) string {
	return itemID{mailbox: mb.key, kind: kindConversation, b: m.conv}.String()
}

// Filing says where a message AddMessage adds is filed and how it is
// marked.
type Filing struct {
	// Folder is a well-known name (inbox, sentitems, junkemail,
	// deleteditems, drafts…) or a path of display names from the top
	// ("Inbox/Receipts"), created when new. Default inbox.
	Folder     string
	Read       bool
	Flagged    bool
	Importance string   // low, normal (default) or high
	Categories []string // created in the master list when new
	// Other puts the message in the Other tab of the Focused Inbox
	// (inferenceClassification other); default focused.
	Other bool
}

// AddMessage puts a received message (raw RFC 5322 bytes) in a user's
// mailbox and returns its id (ordinary, not immutable). Its dates are the
// Date header's, else the server's now. It joins the conversation of a
// message it refers to (In-Reply-To, References) with the same subject. It
// panics if raw does not parse (a test's mistake).
func (s *Server) AddMessage(email string, raw []byte, f Filing) string {
	p, err := parseMIME(raw)
	if err != nil {
		panic("microsofttest: AddMessage: " + err.Error())
	}
	date := s.Now()
	if d, err := mail.ParseDate(p.date); err == nil {
		date = d
	}
	g := s.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	mb := s.mailboxLocked(email)
	if f.Folder == "" {
		f.Folder = "inbox"
	}
	if f.Importance == "" {
		f.Importance = "normal"
	}
	m := &message{
		folder: mb.folderByPath(f.Folder, true), internetMessageID: p.messageID, inReplyTo: p.inReplyTo, references: p.references,
		subject: p.subject, body: p.body, from: p.from, sender: p.sender, to: p.to, cc: p.cc, bcc: p.bcc, replyTo: p.replyTo,
		received: date, sent: date, created: date, modified: date, isRead: f.Read, importance: f.Importance,
		flag: "notFlagged", inference: "focused", categories: slices.Clone(f.Categories), headers: p.headers,
		attachments: p.attachments,
	}
	if m.sender == nil {
		m.sender = m.from
	}
	if f.Flagged {
		m.flag = "flagged"
	}
	if f.Other {
		m.inference = "other"
	}
	for _, c := range f.Categories {
		mb.ensureCategory(c)
	}
	m.uniqueBody = uniqueBody(m.body)
	mb.store(m)
	return mb.messageID(m, false)
}

// store gives a message its number, conversation and attachment numbers,
// and keeps it. Call with g.mu held.
func (mb *mailbox) store(m *message) {
	m.seq = mb.next()
	if m.conv == 0 {
		m.conv = mb.conversationOf(m)
	}
	for _, a := range m.attachments {
		if a.seq == 0 {
			a.seq = mb.next()
		}
		if a.modified.IsZero() {
			a.modified = m.modified
		}
	}
	mb.msgs = append(mb.msgs, m)
}

// conversationOf is the conversation of a message it refers to with the
// same subject, else a new one.
func (mb *mailbox) conversationOf(m *message) uint64 {
	refs := fixturetest.MessageIDs(m.inReplyTo + " " + m.references)
	subj := fixturetest.ThreadSubject(m.subject)
	for i := len(mb.msgs) - 1; i >= 0 && len(refs) > 0; i-- {
		o := mb.msgs[i]
		if slices.Contains(refs, o.internetMessageID) && fixturetest.ThreadSubject(o.subject) == subj {
			return o.conv
		}
	}
	return mb.next()
}

func (mb *mailbox) ensureCategory(name string) {
	for _, c := range mb.categories {
		if strings.EqualFold(c.name, name) {
			return
		}
	}
	mb.categories = append(mb.categories, category{name: name, color: fmt.Sprintf("preset%d", len(mb.categories)%25)})
}

// hasAttachments is Outlook's flag: attachments that are not inline.
func (m *message) hasAttachments() bool {
	return slices.ContainsFunc(m.attachments, func(a *attachment) bool { return !a.inline })
}

// bodyAs renders a body in the type asked ("text", "html"; "" as stored
// becomes HTML, Graph's default).
func bodyAs(b bodyContent, typ string) bodyContent {
	if typ != "text" {
		typ = "html"
	}
	switch {
	case b.typ == typ:
		return b
	case typ == "text":
		return bodyContent{typ: "text", content: htmlToText(b.content)}
	default:
		return bodyContent{typ: "html", content: textToHTML(b.content)}
	}
}

// textToHTML is how Outlook serves a plain-text body as HTML.
func textToHTML(t string) string {
	esc := strings.ReplaceAll(html.EscapeString(t), "\n", "<br>\r\n")
	return "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n" +
		"<div class=\"PlainText\">" + esc + "</div>\r\n</body>\r\n</html>\r\n"
}

var (
	dropRE  = regexp.MustCompile(`(?is)<(style|script|head|title)\b.*?</(style|script|head|title)\s*>`)
	notesRE = regexp.MustCompile(`(?s)<!--.*?-->`)
	linkRE  = regexp.MustCompile(`(?is)<a\b[^>]*\bhref\s*=\s*"([^"]*)"[^>]*>(.*?)</a\s*>`)
	blockRE = regexp.MustCompile(`(?i)<(br|/p|/div|/tr|/h[1-6]|/li|/table|hr)\b[^>]*>`)
	tagsRE  = regexp.MustCompile(`<[^>]*>`)
)

// htmlToText is how Outlook serves an HTML body as text: one line per
// block, links as "text<url>", entities decoded, CRLF line ends.
func htmlToText(h string) string {
	h = notesRE.ReplaceAllString(dropRE.ReplaceAllString(h, " "), " ")
	h = linkRE.ReplaceAllString(h, "$2\x00$1\x01") // the target, out of the tags' way
	h = blockRE.ReplaceAllString(h, "\n")
	h = tagsRE.ReplaceAllString(h, " ")
	h = strings.NewReplacer("\x00", "<", "\x01", ">").Replace(html.UnescapeString(h))
	var lines []string
	for _, l := range strings.Split(h, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\r\n")
}

// bodyPreview is the first 255 characters of the body's text.
func bodyPreview(b bodyContent) string {
	t := b.content
	if b.typ == "html" {
		t = htmlToText(t)
	}
	r := []rune(strings.Join(strings.Fields(t), " "))
	return string(r[:min(len(r), 255)])
}

var quoteStartRE = regexp.MustCompile(`(?m)^(On .*wrote:|-----Original Message-----|From: .*|>.*)$`)

// uniqueBody is the part of a body that is not quoted from earlier messages
// of the conversation: what precedes an attribution line, an original
// message header or a quoted line (text), or Outlook's reply separator and
// blockquotes (HTML).
func uniqueBody(b bodyContent) bodyContent {
	if b.typ == "html" {
		c := b.content
		for _, marker := range []string{`<div id="divRplyFwdMsg"`, "<hr", "<blockquote"} {
			if i := strings.Index(c, marker); i >= 0 {
				c = c[:i]
			}
		}
		return bodyContent{typ: "html", content: c}
	}
	if loc := quoteStartRE.FindStringIndex(b.content); loc != nil {
		return bodyContent{typ: "text", content: strings.TrimRight(b.content[:loc[0]], "\n ")}
	}
	return b
}
