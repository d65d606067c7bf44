// Package fixturetest is the provider-neutral content of the provider fakes'
// fixtures: one person's mailbox (messages as RFC 5322 MIME trees, with
// where they are filed and whether they are read, flagged or important) and
// calendars (events with RFC 5545 recurrence), placed relative to a clock.
// Each fake (providers/google/googletest, providers/microsoft/microsofttest)
// loads the same content and files it the way its provider would: Gmail
// labels, or Outlook folders, categories and flags.
package fixturetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // the fixtures' zones, whatever the machine has installed
)

// The fixture people.
const (
	Bob   = "bob@example.com"
	Carol = "carol@example.com"
	Dave  = "dave@example.com"
	// Owner is the name of the mailbox owner in the fixtures' texts.
	Owner = "Alice"
)

// Folder is where a message is filed.
type Folder string

// Folders.
const (
	Inbox Folder = "inbox"
	Sent  Folder = "sent"
	Spam  Folder = "spam"
	Trash Folder = "trash"
)

// Category is the kind of message a provider's classification gives it
// (Gmail's inbox categories; Outlook's Focused and Other).
type Category string

// Categories.
const (
	Personal   Category = "personal"
	Updates    Category = "updates"
	Promotions Category = "promotions"
	Social     Category = "social"
	Forums     Category = "forums"
)

// Message is a fixture message: its MIME tree and headers, and how it is
// filed.
type Message struct {
	Key  string        // the fixture key (Fixtures.Messages)
	Ago  time.Duration // received this long before the clock
	Zone string        // the sender's zone (the Date header's offset); default Europe/Berlin
	// From, To and Cc are RFC 5322 address lists; "{me}" stands for the
	// mailbox owner's address.
	From, To, Cc string
	Subject      string // as it appears in the header (RFC 2047-encoded where needed)
	// MessageID is the Message-ID (default one made from Key and the date);
	// InReplyTo and References refer to earlier fixture messages.
	MessageID, InReplyTo, References string
	Extra                            [][2]string // more header fields, in order
	Folder                           Folder
	Unread, Important, Starred       bool
	Category                         Category // "" for none
	Labels                           []string // the owner's own labels (Work, Receipts)
	Root                             Part
}

// Date is when the message was sent, in the sender's zone, to the second.
func (m Message) Date(now time.Time) time.Time {
	zone := m.Zone
	if zone == "" {
		zone = "Europe/Berlin"
	}
	return now.Add(-m.Ago).In(MustZone(zone)).Truncate(time.Second)
}

// ID is the Message-ID header's value.
func (m Message) ID(now time.Time) string {
	if m.MessageID != "" {
		return m.MessageID
	}
	return fmt.Sprintf("<fx.%s.%d@mail.example.com>", m.Key, m.Date(now).Unix())
}

// Raw is the message as RFC 5322 bytes for the mailbox of email, dated
// relative to now.
func (m Message) Raw(now time.Time, email string) []byte {
	var b bytes.Buffer
	date := m.Date(now)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nDate: %s\r\n", date.Format(time.RFC1123Z))
	if m.References != "" {
		fmt.Fprintf(&b, "References: %s\r\n", m.References)
	}
	if m.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", m.InReplyTo)
	}
	fmt.Fprintf(&b, "Message-ID: %s\r\nSubject: %s\r\nFrom: %s\r\nTo: %s\r\n", m.ID(now), m.Subject, m.From, Me(m.To, email))
	if m.Cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", Me(m.Cc, email))
	}
	for _, h := range m.Extra {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	m.Root.write(&b, m.Key)
	return b.Bytes()
}

// Me replaces "{me}" in an address list with the owner's address.
func Me(list, email string) string { return strings.ReplaceAll(list, "{me}", email) }

// Part is a MIME entity: a leaf with a body, or a multipart with Parts.
type Part struct {
	ContentType string // with parameters; "multipart/…" for a multipart
	Encoding    string // Content-Transfer-Encoding of a leaf: base64, quoted-printable, 7bit or ""
	Disposition string // Content-Disposition, with parameters
	ContentID   string // without angle brackets
	Body        []byte // a leaf's decoded body, in its charset
	Parts       []Part
}

// Text is a text leaf.
func Text(ctype, cte, body string) Part {
	return Part{ContentType: ctype, Encoding: cte, Body: []byte(body)}
}

// Plain is a UTF-8 text/plain leaf, quoted-printable.
func Plain(body string) Part { return Text(`text/plain; charset="UTF-8"`, "quoted-printable", body) }

// HTML is a UTF-8 text/html leaf, quoted-printable.
func HTML(body string) Part { return Text(`text/html; charset="UTF-8"`, "quoted-printable", body) }

// Multi is a multipart/sub entity.
func Multi(sub string, parts ...Part) Part {
	return Part{ContentType: "multipart/" + sub, Parts: parts}
}

// Attachment is a base64 attachment named filename.
func Attachment(ctype, filename string, data []byte) Part {
	return Part{ContentType: fmt.Sprintf(`%s; name="%s"`, ctype, filename), Encoding: "base64",
		Disposition: fmt.Sprintf(`attachment; filename="%s"`, filename), Body: data}
}

// Leaves calls f with every leaf of the tree, in order.
func (p Part) Leaves(f func(Part)) {
	if strings.HasPrefix(p.ContentType, "multipart/") {
		for _, c := range p.Parts {
			c.Leaves(f)
		}
		return
	}
	f(p)
}

func (p Part) write(b *bytes.Buffer, seed string) {
	if p.Parts != nil {
		sum := sha256.Sum256([]byte(seed))
		boundary := fmt.Sprintf("000000000000%x", sum[:10])
		fmt.Fprintf(b, "Content-Type: %s; boundary=\"%s\"\r\n\r\n", p.ContentType, boundary)
		for i, c := range p.Parts {
			fmt.Fprintf(b, "--%s\r\n", boundary)
			c.write(b, fmt.Sprintf("%s%d", seed, i))
			b.WriteString("\r\n")
		}
		fmt.Fprintf(b, "--%s--\r\n", boundary)
		return
	}
	fmt.Fprintf(b, "Content-Type: %s\r\n", p.ContentType)
	if p.Disposition != "" {
		fmt.Fprintf(b, "Content-Disposition: %s\r\n", p.Disposition)
	}
	if p.ContentID != "" {
		fmt.Fprintf(b, "Content-ID: <%s>\r\nX-Attachment-Id: %s\r\n", p.ContentID, p.ContentID)
	}
	if p.Encoding != "" {
		fmt.Fprintf(b, "Content-Transfer-Encoding: %s\r\n", p.Encoding)
	}
	b.WriteString("\r\n")
	switch p.Encoding {
	case "base64":
		enc := base64.StdEncoding.EncodeToString(p.Body)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	case "quoted-printable":
		w := quotedprintable.NewWriter(b)
		w.Write(bytes.ReplaceAll(p.Body, []byte("\n"), []byte("\r\n")))
		w.Close()
		b.WriteString("\r\n")
	default:
		b.Write(bytes.ReplaceAll(p.Body, []byte("\n"), []byte("\r\n")))
		b.WriteString("\r\n")
	}
}

// Address formats an address, RFC 2047-encoding a non-ASCII name.
func Address(name, address string) string {
	return (&mail.Address{Name: name, Address: address}).String()
}

// EncodeSubject encodes a subject with RFC 2047 when it is not ASCII.
func EncodeSubject(s string) string {
	for _, r := range s {
		if r >= 0x80 {
			return mime.BEncoding.Encode("UTF-8", s)
		}
	}
	return s
}

// MustZone loads an IANA zone; it panics on a name the tz database lacks.
func MustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// PNG is a small valid PNG image.
func PNG(w, h int, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{c.R, uint8(int(c.G) * x / w), uint8(int(c.B) * y / h), 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// PDF is a small valid one-page PDF saying text.
func PDF(text string) []byte {
	return PDFPage([]byte(fmt.Sprintf("BT /F1 18 Tf 72 720 Td (%s) Tj ET", text)), "")
}

// PDFPage is a valid one-page PDF whose page content is stream, encoded
// with filter ("" for none, "/FlateDecode" for zlib data).
func PDFPage(stream []byte, filter string) []byte {
	if filter != "" {
		filter = " /Filter " + filter
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d%s >>\nstream\n%s\nendstream", len(stream), filter, stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// MessageIDs returns the <message-id>s of an In-Reply-To or References
// header, in order.
func MessageIDs(s string) []string { return msgIDRE.FindAllString(s, -1) }

var msgIDRE = regexp.MustCompile(`<[^<>\s]+>`)

var subjectPrefixRE = regexp.MustCompile(`(?i)^\s*(re|fw|fwd|aw|wg|sv|antw|vs)\s*(\[\d+\])?\s*:\s*`)

// ThreadSubject is a subject as mail services compare them to put a reply
// in its conversation: lower case, without reply and forward prefixes
// ("Re:", "AW:", "Fwd[2]:"…), spaces folded.
func ThreadSubject(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for {
		t := subjectPrefixRE.ReplaceAllString(s, "")
		if t == s {
			return strings.Join(strings.Fields(s), " ")
		}
		s = t
	}
}

// TrimReplyPrefix removes one reply or forward prefix from a subject, as
// Outlook does before it writes its own "RE: ".
func TrimReplyPrefix(s string) string {
	return strings.TrimSpace(subjectPrefixRE.ReplaceAllString(s, ""))
}
