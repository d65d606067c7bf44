package microsofttest

import "testing"

// TestIDLengths: ids as long as Graph's, immutable ones starting as
// Outlook's do, and each kind parsed back.
func TestIDLengths(t *testing.T) {
	key := mailboxKey("alice@example.com")
	ord := itemID{mailbox: key, kind: kindMessage, a: 3, b: 42}.String()
	imm := ImmutableID(ord)
	conv := itemID{mailbox: key, kind: kindConversation, b: 7}.String()
	if len(ord) < 140 || len(imm) < 65 || len(imm) > 80 || imm[:36] != "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" {
		t.Fatalf("ordinary %d chars, immutable %d chars %q", len(ord), len(imm), imm)
	}
	for _, s := range []string{ord, imm, conv} {
		if _, ok := parseID(s); !ok {
			t.Errorf("%s does not parse back", s)
		}
	}
	if d, _ := parseID(imm); !d.immutable || d.kind != kindMessage || d.b != 42 || d.a != 0 {
		t.Errorf("immutable id decodes to %+v", d)
	}
	if _, ok := parseID("AAkAL" + ord[5:]); ok {
		t.Error("an ordinary id with an immutable magic parsed")
	}
}
