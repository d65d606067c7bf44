package mimemsg

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"
	"testing"
)

// parsed is a built message read back with net/mail and mime/multipart
// only: the decoded top-level header and every leaf part, decoded.
type parsed struct {
	header  mail.Header
	subject string // RFC 2047-decoded
	leaves  []leaf
	// structure is the tree of media types, e.g.
	// "multipart/mixed[multipart/alternative[text/plain text/html] application/pdf]".
	structure string
}

type leaf struct {
	mediaType   string
	params      map[string]string
	disposition string
	filename    string // from Content-Disposition, decoded (RFC 2231)
	body        []byte // transfer-decoded
}

var wordDecoder mime.WordDecoder

// parseBack parses raw as a recipient would and checks the wire-format
// rules every built message must follow. It fails the test on any
// malformation.
func parseBack(t testing.TB, raw []byte) parsed {
	t.Helper()
	checkWire(t, raw)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	var p parsed
	p.header = msg.Header
	for k, v := range msg.Header {
		if len(v) != 1 {
			t.Fatalf("header %s appears %d times", k, len(v))
		}
	}
	p.subject, err = wordDecoder.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject %q does not decode: %v", msg.Header.Get("Subject"), err)
	}
	p.structure = walk(t, textproto.MIMEHeader(msg.Header), msg.Body, &p.leaves, 0)
	return p
}

// checkWire: CRLF line endings only, no line over 998 characters, header
// lines of the top level at most 78, no NUL, ASCII or UTF-8 only.
func checkWire(t testing.TB, raw []byte) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Fatalf("message does not end with CRLF")
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		t.Fatalf("message contains NUL")
	}
	inHeader := true
	lines := bytes.Split(raw[:len(raw)-2], []byte("\r\n"))
	for i, l := range lines {
		if bytes.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 998 {
			t.Fatalf("line %d is %d characters long", i+1, len(l))
		}
		if inHeader && len(l) == 0 {
			inHeader = false
		}
		// Over 78 only when the line is one token that cannot be folded
		// (a long address or message id; spaces inside a quoted local part
		// are part of the token).
		rest := l
		if len(l) > 0 && l[0] != ' ' {
			rest = l[bytes.IndexByte(l, ':')+1:]
		}
		if inHeader && len(l) > 78 && bytes.Contains(bytes.TrimLeft(withoutQuoted(rest), " "), []byte(" ")) {
			t.Fatalf("header line %d is %d characters long: %q", i+1, len(l), l)
		}
		if inHeader && i > 0 && len(l) > 0 && l[0] != ' ' && l[0] != '\t' && !bytes.Contains(l, []byte(":")) {
			t.Fatalf("header line %d is neither a field nor a continuation: %q", i+1, l)
		}
	}
}

func walk(t testing.TB, h textproto.MIMEHeader, body io.Reader, leaves *[]leaf, depth int) string {
	t.Helper()
	if depth > 3 {
		t.Fatalf("MIME structure nested too deep")
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if h.Get("Content-Transfer-Encoding") != "" {
			t.Fatalf("multipart with a transfer encoding")
		}
		mr := multipart.NewReader(body, params["boundary"])
		var kids []string
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			kids = append(kids, walk(t, part.Header, part, leaves, depth+1))
		}
		if len(kids) == 0 {
			t.Fatalf("empty multipart")
		}
		return mt + "[" + strings.Join(kids, " ") + "]"
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	var dec []byte
	switch cte := h.Get("Content-Transfer-Encoding"); cte {
	case "quoted-printable":
		dec, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	case "base64":
		for _, l := range bytes.Split(bytes.TrimSuffix(raw, []byte("\r\n")), []byte("\r\n")) {
			if len(l) > 76 {
				t.Fatalf("base64 line of %d characters", len(l))
			}
		}
		dec, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(raw)))
	default:
		t.Fatalf("unexpected Content-Transfer-Encoding %q", cte)
	}
	if err != nil {
		t.Fatalf("decode part: %v", err)
	}
	l := leaf{mediaType: mt, params: params, body: dec}
	if cd := h.Get("Content-Disposition"); cd != "" {
		d, dp, err := mime.ParseMediaType(cd)
		if err != nil {
			t.Fatalf("Content-Disposition %q: %v", cd, err)
		}
		l.disposition, l.filename = d, dp["filename"]
	}
	*leaves = append(*leaves, l)
	return mt
}

func headerKeys(h mail.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// crlf is s with every line break as CRLF, as the text parts carry it.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func describe(p parsed) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", p.structure)
	for _, l := range p.leaves {
		fmt.Fprintf(&b, "  %s %v %s %q %d bytes\n", l.mediaType, l.params, l.disposition, l.filename, len(l.body))
	}
	return b.String()
}

// withoutQuoted drops the quoted strings of a header value.
func withoutQuoted(b []byte) []byte {
	var out []byte
	quoted, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted:
			out = append(out, c)
		}
	}
	return out
}
