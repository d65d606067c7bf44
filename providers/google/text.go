package google

import (
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	gmail "google.golang.org/api/gmail/v1"
)

// partCharset is the charset parameter of a part's Content-Type header; ""
// when absent.
func partCharset(p *gmail.MessagePart) string {
	ct := header(p.Headers, "Content-Type")
	if ct == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		// Lenient: find charset= by hand in a malformed header.
		i := strings.Index(strings.ToLower(ct), "charset=")
		if i < 0 {
			return ""
		}
		v := ct[i+len("charset="):]
		if j := strings.IndexAny(v, "; \t"); j >= 0 {
			v = v[:j]
		}
		return strings.Trim(v, `"'`)
	}
	return params["charset"]
}

// toUTF8 converts body bytes in charset to UTF-8. Gmail decodes the
// transfer encoding (base64, quoted-printable) but not the charset. An
// unknown or missing charset keeps valid UTF-8 as is and reads anything else
// as windows-1252 (what mislabelled Western mail usually is).
func toUTF8(b []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		if utf8.Valid(b) {
			return string(b)
		}
		cs = "windows-1252"
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		if utf8.Valid(b) {
			return string(b)
		}
		enc = charmap.Windows1252
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(strings.ToLower(charset))
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(input), nil
}}

// decodeHeader decodes RFC 2047 encoded words. Gmail usually returns header
// values decoded to UTF-8, but passes some through encoded; both are
// handled. Values that are not valid UTF-8 (raw 8-bit headers) are read as
// windows-1252; line folding is undone.
func decodeHeader(v string) string {
	if v == "" {
		return ""
	}
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	if !utf8.ValidString(v) {
		v = toUTF8([]byte(v), "windows-1252")
	}
	if strings.ContainsAny(v, "\r\n") {
		v = strings.Join(strings.Fields(v), " ")
	}
	return strings.TrimSpace(v)
}
