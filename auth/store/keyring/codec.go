package keyring

import (
	"encoding/hex"
	"slices"
	"strings"
)

// codec maps keys to the names a backend stores them under, and back.
//
//   - prefix namespaces the service on backends that have no notion of it
//     (secret-service labels: "mailcal/tenant/acme").
//   - slash replaces "/" where it would cost or mean something: the file
//     backend percent-encodes "/" into "%2F" (a 200-byte key could exceed the
//     255-byte file-name limit), so it gets "!"; pass keeps "/" (folders).
//   - Upper-case letters are folded: a name is lower case, followed by
//     "~" and a hex bitmap of the upper-case positions when there are any
//     ("Tenant/A" → "tenant/a~41"). Windows Credential Manager and the file and
//     pass backends on macOS/Windows file systems ignore case, so "a" and "A"
//     would otherwise be one item. A 200-byte key gives at most 251 bytes.
//
// "!" and "~" are not allowed in keys, so decoding is unambiguous.
//
// tagValues prefixes stored values with one byte: the kernel keyring (keyctl)
// rejects empty "user" keys with EINVAL.
type codec struct {
	prefix    string
	slash     string
	tagValues bool
}

const valueTag = 'v'

func (c codec) encodeValue(v []byte) []byte {
	if c.tagValues {
		return append([]byte{valueTag}, v...)
	}
	return slices.Clone(v)
}

func (c codec) decodeValue(v []byte) ([]byte, bool) {
	if c.tagValues {
		if len(v) == 0 || v[0] != valueTag {
			return nil, false
		}
		return v[1:], true
	}
	if v == nil {
		return []byte{}, true
	}
	return v, true
}

func (c codec) encode(key string) string {
	if c.slash != "/" {
		key = strings.ReplaceAll(key, "/", c.slash)
	}
	return c.prefix + foldCase(key)
}

// decode returns the key stored under name, or false for names that are not
// ours (other services, other programs' items).
func (c codec) decode(name string) (string, bool) {
	s, ok := strings.CutPrefix(name, c.prefix)
	if !ok {
		return "", false
	}
	s, ok = unfoldCase(s)
	if !ok {
		return "", false
	}
	if c.slash != "/" {
		s = strings.ReplaceAll(s, c.slash, "/")
	}
	if checkKeySyntax(s) != nil || c.encode(s) != name {
		return "", false
	}
	return s, true
}

func foldCase(s string) string {
	var bits []byte
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			if bits == nil {
				bits = make([]byte, (len(s)+7)/8)
			}
			bits[i/8] |= 1 << (i % 8)
		}
	}
	if bits == nil {
		return s
	}
	return strings.ToLower(s) + "~" + hex.EncodeToString(bits)
}

func unfoldCase(s string) (string, bool) {
	i := strings.LastIndexByte(s, '~')
	if i < 0 {
		return s, true
	}
	low, bits := []byte(s[:i]), s[i+1:]
	b, err := hex.DecodeString(bits)
	if err != nil || len(b) != (len(low)+7)/8 {
		return "", false
	}
	for j := range low {
		if b[j/8]&(1<<(j%8)) != 0 {
			if low[j] < 'a' || low[j] > 'z' {
				return "", false
			}
			low[j] -= 'a' - 'A'
		}
	}
	return string(low), true
}
