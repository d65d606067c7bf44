package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
)

// disconnectFixture is a file keyring in a temporary folder and a Google
// revocation endpoint answering status, for `mailcal disconnect` run in-process.
type disconnectFixture struct {
	vars    map[string]string
	revokes atomic.Int32
}

func newDisconnectFixture(t *testing.T, status int) *disconnectFixture {
	t.Helper()
	fx := &disconnectFixture{}
	revoke := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.revokes.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusOK {
			_, _ = w.Write([]byte(`{"error":"internal_failure","error_description":"Backend Error"}`))
		} else {
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(revoke.Close)
	dir := t.TempDir()
	fx.vars = map[string]string{
		"HOME":                         dir,
		"MAILCAL_KEYRING_BACKEND":      "file",
		"MAILCAL_KEYRING_DIR":          filepath.Join(dir, "keyring"),
		"MAILCAL_KEYRING_PASSWORD":     "test-passphrase",
		"MAILCAL_KEYRING_TIMEOUT":      "30s",
		"MAILCAL_GOOGLE_CLIENT_ID":     "test-client.apps.googleusercontent.com",
		"MAILCAL_GOOGLE_CLIENT_SECRET": "test-secret",
		"MAILCAL_GOOGLE_REVOKE_URL":    revoke.URL + "/revoke",
		// Nothing else may reach Google.
		"MAILCAL_GOOGLE_AUTH_URL":     "http://127.0.0.1:9/auth",
		"MAILCAL_GOOGLE_TOKEN_URL":    "http://127.0.0.1:9/token",
		"MAILCAL_GOOGLE_USERINFO_URL": "http://127.0.0.1:9/userinfo",
	}
	return fx
}

// grants opens the fixture's keyring in this process, as the commands do.
func (fx *disconnectFixture) grants(t *testing.T) *grants.Store {
	t.Helper()
	cfg, err := loadConfig(env{getenv: func(name string) string { return fx.vars[name] }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a.grants
}

// seed stores a connected Google account of tenantName.
func (fx *disconnectFixture) seed(t *testing.T, tenantName, account string) {
	t.Helper()
	err := fx.grants(t).Put(context.Background(), grants.Grant{
		Tenant: tenantName, Provider: "google", Account: account,
		Scopes: []string{"mail.read"}, Status: grants.StatusActive,
		ConnectedAt:  time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC),
		RefreshToken: "1//refresh-token-of-" + tenantName,
	})
	if err != nil {
		t.Fatalf("seeding a grant: %v", err)
	}
}

// stored reports whether tenantName still has the account.
func (fx *disconnectFixture) stored(t *testing.T, tenantName, account string) bool {
	t.Helper()
	_, err := fx.grants(t).Get(context.Background(), tenantName, "google", account)
	switch {
	case err == nil:
		return true
	case errors.Is(err, grants.ErrNotFound):
		return false
	}
	t.Fatalf("reading the grant back: %v", err)
	return false
}

const disconnectAccount = "alice@example.com"

// checkGone asserts how many revocations were asked for and that the
// account is no longer stored for tenantName.
func (fx *disconnectFixture) checkGone(t *testing.T, revokes int, tenantName string) {
	t.Helper()
	if n := fx.revokes.Load(); n != int32(revokes) {
		t.Errorf("%d revocation requests, want %d", n, revokes)
	}
	if fx.stored(t, tenantName, disconnectAccount) {
		t.Errorf("the account is still stored in tenant %s after disconnect", tenantName)
	}
}

// TestDisconnectRevokeFails: when Google refuses the revocation, the account
// is deleted locally all the same, and disconnect says so, says where to
// remove the access by hand, and exits 1: the access is still there.
func TestDisconnectRevokeFails(t *testing.T) {
	fx := newDisconnectFixture(t, http.StatusInternalServerError)
	fx.seed(t, "default", disconnectAccount)

	out, errOut, code := runInProcess(t, fx.vars, "disconnect", "google", disconnectAccount)
	if code != 1 {
		t.Errorf("mailcal disconnect with a failing revocation: exit %d, want 1; stderr:\n%s", code, errOut)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	for _, want := range []string{
		"removed " + disconnectAccount, // deleted locally
		"revoking its access at the provider failed",
		"HTTP 500",
		"https://myaccount.google.com/permissions", // where to do it by hand
	} {
		if !strings.Contains(strings.ToLower(errOut), strings.ToLower(want)) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
	fx.checkGone(t, 1, "default")
}

// TestDisconnectRevoked: a revocation Google accepts is a success.
func TestDisconnectRevoked(t *testing.T) {
	fx := newDisconnectFixture(t, http.StatusOK)
	fx.seed(t, "default", disconnectAccount)

	out, errOut, code := runInProcess(t, fx.vars, "disconnect", "google", disconnectAccount)
	if code != 0 || out != "" || !strings.Contains(errOut, "access revoked") {
		t.Errorf("mailcal disconnect: exit %d, stdout %q, stderr %q; want exit 0 and access revoked", code, out, errOut)
	}
	fx.checkGone(t, 1, "default")
}

// TestDisconnectSharedGrant: an account also connected to another tenant is
// deleted from this one and deliberately not revoked (Google would revoke it
// for the other tenant too): that is a success, exit 0, with no request to
// the (here failing) revocation endpoint.
func TestDisconnectSharedGrant(t *testing.T) {
	fx := newDisconnectFixture(t, http.StatusInternalServerError)
	if _, errOut, code := runInProcess(t, fx.vars, "tenant", "add", "other"); code != 0 {
		t.Fatalf("mailcal tenant add other: exit %d: %s", code, errOut)
	}
	fx.seed(t, "default", disconnectAccount)
	fx.seed(t, "other", disconnectAccount)

	out, errOut, code := runInProcess(t, fx.vars, "disconnect", "google", disconnectAccount, "--tenant", "other")
	if code != 0 || out != "" || !strings.Contains(errOut, "connected to another tenant") {
		t.Errorf("mailcal disconnect --tenant other: exit %d, stdout %q, stderr %q; want exit 0 and why access was kept", code, out, errOut)
	}
	fx.checkGone(t, 0, "other")
	if !fx.stored(t, "default", disconnectAccount) {
		t.Error("the account was deleted from tenant default too")
	}
}
