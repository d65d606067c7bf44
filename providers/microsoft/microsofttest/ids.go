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

func (id itemID) String() string {
	buf := make([]byte, 0, idLen)
	switch {
	case id.kind == kindConversation:
		buf = append(buf, magicConversation...)
	case id.immutable:
		buf = append(buf, magicImmutable...)
	default:
		buf = append(buf, magicItem...)
	}
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
	if len(b) != idLen {
		return itemID{}, false
	}
	switch magic := b[:4]; {
	case bytes.Equal(magic, magicImmutable):
		id.immutable = true
	case bytes.Equal(magic, magicItem), bytes.Equal(magic, magicConversation):
	default:
		return itemID{}, false
	}
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
