package microsofttest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reading mail: /me, mail folders, messages (list, get, $select, $expand,
// the body in the type asked), attachments, categories, mailbox settings.

// The delegated permissions of each kind of method (the methods' pages).
var (
	permUser         = []string{"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All"}
	permMailRead     = []string{"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}
	permMailFullRead = []string{"Mail.Read", "Mail.ReadWrite"}
	permMailWrite    = []string{"Mail.ReadWrite"}
	permMailSend     = []string{"Mail.Send"}
	permSettings     = []string{"MailboxSettings.Read", "MailboxSettings.ReadWrite"}
	permCalRead      = []string{"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"}
	permCalWrite     = []string{"Calendars.ReadWrite"}
)

func (s *Server) mailRoutes() {
	s.addRoute("GET", "", permUser, s.getMe)
	s.addRoute("GET", "mailboxSettings", permSettings, s.getMailboxSettings)
	s.addRoute("GET", "outlook/masterCategories", permSettings, s.listCategories)
	s.addRoute("GET", "mailFolders", permMailRead, s.listFolders)
	s.addRoute("GET", "mailFolders/{folder}", permMailRead, s.getFolder)
	s.addRoute("GET", "mailFolders/{folder}/childFolders", permMailRead, s.listChildFolders)
	s.addRoute("GET", "mailFolders/{folder}/messages", permMailRead, s.listMessages)
	s.addRoute("GET", "messages", permMailRead, s.listMessages)
	s.addRoute("GET", "messages/{id}", permMailRead, s.getMessage)
	s.addRoute("GET", "mailFolders/{folder}/messages/{id}", permMailRead, s.getMessage)
	s.addRoute("GET", "messages/{id}/attachments", permMailFullRead, s.listAttachments)
	s.addRoute("GET", "messages/{id}/attachments/{att}", permMailFullRead, s.getAttachment)
	s.addRoute("GET", "messages/{id}/attachments/{att}/$value", permMailFullRead, s.getAttachmentValue)
	s.mailWriteRoutes()
}

// basicOnly: the token reads mail with Mail.ReadBasic alone, which gives
// no body, preview or attachments.
func (c *call) basicOnly() bool {
	return !slices.ContainsFunc(permMailFullRead, func(p string) bool { return slices.Contains(c.perms, p) })
}

var messageSchema = &schema{
	typeName: "microsoft.graph.message",
	fields: map[string]fieldKind{
		"id": fString, "subject": fString, "isRead": fBool, "isDraft": fBool, "hasAttachments": fBool,
		"importance": fEnum, "inferenceClassification": fEnum, "flag/flagStatus": fEnum,
		"receivedDateTime": fDate, "sentDateTime": fDate, "createdDateTime": fDate, "lastModifiedDateTime": fDate,
		"from/emailAddress/address": fString, "from/emailAddress/name": fString,
		"sender/emailAddress/address": fString, "sender/emailAddress/name": fString,
		"conversationId": fString, "parentFolderId": fString, "internetMessageId": fString,
		"isReadReceiptRequested": fBool, "isDeliveryReceiptRequested": fBool,
		"categories": fStrings, "toRecipients": fRecipients, "ccRecipients": fRecipients, "bccRecipients": fRecipients, "replyTo": fRecipients,
		"body": fUnsupported, "body/content": fUnsupported, "body/contentType": fUnsupported, "uniqueBody": fUnsupported,
		"bodyPreview": fUnsupported, "internetMessageHeaders": fUnsupported, "webLink": fUnsupported, "changeKey": fUnsupported,
		"conversationIndex": fUnsupported, "flag": fUnsupported, "from": fUnsupported, "sender": fUnsupported,
	},
	sortable: []string{"receivedDateTime", "sentDateTime", "createdDateTime", "lastModifiedDateTime", "subject", "importance",
		"isRead", "isDraft", "hasAttachments", "inferenceClassification", "flag/flagStatus",
		"from/emailAddress/address", "from/emailAddress/name", "sender/emailAddress/address", "sender/emailAddress/name"},
	selectable: []string{"id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime", "sentDateTime",
		"hasAttachments", "internetMessageId", "subject", "bodyPreview", "importance", "parentFolderId", "conversationId",
		"conversationIndex", "isDeliveryReceiptRequested", "isReadReceiptRequested", "isRead", "isDraft", "webLink",
		"inferenceClassification", "body", "uniqueBody", "sender", "from", "toRecipients", "ccRecipients", "bccRecipients",
		"replyTo", "flag", "internetMessageHeaders", "attachments"},
}

// onlySelected are the message properties Graph returns only when $select
// names them.
var onlySelected = []string{"uniqueBody", "internetMessageHeaders"}

// msgEntity is a message as $filter sees it.
type msgEntity struct {
	mb *mailbox
	m  *message
}

func (e msgEntity) field(path string) any {
	m := e.m
	addr := func(r *Recipient, part string) any {
		if r == nil {
			return nil
		}
		if part == "name" {
			return r.Name
		}
		return r.Address
	}
	switch path {
	case "id":
		return e.mb.messageID(m, false)
	case "subject":
		return m.subject
	case "isRead":
		return m.isRead
	case "isDraft":
		return m.isDraft
	case "hasAttachments":
		return m.hasAttachments()
	case "importance":
		return m.importance
	case "inferenceClassification":
		return m.inference
	case "flag/flagStatus":
		return m.flag
	case "receivedDateTime":
		return m.received
	case "sentDateTime":
		return m.sent
	case "createdDateTime":
		return m.created
	case "lastModifiedDateTime":
		return m.modified
	case "from/emailAddress/address":
		return addr(m.from, "address")
	case "from/emailAddress/name":
		return addr(m.from, "name")
	case "sender/emailAddress/address":
		return addr(m.sender, "address")
	case "sender/emailAddress/name":
		return addr(m.sender, "name")
	case "conversationId":
		return e.mb.conversationID(m)
	case "parentFolderId":
		return e.mb.folderID(m.folder)
	case "internetMessageId":
		return m.internetMessageID
	case "isReadReceiptRequested":
		return m.readReceipt
	case "isDeliveryReceiptRequested":
		return m.delivReceipt
	case "categories":
		return m.categories
	case "toRecipients":
		return m.to
	case "ccRecipients":
		return m.cc
	case "bccRecipients":
		return m.bcc
	case "replyTo":
		return m.replyTo
	}
	return nil
}

var folderSchema = &schema{
	typeName: "microsoft.graph.mailFolder",
	fields:   map[string]fieldKind{"displayName": fString, "id": fString, "parentFolderId": fString},
	sortable: []string{"displayName"},
	selectable: []string{"id", "displayName", "parentFolderId", "childFolderCount", "unreadItemCount", "totalItemCount",
		"sizeInBytes", "isHidden"},
}

type folderEntity struct {
	mb *mailbox
	f  *folder
}

func (e folderEntity) field(path string) any {
	switch path {
	case "displayName":
		return e.f.name
	case "id":
		return e.mb.folderID(e.f)
	case "parentFolderId":
		return e.mb.folderID(e.f.parent)
	}
	return nil
}

func (s *Server) listFolders(c *call) {
	s.listFoldersUnder(c, "msgfolderroot", "mailFolders")
}

func (s *Server) listChildFolders(c *call) {
	s.listFoldersUnder(c, c.params["folder"], "mailFolders('"+c.params["folder"]+"')/childFolders")
}

// expandedChildFolders is how many child folders an expanded childFolders
// holds: Graph gives the first page of an expanded collection, 10 items,
// and no link to the rest (childFolderCount says how many there are), as
// users report (e.g. github.com/Softeria/ms-365-mcp-server issue 212).
const expandedChildFolders = 10

func (s *Server) listFoldersUnder(c *call, parent, context string) {
	lq, ok := c.parseListQuery(folderSchema, 1000, []string{"childFolders"})
	if !ok {
		return
	}
	var childSel []string
	expandChildren := slices.Contains(lq.expand, "childFolders")
	if expandChildren {
		var err *queryError
		if childSel, err = parseSelect(nestedSelect(get(c.r.URL.Query(), "$expand"), "childFolders"), folderSchema); err != nil {
			c.queryFail(err)
			return
		}
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	p, ok := mb.findFolder(parent)
	switch {
	case !ok:
		c.badID()
		return
	case p == nil:
		c.notFound()
		return
	}
	var items []any
	for _, f := range mb.sortedFolders() {
		if f.parent == p && (lq.filter == nil || lq.filter.eval(folderEntity{mb, f})) {
			item := project(mb.renderFolder(f), lq.selected, nil)
			if expandChildren {
				children := []any{}
				for _, ch := range mb.sortedFolders() {
					if ch.parent == f && len(children) < expandedChildFolders {
						children = append(children, project(mb.renderFolder(ch), childSel, nil))
					}
				}
				item["childFolders"] = children
			}
			items = append(items, item)
		}
	}
	c.ok(http.StatusOK, c.page(lq, c.context(context+selectSuffix(lq.selected)), items))
}

// sortedFolders are the folders by display name, as Graph lists them.
func (mb *mailbox) sortedFolders() []*folder {
	fs := slices.Clone(mb.folders)
	slices.SortStableFunc(fs, func(a, b *folder) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	return fs
}

func (s *Server) getFolder(c *call) {
	sel, err := parseSelect(get(c.r.URL.Query(), "$select"), folderSchema)
	if err != nil {
		c.queryFail(err)
		return
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	f, ok := mb.findFolder(c.params["folder"])
	switch {
	case !ok:
		c.badID()
	case f == nil:
		c.notFound()
	default:
		out := project(mb.renderFolder(f), sel, nil)
		out["@odata.context"] = c.context("mailFolders" + selectSuffix(sel) + "/$entity")
		c.ok(http.StatusOK, out)
	}
}

func (mb *mailbox) renderFolder(f *folder) map[string]any {
	children, total, unread, size := 0, 0, 0, 0
	for _, o := range mb.folders {
		if o.parent == f {
			children++
		}
	}
	for _, m := range mb.msgs {
		if m.folder == f {
			total++
			size += len(m.body.content)
			if !m.isRead {
				unread++
			}
		}
	}
	out := map[string]any{"id": mb.folderID(f), "displayName": f.name, "childFolderCount": children,
		"unreadItemCount": unread, "totalItemCount": total, "sizeInBytes": size, "isHidden": false}
	if f.parent != nil {
		out["parentFolderId"] = mb.folderID(f.parent)
	}
	return out
}

func (s *Server) listMessages(c *call) {
	lq, ok := c.parseListQuery(messageSchema, 1000, []string{"attachments"})
	if !ok {
		return
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	mb := s.mailboxLocked(c.user.UPN)
	context := "messages"
	var in *folder
	if name, has := c.params["folder"]; has {
		f, ok := mb.findFolder(name)
		switch {
		case !ok:
			c.badID()
			return
		case f == nil:
			c.notFound()
			return
		}
		in, context = f, "mailFolders('"+name+"')/messages"
	}
	var found []*message
	for _, m := range mb.msgs {
		if (in == nil || m.folder == in) && (lq.filter == nil || lq.filter.eval(msgEntity{mb, m})) &&
			(lq.search == nil || lq.search.root(m)) {
			found = append(found, m)
		}
	}
	sortMessages(found, lq)
	if lq.search != nil && len(found) > maxSearchResults {
		found = found[:maxSearchResults]
	}
	// Render only the page: the rest is counted.
	start := min(lq.skip, len(found))
	end := min(start+lq.top, len(found))
	items := make([]any, len(found))
	for i, m := range found {
		if i >= start && i < end {
			items[i] = c.renderMessage(mb, m, lq.selected, slices.Contains(lq.expand, "attachments"))
		}
	}
	c.ok(http.StatusOK, c.page(lq, c.context(context+selectSuffix(lq.selected)), items))
}

// sortMessages orders a result: a search by date sent, newest first;
// otherwise by $orderby, by default the date received, newest first.
func sortMessages(ms []*message, lq *listQuery) {
	keys := lq.orderby
	switch {
	case lq.search != nil:
		keys = []orderKey{{path: "sentDateTime", desc: true}}
	case keys == nil:
		keys = []orderKey{{path: "receivedDateTime", desc: true}}
	}
	slices.SortStableFunc(ms, func(a, b *message) int {
		for _, k := range keys {
			// The sortable properties need no mailbox.
			c := compareValues(msgEntity{nil, a}.field(k.path), msgEntity{nil, b}.field(k.path))
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return -compareValues(a.seq, b.seq)
	})
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		y, _ := b.(time.Time)
		return x.Compare(y)
	case uint64:
		y, _ := b.(uint64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case nil:
		if b == nil {
			return 0
		}
		return -1
	}
	return 0
}

func (s *Server) getMessage(c *call) {
	q := c.r.URL.Query()
	sel, err := parseSelect(get(q, "$select"), messageSchema)
	if err != nil {
		c.queryFail(err)
		return
	}
	expand, err := parseExpand(get(q, "$expand"), messageSchema, []string{"attachments"})
	if err != nil {
		c.queryFail(err)
		return
	}
	mb, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	out := c.renderMessage(mb, m, sel, slices.Contains(expand, "attachments"))
	out["@odata.context"] = c.context("messages" + selectSuffix(sel) + "/$entity")
	c.ok(http.StatusOK, out)
}

// lockMessage takes the fake's lock and finds the {id} message of the
// caller's mailbox. When there is none it has answered 400 or 404, released
// the lock and returns a nil message; otherwise the caller calls unlock.
func (s *Server) lockMessage(c *call) (mb *mailbox, m *message, unlock func()) {
	s.graph.mu.Lock()
	mb = s.mailboxLocked(c.user.UPN)
	if m = c.message(mb); m == nil {
		s.graph.mu.Unlock()
		return nil, nil, nil
	}
	return mb, m, s.graph.mu.Unlock
}

// message finds the {id} message, answering 400 or 404 itself.
func (c *call) message(mb *mailbox) *message {
	m, ok := mb.findMessage(c.params["id"])
	switch {
	case !ok:
		c.badID()
	case m == nil:
		c.notFound()
	}
	return m
}

// renderMessage is a message as Graph's JSON, with the ids, body type and
// time zone the request prefers.
func (c *call) renderMessage(mb *mailbox, m *message, sel []string, expandAttachments bool) map[string]any {
	rcpts := func(rs []Recipient) []any {
		out := make([]any, 0, len(rs))
		for _, r := range rs {
			out = append(out, emailAddress(r))
		}
		return out
	}
	var from, sender any
	if m.from != nil {
		from = emailAddress(*m.from)
	}
	if m.sender != nil {
		sender = emailAddress(*m.sender)
	}
	id := mb.messageID(m, c.prefer.immutable)
	if c.prefer.immutable {
		c.apply(`IdType="ImmutableId"`)
	}
	body, unique := bodyAs(m.body, c.prefer.bodyType), bodyAs(m.uniqueBody, c.prefer.bodyType)
	if c.prefer.bodyType == "text" || c.prefer.bodyType == "html" {
		c.apply(`outlook.body-content-type="` + c.prefer.bodyType + `"`)
	}
	out := map[string]any{
		"@odata.etag": etag(m.seq, m.changes), "id": id, "createdDateTime": graphTime(m.created),
		"lastModifiedDateTime": graphTime(m.modified), "changeKey": changeKey(m.seq, m.changes),
		"categories": nonNilStrings(m.categories), "receivedDateTime": graphTime(m.received), "sentDateTime": graphTime(m.sent),
		"hasAttachments": m.hasAttachments(), "internetMessageId": m.internetMessageID, "subject": m.subject,
		"bodyPreview": bodyPreview(m.body), "importance": m.importance, "parentFolderId": mb.folderID(m.folder),
		"conversationId": mb.conversationID(m), "conversationIndex": base64.StdEncoding.EncodeToString([]byte(strconv.FormatUint(m.conv, 16))),
		"isDeliveryReceiptRequested": m.delivReceipt, "isReadReceiptRequested": m.readReceipt, "isRead": m.isRead,
		"isDraft": m.isDraft, "webLink": webLink(mb, id), "inferenceClassification": m.inference,
		"body":       map[string]string{"contentType": body.typ, "content": body.content},
		"uniqueBody": map[string]string{"contentType": unique.typ, "content": unique.content},
		"sender":     sender, "from": from, "toRecipients": rcpts(m.to), "ccRecipients": rcpts(m.cc),
		"bccRecipients": rcpts(m.bcc), "replyTo": rcpts(m.replyTo), "flag": map[string]string{"flagStatus": m.flag},
		"internetMessageHeaders": nonNilHeaders(m.headers),
	}
	if m.isDraft {
		out["internetMessageHeaders"] = nil
	}
	if c.basicOnly() {
		delete(out, "body")
		delete(out, "uniqueBody")
		delete(out, "bodyPreview")
	}
	out = project(out, sel, onlySelected)
	delete(out, "attachments")
	if expandAttachments && !c.basicOnly() {
		var atts []any
		for _, a := range m.attachments {
			atts = append(atts, renderAttachment(mb, m, a, c.prefer.immutable))
		}
		out["attachments@odata.context"] = c.context("messages('" + url.PathEscape(id) + "')/attachments")
		out["attachments"] = nonNil(atts)
	}
	return out
}

func emailAddress(r Recipient) map[string]any {
	name := r.Name
	if name == "" {
		name = r.Address // Outlook shows an unresolved recipient by its address
	}
	return map[string]any{"emailAddress": map[string]string{"name": name, "address": r.Address}}
}

func etag(seq uint64, changes int) string { return `W/"` + changeKey(seq, changes) + `"` }

func changeKey(seq uint64, changes int) string {
	return base64.StdEncoding.EncodeToString([]byte("CQAAABYAAAD" + strconv.FormatUint(seq, 36) + "." + strconv.Itoa(changes)))
}

func webLink(mb *mailbox, id string) string {
	host := "https://outlook.office365.com/owa/"
	if mb.owner.Personal {
		host = "https://outlook.live.com/owa/"
	}
	return host + "?ItemID=" + url.QueryEscape(id) + "&exvsurl=1&viewmodel=ReadMessageItem"
}

func nonNil(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

func nonNilStrings(items []string) []string {
	if items == nil {
		return []string{}
	}
	return items
}

func nonNilHeaders(h []Header) []Header {
	if h == nil {
		return []Header{}
	}
	return h
}
