package googletest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
)

// MIME parsing into Gmail's part tree: headers unfolded and decoded,
// bodies transfer-decoded, the charsets the fixtures use.

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
