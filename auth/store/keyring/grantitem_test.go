package keyring

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// The arithmetic of items.go's size budget, and the refusal of a grant that
// does not fit.
func TestGrantItemBudget(t *testing.T) {
	secret := make([]byte, store.MaxSecretLen)
	rand.Read(secret)
	secret[0] = 0xff // never text: stored as base64
	when := time.Date(2026, 11, 28, 20, 2, 24, 123456789, time.UTC)
	scopes := func(n, size int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat(string(rune('a'+i)), size)
		}
		return out
	}
	size := func(g store.Grant) int {
		data, err := marshalGrant(g, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		return len(data)
	}
	worst := store.Grant{
		GrantKey: store.GrantKey{Tenant: strings.Repeat("t", 63), Provider: strings.Repeat("p", 32)},
		Secret:   secret, Scopes: []string{}, ConnectedAt: when, Status: store.StatusNeedsReauth, StatusAt: when,
	}
	if n := size(worst); n != 1678 {
		t.Errorf("a grant item without account, scopes and reason is %d bytes; items.go says 1678", n)
	}
	// 16 scopes of n bytes cost 16 × (n+3) − 1 bytes of JSON.
	g := worst
	g.Scopes = scopes(16, 17)
	if n := size(g) - size(worst); n != 16*20-1 {
		t.Errorf("16 scopes of 17 bytes cost %d bytes", n)
	}
	// The two examples items.go gives fill an item to the byte.
	g.Account, g.StatusReason = strings.Repeat("a", 20), strings.Repeat("r", 12)
	if n := size(g); n != maxValueLen {
		t.Errorf("longest names, a 20-byte account, 16 scopes of 17 bytes and a 12-byte reason: %d bytes, want %d", n, maxValueLen)
	}
	typical := worst
	typical.Tenant, typical.Provider, typical.Account, typical.Scopes = "default", "google", strings.Repeat("a", 20), scopes(16, 24)
	if n := size(typical); n > maxValueLen || n+16 <= maxValueLen {
		t.Errorf("tenant default, google, a 20-byte account, 16 scopes of 24 bytes: %d bytes; items.go says they fit, and one byte more per scope does not", n)
	}

	// Through the store: a grant that fills an item is written and read
	// back; one byte more is refused before anything is written.
	ctx := context.Background()
	s := New(NewMemory())
	full := g
	full.Tenant, full.Provider, full.Account = "acme", "google", "x@y.com"
	full.StatusReason += strings.Repeat("r", maxValueLen-size(full))
	if n := size(full); n != maxValueLen {
		t.Fatalf("full grant is %d bytes", n)
	}
	if v, err := s.PutGrant(ctx, full); err != nil || v != 1 {
		t.Fatalf("PutGrant of a grant that fills an item: %d, %v", v, err)
	}
	got, err := s.GetGrant(ctx, full.GrantKey)
	if err != nil || string(got.Secret) != string(secret) || len(got.Scopes) != 16 || got.StatusReason != full.StatusReason {
		t.Errorf("GetGrant of a full item: %v", err)
	}
	over := got
	over.StatusReason += "r"
	_, err = s.PutGrant(ctx, over)
	if err == nil || errors.Is(err, store.ErrConflict) ||
		!strings.Contains(err.Error(), "grant acme/google/x@y.com does not fit in a keyring item: 2049 bytes encoded, at most 2048 (a 1024-byte secret, 16 scopes of 272 bytes in all") {
		t.Errorf("PutGrant one byte over: %v", err)
	}
	if got, _ := s.GetGrant(ctx, full.GrantKey); got.Version != 1 || got.StatusReason != full.StatusReason {
		t.Errorf("after a refused PutGrant: version %d", got.Version)
	}

	// Sixteen Google scope URLs do not fit next to a 1024-byte binary
	// secret; next to a 200-byte one (a sealed Google refresh token) they do.
	google := []string{"openid", "email", "profile"}
	for _, s := range []string{"gmail.readonly", "gmail.send", "gmail.modify", "gmail.compose", "gmail.labels", "gmail.metadata",
		"calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly", "calendar.calendarlist.readonly", "calendar.settings.readonly", "userinfo.email"} {
		google = append(google, "https://www.googleapis.com/auth/"+s)
	}
	wide := testGrant("x@y.com")
	wide.Account, wide.Secret, wide.Scopes = "wide@example.com", secret, google
	if _, err := s.PutGrant(ctx, wide); err == nil || !strings.Contains(err.Error(), "does not fit in a keyring item") {
		t.Errorf("PutGrant of 16 Google scopes and a 1024-byte secret: %v", err)
	}
	wide.Secret = secret[:200]
	if _, err := s.PutGrant(ctx, wide); err != nil {
		t.Errorf("PutGrant of 16 Google scopes and a 200-byte secret: %v", err)
	}
}
