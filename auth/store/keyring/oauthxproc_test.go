package keyring

// Processes sharing one file keyring race the OAuth server's records: each
// child spends the same refresh tokens (each must be spent first by one
// process only) and puts tokens into one family while the first child
// revokes it (every put either refused or revoked with the rest).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

const (
	xoauthDirEnv   = "MAILCAL_KEYRING_XOAUTH_DIR"
	xoauthChildEnv = "MAILCAL_KEYRING_XOAUTH_CHILD"
	xoauthFamily   = "family-xprocxprocxproc"
	xoauthChildren = 4
	xoauthSpends   = 6
	xoauthPuts     = 6
)

type xoauthResult struct {
	First   []int `json:"first"`   // the spend tokens it spent first
	Put     int   `json:"put"`     // its puts into the family that succeeded
	Revoked int   `json:"revoked"` // tokens its revocation deleted
	Err     string
}

func (r xoauthResult) childErr() string { return r.Err }

func xoauthSpendToken(j int) store.OAuthToken {
	return testToken("spend-"+strconv.Itoa(j), store.OAuthRefresh, "family-spendspendspend", "x@acme.com")
}

func xoauthPutToken(i, j int) store.OAuthToken {
	return testToken(fmt.Sprintf("put-%d-%d", i, j), store.OAuthAccess, xoauthFamily, "x@acme.com")
}

// TestCrossProcessOAuthChild is one child; it does nothing unless run by
// TestCrossProcessOAuth.
func TestCrossProcessOAuthChild(t *testing.T) {
	dir := os.Getenv(xoauthDirEnv)
	if dir == "" {
		t.Skip("run by TestCrossProcessOAuth")
	}
	i, _ := strconv.Atoi(os.Getenv(xoauthChildEnv))
	json.NewEncoder(os.Stdout).Encode(xoauthChild(dir, i))
}

func xoauthChild(dir string, i int) (res xoauthResult) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := LazyStore(Config{Backend: "file", Dir: dir, Password: "pw", Timeout: time.Minute}, nil)
	fail := func(err error) xoauthResult { res.Err = err.Error(); return res }
	for j := range xoauthSpends {
		_, first, err := s.SpendOAuthToken(ctx, xoauthSpendToken(j).Hash, time.Now())
		if err != nil {
			return fail(err)
		}
		if first {
			res.First = append(res.First, j)
		}
	}
	for j := range xoauthPuts {
		switch err := s.PutOAuthToken(ctx, xoauthPutToken(i, j)); {
		case err == nil:
			res.Put++
		case !errors.Is(err, store.ErrConflict):
			return fail(err)
		}
		if i == 0 && j == xoauthPuts/2 {
			n, err := s.RevokeOAuthFamily(ctx, xoauthFamily, time.Now().Add(time.Hour))
			if err != nil {
				return fail(err)
			}
			res.Revoked = n
		}
	}
	return res
}

func TestCrossProcessOAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped in -short mode")
	}
	noTTY(t)
	dir := filepath.Join(t.TempDir(), "keyring")
	ctx := context.Background()
	s := LazyStore(Config{Backend: "file", Dir: dir, Password: "pw"}, nil)
	for j := range xoauthSpends {
		mustPutToken(t, s, xoauthSpendToken(j))
	}
	results := runChildren[xoauthResult](t, "TestCrossProcessOAuthChild", xoauthChildren, func(i int) []string {
		return []string{xoauthDirEnv + "=" + dir, xoauthChildEnv + "=" + strconv.Itoa(i)}
	})

	firsts := map[int]int{}
	put := 0
	for _, r := range results {
		put += r.Put
		for _, j := range r.First {
			firsts[j]++
		}
	}
	for j := range xoauthSpends {
		if firsts[j] != 1 {
			t.Errorf("spend token %d was spent first by %d processes, want 1", j, firsts[j])
		}
	}
	// Every put that succeeded came before the revocation and was revoked.
	if put != results[0].Revoked {
		t.Errorf("%d puts succeeded, the revocation deleted %d tokens", put, results[0].Revoked)
	}
	for i := range xoauthChildren {
		for j := range xoauthPuts {
			h := xoauthPutToken(i, j).Hash
			if _, err := s.kv.Get(ctx, oauthTokenKey(h)); !errors.Is(err, ErrNotFound) {
				t.Errorf("token put-%d-%d outlived its family's revocation: %v", i, j, err)
			}
		}
	}
	if put == 0 || put == xoauthChildren*xoauthPuts {
		t.Logf("no race this time: %d of %d puts succeeded", put, xoauthChildren*xoauthPuts)
	}
}
