package microsofttest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Reading MIME messages: the fixtures, AddMessage, and sendMail, reply and
// forward in MIME format. Outlook keeps the headers, one body (HTML where
// the message has it) and the attachments.

// Header is an Internet message header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// parsedMIME is what Outlook keeps of a MIME message.
type parsedMIME struct {
	raw         []byte   // as received (a sendMail in MIME format)
	headers     []Header // in order, unfolded, as sent
	subject     string   // decoded
	from        *Recipient
	sender      *Recipient
	to, cc, bcc []Recipient
	replyTo     []Recipient
	messageID   string
	inReplyTo   string
	references  string
	date        string
	body        bodyContent
	attachments []*attachment
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
	if isLatin1(charset) {
		b, err := io.ReadAll(in)
		return strings.NewReader(latin1ToUTF8(b)), err
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}}

// parseMIME reads a message; an error says what is wrong with it.
func parseMIME(raw []byte) (*parsedMIME, error) {
	hdrs, body, err := splitHeaders(raw)
	if err != nil {
		return nil, err
	}
	p := &parsedMIME{headers: hdrs}
	get := func(name string) string {
		for _, h := range hdrs {
			if strings.EqualFold(h.Name, name) {
				return h.Value
			}
		}
		return ""
	}
	if s, err := wordDecoder.DecodeHeader(get("Subject")); err == nil {
		p.subject = s
	} else {
		p.subject = get("Subject")
	}
	for _, f := range []struct {
		name string
		dst  *[]Recipient
	}{{"To", &p.to}, {"Cc", &p.cc}, {"Bcc", &p.bcc}, {"Reply-To", &p.replyTo}} {
		if v := get(f.name); v != "" {
			if *f.dst, err = parseRecipients(v); err != nil {
				return nil, fmt.Errorf("%s: %v", f.name, err)
			}
		}
	}
	if v := get("From"); v != "" {
		from, err := parseRecipients(v)
		if err != nil || len(from) != 1 {
			return nil, fmt.Errorf("From: not one address")
		}
		p.from = &from[0]
	}
	if v := get("Sender"); v != "" {
		if s, err := parseRecipients(v); err == nil && len(s) == 1 {
			p.sender = &s[0]
		}
	}
	p.messageID, p.inReplyTo, p.references, p.date = get("Message-ID"), get("In-Reply-To"), get("References"), get("Date")
	var htmlBody, textBody string
	var haveHTML, haveText bool
	err = walkMIME(get("Content-Type"), get("Content-Transfer-Encoding"), get("Content-Disposition"), get("Content-ID"), body,
		func(ctype string, params map[string]string, disposition string, dparams map[string]string, cid string, data []byte) {
			filename := dparams["filename"]
			if filename == "" {
				filename = params["name"]
			}
			isText := ctype == "text/plain" || ctype == "text/html"
			switch {
			case disposition != "attachment" && filename == "" && ctype == "text/html" && !haveHTML:
				htmlBody, haveHTML = toUTF8(data, params["charset"]), true
			case disposition != "attachment" && filename == "" && ctype == "text/plain" && !haveText:
				textBody, haveText = toUTF8(data, params["charset"]), true
			case ctype == "text/calendar" && disposition == "":
				// A meeting request's own part: Outlook makes it the
				// message's meeting, not an attachment.
			case isText && disposition == "" && filename == "":
				// Further alternatives of the body.
			default:
				if filename == "" {
					filename = "attachment"
				}
				p.attachments = append(p.attachments, &attachment{name: filename, contentType: ctype, data: data,
					inline: disposition == "inline" || disposition == "" && cid != "", contentID: cid})
			}
		})
	if err != nil {
		return nil, err
	}
	switch {
	case haveHTML:
		p.body = bodyContent{typ: "html", content: htmlBody}
	case haveText:
		p.body = bodyContent{typ: "text", content: textBody}
	default:
		p.body = bodyContent{typ: "text"}
	}
	return p, nil
}

// splitHeaders reads the header section (unfolded) and returns the body.
func splitHeaders(raw []byte) ([]Header, []byte, error) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	end := bytes.Index(raw, []byte("\n\n"))
	if end < 0 {
		end = len(raw)
	}
	var hdrs []Header
	for _, line := range strings.Split(string(raw[:end]), "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(hdrs) > 0 {
			hdrs[len(hdrs)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, nil, fmt.Errorf("bad Header line %q", line)
		}
		hdrs = append(hdrs, Header{Name: name, Value: strings.TrimSpace(value)})
	}
	if len(hdrs) == 0 {
		return nil, nil, errors.New("no header")
	}
	body := raw[min(end+2, len(raw)):]
	return hdrs, body, nil
}

type leafFunc func(ctype string, params map[string]string, disposition string, dparams map[string]string, cid string, data []byte)

// walkMIME calls leaf for every leaf entity, transfer-decoded, depth first.
func walkMIME(ctypeHeader, cte, dispHeader, cidHeader string, body []byte, leaf leafFunc) error {
	return walkDepth(ctypeHeader, cte, dispHeader, cidHeader, body, leaf, 0)
}

func walkDepth(ctypeHeader, cte, dispHeader, cidHeader string, body []byte, leaf leafFunc, depth int) error {
	if depth > 20 {
		return errors.New("MIME nested too deep")
	}
	ctype, params := "text/plain", map[string]string{"charset": "us-ascii"}
	if ctypeHeader != "" {
		var err error
		if ctype, params, err = mime.ParseMediaType(ctypeHeader); err != nil {
			return fmt.Errorf("Content-Type %q: %v", ctypeHeader, err)
		}
	}
	if strings.HasPrefix(ctype, "multipart/") {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %v", err)
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return fmt.Errorf("multipart: %v", err)
			}
			h := part.Header
			if err := walkDepth(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), h.Get("Content-Disposition"),
				h.Get("Content-ID"), data, leaf, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := decodeTransfer(cte, body)
	if err != nil {
		return err
	}
	disposition, dparams := "", map[string]string{}
	if dispHeader != "" {
		if disposition, dparams, err = mime.ParseMediaType(dispHeader); err != nil {
			return fmt.Errorf("Content-Disposition %q: %v", dispHeader, err)
		}
	}
	if n, err := wordDecoder.DecodeHeader(params["name"]); err == nil {
		params["name"] = n
	}
	leaf(ctype, params, disposition, dparams, strings.Trim(cidHeader, "<> "), data)
	return nil
}

func decodeTransfer(cte string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out, err := base64.StdEncoding.DecodeString(string(clean))
		if err != nil {
			return nil, fmt.Errorf("base64 body: %v", err)
		}
		return out, nil
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return nil, fmt.Errorf("quoted-printable body: %v", err)
		}
		return bytes.TrimSuffix(bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n")), []byte("\n")), nil
	default:
		return bytes.TrimSuffix(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), []byte("\n")), nil
	}
}

func isLatin1(charset string) bool {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "windows-1252", "cp1252":
		return true
	}
	return false
}

func latin1ToUTF8(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// toUTF8 decodes a body in charset (UTF-8, ASCII, ISO-8859-1); invalid
// UTF-8 is read as ISO-8859-1.
func toUTF8(b []byte, charset string) string {
	if isLatin1(charset) || !utf8.Valid(b) {
		return latin1ToUTF8(b)
	}
	return string(b)
}

// parseRecipients reads an address list, names RFC 2047-decoded.
func parseRecipients(v string) ([]Recipient, error) {
	p := mail.AddressParser{WordDecoder: &wordDecoder}
	list, err := p.ParseList(v)
	if err != nil {
		return nil, err
	}
	out := make([]Recipient, 0, len(list))
	for _, a := range list {
		out = append(out, Recipient{Name: a.Name, Address: a.Address})
	}
	return out, nil
}
