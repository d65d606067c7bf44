package oauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
)

func TestCompleteChecked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	refused := errors.New("not allowed")
	var asked []string
	admit := func(_ context.Context, fs store.FlowState, account string) error {
		asked = append(asked, fs.Tenant+"/"+account)
		if account == "bob@example.com" {
			return refused
		}
		return nil
	}

	// A refused account: the check's own error, no grant, and the
	// provider's refresh token revoked upstream.
	flow, err := f.flows.Begin(ctx, oauth.Request{Tenant: "a", Provider: "google", LoginHint: "bob@example.com", RedirectURI: f.cb})
	if err != nil {
		t.Fatal(err)
	}
	to, err := f.fake.Approve(ctx, flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	revokes := f.fake.RevokeRequests()
	res := f.flows.CompleteChecked(ctx, flow.State, "a", to.Query().Get("code"), admit)
	if res.Err != refused {
		t.Fatalf("err = %v, want the check's own error", res.Err)
	}
	if gs, _ := f.grants.List(ctx, "a"); len(gs) != 0 {
		t.Fatalf("a refused account was stored: %+v", gs)
	}
	if f.fake.RevokeRequests() != revokes+1 {
		t.Fatal("the refused account's refresh token was not revoked upstream")
	}
	// The state was used up.
	if res := f.flows.CompleteChecked(ctx, flow.State, "a", to.Query().Get("code"), admit); !errors.Is(res.Err, oauth.ErrUnknownState) {
		t.Fatalf("state reused: %v", res.Err)
	}

	// An admitted account is stored.
	flow, err = f.flows.Begin(ctx, oauth.Request{Tenant: "a", Provider: "google", LoginHint: "alice@example.com", RedirectURI: f.cb})
	if err != nil {
		t.Fatal(err)
	}
	to, err = f.fake.Approve(ctx, flow.URL)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.flows.CompleteChecked(ctx, flow.State, "a", to.Query().Get("code"), admit); res.Err != nil || res.Grant.Account != "alice@example.com" {
		t.Fatalf("admitted: %+v", res)
	}
	if _, err := f.grants.Get(ctx, "a", "google", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || asked[0] != "a/bob@example.com" || asked[1] != "a/alice@example.com" {
		t.Fatalf("asked = %v", asked)
	}
}
