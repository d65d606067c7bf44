//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EOAuthBadStates: a callback or connect request with an unknown,
// used or other tenant's state, a bad code, a refusal, or a malformed body
// changes nothing: no grant appears, nothing is exchanged, and the pending
// flow of the right tenant still completes.
func TestE2EOAuthBadStates(t *testing.T) {
	t.Parallel()
	fx := newGoogleFixture(t, googletest.Options{})
	keyA, keyB := fx.addTenant(t, "a"), fx.addTenant(t, "b")
	s := fx.startHTTP(t)
	connectPath := "/api/integrations/google/connect"
	post := func(key, body string, headers ...string) rawResponse {
		t.Helper()
		return fx.do(t, s, "POST", connectPath, strings.NewReader(body), append([]string{"Authorization", "Bearer " + key}, headers...)...)
	}
	connectBody := func(code, state string) string {
		return fmt.Sprintf(`{"auth_code":%q,"state":%q}`, code, state)
	}
	// nothingChanged checks that no grant appeared and no code was
	// exchanged since the last call.
	wantExchanges := 0
	wantA := []string{}
	nothingChanged := func(who string) {
		t.Helper()
		if n := fx.exchanges(); n != wantExchanges {
			t.Errorf("%s: %d code exchanges at Google, want %d", who, n, wantExchanges)
		}
		if got := integrationAccounts(fx.integrations(t, s, keyA)); !slices.Equal(got, wantA) {
			t.Errorf("%s: tenant a's accounts %v, want %v", who, got, wantA)
		}
		if got := integrationAccounts(fx.integrations(t, s, keyB)); len(got) != 0 {
			t.Errorf("%s: tenant b's accounts %v, want none", who, got)
		}
	}
	errorPage := func(who string, r rawResponse, status int, says string) {
		t.Helper()
		if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(r.body), "Not connected") || !strings.Contains(string(r.body), says) {
			t.Errorf("%s: %d %q %s, want a %d error page saying %q", who, r.status, r.header.Get("Content-Type"), r.body, status, says)
		}
	}

	// Tenant a's flow, approved; the browser has not come back yet.
	flowA := fx.authorize(t, s, keyA, "google", nil)
	locA := fx.approve(t, flowA.URL)
	codeA := locA.Query().Get("code")

	// Unknown state, on the callback and on the connect API.
	cb := s.base + "/oauth/callback?"
	errorPage("callback with an unknown state",
		fx.browse(t, cb+url.Values{"state": {"x" + flowA.State[1:]}, "code": {codeA}}.Encode()), http.StatusBadRequest, "unknown or already used state")
	errorPage("callback without a state", fx.browse(t, cb+url.Values{"code": {codeA}}.Encode()), http.StatusBadRequest, "unknown")
	checkJSONError(t, "connect with an unknown state", post(keyA, connectBody(codeA, "no-such-state")), http.StatusBadRequest, "invalid_state")
	nothingChanged("unknown state")

	// Tenant b presenting a's state (and a's code): refused, and a's flow
	// is still pending.
	r := post(keyB, connectBody(codeA, flowA.State))
	checkJSONError(t, "b connecting with a's state", r, http.StatusBadRequest, "invalid_state")
	nothingChanged("other tenant's state")

	// a's browser comes back: connected to a, not b.
	r = fx.browse(t, locA.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), alice+" is connected") {
		t.Fatalf("a's callback after the bad attempts: %d %s", r.status, r.body)
	}
	wantExchanges, wantA = 1, []string{alice}
	nothingChanged("a's own callback")

	// The same callback again (a reload, or a replay): an error page, and
	// the code is not sent to Google again (which would revoke the grant).
	errorPage("reused callback", fx.browse(t, locA.String()), http.StatusBadRequest, "unknown or already used state")
	checkJSONError(t, "reused state on connect", post(keyA, connectBody(codeA, flowA.State)), http.StatusBadRequest, "invalid_state")
	nothingChanged("reused state")
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+keyA, false)
	fx.checkOK(t, "alice after the replays", c, alice)

	// A bad code on connect: refused as invalid_code, and the state is used
	// up. Then a code swapped between two flows: PKCE makes Google refuse
	// it, and the flow it belongs to still completes.
	flowP := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	flowQ := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	flowR := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	locP, locQ := fx.approve(t, flowP.URL), fx.approve(t, flowQ.URL)
	checkJSONError(t, "connect with a made-up code", post(keyA, connectBody("4/0Anot-a-code", flowR.State)), http.StatusBadRequest, "invalid_code")
	wantExchanges++
	nothingChanged("bad code")
	checkJSONError(t, "connect with the state of a failed attempt", post(keyA, connectBody(locQ.Query().Get("code"), flowR.State)), http.StatusBadRequest, "invalid_state")
	checkJSONError(t, "connect with P's code and Q's state", post(keyA, connectBody(locP.Query().Get("code"), flowQ.State)), http.StatusBadRequest, "invalid_code")
	wantExchanges++
	nothingChanged("swapped code")
	r = fx.browse(t, locP.String())
	if r.status != http.StatusOK || !strings.Contains(string(r.body), bob+" is connected") {
		t.Fatalf("P's own callback after its code was tried with Q's state: %d %s", r.status, r.body)
	}
	wantExchanges, wantA = wantExchanges+1, []string{alice, bob}
	nothingChanged("P's own callback")

	// The person refuses: the page says so, and the state is used up.
	fx.fg.DenyNext()
	flowD := fx.authorize(t, s, keyA, "google", nil)
	locD := fx.approve(t, flowD.URL)
	if locD.Query().Get("error") != "access_denied" {
		t.Fatalf("DenyNext: googletest redirected to %s", locD.Redacted())
	}
	errorPage("callback with error=access_denied", fx.browse(t, locD.String()), http.StatusOK, "no account was connected")
	errorPage("callback after the refusal", fx.browse(t, cb+url.Values{"state": {flowD.State}, "code": {"4/0Aafter"}}.Encode()), http.StatusBadRequest, "unknown")
	nothingChanged("access_denied")

	// Malformed connect requests: 400 naming the problem, nothing else.
	flowM := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	locM := fx.approve(t, flowM.URL)
	codeM := locM.Query().Get("code")
	for _, tc := range []struct {
		name, body string
		headers    []string
		says       string
	}{
		{"malformed JSON", `{"auth_code":`, nil, "JSON"},
		{"not an object", `["x"]`, nil, "JSON object"},
		{"unknown field", `{"auth_code":"c","state":"s","redirect_uri":"https://evil.example"}`, nil, `unknown field "redirect_uri"`},
		{"no code", fmt.Sprintf(`{"state":%q}`, flowM.State), nil, "auth_code"},
		{"no state", fmt.Sprintf(`{"auth_code":%q}`, codeM), nil, `"state" is required`},
		{"two objects", connectBody(codeM, flowM.State) + `{}`, nil, "one JSON object"},
		{"oversized", fmt.Sprintf(`{"auth_code":%q,"state":%q}`, strings.Repeat("x", 20<<10), flowM.State), nil, "larger than"},
		{"form body", "auth_code=c&state=s", []string{"Content-Type", "application/x-www-form-urlencoded"}, "Content-Type"},
	} {
		r := post(keyA, tc.body, tc.headers...)
		checkJSONError(t, tc.name, r, http.StatusBadRequest, "invalid_request")
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(r.body, &e) != nil || !strings.Contains(e.Error.Message, tc.says) {
			t.Errorf("%s: %s does not say %q", tc.name, r.body, tc.says)
		}
	}
	checkJSONError(t, "over the API's 64 KiB limit", post(keyA, connectBody(strings.Repeat("x", 70<<10), flowM.State)),
		http.StatusRequestEntityTooLarge, "request_too_large")
	nothingChanged("malformed requests")
	// flowM was not consumed by any of them.
	r = post(keyA, connectBody(codeM, flowM.State))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"success":true`) {
		t.Errorf("connect after the malformed requests: %d %s", r.status, r.body)
	}
	wantExchanges++
	nothingChanged("connect after the malformed requests")

	// A code that expired at Google (the person took over 10 minutes to
	// come back; mailcal's own 10-minute state expiry is unit-tested in
	// auth/oauth: the server's clock cannot be moved from here).
	flowE := fx.authorize(t, s, keyA, "google", url.Values{"login_hint": {bob}})
	locE := fx.approve(t, flowE.URL)
	fx.fg.Advance(11 * time.Minute)
	r = fx.browse(t, locE.String())
	errorPage("callback with a code expired at Google", r, http.StatusBadRequest, "invalid_grant")
	wantExchanges++
	nothingChanged("expired code")
}
