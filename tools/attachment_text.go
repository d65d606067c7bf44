package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
)

// decodeText turns an attachment's bytes in charset into UTF-8: a UTF-8
// (or UTF-16) byte-order mark wins; no charset or an unknown one keeps
// valid UTF-8 and reads anything else as windows-1252.
func decodeText(b []byte, charset string) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xef\xbb\xbf")):
		return strings.ToValidUTF8(string(b[3:]), "\uFFFD")
	case bytes.HasPrefix(b, []byte("\xff\xfe")):
		charset = "utf-16le"
	case bytes.HasPrefix(b, []byte("\xfe\xff")):
		charset = "utf-16be"
	}
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		if utf8.Valid(b) {
			return strings.ReplaceAll(string(b), "\r\n", "\n")
		}
		cs = "windows-1252"
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		if utf8.Valid(b) {
			return strings.ReplaceAll(string(b), "\r\n", "\n")
		}
		enc = charmap.Windows1252
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ReplaceAll(strings.TrimPrefix(string(out), "\uFEFF"), "\r\n", "\n")
}

// Bounds of PDF text extraction: the pages read, and the decompressed
// bytes of one page's content (and of a font's character map) looked at,
// so that a small hostile PDF cannot make the server inflate gigabytes.
const (
	maxPDFPages        = 300
	maxPDFStreamBytes  = 8 << 20
	maxPDFStreamsTotal = 4
)

type pdfDoc struct {
	text        string
	pages, read int
}

var errPDFStream = errors.New("a page's content is larger than mailcal reads")

// pdfText extracts the text of a PDF page by page (github.com/ledongthuc/pdf),
// stopping once it has more than want characters, after maxPDFPages pages,
// or when ctx ends. A page whose content streams inflate beyond
// maxPDFStreamBytes is skipped; a panic of the library on a malformed file
// is an error.
func pdfText(ctx context.Context, data []byte, want int) (doc pdfDoc, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = pdfDoc{}, errors.New("the PDF could not be read (it is damaged or uses features the reader lacks)")
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "encrypt") || strings.Contains(strings.ToLower(err.Error()), "password") {
			return pdfDoc{}, errors.New("the PDF is encrypted: its text cannot be read")
		}
		return pdfDoc{}, errors.New("the PDF could not be read (it is damaged or not a PDF)")
	}
	doc.pages = r.NumPage()
	var b strings.Builder
	skipped := 0
	for i := 1; i <= doc.pages && i <= maxPDFPages; i++ {
		if err := ctx.Err(); err != nil {
			return pdfDoc{}, fmt.Errorf("reading the PDF took too long (%d of %d pages read)", doc.read, doc.pages)
		}
		p := r.Page(i)
		doc.read = i
		if p.V.IsNull() {
			continue
		}
		if !pageWithinBounds(p) {
			skipped++
			fmt.Fprintf(&b, "\n[page %d: too large to read]\n", i)
			continue
		}
		text, err := p.GetPlainText(nil)
		if err != nil {
			fmt.Fprintf(&b, "\n[page %d: unreadable]\n", i)
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(strings.TrimSpace(text))
		if utf8.RuneCountInString(b.String()) > want {
			break
		}
	}
	doc.text = strings.TrimSpace(b.String())
	if doc.text == "" && skipped == 0 {
		doc.text = "[The PDF has no extractable text: it may be scanned images.]"
	}
	return doc, nil
}

// pageWithinBounds inflates a page's content streams and its fonts'
// character maps, counting, and says whether each stays within
// maxPDFStreamBytes.
func pageWithinBounds(p pdf.Page) bool {
	contents := p.V.Key("Contents")
	var streams []pdf.Value
	switch contents.Kind() {
	case pdf.Stream:
		streams = append(streams, contents)
	case pdf.Array:
		for i := 0; i < contents.Len() && i < 1024; i++ {
			streams = append(streams, contents.Index(i))
		}
	}
	fonts := p.Resources().Key("Font")
	for i, name := range fonts.Keys() {
		if i >= 256 {
			return false
		}
		if cm := fonts.Key(name).Key("ToUnicode"); cm.Kind() == pdf.Stream {
			streams = append(streams, cm)
		}
	}
	total := int64(0)
	for _, s := range streams {
		if s.Kind() != pdf.Stream {
			continue
		}
		rc := s.Reader()
		n, _ := io.Copy(io.Discard, io.LimitReader(rc, maxPDFStreamBytes+1))
		rc.Close()
		total += n
		if n > maxPDFStreamBytes || total > maxPDFStreamsTotal*maxPDFStreamBytes {
			return false
		}
	}
	return true
}
