package google

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Reading a batch answer held whole in memory, in place: a list_messages
// batch has one part a message, and mime/multipart with http.ReadResponse
// made a header map, a reader and a copy of the body for each, a sixth of
// what the server allocated under load. Here a part's body is a slice of
// the answer, and headers are parsed only for the calls that failed.

// rawPart is a part of a multipart body: its header block and content.
type rawPart struct{ header, content []byte }

// splitParts returns the parts of a multipart body (RFC 2046 5.1.1): what
// lies between delimiter lines ("--" boundary, transport padding, CRLF or
// LF), a preamble and an epilogue ignored. complete is false when the body
// ends before the close delimiter ("--" boundary "--"): the parts before
// the break are returned, a part the break cut is not.
func splitParts(body []byte, boundary string) (parts []rawPart, complete bool) {
	dash := []byte("--" + boundary)
	i := delimiterAt(body, dash, 0)
	for i >= 0 {
		rest := body[i+len(dash):]
		if bytes.HasPrefix(rest, []byte("--")) {
			return parts, true // the close delimiter
		}
		start, ok := lineEnd(rest)
		if !ok {
			return parts, false
		}
		rest = rest[start:]
		next := delimiterAt(rest, dash, 1)
		if next < 0 {
			return parts, false
		}
		// The CRLF (or LF) before a delimiter belongs to it.
		end := next - 1
		if end > 0 && rest[end-1] == '\r' {
			end--
		}
		parts = append(parts, splitHeader(rest[:end]))
		i = len(body) - len(rest) + next
	}
	return parts, false
}

// delimiterAt finds the next delimiter line in b at or after from: dash at
// the start of b or of a line, followed by "--", or by transport padding
// and a line end.
func delimiterAt(b, dash []byte, from int) int {
	for from <= len(b) {
		j := bytes.Index(b[from:], dash)
		if j < 0 {
			return -1
		}
		j += from
		after := b[j+len(dash):]
		if (j == 0 || b[j-1] == '\n') && (bytes.HasPrefix(after, []byte("--")) || isLineEnd(after)) {
			return j
		}
		from = j + 1
	}
	return -1
}

// lineEnd skips transport padding (spaces and tabs) and a CRLF or LF at
// the start of b, returning where the next line starts.
func lineEnd(b []byte) (int, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	switch {
	case bytes.HasPrefix(b[i:], []byte("\r\n")):
		return i + 2, true
	case bytes.HasPrefix(b[i:], []byte("\n")):
		return i + 1, true
	}
	return 0, false
}

func isLineEnd(b []byte) bool {
	_, ok := lineEnd(b)
	return ok
}

// splitHeader splits a header block (lines ending at an empty line) from
// the content after it; without an empty line, all is header.
func splitHeader(b []byte) rawPart {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return rawPart{content: b[2:]}
	}
	if bytes.HasPrefix(b, []byte("\n")) {
		return rawPart{content: b[1:]}
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return rawPart{header: b[:i+2], content: b[i+4:]}
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return rawPart{header: b[:i+1], content: b[i+2:]}
	}
	return rawPart{header: b}
}

// headerValue returns the value of the first header line named name (in
// any case) of a header block; folded lines are not joined.
func headerValue(block []byte, name string) string {
	for len(block) > 0 {
		line := block
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// parseAnswer reads the HTTP response held in a part's content: status
// line, header lines, an empty line, the body. The body is a slice of b (up
// to Content-Length, when that is less); the headers are parsed into a map
// only for a status other than 2xx, whose error and Retry-After need them.
func parseAnswer(b []byte) (*callAnswer, bool) {
	p := splitHeader(b)
	line, head, _ := bytes.Cut(p.header, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") || len(f[1]) != 3 {
		return nil, false
	}
	status, err := strconv.Atoi(f[1])
	if err != nil || status < 100 {
		return nil, false
	}
	a := &callAnswer{status: status, body: p.content}
	if cl := headerValue(head, "Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > len(p.content) {
			return nil, false // cut short
		}
		a.body = p.content[:n]
	}
	if status/100 != 2 {
		h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bytes.Clone(head), "\r\n"...)))).ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			h = textproto.MIMEHeader{}
		}
		a.header = http.Header(h)
		a.body = bytes.Clone(a.body) // kept in the error past the answer's buffer
	}
	return a, true
}
