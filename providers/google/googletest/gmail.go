package googletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The fake Gmail API (gmail.googleapis.com/gmail/v1): messages.list, get,
// attachments.get, send (JSON and the /upload/ endpoint: multipart, media
// and resumable uploads), labels.list and labels.get.

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

// routeScopes are the scopes that authorize each method, as the discovery
// documents list them (CheckDiscovery verifies they agree).
var routeScopes = map[string][]string{
	gmailListMethod:     {scopeMail, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailGetMethod:      {scopeMail, scopeAddonsAction, scopeAddonsMetadata, scopeAddonsReadonly, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailAttachmentsGet: {scopeMail, scopeAddonsAction, scopeAddonsReadonly, scopeGmailModify, scopeGmailReadonly},
	gmailSendMethod:     {scopeMail, scopeAddonsCompose, scopeGmailCompose, scopeGmailModify, scopeGmailSend},
	gmailLabelsMethod:   {scopeMail, scopeGmailLabels, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailLabelMethod:    {scopeMail, scopeGmailLabels, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	calCalendarList:     {scopeCalendar, scopeCalendarList, scopeCalendarListRO, scopeCalendarRO},
	calCalendarListGet:  {scopeCalendar, scopeCalendarAppCreated, scopeCalendarList, scopeCalendarListRO, scopeCalendarRO},
	calEventsList:       calendarReadScopes,
	calEventsGet:        calendarReadScopes,
	calEventsInsert:     {scopeCalendar, scopeCalendarAppCreated, scopeCalendarEvents, scopeCalendarEventsOwned},
}

func (s *Server) gmailRoutes() {
	s.addRoute("GET", "gmail/v1/users/{userId}/messages", gmailListMethod, s.gmailList)
	s.addRoute("GET", "gmail/v1/users/{userId}/messages/{id}", gmailGetMethod, s.gmailGet)
	s.addRoute("GET", "gmail/v1/users/{userId}/messages/{messageId}/attachments/{id}", gmailAttachmentsGet, s.gmailAttachment)
	s.addRoute("POST", "gmail/v1/users/{userId}/messages/send", gmailSendMethod, s.gmailSend)
	s.addRoute("POST", gmailUploadSendRoute, gmailSendMethod, s.gmailUploadSend).upload = true
	s.addRoute("PUT", gmailUploadSendRoute, "", s.gmailUploadSend).upload = true // resumable chunks
	s.addRoute("GET", "gmail/v1/users/{userId}/labels", gmailLabelsMethod, s.gmailLabels)
	s.addRoute("GET", "gmail/v1/users/{userId}/labels/{id}", gmailLabelMethod, s.gmailLabel)
}

type mailbox struct {
	email   string
	msgs    map[string]*mailMsg
	order   []*mailMsg // insertion order
	history uint64
	labels  []*userLabel
	sent    [][]byte
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

// authGmail authorizes a Gmail request for method id and checks userId: "me"
// or the token's own address; another user's is "Delegation denied".
func (s *Server) authGmail(w http.ResponseWriter, r *http.Request, id, userID string) (email string, scopes []string, ok bool) {
	email, ok = s.Authorize(w, r, routeScopes[id]...)
	if !ok {
		return "", nil, false
	}
	if userID != "me" && !strings.EqualFold(userID, email) {
		WriteAPIError(w, http.StatusForbidden, "Delegation denied for "+email, "forbidden")
		return "", nil, false
	}
	_, scopes, _ = s.CheckAccess(r)
	return email, scopes, true
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

// ---- messages.list ----

type msgRef struct {
	ID       string `json:"id"`
	ThreadID string `json:"threadId"`
}

type listMessagesJSON struct {
	Messages           []msgRef `json:"messages,omitempty"`
	NextPageToken      string   `json:"nextPageToken,omitempty"`
	ResultSizeEstimate int      `json:"resultSizeEstimate"`
}

func (s *Server) gmailList(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, scopes, ok := s.authGmail(w, r, gmailListMethod, p["userId"])
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("q") != "" && metadataOnly(scopes, gmailListMethod) {
		WriteAPIError(w, http.StatusForbidden, "Metadata scope does not support 'q' parameter", "forbidden")
		return
	}
	maxResults, ok := queryInt(w, q, "maxResults", "TYPE_UINT32", 100)
	if !ok {
		return
	}
	if maxResults == 0 {
		maxResults = 100
	}
	maxResults = min(maxResults, 500)
	spamTrash, ok := queryBool(w, q, "includeSpamTrash")
	if !ok {
		return
	}
	key := queryKey(q, "q", "labelIds", "includeSpamTrash") + strings.ToLower(email)
	var after string
	if tok := q.Get("pageToken"); tok != "" {
		if after, ok = readPageToken(key, tok); !ok {
			WriteAPIError(w, http.StatusBadRequest, "Invalid pageToken", "invalidArgument")
			return
		}
	}
	terms := parseGmailQuery(q.Get("q"))
	labelIDs := q["labelIds"]
	if slices.ContainsFunc(labelIDs, func(l string) bool { return l == "SPAM" || l == "TRASH" }) || terms.mentionsSpamTrash() {
		spamTrash = true
	}

	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(email)
	now := s.now()
	var hits []*mailMsg
	for _, m := range mb.order {
		if !spamTrash && (slices.Contains(m.labels, "SPAM") || slices.Contains(m.labels, "TRASH")) {
			continue
		}
		if slices.ContainsFunc(labelIDs, func(l string) bool { return !slices.Contains(m.labels, mb.labelID(l)) }) {
			continue
		}
		if terms.match(m, mb, now) {
			hits = append(hits, m)
		}
	}
	a.mu.Unlock()
	slices.SortFunc(hits, func(x, y *mailMsg) int { return strings.Compare(sortKey(y), sortKey(x)) })
	start := 0
	if after != "" {
		start = len(hits)
		for i, m := range hits {
			if sortKey(m) < after {
				start = i
				break
			}
		}
	}
	resp := listMessagesJSON{ResultSizeEstimate: len(hits)}
	end := min(start+maxResults, len(hits))
	for _, m := range hits[start:end] {
		resp.Messages = append(resp.Messages, msgRef{m.id, m.threadID})
	}
	if end < len(hits) {
		resp.NextPageToken = pageToken(key, sortKey(hits[end-1]))
	}
	s.writeAPI(w, r, http.StatusOK, resp)
}

// sortKey orders messages newest first (descending key): internalDate, then id.
func sortKey(m *mailMsg) string { return fmt.Sprintf("%016x:%s", m.date.UnixMilli(), m.id) }

// labelID maps a label name of a user label to its id; ids pass through.
func (mb *mailbox) labelID(l string) string {
	for _, ul := range mb.labels {
		if strings.EqualFold(ul.name, l) {
			return ul.id
		}
	}
	return l
}

// ---- messages.get ----

type messageJSON struct {
	ID           string    `json:"id"`
	ThreadID     string    `json:"threadId"`
	LabelIDs     []string  `json:"labelIds,omitempty"`
	Snippet      string    `json:"snippet,omitempty"`
	Payload      *partJSON `json:"payload,omitempty"`
	SizeEstimate int       `json:"sizeEstimate,omitempty"`
	HistoryID    string    `json:"historyId,omitempty"`
	InternalDate string    `json:"internalDate,omitempty"`
	Raw          string    `json:"raw,omitempty"`
}

type partJSON struct {
	PartID   string      `json:"partId"`
	MimeType string      `json:"mimeType"`
	Filename string      `json:"filename"`
	Headers  []header    `json:"headers"`
	Body     *bodyJSON   `json:"body,omitempty"`
	Parts    []*partJSON `json:"parts,omitempty"`
}

type bodyJSON struct {
	AttachmentID string `json:"attachmentId,omitempty"`
	Size         int    `json:"size"`
	Data         string `json:"data,omitempty"`
}

func (s *Server) gmailGet(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, scopes, ok := s.authGmail(w, r, gmailGetMethod, p["userId"])
	if !ok {
		return
	}
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	switch format {
	case "":
		format = "full"
	case "full", "metadata", "minimal", "raw":
	default:
		invalidValue(w, "format", "TYPE_ENUM", q.Get("format"))
		return
	}
	if (format == "full" || format == "raw") && metadataOnly(scopes, gmailGetMethod) {
		WriteAPIError(w, http.StatusForbidden, "Metadata scope doesn't allow format "+strings.ToUpper(format), "forbidden")
		return
	}
	m := s.findMessage(w, email, p["id"])
	if m == nil {
		return
	}
	s.writeAPI(w, r, http.StatusOK, renderMessage(m, format, q["metadataHeaders"]))
}

// findMessage looks a message up, answering 400/404 as Gmail does when it
// cannot be found. The message's fields read are immutable.
func (s *Server) findMessage(w http.ResponseWriter, email, id string) *mailMsg {
	if !hexID.MatchString(id) {
		WriteAPIError(w, http.StatusBadRequest, "Invalid id value", "invalidArgument")
		return nil
	}
	s.api.mu.Lock()
	m := s.api.mailboxLocked(email).msgs[strings.ToLower(id)]
	var c *mailMsg
	if m != nil {
		cp := *m
		cp.labels = slices.Clone(m.labels)
		c = &cp
	}
	s.api.mu.Unlock()
	if c == nil {
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
	}
	return c
}

func renderMessage(m *mailMsg, format string, metadataHeaders []string) messageJSON {
	out := messageJSON{
		ID: m.id, ThreadID: m.threadID, LabelIDs: m.labels, Snippet: m.snippet, SizeEstimate: len(m.raw),
		HistoryID: strconv.FormatUint(m.history, 10), InternalDate: strconv.FormatInt(m.date.UnixMilli(), 10),
	}
	switch format {
	case "raw":
		out.Raw = base64.URLEncoding.EncodeToString(m.raw)
	case "metadata":
		hs := []header{}
		for _, h := range m.root.headers {
			if len(metadataHeaders) == 0 || slices.ContainsFunc(metadataHeaders, func(n string) bool { return strings.EqualFold(n, h.Name) }) {
				hs = append(hs, h)
			}
		}
		out.Payload = &partJSON{MimeType: m.root.mimeType, Headers: hs}
	case "full":
		out.Payload = renderPart(m.root)
	}
	return out
}

func renderPart(p *mimePart) *partJSON {
	out := &partJSON{PartID: p.partID, MimeType: p.mimeType, Filename: p.filename, Headers: p.headers, Body: &bodyJSON{}}
	if out.Headers == nil {
		out.Headers = []header{}
	}
	switch {
	case p.parts != nil:
		for _, c := range p.parts {
			out.Parts = append(out.Parts, renderPart(c))
		}
	case p.attID != "":
		out.Body = &bodyJSON{AttachmentID: p.attID, Size: len(p.body)}
	default:
		out.Body = &bodyJSON{Size: len(p.body)}
		if len(p.body) > 0 {
			out.Body.Data = base64.URLEncoding.EncodeToString(p.body)
		}
	}
	return out
}

// ---- messages.attachments.get ----

func (s *Server) gmailAttachment(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, _, ok := s.authGmail(w, r, gmailAttachmentsGet, p["userId"])
	if !ok {
		return
	}
	m := s.findMessage(w, email, p["messageId"])
	if m == nil {
		return
	}
	part := m.attachments[p["id"]]
	if part == nil {
		WriteAPIError(w, http.StatusBadRequest, "Invalid attachment token", "invalidArgument")
		return
	}
	s.writeAPI(w, r, http.StatusOK, bodyJSON{Size: len(part.body), Data: base64.URLEncoding.EncodeToString(part.body)})
}

// ---- labels ----

type labelJSON struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	MessageListVisibility string `json:"messageListVisibility,omitempty"`
	LabelListVisibility   string `json:"labelListVisibility,omitempty"`
	Type                  string `json:"type"`
	MessagesTotal         *int   `json:"messagesTotal,omitempty"`
	MessagesUnread        *int   `json:"messagesUnread,omitempty"`
	ThreadsTotal          *int   `json:"threadsTotal,omitempty"`
	ThreadsUnread         *int   `json:"threadsUnread,omitempty"`
}

func (s *Server) gmailLabels(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, _, ok := s.authGmail(w, r, gmailLabelsMethod, p["userId"])
	if !ok {
		return
	}
	s.api.mu.Lock()
	mb := s.api.mailboxLocked(email)
	var out []labelJSON
	for _, l := range systemLabels {
		lj := labelJSON{ID: l, Name: l, Type: "system"}
		if l == "SENT" || l == "INBOX" || l == "IMPORTANT" || l == "STARRED" || l == "UNREAD" || l == "DRAFT" {
			// Gmail shows no visibility for these in labels.list.
		} else if strings.HasPrefix(l, "CATEGORY_") || l == "CHAT" {
			lj.MessageListVisibility, lj.LabelListVisibility = "hide", "labelHide"
		}
		out = append(out, lj)
	}
	for _, ul := range mb.labels {
		out = append(out, labelJSON{ID: ul.id, Name: ul.name, Type: "user", MessageListVisibility: "show", LabelListVisibility: "labelShow"})
	}
	s.api.mu.Unlock()
	s.writeAPI(w, r, http.StatusOK, map[string]any{"labels": out})
}

func (s *Server) gmailLabel(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, _, ok := s.authGmail(w, r, gmailLabelMethod, p["userId"])
	if !ok {
		return
	}
	id := p["id"]
	s.api.mu.Lock()
	mb := s.api.mailboxLocked(email)
	var lj *labelJSON
	if slices.Contains(systemLabels, id) {
		lj = &labelJSON{ID: id, Name: id, Type: "system"}
	}
	for _, ul := range mb.labels {
		if ul.id == id {
			lj = &labelJSON{ID: ul.id, Name: ul.name, Type: "user", MessageListVisibility: "show", LabelListVisibility: "labelShow"}
		}
	}
	if lj != nil {
		total, unread, threads, unreadThreads := 0, 0, map[string]bool{}, map[string]bool{}
		for _, m := range mb.order {
			if slices.Contains(m.labels, id) {
				total++
				threads[m.threadID] = true
				if slices.Contains(m.labels, "UNREAD") {
					unread++
					unreadThreads[m.threadID] = true
				}
			}
		}
		nt, nut := len(threads), len(unreadThreads)
		lj.MessagesTotal, lj.MessagesUnread, lj.ThreadsTotal, lj.ThreadsUnread = &total, &unread, &nt, &nut
	}
	s.api.mu.Unlock()
	if lj == nil {
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
		return
	}
	s.writeAPI(w, r, http.StatusOK, lj)
}

// ---- messages.send ----

type sendRequest struct {
	Raw      string `json:"raw"`
	ThreadID string `json:"threadId"`
}

// gmailSend is POST gmail/v1/users/{userId}/messages/send with a JSON
// Message whose raw field holds the whole message.
func (s *Server) gmailSend(w http.ResponseWriter, r *http.Request, p map[string]string) {
	email, _, ok := s.authGmail(w, r, gmailSendMethod, p["userId"])
	if !ok {
		return
	}
	if r.URL.Query().Has("uploadType") {
		WriteAPIError(w, http.StatusBadRequest, "Uploads must be sent to the upload URL. Re-send this request to "+
			s.URL()+"/upload/gmail/v1/users/"+p["userId"]+"/messages/send?uploadType="+r.URL.Query().Get("uploadType"), "wrongUrlForUpload")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, GmailJSONBodyLimit+1))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the request body.", "badRequest")
		return
	}
	if len(body) > GmailJSONBodyLimit {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", GmailJSONBodyLimit), "badRequest")
		return
	}
	var req sendRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
			return
		}
	}
	if req.Raw == "" {
		WriteAPIError(w, http.StatusBadRequest, "'raw' RFC822 payload message string or uploading message via /upload/* URL required", "badRequest")
		return
	}
	raw, err := decodeBytesField(req.Raw)
	if err != nil {
		shown := req.Raw
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		badRequestField(w, "message.raw", fmt.Sprintf("Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed for %q", shown))
		return
	}
	s.finishSend(w, r, email, raw, req.ThreadID)
}

// decodeBytesField decodes a proto3 JSON bytes value: standard or URL-safe
// base64, with or without padding, as Google's JSON parser accepts.
func decodeBytesField(v string) ([]byte, error) {
	v = strings.TrimRight(v, "=")
	if strings.ContainsAny(v, "+/") {
		return base64.RawStdEncoding.DecodeString(v)
	}
	return base64.RawURLEncoding.DecodeString(v)
}

type resumableUpload struct {
	email, threadID, mediaType string
	buf                        bytes.Buffer
}

// gmailUploadSend is POST upload/gmail/v1/users/{userId}/messages/send:
// uploadType=multipart (JSON metadata + message/rfc822 part in a
// multipart/related body, what google.golang.org/api's Media() sends),
// media (the message alone) or resumable (a session, then chunks).
func (s *Server) gmailUploadSend(w http.ResponseWriter, r *http.Request, p map[string]string) {
	q := r.URL.Query()
	if id := q.Get("upload_id"); id != "" {
		s.uploadChunk(w, r, id)
		return
	}
	email, _, ok := s.authGmail(w, r, gmailSendMethod, p["userId"])
	if !ok {
		return
	}
	var meta sendRequest
	var media []byte
	mediaType := ""
	switch ut := q.Get("uploadType"); ut {
	case "multipart":
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
			WriteAPIError(w, http.StatusBadRequest, "Bad multipart request: the Content-Type must be multipart/related with a boundary.", "badContent")
			return
		}
		mr := multipart.NewReader(io.LimitReader(r.Body, GmailMaxMessageSize+GmailJSONBodyLimit), params["boundary"])
		metaPart, err := mr.NextPart()
		if err != nil {
			WriteAPIError(w, http.StatusBadRequest, "Bad multipart request: missing metadata part.", "badContent")
			return
		}
		mb, _ := io.ReadAll(io.LimitReader(metaPart, GmailJSONBodyLimit))
		if len(bytes.TrimSpace(mb)) > 0 {
			if err := json.Unmarshal(mb, &meta); err != nil {
				badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
				return
			}
		}
		mediaPart, err := mr.NextPart()
		if err != nil {
			WriteAPIError(w, http.StatusBadRequest, "Bad multipart request: missing media part.", "badContent")
			return
		}
		mediaType = mediaPart.Header.Get("Content-Type")
		if media, ok = readMedia(w, mediaPart); !ok {
			return
		}
	case "media":
		mediaType = r.Header.Get("Content-Type")
		if media, ok = readMedia(w, r.Body); !ok {
			return
		}
	case "resumable":
		if n, err := strconv.ParseInt(r.Header.Get("X-Upload-Content-Length"), 10, 64); err == nil && n > GmailMaxMessageSize {
			tooLarge(w)
			return
		}
		mb, _ := io.ReadAll(io.LimitReader(r.Body, GmailJSONBodyLimit))
		if len(bytes.TrimSpace(mb)) > 0 {
			if err := json.Unmarshal(mb, &meta); err != nil {
				badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
				return
			}
		}
		ct := r.Header.Get("X-Upload-Content-Type")
		if ct != "" && !mediaTypeOK(w, ct) {
			return
		}
		id := s.newUploadID()
		s.api.mu.Lock()
		s.api.uploads[id] = &resumableUpload{email: email, threadID: meta.ThreadID, mediaType: ct}
		s.api.mu.Unlock()
		w.Header().Set("Location", s.URL()+"/upload/gmail/v1/users/"+p["userId"]+"/messages/send?uploadType=resumable&upload_id="+id)
		w.Header().Set("X-GUploader-UploadID", id)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	case "":
		WriteAPIError(w, http.StatusBadRequest, "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/", "wrongUrlForUpload")
		return
	default:
		WriteAPIError(w, http.StatusBadRequest, "Invalid upload type: "+ut, "invalidParameter")
		return
	}
	if !mediaTypeOK(w, mediaType) {
		return
	}
	s.finishSend(w, r, email, media, meta.ThreadID)
}

func (s *Server) newUploadID() string {
	s.api.mu.Lock()
	s.api.seq++
	n := s.api.seq
	s.api.mu.Unlock()
	sum := sha256.Sum256(fmt.Appendf(nil, "upload %d %d", n, time.Now().UnixNano()))
	return "ADPycdu" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func readMedia(w http.ResponseWriter, r io.Reader) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r, GmailMaxMessageSize+1))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the upload.", "badContent")
		return nil, false
	}
	if len(b) > GmailMaxMessageSize {
		tooLarge(w)
		return nil, false
	}
	return b, true
}

func tooLarge(w http.ResponseWriter) {
	writeAPIErrorDetails(w, http.StatusRequestEntityTooLarge, "INVALID_ARGUMENT",
		fmt.Sprintf("Request Entity Too Large: the message exceeds the maximum size of %d bytes.", GmailMaxMessageSize), "uploadTooLarge", nil)
}

// mediaTypeOK checks an upload's media type against the method's accepted
// ones (message/*), answering 400 otherwise.
func mediaTypeOK(w http.ResponseWriter, ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.HasPrefix(mt, "message/") {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Media type '%s' is not supported. Valid media types: [message/*]", ct), "badContent")
		return false
	}
	return true
}

// uploadChunk takes one chunk of a resumable upload (Content-Range
// "bytes a-b/total", "bytes a-b/*" or "bytes */total") and answers 308
// (or 200 with X-Http-Status-Code-Override: 308 when the client sent
// X-GUploader-No-308: yes) until the last one, which sends the message.
func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request, id string) {
	cr := strings.TrimPrefix(r.Header.Get("Content-Range"), "bytes ")
	rng, total, _ := strings.Cut(cr, "/")
	chunk, err := io.ReadAll(io.LimitReader(r.Body, GmailMaxMessageSize+1))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the upload.", "badContent")
		return
	}
	s.api.mu.Lock()
	up := s.api.uploads[id]
	if up == nil {
		s.api.mu.Unlock()
		WriteAPIError(w, http.StatusNotFound, "No active session found for upload id.", "notFound")
		return
	}
	if rng != "*" && rng != "" {
		a, _, ok := strings.Cut(rng, "-")
		off, err := strconv.Atoi(a)
		if !ok || err != nil || off > up.buf.Len() {
			s.api.mu.Unlock()
			WriteAPIError(w, http.StatusBadRequest, "Invalid Content-Range: "+cr, "badContent")
			return
		}
		up.buf.Truncate(off) // a retried chunk replaces what it sent before
		up.buf.Write(chunk)
	}
	size := up.buf.Len()
	n, err := strconv.Atoi(total)
	complete := err == nil && n == size
	if complete || size > GmailMaxMessageSize {
		delete(s.api.uploads, id)
	}
	raw := slices.Clone(up.buf.Bytes())
	s.api.mu.Unlock()

	switch {
	case size > GmailMaxMessageSize:
		tooLarge(w)
	case !complete:
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", size-1))
		if r.Header.Get("X-GUploader-No-308") == "yes" {
			w.Header().Set("X-Http-Status-Code-Override", "308")
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusPermanentRedirect)
		}
	default:
		ct := up.mediaType
		if ct == "" {
			ct = r.Header.Get("Content-Type")
		}
		if mediaTypeOK(w, ct) {
			s.finishSend(w, r, up.email, raw, up.threadID)
		}
	}
}

// finishSend sends raw for email and answers the sent Message (id,
// threadId, labelIds), or Gmail's error.
func (s *Server) finishSend(w http.ResponseWriter, r *http.Request, email string, raw []byte, threadID string) {
	m, code, msg := s.send(email, raw, threadID)
	if m == nil {
		reason := "badRequest"
		if code == http.StatusNotFound {
			reason = "notFound"
		} else if code == http.StatusRequestEntityTooLarge {
			tooLarge(w)
			return
		}
		WriteAPIError(w, code, msg, reason)
		return
	}
	s.writeAPI(w, r, http.StatusOK, messageJSON{ID: m.id, ThreadID: m.threadID, LabelIDs: m.labels})
}

// send is Gmail's send: the message must parse and name at least one
// recipient; Gmail adds Date and Message-ID when missing and replaces a From
// that is not the user's address. The copy in the mailbox is labelled SENT
// (and INBOX, UNREAD when sent to oneself); recipients with a mailbox in this
// fake receive it. threadID joins a thread only as Gmail does: the thread
// exists, the message refers to one of its messages (In-Reply-To or
// References) and the subjects match; otherwise it starts a new thread.
func (s *Server) send(email string, raw []byte, threadID string) (*mailMsg, int, string) {
	if len(raw) > GmailMaxMessageSize {
		return nil, http.StatusRequestEntityTooLarge, ""
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, http.StatusBadRequest, "Invalid RFC822 message: " + err.Error()
	}
	var rcpts []string
	for _, h := range []string{"To", "Cc", "Bcc"} {
		if len(msg.Header[h]) == 0 {
			continue
		}
		list, err := addressParser.ParseList(strings.Join(msg.Header[h], ", "))
		if err != nil && strings.TrimSpace(strings.Join(msg.Header[h], "")) != "" {
			return nil, http.StatusBadRequest, "Invalid " + h + " header"
		}
		for _, a := range list {
			rcpts = append(rcpts, a.Address)
		}
	}
	if len(rcpts) == 0 {
		return nil, http.StatusBadRequest, "Recipient address required"
	}
	if threadID != "" && !hexID.MatchString(threadID) {
		return nil, http.StatusBadRequest, "Invalid thread_id value"
	}
	stored := raw
	if msg.Header.Get("Date") == "" {
		stored = addHeader(stored, "Date", s.now().Format(time.RFC1123Z))
	}
	if msg.Header.Get("Message-ID") == "" {
		sum := sha256.Sum256(append(raw, s.now().String()...))
		stored = addHeader(stored, "Message-ID", fmt.Sprintf("<CAFake%x@mail.gmail.com>", sum[:12]))
	}
	if from, err := addressParser.Parse(msg.Header.Get("From")); err != nil || !strings.EqualFold(from.Address, email) {
		name := ""
		if from != nil {
			name = from.Name
		}
		stored = replaceHeader(stored, "From", (&mail.Address{Name: name, Address: email}).String())
	}
	parsed, err := parseMessage(stored)
	if err != nil {
		return nil, http.StatusBadRequest, "Invalid RFC822 message: " + err.Error()
	}
	now := s.now()

	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	mb := a.mailboxLocked(email)
	if threadID != "" && !slices.ContainsFunc(mb.order, func(m *mailMsg) bool { return m.threadID == strings.ToLower(threadID) }) {
		return nil, http.StatusNotFound, "Requested entity was not found."
	}
	labels := []string{"SENT"}
	if slices.ContainsFunc(rcpts, func(r string) bool { return strings.EqualFold(r, email) }) {
		labels = append(labels, "INBOX", "UNREAD")
	}
	thread := ""
	if threadID != "" && mb.threadFor(parsed) == strings.ToLower(threadID) {
		thread = strings.ToLower(threadID)
	}
	m := a.addLocked(mb, parsed, now, labels, thread)
	mb.sent = append(mb.sent, slices.Clone(raw))
	for _, rc := range rcpts {
		if other := a.mail[strings.ToLower(rc)]; other != nil && other != mb {
			p2, _ := parseMessage(stored)
			a.addLocked(other, p2, now, []string{"INBOX", "UNREAD"}, other.threadFor(p2))
		}
	}
	return m, 0, ""
}

var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// addHeader puts a header field at the top of a message.
func addHeader(raw []byte, name, value string) []byte {
	return append([]byte(name+": "+value+"\r\n"), raw...)
}

// replaceHeader replaces every field called name in the header section (or
// adds one).
func replaceHeader(raw []byte, name, value string) []byte {
	hdr, body, sep := splitHeader(raw)
	var out []byte
	skipping, done := false, false
	for _, line := range splitLines(hdr) {
		if skipping && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			continue
		}
		skipping = false
		if n, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(strings.TrimSpace(string(n)), name) {
			skipping = true
			if !done {
				out = append(out, name+": "+value+"\r\n"...)
				done = true
			}
			continue
		}
		out = append(out, line...)
		out = append(out, "\r\n"...)
	}
	if !done {
		out = append(out, name+": "+value+"\r\n"...)
	}
	return append(append(out, sep...), body...)
}

// ---- storing messages ----

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
	date := s.now()
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
	refs := msgIDs(p.header("In-Reply-To") + " " + p.header("References"))
	if len(refs) == 0 {
		return ""
	}
	subj := normalizeSubject(p.header("Subject"))
	for i := len(mb.order) - 1; i >= 0; i-- {
		m := mb.order[i]
		if slices.Contains(refs, m.messageID) && normalizeSubject(m.subject) == subj {
			return m.threadID
		}
	}
	return ""
}

var msgIDRE = regexp.MustCompile(`<[^<>\s]+>`)

func msgIDs(s string) []string { return msgIDRE.FindAllString(s, -1) }

var subjectPrefixRE = regexp.MustCompile(`(?i)^\s*(re|fw|fwd|aw|wg|sv|antw|vs)\s*(\[\d+\])?\s*:\s*`)

func normalizeSubject(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for {
		t := subjectPrefixRE.ReplaceAllString(s, "")
		if t == s {
			return strings.Join(strings.Fields(s), " ")
		}
		s = t
	}
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

// ---- MIME parsing ----

type parsedMsg struct {
	raw  []byte
	root *mimePart
}

func (p *parsedMsg) header(name string) string {
	for _, h := range p.root.headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func (p *parsedMsg) allHeaders(name string) string {
	var vs []string
	for _, h := range p.root.headers {
		if strings.EqualFold(h.Name, name) {
			vs = append(vs, h.Value)
		}
	}
	return strings.Join(vs, ", ")
}

// parseMessage parses a message into Gmail's part tree: headers in order
// with RFC 2047 words decoded, bodies transfer-decoded (charsets kept),
// part ids "", "0", "0.1"…
func parseMessage(raw []byte) (*parsedMsg, error) {
	if _, err := mail.ReadMessage(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return &parsedMsg{raw: raw, root: parsePart(raw, "", 0)}, nil
}

func parsePart(raw []byte, partID string, depth int) *mimePart {
	hdr, body, _ := splitHeader(raw)
	p := &mimePart{partID: partID, headers: parseHeaderFields(hdr), params: map[string]string{}}
	get := func(name string) string {
		for _, h := range p.headers {
			if strings.EqualFold(h.Name, name) {
				return h.Value
			}
		}
		return ""
	}
	mt, params, err := mime.ParseMediaType(get("Content-Type"))
	if err != nil || mt == "" {
		mt, params = "text/plain", map[string]string{"charset": "us-ascii"}
	}
	p.mimeType, p.params = mt, params
	disp, dparams, _ := mime.ParseMediaType(get("Content-Disposition"))
	p.disposition = disp
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if dec, err := wordDecoder.DecodeHeader(name); err == nil {
		name = dec
	}
	p.filename = name
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" && depth < 20 {
		p.parts = []*mimePart{}
		for i, chunk := range splitMultipart(body, params["boundary"]) {
			id := strconv.Itoa(i)
			if partID != "" {
				id = partID + "." + id
			}
			p.parts = append(p.parts, parsePart(chunk, id, depth+1))
		}
		return p
	}
	p.body = decodeTransfer(body, get("Content-Transfer-Encoding"))
	return p
}

// splitHeader splits a message or part at the first empty line; sep is the
// empty line itself.
func splitHeader(raw []byte) (hdr, body, sep []byte) {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return nil, raw[2:], raw[:2]
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return nil, raw[1:], raw[:1]
	}
	i, j := bytes.Index(raw, []byte("\r\n\r\n")), bytes.Index(raw, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return raw[:i+2], raw[i+4:], raw[i+2 : i+4]
	case j >= 0:
		return raw[:j+1], raw[j+2:], raw[j+1 : j+2]
	}
	return raw, nil, nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, bytes.TrimSuffix(b[:i], []byte("\r")))
		b = b[i+1:]
	}
	return out
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// parseHeaderFields unfolds header fields, keeping their order, and decodes
// RFC 2047 encoded words in the values, as Gmail's API shows them.
func parseHeaderFields(hdr []byte) []header {
	var out []header
	for _, line := range splitLines(hdr) {
		if len(line) == 0 {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Value += " " + strings.TrimSpace(string(line))
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		out = append(out, header{Name: strings.TrimSpace(string(name)), Value: strings.TrimSpace(string(value))})
	}
	for i := range out {
		if dec, err := wordDecoder.DecodeHeader(out[i].Value); err == nil {
			out[i].Value = dec
		}
	}
	return out
}

// splitMultipart returns the body parts between the boundary delimiters.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	find := func(from int) int {
		for i := from; i <= len(body)-len(delim); {
			j := bytes.Index(body[i:], delim)
			if j < 0 {
				return -1
			}
			j += i
			after := body[j+len(delim):]
			if (j == 0 || body[j-1] == '\n') && (len(after) == 0 || after[0] == '\r' || after[0] == '\n' ||
				after[0] == ' ' || after[0] == '\t' || bytes.HasPrefix(after, []byte("--"))) {
				return j
			}
			i = j + 1
		}
		return -1
	}
	var parts [][]byte
	pos := find(0)
	for pos >= 0 {
		rest := body[pos+len(delim):]
		if bytes.HasPrefix(rest, []byte("--")) {
			break
		}
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break
		}
		start := pos + len(delim) + nl + 1
		next := find(start)
		if next < 0 {
			parts = append(parts, body[start:])
			break
		}
		end := next
		if end > start && body[end-1] == '\n' {
			end--
			if end > start && body[end-1] == '\r' {
				end--
			}
		}
		parts = append(parts, body[start:end])
		pos = next
	}
	return parts
}

func decodeTransfer(b []byte, cte string) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, b)
		out, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(string(clean), "="))
		if err != nil {
			return b
		}
		return out
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		if err != nil {
			return b
		}
		return out
	}
	return b
}

// charsetReader decodes the charsets the fixtures use besides UTF-8.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	s, ok := decodeCharset(b, charset)
	if !ok {
		return nil, errors.New("unsupported charset " + charset)
	}
	return strings.NewReader(s), nil
}

func decodeCharset(b []byte, charset string) (string, bool) {
	switch strings.ToLower(strings.Trim(charset, `"`)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return strings.ToValidUTF8(string(b), "\uFFFD"), true
	case "iso-8859-1", "latin1", "iso-8859-15", "windows-1252", "cp1252":
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
			if c == 0x80 && !strings.HasPrefix(strings.ToLower(charset), "iso") {
				r[i] = '€'
			}
		}
		return string(r), true
	}
	return "", false
}

func toUTF8(b []byte, charset string) string {
	if s, ok := decodeCharset(b, charset); ok {
		return s
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// ---- Gmail search ----

// qterm is one search term; or holds alternatives (a OR b, {a b}), and
// group terms that must all match (parentheses).
type qterm struct {
	neg    bool
	op     string
	val    string
	phrase bool
	or     [][]qterm
}

type gmailQuery []qterm

// Search operators this fake understands; any other "x:y" is searched as
// words, as Gmail does with unknown operators.
var gmailOps = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "label": true, "is": true, "in": true,
	"has": true, "category": true, "filename": true, "newer_than": true, "older_than": true, "after": true,
	"before": true, "newer": true, "older": true, "larger": true, "smaller": true, "rfc822msgid": true,
	"list": true, "deliveredto": true,
}

func parseGmailQuery(q string) gmailQuery {
	p := &queryParser{s: q}
	return p.terms(0)
}

type queryParser struct {
	s string
	i int
}

func (p *queryParser) terms(close byte) gmailQuery {
	var out gmailQuery
	pendingOr := false
	for {
		for p.i < len(p.s) && p.s[p.i] == ' ' {
			p.i++
		}
		if p.i >= len(p.s) {
			return out
		}
		if close != 0 && p.s[p.i] == close {
			p.i++
			return out
		}
		t, ok := p.term()
		if !ok {
			continue
		}
		if t.op == "" && !t.phrase && t.val == "OR" && len(out) > 0 {
			pendingOr = true
			continue
		}
		if t.op == "" && !t.phrase && t.val == "AND" {
			continue
		}
		if pendingOr {
			last := &out[len(out)-1]
			if last.or == nil || last.neg {
				*last = qterm{or: [][]qterm{{*last}}}
			}
			last.or = append(last.or, []qterm{t})
			pendingOr = false
			continue
		}
		out = append(out, t)
	}
}

func (p *queryParser) term() (qterm, bool) {
	var t qterm
	if p.s[p.i] == '-' {
		t.neg = true
		p.i++
		if p.i >= len(p.s) {
			return t, false
		}
	}
	switch p.s[p.i] {
	case '"':
		t.phrase, t.val = true, p.quoted()
		return t, t.val != ""
	case '(':
		p.i++
		g := p.terms(')')
		t.or = [][]qterm{g}
		return t, true
	case '{':
		p.i++
		for _, alt := range p.terms('}') {
			t.or = append(t.or, []qterm{alt})
		}
		return t, len(t.or) > 0
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' && p.s[p.i] != '}' && p.s[p.i] != '(' && p.s[p.i] != '"' {
		p.i++
	}
	word := p.s[start:p.i]
	if op, rest, ok := strings.Cut(word, ":"); ok && gmailOps[strings.ToLower(op)] {
		t.op = strings.ToLower(op)
		switch {
		case rest == "" && p.i < len(p.s) && p.s[p.i] == '"':
			t.val, t.phrase = p.quoted(), true
		case rest == "" && p.i < len(p.s) && p.s[p.i] == '(':
			p.i++
			var vals []string
			for _, g := range p.terms(')') {
				vals = append(vals, g.val)
			}
			t.val = strings.Join(vals, " ")
		default:
			t.val = rest
		}
		return t, true
	}
	if p.i < len(p.s) && p.s[p.i] == '(' { // "x(" without operator: a word
		p.i++
	}
	t.val = word
	return t, word != ""
}

func (p *queryParser) quoted() string {
	p.i++
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '"' {
		p.i++
	}
	v := p.s[start:p.i]
	if p.i < len(p.s) {
		p.i++
	}
	return v
}

func (q gmailQuery) mentionsSpamTrash() bool {
	for _, t := range q {
		v := strings.ToLower(t.val)
		if (t.op == "in" || t.op == "label") && (v == "spam" || v == "trash" || v == "anywhere") {
			return true
		}
		for _, alt := range t.or {
			if gmailQuery(alt).mentionsSpamTrash() {
				return true
			}
		}
	}
	return false
}

func (q gmailQuery) match(m *mailMsg, mb *mailbox, now time.Time) bool {
	for _, t := range q {
		if t.matches(m, mb, now) == t.neg {
			return false
		}
	}
	return true
}

func (t qterm) matches(m *mailMsg, mb *mailbox, now time.Time) bool {
	if t.or != nil {
		for _, alt := range t.or {
			if gmailQuery(alt).match(m, mb, now) {
				return true
			}
		}
		return false
	}
	v := strings.ToLower(t.val)
	has := func(l string) bool { return slices.Contains(m.labels, l) }
	switch t.op {
	case "":
		return textMatch(m.text, m.words, v, t.phrase)
	case "from":
		if v == "me" {
			v = strings.ToLower(mb.email)
		}
		return strings.Contains(m.from, v)
	case "to", "deliveredto":
		if v == "me" {
			v = strings.ToLower(mb.email)
		}
		return strings.Contains(m.to, v) || strings.Contains(m.cc, v) || strings.Contains(m.bcc, v)
	case "cc":
		return strings.Contains(m.cc, v)
	case "bcc":
		return strings.Contains(m.bcc, v)
	case "subject":
		s := strings.ToLower(m.subject)
		return textMatch(s, wordSet(s), v, t.phrase)
	case "label":
		for _, l := range m.labels {
			if strings.EqualFold(l, v) || strings.EqualFold(strings.ReplaceAll(l, "_", "-"), v) {
				return true
			}
			for _, ul := range mb.labels {
				name := strings.ToLower(ul.name)
				if ul.id == l && (name == v || strings.NewReplacer(" ", "-", "/", "-").Replace(name) == v) {
					return true
				}
			}
		}
		return false
	case "is":
		switch v {
		case "unread":
			return has("UNREAD")
		case "read":
			return !has("UNREAD")
		case "starred":
			return has("STARRED")
		case "important":
			return has("IMPORTANT")
		case "chat":
			return has("CHAT")
		}
		return false
	case "in":
		switch v {
		case "anywhere":
			return true
		case "drafts", "draft":
			return has("DRAFT")
		default:
			return has(strings.ToUpper(v))
		}
	case "category":
		if v == "primary" {
			v = "personal"
		}
		return has("CATEGORY_" + strings.ToUpper(v))
	case "has":
		switch v {
		case "attachment":
			return len(m.attachments) > 0
		case "userlabels":
			return slices.ContainsFunc(m.labels, func(l string) bool { return strings.HasPrefix(l, "Label_") })
		case "nouserlabels":
			return !slices.ContainsFunc(m.labels, func(l string) bool { return strings.HasPrefix(l, "Label_") })
		}
		return false
	case "filename":
		for _, p := range m.attachments {
			fn := strings.ToLower(p.filename)
			if strings.Contains(fn, v) || strings.HasSuffix(fn, "."+v) {
				return true
			}
		}
		return false
	case "newer_than", "older_than":
		n, err := strconv.Atoi(strings.TrimRight(v, "dmy"))
		if err != nil || len(v) < 2 {
			return false
		}
		var limit time.Time
		switch v[len(v)-1] {
		case 'd':
			limit = now.AddDate(0, 0, -n)
		case 'm':
			limit = now.AddDate(0, -n, 0)
		case 'y':
			limit = now.AddDate(-n, 0, 0)
		default:
			return false
		}
		if t.op == "newer_than" {
			return m.date.After(limit)
		}
		return m.date.Before(limit)
	case "after", "before", "newer", "older":
		// Dates are midnight Pacific time (Gmail's documented behaviour);
		// seconds since the epoch are exact.
		var when time.Time
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			when = time.Unix(secs, 0)
		} else if d, err := time.ParseInLocation("2006/1/2", strings.ReplaceAll(v, "-", "/"), pacific); err == nil {
			when = d
		} else {
			return false
		}
		if t.op == "after" || t.op == "newer" {
			return !m.date.Before(when)
		}
		return m.date.Before(when)
	case "larger", "smaller":
		mult := 1
		switch {
		case strings.HasSuffix(v, "k"):
			mult, v = 1<<10, strings.TrimSuffix(v, "k")
		case strings.HasSuffix(v, "m"):
			mult, v = 1<<20, strings.TrimSuffix(v, "m")
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return false
		}
		if t.op == "larger" {
			return len(m.raw) > n*mult
		}
		return len(m.raw) < n*mult
	case "rfc822msgid":
		return strings.Trim(strings.ToLower(m.messageID), "<>") == strings.Trim(v, "<>")
	case "list":
		return strings.Contains(m.text, v)
	}
	return false
}

var pacific = mustZone("America/Los_Angeles")

// textMatch is Gmail's word search: every word of the term is a word of the
// text (whole words, case-insensitive); a quoted phrase must appear as is.
func textMatch(text string, words map[string]bool, term string, phrase bool) bool {
	if phrase {
		return strings.Contains(strings.Join(strings.Fields(text), " "), strings.Join(strings.Fields(term), " "))
	}
	ws := strings.FieldsFunc(term, notWordRune)
	if len(ws) == 0 {
		return strings.Contains(text, term)
	}
	for _, w := range ws {
		// Scripts written without spaces match inside words.
		if !words[w] && !(hasCJK(w) && strings.Contains(text, w)) {
			return false
		}
	}
	return true
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai) {
			return true
		}
	}
	return false
}
