package microsofttest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Outlook item ids. Graph's ids are opaque URL-safe base64 strings
// ("AAMkAD…AAA="); the fake's carry the mailbox, the kind of item and its
// number, so that an id of another mailbox is told from a malformed one
// (ErrorItemNotFound, not ErrorInvalidIdMalformed). A message's ordinary id
// also carries its folder: like Outlook's, it changes when the message
// moves. Its immutable id (Prefer: IdType="ImmutableId", the "Obtain
// immutable identifiers for Outlook resources" page) does not.

type idKind byte

const (
	kindFolder idKind = iota + 1
	kindMessage
	kindAttachment
	kindCalendar
	kindEvent
	kindOccurrence
	kindConversation
)

var (
	magicItem         = []byte{0x00, 0x03, 0x24, 0x00} // "AAMkA…", as Outlook's ids start
	magicImmutable    = []byte{0x00, 0x09, 0x00, 0x2e} // "AAkAL…"
	magicConversation = []byte{0x00, 0x04, 0x24, 0x00} // "AAQkA…"
)

// itemID is a decoded id: a is a container (folder, message, calendar,
// series master) or 0, b the item's number (an occurrence's: its original
// start, Unix seconds).
type itemID struct {
	mailbox   [8]byte
	kind      idKind
	a, b      uint64
	immutable bool
}

const idLen = 4 + 8 + 1 + 8 + 8

// Real ids are longer than the fake needs: an immutable one about 70
// characters (its first 36, "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A", are
// the same for every item, as the translateExchangeIds examples show), an
// ordinary one about 150. The fake pads its ids to those lengths, so that
// what a client shows of them (and the bytes it spends) is as with Graph.
var (
	fillImmutable = []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x84, 0x03, 0x11, 0xaa, 0x66, 0x11, 0xcd, 0x9b, 0xc8, 0x00, 0xaa, 0x00, 0x2f, 0x84, 0x5a, 0x0d, 0x00}
	fillItem      = make([]byte, 85)
)

// fill is the padding after an id's magic.
func (id itemID) fill() []byte {
	switch {
	case id.kind == kindConversation:
		return nil
	case id.immutable:
		return fillImmutable
	default:
		return fillItem
	}
}

func (id itemID) String() string {
	buf := make([]byte, 0, idLen+len(id.fill()))
	switch {
	case id.kind == kindConversation:
		buf = append(buf, magicConversation...)
	case id.immutable:
		buf = append(buf, magicImmutable...)
	default:
		buf = append(buf, magicItem...)
	}
	buf = append(buf, id.fill()...)
	buf = append(buf, id.mailbox[:]...)
	buf = append(buf, byte(id.kind))
	buf = binary.BigEndian.AppendUint64(buf, id.a)
	buf = binary.BigEndian.AppendUint64(buf, id.b)
	return base64.URLEncoding.EncodeToString(buf)
}

// parseID decodes an id; ok is false for a malformed one. Ids are taken in
// the URL-safe alphabet and, as clients sometimes send them, the standard
// one.
func parseID(s string) (id itemID, ok bool) {
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return itemID{}, false
		}
	}
	if len(b) < idLen {
		return itemID{}, false
	}
	switch magic := b[:4]; {
	case bytes.Equal(magic, magicImmutable):
		id.immutable = true
	case bytes.Equal(magic, magicItem):
	case bytes.Equal(magic, magicConversation):
		id.kind = kindConversation
	default:
		return itemID{}, false
	}
	fill := id.fill()
	if len(b) != idLen+len(fill) || !bytes.Equal(b[4:4+len(fill)], fill) {
		return itemID{}, false
	}
	id.kind = 0
	b = append(b[:4:4], b[4+len(fill):]...)
	copy(id.mailbox[:], b[4:12])
	id.kind = idKind(b[12])
	if id.kind < kindFolder || id.kind > kindConversation || (id.kind == kindConversation) != bytes.Equal(b[:4], magicConversation) {
		return itemID{}, false
	}
	id.a = binary.BigEndian.Uint64(b[13:21])
	id.b = binary.BigEndian.Uint64(b[21:29])
	return id, true
}

// mailboxKey is the id namespace of a mailbox.
func mailboxKey(upn string) [8]byte {
	sum := sha256.Sum256([]byte("mailbox " + lowerKey(upn)))
	var k [8]byte
	copy(k[:], sum[:8])
	return k
}

// newGUID is a random GUID (request ids, trace ids).
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ImmutableID returns the immutable id (Prefer: IdType="ImmutableId") of
// the item whose ordinary id is given, as a client that asks for immutable
// ids sees it; "" for an id the fake did not make.
func ImmutableID(id string) string {
	d, ok := parseID(id)
	if !ok || d.kind == kindConversation {
		return ""
	}
	if d.kind == kindMessage {
		d.a = 0 // an immutable id does not carry the folder
	}
	d.immutable = true
	return d.String()
}
