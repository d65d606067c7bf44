package mcpauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/mcpauth"
	"github.com/mailcal/mailcal/auth/store"
)

// register registers a public client through /register and returns its id.
func (f *fixture) register(t *testing.T, name, remote string) string {
	t.Helper()
	body := `{"redirect_uris":["` + publicCB + `"],"token_endpoint_auth_method":"none","client_name":"` + name + `"}`
	r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	f.registered.RegisterHandler().ServeHTTP(w, r)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != http.StatusCreated {
		t.Fatalf("/register answered %d: %s", w.Code, w.Body)
	}
	return str(m, "client_id")
}

// A registered client that no token names is pruned once it is a week
// old; one a person signed in with stays, and its refresh token works on.
func TestPruneUnusedClients(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	ctx := context.Background()
	f := newFixtureOpts(t, fixtureOpts{registration: true})
	used := f.register(t, "Used", "192.0.2.1:1000")
	unused := f.register(t, "Unused", "192.0.2.2:1000")

	params := f.authParams("a", "alice@example.com")
	params.Set("client_id", used)
	q := f.backTo(t, params)
	st, m, _ := f.post(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {used},
		"redirect_uri": {publicCB}, "code_verifier": {testVerifier}, "resource": {f.srv.Resource("a")}}, "", "")
	if st != http.StatusOK {
		t.Fatalf("/token answered %d: %v", st, m)
	}

	kept := func(id string) bool {
		t.Helper()
		_, err := f.st.GetOAuthClient(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	f.advance(mcpauth.UnusedClientTTL - time.Minute)
	mcpauth.PruneNow(ctx, f.srv)
	if !kept(used) || !kept(unused) {
		t.Fatalf("a minute short of a week: used kept %v, unused kept %v; want both", kept(used), kept(unused))
	}
	if _, err := f.st.GetOAuthToken(ctx, hashHex(str(m, "access_token"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired access token was not pruned first: %v", err)
	}

	f.advance(2 * time.Minute)
	mcpauth.PruneNow(ctx, f.srv)
	if !kept(used) || kept(unused) {
		t.Fatalf("a week on: used kept %v, unused kept %v; want only the used one", kept(used), kept(unused))
	}
	if !strings.Contains(logs.String(), "pruned unused OAuth client registrations") || !strings.Contains(logs.String(), "clients=1") {
		t.Errorf("the prune was not logged with its count: %s", logs.String())
	}
	var e *mcpauth.Error
	if _, err := f.registered.Lookup(ctx, unused); !errors.As(err, &e) || e.Code != "invalid_client" {
		t.Errorf("Lookup of the pruned client = %v; want invalid_client (on which SDKs register again)", err)
	}
	st, m, _ = f.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(m, "refresh_token")}, "client_id": {used}}, "", "")
	if st != http.StatusOK {
		t.Errorf("refreshing with the kept client answered %d: %v", st, m)
	}
}
