package googletest

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// The fake Gmail API (gmail.googleapis.com/gmail/v1), as the Gmail API
// reference and its guides on sending, uploads and search describe it:
// messages.list (gmail_list.go, search in gmail_search.go), messages.get
// and attachments.get (gmail_get.go), messages.send through the JSON
// endpoint (gmail_send.go) and the /upload/ endpoint's multipart, media and
// resumable uploads (gmail_upload.go), labels.list and labels.get
// (gmail_labels.go); the mailbox in gmail_store.go, MIME parsing in
// gmail_mime.go.

// Size limits of the fake Gmail.
const (
	// GmailMaxMessageSize is the largest message Gmail takes (the discovery
	// document's mediaUpload.maxSize for messages.send, 35 MB).
	GmailMaxMessageSize = 36700160
	// GmailJSONBodyLimit is the largest JSON request body the non-upload
	// endpoint takes (base64url "raw" included); larger messages must go
	// through /upload/. Google does not document this value; this fake
	// answers 400 "Request payload size exceeds the limit: 5242880 bytes."
	// above it.
	GmailJSONBodyLimit = 5 << 20
)

const (
	scopeMail            = "https://mail.google.com/"
	scopeGmailReadonly   = "https://www.googleapis.com/auth/gmail.readonly"
	scopeGmailModify     = "https://www.googleapis.com/auth/gmail.modify"
	scopeGmailMetadata   = "https://www.googleapis.com/auth/gmail.metadata"
	scopeGmailSend       = "https://www.googleapis.com/auth/gmail.send"
	scopeGmailCompose    = "https://www.googleapis.com/auth/gmail.compose"
	scopeGmailLabels     = "https://www.googleapis.com/auth/gmail.labels"
	scopeAddonsAction    = "https://www.googleapis.com/auth/gmail.addons.current.message.action"
	scopeAddonsMetadata  = "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"
	scopeAddonsReadonly  = "https://www.googleapis.com/auth/gmail.addons.current.message.readonly"
	scopeAddonsCompose   = "https://www.googleapis.com/auth/gmail.addons.current.action.compose"
	gmailLabelsMethod    = "gmail.users.labels.list"
	gmailLabelMethod     = "gmail.users.labels.get"
	gmailListMethod      = "gmail.users.messages.list"
	gmailGetMethod       = "gmail.users.messages.get"
	gmailAttachmentsGet  = "gmail.users.messages.attachments.get"
	gmailSendMethod      = "gmail.users.messages.send"
	gmailUploadSendRoute = "upload/gmail/v1/users/{userId}/messages/send"
)

func (s *Server) gmailRoutes() {
	s.addRoute("GET", "gmail/v1/users/{userId}/messages", gmailListMethod, s.gmailList)
	s.addRoute("GET", "gmail/v1/users/{userId}/messages/{id}", gmailGetMethod, s.gmailGet)
	s.addRoute("GET", "gmail/v1/users/{userId}/messages/{messageId}/attachments/{id}", gmailAttachmentsGet, s.gmailAttachment)
	s.addRoute("POST", "gmail/v1/users/{userId}/messages/send", gmailSendMethod, s.gmailSend)
	s.addRoute("POST", gmailUploadSendRoute, gmailSendMethod, s.gmailUploadSend).upload = true
	s.addRoute("PUT", gmailUploadSendRoute, "", s.gmailUploadSend).upload = true // resumable chunks
	s.addRoute("GET", "gmail/v1/users/{userId}/labels", gmailLabelsMethod, s.gmailLabels)
	s.addRoute("GET", "gmail/v1/users/{userId}/labels/{id}", gmailLabelMethod, s.gmailLabel)
	s.gmailModifyRoutes()
	s.draftRoutes()
}

type mailbox struct {
	email   string
	msgs    map[string]*mailMsg
	order   []*mailMsg // insertion order
	history uint64
	labels  []*userLabel
	sent    [][]byte
	drafts  []*draft // most recently saved last
}

type userLabel struct{ id, name string }

type mailMsg struct {
	id, threadID string
	labels       []string
	raw          []byte
	date         time.Time
	history      uint64
	root         *mimePart
	snippet      string
	text         string          // lower-case searchable text
	words        map[string]bool // words of text
	from, to     string          // lower-case decoded headers (to: To, Cc and Bcc)
	cc, bcc      string
	subject      string
	messageID    string
	attachments  map[string]*mimePart
}

type mimePart struct {
	partID, mimeType, filename string
	params                     map[string]string
	disposition                string
	headers                    []header
	body                       []byte // transfer-decoded body of a leaf
	attID                      string
	parts                      []*mimePart
}

type header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Gmail's system labels, in the order labels.list gives them.
var systemLabels = []string{
	"CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM", "CATEGORY_FORUMS", "CATEGORY_UPDATES",
	"CATEGORY_PERSONAL", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "STARRED", "UNREAD",
}

// mailboxLocked returns the user's mailbox, creating an empty one. Call with
// a.mu held.
func (a *apiState) mailboxLocked(email string) *mailbox {
	key := strings.ToLower(email)
	mb := a.mail[key]
	if mb == nil {
		mb = &mailbox{email: email, msgs: map[string]*mailMsg{}, history: 1000}
		a.mail[key] = mb
	}
	return mb
}

// metadataOnly reports whether the token reaches Gmail only through the
// gmail.metadata scope (no search, no bodies).
func metadataOnly(scopes []string, id string) bool {
	for _, sc := range routeScopes[id] {
		if sc != scopeGmailMetadata && sc != scopeAddonsMetadata && slices.Contains(scopes, sc) {
			return false
		}
	}
	return true
}

var hexID = regexp.MustCompile(`^[0-9a-fA-F]{1,16}$`)
