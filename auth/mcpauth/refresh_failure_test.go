package mcpauth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// failingStore is a memory store whose next write of a refresh token, or
// next spend, fails.
type failingStore struct {
	*memory.Store
	failPut, failSpend atomic.Bool
}

func (s *failingStore) PutOAuthToken(ctx context.Context, t store.OAuthToken) error {
	if t.Kind == store.OAuthRefresh && s.failPut.CompareAndSwap(true, false) {
		return errors.New("connection reset")
	}
	return s.Store.PutOAuthToken(ctx, t)
}

func (s *failingStore) SpendOAuthToken(ctx context.Context, hash string, at time.Time) (store.OAuthToken, bool, error) {
	if s.failSpend.CompareAndSwap(true, false) {
		return store.OAuthToken{}, false, errors.New("connection reset")
	}
	return s.Store.SpendOAuthToken(ctx, hash, at)
}

// A refresh whose new tokens cannot be stored, or whose spend fails, answers
// 503 and spends nothing: the client's
// retry with the same refresh token works (it is not taken for a reuse, which
// would end the sign-in); a later reuse still revokes the family.
func TestRefreshRetriedAfterStoreFailure(t *testing.T) {
	st := &failingStore{Store: memory.New()}
	f := newFixtureOpts(t, fixtureOpts{store: st})
	_, rt := f.tokens(t)
	for _, fail := range []*atomic.Bool{&st.failPut, &st.failSpend} {
		fail.Store(true)
		if code, m := f.refresh(t, rt); code != 503 || str(m, "error") != "temporarily_unavailable" {
			t.Fatalf("refresh with the store failing: %d %v; want 503 temporarily_unavailable", code, m)
		}
	}
	code, m := f.refresh(t, rt)
	next := str(m, "refresh_token")
	if code != 200 || next == "" {
		t.Fatalf("retry of the refresh: %d %v; want new tokens", code, m)
	}
	rec, err := st.GetOAuthToken(context.Background(), hashHex(rt))
	if err != nil || rec.SpentAt.IsZero() {
		t.Fatalf("the old refresh token after the retry: %+v %v; want it spent", rec, err)
	}
	if code, m = f.refresh(t, rt); code != 400 || str(m, "error") != "invalid_grant" {
		t.Fatalf("a third use of the old refresh token: %d %v; want invalid_grant (reuse)", code, m)
	}
	if code, m = f.refresh(t, next); code != 400 || str(m, "error") != "invalid_grant" {
		t.Fatalf("after the reuse, the family is revoked: %d %v", code, m)
	}
}

// Each sign-in and token request is reported once, with its outcome, and
// a revoked family to OnRevoke.
func TestObserved(t *testing.T) {
	var mu sync.Mutex
	var got, revoked []string
	f := newFixtureOpts(t, fixtureOpts{observe: func(event, outcome string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, event+":"+outcome)
	}, onRevoke: func(family string) {
		mu.Lock()
		defer mu.Unlock()
		revoked = append(revoked, family)
	}})
	_, rt := f.tokens(t)                  // signin:ok, token:code
	_, m := f.refresh(t, rt)              // token:refresh
	f.refresh(t, rt)                      // token:reuse
	f.refresh(t, str(m, "refresh_token")) // token:refused (revoked with its family)
	resp, body := f.browse(t, f.authParams("a", "bob@example.com"))
	if resp.StatusCode != 403 {
		t.Fatalf("bob's sign-in: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "signin:ok token:code token:refresh token:reuse token:refused signin:refused"
	if strings.Join(got, " ") != want {
		t.Errorf("observed %v, want %s", got, want)
	}
	if len(revoked) != 1 || revoked[0] == "" {
		t.Errorf("families revoked: %v, want the reused one's, once (the serving side ends its sessions)", revoked)
	}
}
