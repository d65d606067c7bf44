package googletest

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
	"strings"
	"time"
)

// Fixtures says what LoadFixtures created, for tests to refer to.
type Fixtures struct {
	Now time.Time // the server's clock when the fixtures were loaded
	// Day is midnight (Europe/Berlin, the primary calendar's zone) of Now's
	// day; events are placed relative to it, messages relative to Now.
	Day time.Time
	// Messages maps fixture keys to message ids: welcome, phoenix-1..3
	// (a thread), report (PDF attachment, multipart/mixed with
	// alternative), photo (PNG), newsletter (HTML only), umlaut, japanese,
	// emoji, latin1 (ISO-8859-1), invite (text/calendar), inline (cid
	// image), injection (prompt-injection text), long (40 kB), spam, trash,
	// receipt, social, forum, lunch-1..2 (a thread), multi-rcpt,
	// pdf-nonascii (RFC 2231 file name), github, bank, sent-solo,
	// forwarded, old (45 days), calendar-reminder.
	Messages map[string]string
	Threads  map[string]string // phoenix, lunch
	// Calendar ids: the primary (Europe/Berlin), "Team"
	// (America/New_York, writer) and a read-only holidays calendar.
	Primary, Team, Holidays string
	// Events maps fixture keys to event ids: today, yesterday, dentist,
	// review (attendees, location, Meet link), tokyo (Asia/Tokyo), flight
	// (Europe/Berlin to America/New_York), birthday (all-day), conference
	// (all-day, 3 days), standup (weekly MO,WE,FR), standup-moved and
	// standup-cancelled (its exceptions), focus (DAILY;BYDAY;COUNT), yoga
	// (weekly with UNTIL and an EXDATE), rent (monthly all-day), vendor
	// (injection text in the description), cancelled (deleted), and on the
	// Team calendar sprint (every other Tuesday), release, offsite,
	// customer.
	Events map[string]string
	// StandupMoved and StandupCancelled are the original starts of the two
	// standup instances that were moved and cancelled.
	StandupMoved, StandupCancelled time.Time
}

// Fixture people.
const (
	FixtureBob   = "bob@example.com"
	FixtureCarol = "carol@example.com"
	FixtureDave  = "dave@example.com"
	// FixtureTeamCalendar and FixtureHolidayCalendar are the ids of the
	// secondary calendars LoadFixtures adds.
	FixtureTeamCalendar    = "c_1f0e2d3c4b5a69788796a5b4c3d2e1f0@group.calendar.google.com"
	FixtureHolidayCalendar = "en.german#holiday@group.v.calendar.google.com"
)

// LoadFixtures gives a user a realistic mailbox (30 messages: threads,
// multipart/alternative, HTML-only, attachments, non-ASCII headers and
// bodies, labels, spam and trash) and calendars (primary in Europe/Berlin,
// Team in America/New_York, read-only German holidays) with timed events
// in several zones, all-day and multi-day events, recurring events with a
// moved and a cancelled instance. Everything is placed relative to the
// server's clock (Options.Now for a fixed one). Call it once per user.
func (s *Server) LoadFixtures(email string) *Fixtures {
	now := s.Now()
	berlin := mustZone("Europe/Berlin")
	nb := now.In(berlin)
	f := &Fixtures{
		Now: now, Day: time.Date(nb.Year(), nb.Month(), nb.Day(), 0, 0, 0, 0, berlin),
		Messages: map[string]string{}, Threads: map[string]string{}, Events: map[string]string{},
		Primary: email, Team: FixtureTeamCalendar, Holidays: FixtureHolidayCalendar,
	}
	s.loadMessages(email, f)
	s.loadCalendars(email, f)
	return f
}

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

type fxPart struct {
	ctype, cte, disposition, cid string
	body                         []byte
	parts                        []fxPart
}

func text(ctype, cte, body string) fxPart { return fxPart{ctype: ctype, cte: cte, body: []byte(body)} }

func plain(body string) fxPart {
	return text(`text/plain; charset="UTF-8"`, "quoted-printable", body)
}

func htmlPart(body string) fxPart {
	return text(`text/html; charset="UTF-8"`, "quoted-printable", body)
}

func multi(sub string, parts ...fxPart) fxPart {
	return fxPart{ctype: "multipart/" + sub, parts: parts}
}

func attachment(ctype, filename string, data []byte) fxPart {
	return fxPart{ctype: fmt.Sprintf(`%s; name="%s"`, ctype, filename), cte: "base64",
		disposition: fmt.Sprintf(`attachment; filename="%s"`, filename), body: data}
}

func (p fxPart) write(b *bytes.Buffer, seed string) {
	if p.parts != nil {
		sum := sha256.Sum256([]byte(seed))
		boundary := fmt.Sprintf("000000000000%x", sum[:10])
		fmt.Fprintf(b, "Content-Type: %s; boundary=\"%s\"\r\n\r\n", p.ctype, boundary)
		for i, c := range p.parts {
			fmt.Fprintf(b, "--%s\r\n", boundary)
			c.write(b, fmt.Sprintf("%s%d", seed, i))
			b.WriteString("\r\n")
		}
		fmt.Fprintf(b, "--%s--\r\n", boundary)
		return
	}
	fmt.Fprintf(b, "Content-Type: %s\r\n", p.ctype)
	if p.disposition != "" {
		fmt.Fprintf(b, "Content-Disposition: %s\r\n", p.disposition)
	}
	if p.cid != "" {
		fmt.Fprintf(b, "Content-ID: <%s>\r\nX-Attachment-Id: %s\r\n", p.cid, p.cid)
	}
	if p.cte != "" {
		fmt.Fprintf(b, "Content-Transfer-Encoding: %s\r\n", p.cte)
	}
	b.WriteString("\r\n")
	switch p.cte {
	case "base64":
		enc := base64.StdEncoding.EncodeToString(p.body)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	case "quoted-printable":
		w := quotedprintable.NewWriter(b)
		w.Write(bytes.ReplaceAll(p.body, []byte("\n"), []byte("\r\n")))
		w.Close()
		b.WriteString("\r\n")
	default:
		b.Write(bytes.ReplaceAll(p.body, []byte("\n"), []byte("\r\n")))
		b.WriteString("\r\n")
	}
}

// addr formats an address, RFC 2047-encoding a non-ASCII name.
func addr(name, address string) string { return (&mail.Address{Name: name, Address: address}).String() }

// subj encodes a subject with RFC 2047 when it is not ASCII.
func subj(s string) string {
	for _, r := range s {
		if r >= 0x80 {
			return mime.BEncoding.Encode("UTF-8", s)
		}
	}
	return s
}

type fxMsg struct {
	key        string
	ago        time.Duration
	zone       string
	from, to   string
	cc         string
	subject    string // already encoded
	msgID      string
	inReplyTo  string
	references string
	extra      [][2]string
	labels     []string
	root       fxPart
}

func (m fxMsg) raw(now time.Time, email string) []byte {
	var b bytes.Buffer
	zone := m.zone
	if zone == "" {
		zone = "Europe/Berlin"
	}
	date := now.Add(-m.ago).In(mustZone(zone)).Truncate(time.Second)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nDate: %s\r\n", date.Format(time.RFC1123Z))
	if m.references != "" {
		fmt.Fprintf(&b, "References: %s\r\n", m.references)
	}
	if m.inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", m.inReplyTo)
	}
	msgID := m.msgID
	if msgID == "" {
		msgID = fmt.Sprintf("<fx.%s.%d@mail.example.com>", m.key, date.Unix())
	}
	fmt.Fprintf(&b, "Message-ID: %s\r\nSubject: %s\r\nFrom: %s\r\nTo: %s\r\n", msgID, m.subject, m.from, strings.ReplaceAll(m.to, "{me}", email))
	if m.cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", strings.ReplaceAll(m.cc, "{me}", email))
	}
	for _, h := range m.extra {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	m.root.write(&b, m.key)
	return b.Bytes()
}

// fixturePNG is a small valid PNG image.
func fixturePNG(w, h int, c color.RGBA) []byte {
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

// fixturePDF is a small valid one-page PDF saying text.
func fixturePDF(text string) []byte {
	stream := fmt.Sprintf("BT /F1 18 Tf 72 720 Td (%s) Tj ET", text)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
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
