package keyring

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// The arithmetic of oauthitems.go's size budget, and the refusal of a token
// that does not fit.
func TestOAuthTokenItemBudget(t *testing.T) {
	when := time.Date(2026, 11, 28, 20, 2, 24, 123456789, time.UTC)
	worst := store.OAuthToken{
		Hash: tokenHash("x"), Kind: store.OAuthRefresh, Family: strings.Repeat("f", 64),
		Tenant: strings.Repeat("t", 63), Provider: strings.Repeat("p", 32), Account: strings.Repeat("a", store.MaxAccountLen),
		Client: "c", Challenge: strings.Repeat("c", 128), CreatedAt: when, ExpiresAt: when.Add(time.Hour), SpentAt: latestTime,
	}
	if err := store.ValidOAuthToken(worst); err != nil {
		t.Fatal(err)
	}
	data, err := marshalToken(worst)
	if err != nil {
		t.Fatal(err)
	}
	// One byte of client id, no resource, redirect URI or state, scopes null.
	if fixed := len(data) - 1; fixed != 861 {
		t.Errorf("a token item before its client id, resource, redirect URI, state and scopes is %d bytes, oauthitems.go says 861", fixed)
	}

	// A usual request fits with room to spare.
	usual := testToken("usual", store.OAuthRequest, "family-aaaaaaaaaaaaaaaa", "")
	usual.Client, usual.Resource = "https://"+strings.Repeat("c", 92), "https://"+strings.Repeat("r", 92)
	usual.RedirectURI, usual.State = "https://"+strings.Repeat("u", 92), strings.Repeat("s", 100)
	if _, err := encodeToken(usual); err != nil {
		t.Errorf("a request of four 100-byte fields: %v", err)
	}

	// The contract's longest fields do not fit: refused, nothing written.
	s := New(NewMemory())
	big := usual
	big.Client, big.State = "https://"+strings.Repeat("c", 1016), strings.Repeat("s", 1024)
	if err := store.ValidOAuthToken(big); err != nil {
		t.Fatal(err)
	}
	err = s.PutOAuthToken(context.Background(), big)
	if err == nil || !strings.Contains(err.Error(), "at most 2048") || !strings.Contains(err.Error(), "1024-byte state") {
		t.Errorf("PutOAuthToken of a token too large: %v; want the limit and the sizes named", err)
	}
	if keys, _ := s.kv.List(context.Background(), "oauth-"); len(keys) != 0 {
		t.Errorf("a refused token left items: %q", keys)
	}

	// A token that fits when put fits when spent.
	edge := usual
	edge.Client, edge.State = big.Client, ""
	for {
		edge.State += "s"
		spent := edge
		spent.SpentAt = latestTime
		if d, _ := marshalToken(spent); len(d) > maxValueLen {
			break
		}
	}
	edge.State = edge.State[:len(edge.State)-1]
	if err := s.PutOAuthToken(context.Background(), edge); err != nil {
		t.Fatalf("the largest token that fits: %v", err)
	}
	if _, first, err := s.SpendOAuthToken(context.Background(), edge.Hash, latestTime); err != nil || !first {
		t.Errorf("spending the largest token: %v, %v", first, err)
	}
	edge.Hash, edge.State = tokenHash("edge+1"), edge.State+"s"
	if err := s.PutOAuthToken(context.Background(), edge); err == nil || errors.Is(err, store.ErrExists) {
		t.Errorf("one byte more: %v, want a refusal", err)
	}
}

// A registered client (a 26-byte id, a secret) has 1874 bytes for its
// metadata as compact JSON, as oauthitems.go says.
func TestOAuthClientItemBudget(t *testing.T) {
	meta := func(n int) []byte {
		return []byte(`{"client_name":"` + strings.Repeat("n", n-len(`{"client_name":""}`)) + `"}`)
	}
	c := store.OAuthClient{ID: "mcc_" + strings.Repeat("a", 22), SecretHash: tokenHash("s"), Metadata: meta(1874), CreatedAt: latestTime}
	if _, err := encodeClient(c); err != nil {
		t.Errorf("1874 bytes of metadata: %v", err)
	}
	c.Metadata = meta(1875)
	if _, err := encodeClient(c); err == nil || !strings.Contains(err.Error(), "1875 bytes of metadata") {
		t.Errorf("1875 bytes of metadata: %v; want a refusal naming the size", err)
	}
}
