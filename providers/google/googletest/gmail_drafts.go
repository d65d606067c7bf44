package googletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
)

// Gmail's users.drafts, as the API reference describes them: a draft has
// its own id ("r" and digits) and holds a message labelled DRAFT, in the
// thread given when its headers and subject belong there (as a send).
// create, update and send take a Draft whose message has the raw RFC 822
// bytes (or, through /upload/, the message as multipart media); update
// replaces the message (it gets a new id); send sends the draft's message
// (after replacing it when the request carries one) and deletes the
// draft; delete deletes it for good (not to Trash). An unknown draft is a
// 404 "Requested entity was not found.".

const (
	gmailDraftsCreate = "gmail.users.drafts.create"
	gmailDraftsUpdate = "gmail.users.drafts.update"
	gmailDraftsSend   = "gmail.users.drafts.send"
	gmailDraftsDelete = "gmail.users.drafts.delete"
	gmailDraftsGet    = "gmail.users.drafts.get"
	gmailDraftsList   = "gmail.users.drafts.list"
)

var (
	draftWriteScopes = []string{scopeMail, scopeAddonsCompose, scopeGmailCompose, scopeGmailModify}
	draftReadScopes  = []string{scopeMail, scopeGmailCompose, scopeGmailModify, scopeGmailReadonly}
)

// Paging of drafts.list.
const (
	draftsDefaultPage = 100
	draftsMaxPage     = 500
)

type draft struct {
	id  string
	msg *mailMsg
}

func (s *Server) draftRoutes() {
	s.addRoute("POST", "gmail/v1/users/{userId}/drafts", gmailDraftsCreate, s.draftCreate)
	s.addRoute("GET", "gmail/v1/users/{userId}/drafts", gmailDraftsList, s.draftList)
	s.addRoute("POST", "gmail/v1/users/{userId}/drafts/send", gmailDraftsSend, s.draftSend)
	s.addRoute("GET", "gmail/v1/users/{userId}/drafts/{id}", gmailDraftsGet, s.draftGet)
	s.addRoute("PUT", "gmail/v1/users/{userId}/drafts/{id}", gmailDraftsUpdate, s.draftUpdate)
	s.addRoute("DELETE", "gmail/v1/users/{userId}/drafts/{id}", gmailDraftsDelete, s.draftDelete)
	s.addRoute("POST", "upload/gmail/v1/users/{userId}/drafts", gmailDraftsCreate, s.draftUpload).upload = true
	s.addRoute("PUT", "upload/gmail/v1/users/{userId}/drafts/{id}", gmailDraftsUpdate, s.draftUpload).upload = true
}

// draftUpload is drafts.create and drafts.update through the /upload/
// endpoint, uploadType=multipart (what google.golang.org/api sends for a
// large message in one request): the Draft as JSON metadata, then the
// message/rfc822 media. Other upload types are not faked for drafts.
func (s *Server) draftUpload(w http.ResponseWriter, r *http.Request, c call) {
	if ut := r.URL.Query().Get("uploadType"); ut != "multipart" {
		WriteAPIError(w, http.StatusBadRequest, "googletest: drafts take uploadType=multipart only in this fake, not "+strconv.Quote(ut), "invalidParameter")
		return
	}
	meta, media, mediaType, ok := readMultipartUpload(w, r)
	if !ok || !mediaTypeOK(w, mediaType) {
		return
	}
	var req draftRequest
	if len(bytes.TrimSpace(meta)) > 0 {
		if err := json.Unmarshal(meta, &req); err != nil {
			badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
			return
		}
	}
	threadID := ""
	if req.Message != nil {
		threadID = req.Message.ThreadID
	}
	if id, ok := c.params["id"]; ok {
		s.updateDraft(w, r, c.email, id, media, threadID)
		return
	}
	s.createDraft(w, r, c.email, media, threadID)
}

// draftJSON is the Draft resource.
type draftJSON struct {
	ID      string       `json:"id"`
	Message *messageJSON `json:"message,omitempty"`
}

type draftRequest struct {
	ID      string       `json:"id"`
	Message *sendRequest `json:"message"`
}

// readDraftRequest reads a Draft from a JSON body; wantRaw: its message
// must carry raw bytes.
func readDraftRequest(w http.ResponseWriter, r *http.Request, wantRaw bool) (*draftRequest, []byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, GmailJSONBodyLimit+1))
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the request body.", "badRequest")
		return nil, nil, false
	}
	if len(body) > GmailJSONBodyLimit {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", GmailJSONBodyLimit), "badRequest")
		return nil, nil, false
	}
	var req draftRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
			return nil, nil, false
		}
	}
	if req.Message == nil || req.Message.Raw == "" {
		if wantRaw {
			WriteAPIError(w, http.StatusBadRequest, "Missing draft message", "invalidArgument")
			return nil, nil, false
		}
		return &req, nil, true
	}
	raw, err := decodeBytesField(req.Message.Raw)
	if err != nil {
		badRequestField(w, "draft.message.raw", "Invalid value at 'draft.message.raw' (TYPE_BYTES), Base64 decoding failed")
		return nil, nil, false
	}
	if len(raw) > GmailMaxMessageSize {
		tooLarge(w)
		return nil, nil, false
	}
	return &req, raw, true
}

// storeDraftMessage parses raw and stores it as a draft's message (DRAFT,
// in threadID when it belongs there). Call with a.mu held.
func (s *Server) storeDraftMessage(mb *mailbox, raw []byte, threadID string) (*mailMsg, int, string) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, http.StatusBadRequest, "Invalid RFC822 message: " + err.Error()
	}
	if threadID != "" && !hexID.MatchString(threadID) {
		return nil, http.StatusBadRequest, "Invalid thread_id value"
	}
	_, parsed, err := s.normalize(mb.email, raw, msg.Header)
	if err != nil {
		return nil, http.StatusBadRequest, "Invalid RFC822 message: " + err.Error()
	}
	thread := ""
	if threadID != "" {
		if !slices.ContainsFunc(mb.order, func(m *mailMsg) bool { return m.threadID == strings.ToLower(threadID) }) {
			return nil, http.StatusNotFound, "Requested entity was not found."
		}
		if mb.threadFor(parsed) == strings.ToLower(threadID) {
			thread = strings.ToLower(threadID)
		}
	}
	return s.api.addLocked(mb, parsed, s.Now(), []string{"DRAFT"}, thread), 0, ""
}

func writeCode(w http.ResponseWriter, code int, msg string) {
	reason := "badRequest"
	if code == http.StatusNotFound {
		reason = "notFound"
	}
	WriteAPIError(w, code, msg, reason)
}

func (mb *mailbox) draft(id string) *draft {
	for _, d := range mb.drafts {
		if d.id == id {
			return d
		}
	}
	return nil
}

// removeMessage deletes a message from the mailbox for good.
func (mb *mailbox) removeMessage(m *mailMsg) {
	delete(mb.msgs, m.id)
	mb.order = slices.DeleteFunc(mb.order, func(x *mailMsg) bool { return x == m })
}

func draftAnswer(d *draft) draftJSON {
	return draftJSON{ID: d.id, Message: &messageJSON{ID: d.msg.id, ThreadID: d.msg.threadID, LabelIDs: slices.Clone(d.msg.labels)}}
}

// draftCreate is POST drafts.
func (s *Server) draftCreate(w http.ResponseWriter, r *http.Request, c call) {
	req, raw, ok := readDraftRequest(w, r, true)
	if !ok {
		return
	}
	s.createDraft(w, r, c.email, raw, req.Message.ThreadID)
}

// createDraft stores a new draft of raw and answers it.
func (s *Server) createDraft(w http.ResponseWriter, r *http.Request, email string, raw []byte, threadID string) {
	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(email)
	m, code, msg := s.storeDraftMessage(mb, raw, threadID)
	if m == nil {
		a.mu.Unlock()
		writeCode(w, code, msg)
		return
	}
	a.seq++
	d := &draft{id: "r" + strconv.FormatUint(7340000000000000000+a.seq*7919, 10), msg: m}
	mb.drafts = append(mb.drafts, d)
	out := draftAnswer(d)
	a.mu.Unlock()
	s.writeAPI(w, r, http.StatusOK, out)
}

// draftUpdate is PUT drafts/{id}: the draft's message is replaced.
func (s *Server) draftUpdate(w http.ResponseWriter, r *http.Request, c call) {
	req, raw, ok := readDraftRequest(w, r, true)
	if !ok {
		return
	}
	s.updateDraft(w, r, c.email, c.params["id"], raw, req.Message.ThreadID)
}

// updateDraft replaces draft id's message with raw and answers the draft.
func (s *Server) updateDraft(w http.ResponseWriter, r *http.Request, email, id string, raw []byte, threadID string) {
	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(email)
	d := mb.draft(id)
	if d == nil {
		a.mu.Unlock()
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
		return
	}
	m, code, msg := s.storeDraftMessage(mb, raw, threadID)
	if m == nil {
		a.mu.Unlock()
		writeCode(w, code, msg)
		return
	}
	mb.removeMessage(d.msg)
	d.msg = m
	mb.drafts = append(slices.DeleteFunc(mb.drafts, func(x *draft) bool { return x == d }), d)
	out := draftAnswer(d)
	a.mu.Unlock()
	s.writeAPI(w, r, http.StatusOK, out)
}

// draftGet is GET drafts/{id}?format=.
func (s *Server) draftGet(w http.ResponseWriter, r *http.Request, c call) {
	format := strings.ToLower(r.URL.Query().Get("format"))
	switch format {
	case "":
		format = "full"
	case "full", "metadata", "minimal", "raw":
	default:
		invalidValue(w, "format", "TYPE_ENUM", r.URL.Query().Get("format"))
		return
	}
	a := s.api
	a.mu.Lock()
	d := a.mailboxLocked(c.email).draft(c.params["id"])
	var out draftJSON
	if d != nil {
		m := renderMessage(d.msg, format, nil)
		out = draftJSON{ID: d.id, Message: &m}
	}
	a.mu.Unlock()
	if d == nil {
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
		return
	}
	s.writeAPI(w, r, http.StatusOK, out)
}

// draftList is GET drafts: most recently saved first, paged by an opaque
// token.
func (s *Server) draftList(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	if q.Get("q") != "" {
		WriteAPIError(w, http.StatusBadRequest, "googletest: drafts.list q is not supported by this fake", "invalidArgument")
		return
	}
	n := draftsDefaultPage
	if v := q.Get("maxResults"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 {
			invalidValue(w, "maxResults", "TYPE_UINT32", v)
			return
		}
		if x > 0 {
			n = min(x, draftsMaxPage)
		}
	}
	start := 0
	if t := q.Get("pageToken"); t != "" {
		x, err := strconv.Atoi(strings.TrimPrefix(t, "d"))
		if !strings.HasPrefix(t, "d") || err != nil || x < 0 {
			WriteAPIError(w, http.StatusBadRequest, "Invalid pageToken", "invalidArgument")
			return
		}
		start = x
	}
	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(c.email)
	all := slices.Clone(mb.drafts)
	slices.Reverse(all)
	type row struct {
		ID      string `json:"id"`
		Message struct {
			ID       string `json:"id"`
			ThreadID string `json:"threadId"`
		} `json:"message"`
	}
	out := struct {
		Drafts             []row  `json:"drafts,omitempty"`
		NextPageToken      string `json:"nextPageToken,omitempty"`
		ResultSizeEstimate int    `json:"resultSizeEstimate"`
	}{ResultSizeEstimate: len(all)}
	for i := start; i < len(all) && i < start+n; i++ {
		var rw row
		rw.ID, rw.Message.ID, rw.Message.ThreadID = all[i].id, all[i].msg.id, all[i].msg.threadID
		out.Drafts = append(out.Drafts, rw)
	}
	if start+n < len(all) {
		out.NextPageToken = "d" + strconv.Itoa(start+n)
	}
	a.mu.Unlock()
	s.writeAPI(w, r, http.StatusOK, out)
}

// draftSend is POST drafts/send with a Draft naming the draft (and
// perhaps its new message): the message is sent as messages.send sends
// one, and the draft is gone.
func (s *Server) draftSend(w http.ResponseWriter, r *http.Request, c call) {
	req, raw, ok := readDraftRequest(w, r, false)
	if !ok {
		return
	}
	if req.ID == "" {
		WriteAPIError(w, http.StatusBadRequest, "Invalid draft", "invalidArgument")
		return
	}
	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(c.email)
	d := mb.draft(req.ID)
	if d == nil {
		a.mu.Unlock()
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
		return
	}
	thread := d.msg.threadID
	if thread == d.msg.id {
		thread = "" // its own thread: the sent message starts one
	}
	if raw == nil {
		raw = slices.Clone(d.msg.raw)
	} else if req.Message.ThreadID != "" {
		thread = req.Message.ThreadID
	}
	// The draft leaves before the send, as Gmail's send consumes it.
	mb.removeMessage(d.msg)
	mb.drafts = slices.DeleteFunc(mb.drafts, func(x *draft) bool { return x == d })
	a.mu.Unlock()
	m, code, msg := s.send(c.email, raw, thread)
	if m == nil {
		a.mu.Lock()
		if back, _, _ := s.storeDraftMessage(mb, raw, thread); back != nil {
			d.msg = back
			mb.drafts = append(mb.drafts, d)
		}
		a.mu.Unlock()
		if code == http.StatusRequestEntityTooLarge {
			tooLarge(w)
			return
		}
		writeCode(w, code, msg)
		return
	}
	s.writeAPI(w, r, http.StatusOK, messageJSON{ID: m.id, ThreadID: m.threadID, LabelIDs: m.labels})
}

// draftDelete is DELETE drafts/{id}: 204, no body.
func (s *Server) draftDelete(w http.ResponseWriter, r *http.Request, c call) {
	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(c.email)
	d := mb.draft(c.params["id"])
	if d != nil {
		mb.removeMessage(d.msg)
		mb.drafts = slices.DeleteFunc(mb.drafts, func(x *draft) bool { return x == d })
	}
	a.mu.Unlock()
	if d == nil {
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Draft is a draft as the fake keeps it, for tests.
type Draft struct {
	ID, MessageID, ThreadID string
	Raw                     []byte // as stored (Date, Message-ID and From as Gmail sets them)
}

// Drafts returns the user's drafts, oldest saved first.
func (s *Server) Drafts(email string) []Draft {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	mb := s.api.mail[strings.ToLower(email)]
	if mb == nil {
		return nil
	}
	out := make([]Draft, 0, len(mb.drafts))
	for _, d := range mb.drafts {
		out = append(out, Draft{ID: d.id, MessageID: d.msg.id, ThreadID: d.msg.threadID, Raw: slices.Clone(d.msg.raw)})
	}
	return out
}
