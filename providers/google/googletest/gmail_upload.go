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
	"slices"
	"strconv"
	"strings"
	"time"
)

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
