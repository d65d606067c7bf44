package microsofttest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Upload sessions for attachments of 3 MB to 150 MB ("Attach large files
// to Outlook messages or events"): createUploadSession answers a
// pre-authenticated URL (on Outlook's host in reality, on this server
// here), to which the client PUTs the file's bytes in order, each request
// naming its range in Content-Range; the last one answers 201 with the
// attachment's URL in Location.

const (
	minUploadSize  = 3 << 20   // smaller files are POSTed to attachments
	maxUploadSize  = 150 << 20 // the largest attachment Outlook takes
	uploadLifetime = time.Hour
)

type uploadSession struct {
	id, token   string
	mailbox     string // lower-case UPN
	msgSeq      uint64
	msgID       string // as the session was created with
	name, ctype string
	contentID   string
	inline      bool
	size        int
	data        []byte
	expiry      time.Time
}

func (s *Server) createUploadSession(c *call) {
	var in struct {
		AttachmentItem *struct {
			AttachmentType string `json:"attachmentType"`
			Name           string `json:"name"`
			Size           int64  `json:"size"`
			ContentType    string `json:"contentType"`
			IsInline       bool   `json:"isInline"`
			ContentID      string `json:"contentId"`
		} `json:"AttachmentItem"`
	}
	if !c.readBody(&in) {
		return
	}
	it := in.AttachmentItem
	switch {
	case it == nil:
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'AttachmentItem' is empty.")
		return
	case it.AttachmentType != "file":
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'AttachmentType' must be 'file'.")
		return
	case it.Name == "":
		c.fail(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'Name' is empty.")
		return
	case it.Size < minUploadSize:
		c.fail(http.StatusBadRequest, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
			"Attachment size must be greater than the minimum size.")
		return
	case it.Size > maxUploadSize:
		// The documented largest attachment; the code is the fake's.
		c.fail(http.StatusBadRequest, "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize",
			"Attachment size must be less than the maximum size of 150 MB.")
		return
	}
	if it.ContentType == "" {
		it.ContentType = "application/octet-stream"
	}
	token := randomToken(48)
	s.RecordSecret(token) // before the Graph lock: it takes the identity platform's
	_, m, unlock := s.lockMessage(c)
	if m == nil {
		return
	}
	defer unlock()
	u := &uploadSession{id: randomToken(24), token: token, mailbox: lowerKey(c.user.UPN), msgSeq: m.seq, msgID: c.params["id"],
		name: it.Name, ctype: it.ContentType, contentID: it.ContentID, inline: it.IsInline, size: int(it.Size),
		expiry: s.Now().Add(uploadLifetime)}
	s.graph.uploads[u.id] = u
	c.ok(http.StatusCreated, map[string]any{
		"@odata.context":     c.s.GraphURL() + "/$metadata#microsoft.graph.uploadSession",
		"uploadUrl":          s.uploadURL(c.user, u, "AttachmentSessions('"+u.id+"')") + "?authtoken=" + url.QueryEscape(token),
		"expirationDateTime": preciseTime(u.expiry), "nextExpectedRanges": []string{"0-"},
	})
}

func (s *Server) uploadURL(a Account, u *uploadSession, last string) string {
	return s.graphSrv.URL + "/api/v2.0/Users('" + url.PathEscape(a.ObjectID()+"@"+a.TenantID) + "')/Messages('" +
		url.PathEscape(u.msgID) + "')/" + last
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var sessionRE = regexp.MustCompile(`/AttachmentSessions\('([^']+)'\)$`)
var rangeRE = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+)$`)

// serveUpload takes the PUTs (and the DELETE that cancels) of an upload
// session. The URL's token is the credential: no Authorization header.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	g := s.graph
	defer g.ctl.Begin(r)()
	fail := func(status int, code, msg string) {
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	match := sessionRE.FindStringSubmatch(r.URL.Path)
	if match == nil {
		fail(http.StatusNotFound, "ResourceNotFound", "The resource was not found.")
		return
	}
	g.mu.Lock()
	u := g.uploads[match[1]]
	g.mu.Unlock()
	if u == nil || !s.Now().Before(u.expiry) {
		fail(http.StatusNotFound, "ErrorItemNotFound", "The upload session was not found or has expired.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("authtoken")), []byte(u.token)) != 1 {
		fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "The upload session's token is not valid.")
		return
	}
	switch r.Method {
	case http.MethodDelete:
		g.mu.Lock()
		delete(g.uploads, u.id)
		g.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPut:
	default:
		w.Header().Set("Allow", "PUT, DELETE")
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "The method is not allowed on an upload session.")
		return
	}
	rm := rangeRE.FindStringSubmatch(r.Header.Get("Content-Range"))
	if rm == nil {
		fail(http.StatusBadRequest, "InvalidRequest", "The Content-Range header is missing or malformed: bytes {start}-{end}/{total} is expected.")
		return
	}
	start, _ := strconv.Atoi(rm[1])
	end, _ := strconv.Atoi(rm[2])
	total, _ := strconv.Atoi(rm[3])
	g.mu.Lock()
	next := len(u.data)
	g.mu.Unlock()
	switch {
	case total != u.size:
		fail(http.StatusBadRequest, "InvalidRequest", "The total size in Content-Range differs from the upload session's.")
		return
	case end < start || end >= total:
		fail(http.StatusRequestedRangeNotSatisfiable, "invalidRange", "The specified byte range is invalid.")
		return
	case start < next:
		fail(http.StatusRequestedRangeNotSatisfiable, "invalidRange", "Uploaded fragment overlaps with existing data.")
		return
	case start > next:
		fail(http.StatusRequestedRangeNotSatisfiable, "invalidRange", "Uploaded fragment is out of order.")
		return
	}
	chunk, err := io.ReadAll(io.LimitReader(r.Body, int64(end-start+2)))
	if err != nil || len(chunk) != end-start+1 {
		fail(http.StatusBadRequest, "InvalidRequest", "The body's length differs from the Content-Range's.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.uploads[u.id] != u || len(u.data) != start {
		fail(http.StatusRequestedRangeNotSatisfiable, "invalidRange", "Uploaded fragment overlaps with existing data.")
		return
	}
	u.data = append(u.data, chunk...)
	if len(u.data) < u.size {
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context":     s.graphSrv.URL + "/api/v2.0/$metadata#Users('" + url.PathEscape(u.mailbox) + "')/Messages('" + u.msgID + "')/AttachmentSessions/$entity",
			"expirationDateTime": preciseTime(u.expiry), "nextExpectedRanges": []string{strconv.Itoa(len(u.data))},
		})
		return
	}
	delete(g.uploads, u.id)
	mb := g.mailboxes[u.mailbox]
	var m *message
	for _, o := range mb.msgs {
		if o.seq == u.msgSeq {
			m = o
		}
	}
	if m == nil {
		fail(http.StatusNotFound, "ErrorItemNotFound", "The message of the upload session no longer exists.")
		return
	}
	a := &attachment{seq: mb.next(), name: u.name, contentType: u.ctype, contentID: u.contentID, inline: u.inline,
		data: u.data, modified: s.Now()}
	m.attachments = append(m.attachments, a)
	m.changes++
	w.Header().Set("Location", s.uploadURL(mb.owner, u, "Attachments('"+attachmentID(mb, m, a, false)+"')"))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}
