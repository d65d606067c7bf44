package googletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Gmail's messages.send through the JSON endpoint (the raw field), and
// what sending does whatever the endpoint: Gmail's checks, the headers it
// adds or fixes, the sender's copy, delivery to mailboxes of this fake, and
// threading.

type sendRequest struct {
	Raw      string `json:"raw"`
	ThreadID string `json:"threadId"`
}

// gmailSend is POST gmail/v1/users/{userId}/messages/send with a JSON
// Message whose raw field holds the whole message.
func (s *Server) gmailSend(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	if r.URL.Query().Has("uploadType") {
		WriteAPIError(w, http.StatusBadRequest, "Uploads must be sent to the upload URL. Re-send this request to "+
			s.URL()+"/upload/gmail/v1/users/"+c.params["userId"]+"/messages/send?uploadType="+r.URL.Query().Get("uploadType"), "wrongUrlForUpload")
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
	stored, parsed, err := s.normalize(email, raw, msg.Header)
	if err != nil {
		return nil, http.StatusBadRequest, "Invalid RFC822 message: " + err.Error()
	}
	now := s.Now()

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

// normalize is what Gmail does to a message it stores for the user (sent
// or a draft): it adds Date and Message-ID when missing and replaces a From
// that is not the user's address.
func (s *Server) normalize(email string, raw []byte, h mail.Header) ([]byte, *parsedMsg, error) {
	stored := raw
	if h.Get("Date") == "" {
		stored = addHeader(stored, "Date", s.Now().Format(time.RFC1123Z))
	}
	if h.Get("Message-ID") == "" {
		sum := sha256.Sum256(append(raw, s.Now().String()...))
		stored = addHeader(stored, "Message-ID", fmt.Sprintf("<CAFake%x@mail.gmail.com>", sum[:12]))
	}
	if from, err := addressParser.Parse(h.Get("From")); err != nil || !strings.EqualFold(from.Address, email) {
		name := ""
		if from != nil {
			name = from.Name
		}
		stored = replaceHeader(stored, "From", (&mail.Address{Name: name, Address: email}).String())
	}
	parsed, err := parseMessage(stored)
	return stored, parsed, err
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

// messages.send through the /upload/ endpoint: multipart, media and
// resumable uploads, as google.golang.org/api sends them.

type resumableUpload struct {
	email, threadID, mediaType string
	buf                        bytes.Buffer
}

// gmailUploadSend is POST upload/gmail/v1/users/{userId}/messages/send:
// uploadType=multipart (JSON metadata + message/rfc822 part in a
// multipart/related body, what google.golang.org/api's Media() sends),
// media (the message alone) or resumable (a session, then chunks).
func (s *Server) gmailUploadSend(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	if id := q.Get("upload_id"); id != "" {
		s.uploadChunk(w, r, id)
		return
	}
	email := c.email
	var ok bool
	var meta sendRequest
	var media []byte
	mediaType := ""
	switch ut := q.Get("uploadType"); ut {
	case "multipart":
		var mb []byte
		if mb, media, mediaType, ok = readMultipartUpload(w, r); !ok {
			return
		}
		if len(bytes.TrimSpace(mb)) > 0 {
			if err := json.Unmarshal(mb, &meta); err != nil {
				badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
				return
			}
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
		w.Header().Set("Location", s.URL()+"/upload/gmail/v1/users/"+c.params["userId"]+"/messages/send?uploadType=resumable&upload_id="+id)
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

// readMultipartUpload reads an uploadType=multipart request: a
// multipart/related body of the JSON metadata, then the media.
func readMultipartUpload(w http.ResponseWriter, r *http.Request) (meta, media []byte, mediaType string, ok bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		WriteAPIError(w, http.StatusBadRequest, "Bad multipart request: the Content-Type must be multipart/related with a boundary.", "badContent")
		return nil, nil, "", false
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, GmailMaxMessageSize+GmailJSONBodyLimit), params["boundary"])
	metaPart, err := mr.NextPart()
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Bad multipart request: missing metadata part.", "badContent")
		return nil, nil, "", false
	}
	meta, _ = io.ReadAll(io.LimitReader(metaPart, GmailJSONBodyLimit))
	mediaPart, err := mr.NextPart()
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Bad multipart request: missing media part.", "badContent")
		return nil, nil, "", false
	}
	mediaType = mediaPart.Header.Get("Content-Type")
	if media, ok = readMedia(w, mediaPart); !ok {
		return nil, nil, "", false
	}
	return meta, media, mediaType, true
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
