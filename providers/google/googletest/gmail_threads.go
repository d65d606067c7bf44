package googletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Gmail's users.threads.get (formats full, metadata and minimal: threads
// have no raw format) and the attachment ids messages.get and threads.get
// mint on every read.

const gmailThreadGetMethod = "gmail.users.threads.get"

func init() {
	routeScopes[gmailThreadGetMethod] = routeScopes[gmailGetMethod]
}

func (s *Server) gmailThreadRoutes() {
	s.addRoute("GET", "gmail/v1/users/{userId}/threads/{id}", gmailThreadGetMethod, s.gmailThread)
}

type threadJSON struct {
	ID        string        `json:"id"`
	Snippet   string        `json:"snippet,omitempty"`
	HistoryID string        `json:"historyId,omitempty"`
	Messages  []messageJSON `json:"messages"`
}

func (s *Server) gmailThread(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	switch format {
	case "":
		format = "full"
	case "full", "metadata", "minimal":
	default:
		invalidValue(w, "format", "TYPE_ENUM", q.Get("format"))
		return
	}
	if format == "full" && metadataOnly(c.scopes, gmailThreadGetMethod) {
		WriteAPIError(w, http.StatusForbidden, "Metadata scope doesn't allow format FULL", "forbidden")
		return
	}
	id := strings.ToLower(c.params["id"])
	if !hexID.MatchString(id) {
		WriteAPIError(w, http.StatusBadRequest, "Invalid id value", "invalidArgument")
		return
	}
	s.api.mu.Lock()
	var msgs []*mailMsg
	for _, m := range s.api.mailboxLocked(c.email).order {
		if m.threadID == id {
			cp := *m
			cp.labels = slices.Clone(m.labels)
			msgs = append(msgs, &cp)
		}
	}
	s.api.mu.Unlock()
	if len(msgs) == 0 {
		WriteAPIError(w, http.StatusNotFound, "Requested entity was not found.", "notFound")
		return
	}
	slices.SortStableFunc(msgs, func(a, b *mailMsg) int { return a.date.Compare(b.date) })
	out := threadJSON{ID: id, Snippet: msgs[len(msgs)-1].snippet, Messages: make([]messageJSON, 0, len(msgs))}
	var history uint64
	for _, m := range msgs {
		out.Messages = append(out.Messages, renderMessage(m, format, q["metadataHeaders"]))
		history = max(history, m.history)
	}
	out.HistoryID = strconv.FormatUint(history, 10)
	s.writeAPI(w, r, http.StatusOK, out)
}

// attachmentReads numbers the attachment ids minted.
var attachmentReads atomic.Uint64

// mintAttachmentID is a new attachment id for a message's part: a digest
// binding it to the message, a read number and the part id, base64url (as
// long as Gmail's, which are opaque).
func mintAttachmentID(msgID, partID string) string {
	n := attachmentReads.Add(1)
	var b bytes.Buffer
	b.Write(attachmentDigest(msgID, partID, n))
	binary.Write(&b, binary.BigEndian, n)
	b.WriteString(partID)
	return "ANGjdJ" + base64.RawURLEncoding.EncodeToString(b.Bytes())
}

func attachmentDigest(msgID, partID string, n uint64) []byte {
	sum := sha256.Sum256([]byte("attachment " + msgID + " " + partID + " " + strconv.FormatUint(n, 10)))
	return sum[:48/2]
}

// findAttachment finds the attachment part an id minted for m names.
func findAttachment(m *mailMsg, id string) *mimePart {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(id, "ANGjdJ"))
	if err != nil || !strings.HasPrefix(id, "ANGjdJ") || len(raw) < 24+8+1 {
		return nil
	}
	n := binary.BigEndian.Uint64(raw[24:32])
	partID := string(raw[32:])
	if !bytes.Equal(raw[:24], attachmentDigest(m.id, partID, n)) {
		return nil
	}
	for _, p := range m.attachments {
		if p.partID == partID {
			return p
		}
	}
	return nil
}
