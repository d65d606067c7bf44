package grants

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// A grant with a shared access token keeps it, sealed with the refresh
// token; one without stores the refresh token alone, as grants written
// before access tokens were shared, which still open.
func TestSharedAccessTokenRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	g := New(st, Plain)
	exp := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	in := Grant{Tenant: "acme", Provider: "google", Account: "a@example.com", RefreshToken: "1//rt", Status: StatusActive,
		AccessToken: "ya29.at", AccessExpiry: exp}
	if err := g.Put(ctx, in); err != nil {
		t.Fatal(err)
	}
	out, err := g.Get(ctx, "acme", "google", "a@example.com")
	if err != nil || out.RefreshToken != "1//rt" || out.AccessToken != "ya29.at" || !out.AccessExpiry.Equal(exp) {
		t.Fatalf("read back %+v, %v", out, err)
	}

	out.AccessToken, out.AccessExpiry = "", time.Time{}
	if _, err := g.WriteIf(ctx, out); err != nil {
		t.Fatal(err)
	}
	rec, err := st.GetGrant(ctx, store.GrantKey{Tenant: "acme", Provider: "google", Account: "a@example.com"})
	if err != nil || string(rec.Secret) != "1//rt" {
		t.Fatalf("without an access token the secret is %q (%v), want the refresh token alone", rec.Secret, err)
	}
	if _, err := g.WriteIf(ctx, out); !errors.Is(err, store.ErrConflict) {
		t.Errorf("WriteIf at a version no longer stored: %v, want store.ErrConflict", err)
	}
}

// A sealed secret with the marker but no valid content is a damaged grant,
// and the error shows none of it.
func TestSharedAccessTokenDamaged(t *testing.T) {
	for _, body := range []string{"{", `{"rt":"1//SECRET","at":"","exp":"2026-11-29T10:00:00Z"}`, `{"rt":"1//SECRET","at":"ya29.SECRET"}`} {
		var gr Grant
		err := decodeSecret(append(bytes.Clone(secretPrefix), body...), &gr)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("decode %q: %v; want an error naming no secret", body, err)
		}
	}
}
