// Package mimemsg builds the RFC 5322 / MIME messages that providers send
// as raw bytes, within the sending provider's limits, and parses email
// addresses strictly.
//
// Build validates every field and refuses, with an error naming the field,
// anything that could inject a header: a CR, LF, NUL or other control
// character in the subject, a display name, an address, a filename, a MIME
// type or a message id is an error, never silently stripped. Headers are
// folded at 76 characters; non-ASCII text in the subject and display names
// is written as RFC 2047 encoded-words; bodies are UTF-8 in
// quoted-printable; attachments are base64 with RFC 2231 filenames.
//
// Field names in errors are those of the send_email tool: from, to[i],
// cc[i], bcc[i], subject, body (Text), html_body (HTML),
// attachments[i].filename, attachments[i].mime_type, in_reply_to,
// references[i], message_id, date.
package mimemsg

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/mailcal/mailcal/providers"
)

// Limits on single fields, so that no header line can exceed RFC 5322's
// 998 characters.
const (
	MaxFilenameBytes  = 255 // as most file systems
	MaxMIMETypeBytes  = 255
	MaxMessageIDBytes = 500
)

// ErrTooLarge is returned (wrapped, with the size and the limit) when the
// built message would exceed Message.Limits.MaxMessageBytes. It is providers.ErrTooLarge,
// so errors.Is works with either name.
var ErrTooLarge = providers.ErrTooLarge

// FieldError is a validation failure of one field of a Message, e.g.
// "subject", "to[2]", "attachments[0].filename".
type FieldError = providers.FieldError

func fieldErr(f string, format string, args ...any) error {
	return &FieldError{Field: f, Msg: fmt.Sprintf(format, args...)}
}

// Message is a message to build.
type Message struct {
	// Limits are the sending provider's; a zero field is not checked.
	Limits      providers.Limits
	From        providers.Address // the sending account
	To, Cc, Bcc []providers.Address
	Subject     string
	// Text is the plain-text body, HTML an optional HTML alternative. At
	// least one is needed unless the message has attachments. Line breaks
	// (LF, CR or CRLF) are sent as CRLF, MIME's canonical form.
	Text string
	HTML string
	// Attachments are sent as base64 parts. An empty MIMEType is derived
	// from the filename's extension (application/octet-stream when
	// unknown).
	Attachments []providers.Attachment
	// InReplyTo is the Message-ID of the message answered, with its angle
	// brackets; empty for new mail.
	InReplyTo string
	// References are Message-IDs, each with angle brackets: the answered
	// message's References followed by its Message-ID. When InReplyTo is
	// set and not among them, it is appended.
	References []string
	// Date is the message's date; zero: now.
	Date time.Time
	// MessageID is the message's own Message-ID ("<id@domain>"); empty: a
	// random one at the domain of From.
	MessageID string
}

// ReplySubject returns the subject of a reply to a message with subject
// orig: "Re: " and orig, unless orig already starts with "Re:" (in any
// case) or "Re[n]:". Surrounding spaces are trimmed.
func ReplySubject(orig string) string {
	s := strings.TrimSpace(orig)
	if hasReplyPrefix(s) {
		return s
	}
	if s == "" {
		return "Re:"
	}
	return "Re: " + s
}

// ForwardSubject returns the subject of a forward of a message with
// subject orig: prefix ("Fwd:" when empty), a space and orig, unless orig
// already starts with "Fwd:" or "Fw:" (in any case). Surrounding spaces are
// trimmed.
func ForwardSubject(prefix, orig string) string {
	if prefix == "" {
		prefix = "Fwd:"
	}
	s := strings.TrimSpace(orig)
	for _, p := range []string{"fwd:", "fw:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return s
		}
	}
	if s == "" {
		return prefix
	}
	return prefix + " " + s
}

// BaseSubject is a subject without its reply and forward prefixes ("Re:",
// "Re[2]:", "Fwd:", "Fw:", in any case, any number of them), with spaces
// collapsed and in lower case: two messages whose base subjects are equal
// belong to one conversation as mail clients thread them.
func BaseSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for {
		t := s
		if hasReplyPrefix(t) {
			t = t[strings.IndexByte(t, ':')+1:]
		} else {
			for _, p := range []string{"fwd:", "fw:"} {
				if len(t) >= len(p) && strings.EqualFold(t[:len(p)], p) {
					t = t[len(p):]
					break
				}
			}
		}
		t = strings.TrimSpace(t)
		if t == s {
			return strings.ToLower(s)
		}
		s = t
	}
}

func hasReplyPrefix(s string) bool {
	if len(s) < 3 || !strings.EqualFold(s[:2], "re") {
		return false
	}
	rest := s[2:]
	if rest[0] == ':' {
		return true
	}
	if rest[0] != '[' {
		return false
	}
	i := 1
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	return i > 1 && strings.HasPrefix(rest[i:], "]:")
}

// entity is a MIME entity: header fields and an encoded body.
type entity struct {
	header []field
	body   []byte
}

func (e entity) render() []byte {
	var b bytes.Buffer
	for _, f := range e.header {
		writeField(&b, f)
	}
	b.WriteString("\r\n")
	b.Write(e.body)
	return b.Bytes()
}

// Build validates m and renders it as an RFC 5322 message with CRLF line
// endings, ready to be sent as raw bytes. Validation failures are
// *FieldError; a message over m.Limits.MaxMessageBytes is an error wrapping
// ErrTooLarge.
func Build(m Message) ([]byte, error) {
	attTypes, err := validate(&m)
	if err != nil {
		return nil, err
	}

	// Refuse hopeless sizes before encoding anything.
	est := len(m.Text) + len(m.HTML)
	for _, a := range m.Attachments {
		est += base64Size(len(a.Data))
	}
	if max := m.Limits.MaxMessageBytes; max > 0 && est > max {
		return nil, tooLarge("would be at least", est, max)
	}

	var parts []entity
	if m.Text != "" {
		parts = append(parts, textEntity("text/plain", m.Text))
	}
	if m.HTML != "" {
		parts = append(parts, textEntity("text/html", m.HTML))
	}
	var content entity
	var haveContent bool
	switch len(parts) {
	case 1:
		content, haveContent = parts[0], true
	case 2:
		content, haveContent = multipartEntity("alternative", parts), true
	}
	if len(m.Attachments) > 0 {
		mixed := make([]entity, 0, len(m.Attachments)+1)
		if haveContent {
			mixed = append(mixed, content)
		}
		for i, a := range m.Attachments {
			mixed = append(mixed, attachmentEntity(a, attTypes[i]))
		}
		content = multipartEntity("mixed", mixed)
	}

	var hdr []field
	hdr = append(hdr, field{"Date", []string{m.Date.Format(time.RFC1123Z)}})
	hdr = append(hdr, field{"From", addressTokens(m.From)})
	for _, l := range []struct {
		name  string
		addrs []providers.Address
	}{{"To", m.To}, {"Cc", m.Cc}, {"Bcc", m.Bcc}} {
		if len(l.addrs) == 0 {
			continue
		}
		var toks []string
		for i, a := range l.addrs {
			at := addressTokens(a)
			if i < len(l.addrs)-1 {
				at[len(at)-1] += ","
			}
			toks = append(toks, at...)
		}
		hdr = append(hdr, field{l.name, toks})
	}
	hdr = append(hdr, field{"Subject", subjectTokens(m.Subject)})
	hdr = append(hdr, field{"Message-ID", []string{m.MessageID}})
	if m.InReplyTo != "" {
		hdr = append(hdr, field{"In-Reply-To", []string{m.InReplyTo}})
	}
	if len(m.References) > 0 {
		hdr = append(hdr, field{"References", m.References})
	}
	hdr = append(hdr, field{"MIME-Version", []string{"1.0"}})
	content.header = append(hdr, content.header...)

	out := content.render()
	if max := m.Limits.MaxMessageBytes; max > 0 && len(out) > max {
		return nil, tooLarge("is", len(out), max)
	}
	return out, nil
}

func tooLarge(is string, n, max int) error {
	return fmt.Errorf("%w: the message %s %d bytes, over the provider's limit of %d bytes (%.0f MB); attachments grow by a third when encoded, so together they must stay under about %.0f MB",
		ErrTooLarge, is, n, max, float64(max)/(1<<20), float64(max)*3/4/(1<<20))
}

func base64Size(n int) int {
	enc := base64.StdEncoding.EncodedLen(n)
	return enc + 2*((enc+75)/76)
}

// textEntity is a UTF-8 text part in quoted-printable. The writer turns
// LF, CR and CRLF into CRLF, encodes trailing whitespace and keeps lines
// at 76 characters with soft breaks.
func textEntity(typ, s string) entity {
	// Line breaks are made LF before the writer sees them: Go's
	// quotedprintable.Writer remembers a lone CR across the bytes after it
	// and swallows the next LF ("\r\x1e\n" lost its LF; found by FuzzBuild).
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(s)) // a bytes.Buffer does not fail
	_ = w.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		// End with a soft line break, which decodes to nothing, so that
		// the message ends with CRLF without adding a line to the text.
		b.WriteString("=\r\n")
	}
	return entity{
		header: []field{
			{"Content-Type", []string{typ + ";", "charset=utf-8"}},
			{"Content-Transfer-Encoding", []string{"quoted-printable"}},
		},
		body: b.Bytes(),
	}
}

func attachmentEntity(a providers.Attachment, typ mediaType) entity {
	params := make(map[string]string, len(typ.params)+1)
	for k, v := range typ.params {
		params[k] = v
	}
	params["name"] = a.Filename
	// 57 bytes make one line of 76 base64 characters.
	body := make([]byte, 0, base64Size(len(a.Data)))
	var line [76]byte
	for data := a.Data; len(data) > 0; {
		n := min(57, len(data))
		k := base64.StdEncoding.EncodedLen(n)
		base64.StdEncoding.Encode(line[:k], data[:n])
		body = append(body, line[:k]...)
		body = append(body, '\r', '\n')
		data = data[n:]
	}
	return entity{
		header: []field{
			{"Content-Type", mediaTypeTokens(typ.t, params)},
			{"Content-Disposition", mediaTypeTokens("attachment", map[string]string{"filename": a.Filename})},
			{"Content-Transfer-Encoding", []string{"base64"}},
		},
		body: body,
	}
}

// multipartEntity joins parts under a random boundary. The boundary starts with
// "=_", which cannot occur in quoted-printable or base64 text, and is
// checked against the rendered parts all the same.
func multipartEntity(sub string, parts []entity) entity {
	rendered := make([][]byte, len(parts))
	size := 0
	for i, p := range parts {
		rendered[i] = p.render()
		size += len(rendered[i]) + 100
	}
	var boundary string
	for {
		boundary = "=_" + rand.Text()
		clash := false
		for _, r := range rendered {
			if bytes.Contains(r, []byte(boundary)) {
				clash = true
				break
			}
		}
		if !clash {
			break
		}
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	for _, r := range rendered {
		b.WriteString("--" + boundary + "\r\n")
		b.Write(r)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return entity{
		header: []field{{"Content-Type", mediaTypeTokens("multipart/"+sub, map[string]string{"boundary": boundary})}},
		body:   b.Bytes(),
	}
}

type mediaType struct {
	t      string
	params map[string]string
}

// validate checks every field of m and fills in the defaults (Date,
// MessageID, References, attachment types).
func validate(m *Message) ([]mediaType, error) {
	if err := checkAddressField("from", m.From); err != nil {
		return nil, err
	}
	total := 0
	for _, l := range []struct {
		name  string
		addrs []providers.Address
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}} {
		for i, a := range l.addrs {
			if err := checkAddressField(fmt.Sprintf("%s[%d]", l.name, i), a); err != nil {
				return nil, err
			}
		}
		total += len(l.addrs)
	}
	if total == 0 {
		return nil, fieldErr("to", "at least one recipient is needed in to, cc or bcc")
	}
	if max := m.Limits.MaxRecipients; max > 0 && total > max {
		return nil, fieldErr("to", "%d recipients in to, cc and bcc together; the provider accepts at most %d per message", total, max)
	}
	if why := badText(m.Subject, true); why != "" {
		return nil, fieldErr("subject", "%s", why)
	}
	if !utf8.ValidString(m.Text) {
		return nil, fieldErr("body", "it is not valid UTF-8")
	}
	if !utf8.ValidString(m.HTML) {
		return nil, fieldErr("html_body", "it is not valid UTF-8")
	}
	if m.Text == "" && m.HTML == "" && len(m.Attachments) == 0 {
		return nil, fieldErr("body", "a message needs a body (plain text or HTML) or an attachment")
	}
	types := make([]mediaType, len(m.Attachments))
	for i, a := range m.Attachments {
		t, err := checkAttachment(i, a)
		if err != nil {
			return nil, err
		}
		types[i] = t
	}
	if m.InReplyTo != "" {
		if err := checkMessageID("in_reply_to", m.InReplyTo); err != nil {
			return nil, err
		}
	}
	refs := make([]string, 0, len(m.References)+1)
	for i, r := range m.References {
		if err := checkMessageID(fmt.Sprintf("references[%d]", i), r); err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	if m.InReplyTo != "" && !slices.Contains(refs, m.InReplyTo) {
		refs = append(refs, m.InReplyTo)
	}
	m.References = refs
	if m.MessageID == "" {
		m.MessageID = newMessageID(m.From.Email)
	} else if err := checkMessageID("message_id", m.MessageID); err != nil {
		return nil, err
	}
	if m.Date.IsZero() {
		m.Date = time.Now()
	} else if y := m.Date.Year(); y < 1900 || y > 9999 {
		return nil, fieldErr("date", "year %d is out of range (1900 to 9999)", y)
	}
	return types, nil
}

func checkAddressField(f string, a providers.Address) error {
	if err := checkAddress(a); err != nil {
		return &FieldError{Field: f, Msg: err.Error()}
	}
	return nil
}

func checkAttachment(i int, a providers.Attachment) (mediaType, error) {
	ff := fmt.Sprintf("attachments[%d].filename", i)
	name := a.Filename
	if strings.TrimSpace(name) == "" {
		return mediaType{}, fieldErr(ff, "it is empty; give the file a name such as report.pdf")
	}
	if why := badText(name, false); why != "" {
		return mediaType{}, fieldErr(ff, "%s", why)
	}
	if strings.ContainsAny(name, `/\`) {
		return mediaType{}, fieldErr(ff, "%s contains a path separator; give the file name only", quoteShort(name))
	}
	if len(name) > MaxFilenameBytes {
		return mediaType{}, fieldErr(ff, "it is %d bytes long; at most %d are allowed", len(name), MaxFilenameBytes)
	}

	ft := fmt.Sprintf("attachments[%d].mime_type", i)
	mt := a.MIMEType
	if mt == "" {
		t := mediaType{t: "application/octet-stream"}
		if ext := strings.ToLower(path.Ext(name)); ext != "" {
			byExt := commonTypes[ext]
			if byExt == "" {
				byExt = mime.TypeByExtension(ext)
			}
			if d, params, err := mime.ParseMediaType(byExt); err == nil &&
				strings.Contains(d, "/") && !unsendable(d) && mediaTypeTokens(d, params) != nil {
				t = mediaType{t: d, params: params}
			}
		}
		return t, nil
	}
	if why := badText(mt, false); why != "" {
		return mediaType{}, fieldErr(ft, "%s", why)
	}
	if len(mt) > MaxMIMETypeBytes {
		return mediaType{}, fieldErr(ft, "it is %d bytes long; at most %d are allowed", len(mt), MaxMIMETypeBytes)
	}
	d, params, err := mime.ParseMediaType(mt)
	if err != nil || !strings.Contains(d, "/") || mediaTypeTokens(d, params) == nil {
		return mediaType{}, fieldErr(ft, "%s is not a MIME type (expected type/subtype, like application/pdf)", quoteShort(mt))
	}
	if unsendable(d) {
		return mediaType{}, fieldErr(ft, "%s cannot be sent as a base64 attachment; use application/octet-stream", d)
	}
	delete(params, "name")
	return mediaType{t: d, params: params}, nil
}

// commonTypes are the types of common attachments, so that they do not
// depend on the machine's mime.types (which mime.TypeByExtension reads for
// everything else).
var commonTypes = map[string]string{
	".txt": "text/plain", ".csv": "text/csv", ".md": "text/markdown", ".ics": "text/calendar",
	".html": "text/html", ".htm": "text/html", ".xml": "application/xml", ".json": "application/json",
	".pdf": "application/pdf", ".rtf": "application/rtf", ".zip": "application/zip", ".gz": "application/gzip",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text", ".ods": "application/vnd.oasis.opendocument.spreadsheet",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".svg": "image/svg+xml", ".heic": "image/heic", ".tif": "image/tiff", ".tiff": "image/tiff",
	".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".mp4": "video/mp4", ".mov": "video/quicktime",
}

// unsendable reports media types that MIME forbids in base64 (RFC 2046:
// multipart and message types take only 7bit, 8bit or binary).
func unsendable(t string) bool {
	return strings.HasPrefix(t, "multipart/") || strings.HasPrefix(t, "message/")
}

// checkMessageID accepts "<id>" where id is printable ASCII without
// spaces or angle brackets (RFC 5322 msg-id, leniently: no "@" needed).
func checkMessageID(f, id string) error {
	if why := badText(id, false); why != "" {
		return fieldErr(f, "%s", why)
	}
	if len(id) > MaxMessageIDBytes {
		return fieldErr(f, "it is %d bytes long; at most %d are allowed", len(id), MaxMessageIDBytes)
	}
	if len(id) < 3 || id[0] != '<' || id[len(id)-1] != '>' {
		return fieldErr(f, "%s is not a message id: it must be enclosed in angle brackets, like <id@example.com>", quoteShort(id))
	}
	for i := 1; i < len(id)-1; i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return fieldErr(f, "%s is not a message id: only printable ASCII without spaces may stand between the angle brackets", quoteShort(id))
		}
	}
	return nil
}

// newMessageID returns "<random@domain>" with the domain of the sender
// (in ASCII form), or mailcal.invalid when that domain cannot be used.
func newMessageID(from string) string {
	domain := from[strings.LastIndexByte(from, '@')+1:]
	if !printableASCII(domain) {
		if a, err := idna.Lookup.ToASCII(domain); err == nil {
			domain = a
		}
	}
	ok := domain != ""
	for i := 0; i < len(domain) && ok; i++ {
		c := domain[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.'
	}
	if !ok || len(domain) > 253 {
		domain = "mailcal.invalid"
	}
	return "<" + strings.ToLower(rand.Text()) + "@" + domain + ">"
}
