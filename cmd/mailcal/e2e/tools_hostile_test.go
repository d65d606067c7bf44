//go:build unix

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// Secrets a hostile Google invents and echoes beside the real ones (which
// the leak audit knows from googletest).
const (
	hostileJWT    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJob3N0aWxlLWUyZSJ9.aG9zdGlsZS1zaWduYXR1cmU"
	hostileAPIKey = "AIzaSyE2EHOSTILEapikey0123456789abcdef"
	hostileOpaque = "EwBwA8l6BAAUHOSTILEopaqueTokenOfAnotherKind0123456789"
)

// hostileMessage is an error message that echoes everything a careless
// upstream could: the request's Authorization header, its access token in
// a URL, a refresh token, a JWT, an API key and an opaque token.
func hostileMessage(r *http.Request, refreshToken string) string {
	auth := r.Header.Get("Authorization")
	return fmt.Sprintf("Request had invalid credentials. Authorization: %s; retry https://www.googleapis.com/x?access_token=%s&key=%s; refresh_token=%s; id_token %s; other %s",
		auth, strings.TrimPrefix(auth, "Bearer "), hostileAPIKey, refreshToken, hostileJWT, hostileOpaque)
}

// writeGoogleError answers Google's error body with message.
func writeGoogleError(w http.ResponseWriter, status int, reason, message string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": message,
		"errors": []map[string]string{{"message": message, "domain": "global", "reason": reason}}}})
}

// TestE2EHostileUpstreamRedacted: Google's APIs and token endpoint answer
// errors that echo the request's credentials and more. The tool results
// keep Google's words and say what failed; no secret reaches a result or
// the server's log (the fixture's leak audit checks every result and log
// line for the fake's tokens, codes and client secret, and for the ones
// added here).
func TestE2EHostileUpstreamRedacted(t *testing.T) {
	t.Parallel()
	// The token endpoint goes through a proxy that turns refreshes hostile
	// on demand: it echoes the refresh token, the client secret and the
	// Authorization header it was sent.
	var hostileTokens atomic.Bool
	var tokenURL atomic.Pointer[string] // googletest's, once it runs
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if hostileTokens.Load() && form.Get("grant_type") == "refresh_token" {
			desc := fmt.Sprintf("refresh_token=%s client_secret=%s Authorization: %s; %s",
				form.Get("refresh_token"), form.Get("client_secret"), r.Header.Get("Authorization"), hostileJWT)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": desc})
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, *tokenURL.Load(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	fx := newGoogleFixture(t, googletest.Options{}, "MAILCAL_GOOGLE_TOKEN_URL="+proxy.URL+"/token")
	u := fx.fg.URL() + "/token"
	tokenURL.Store(&u)
	e := &ttEnv{googleFixture: fx, f: fx.fg.LoadFixtures(alice)}
	e.key, e.s, e.c = fx.connectAlice(t, ttAllScopes)
	for _, s := range []string{hostileJWT, hostileAPIKey, hostileOpaque,
		base64.StdEncoding.EncodeToString([]byte(googletest.DefaultClientID + ":" + googletest.DefaultClientSecret))} {
		e.leaks.secret(s)
	}
	e.ok(t, "list_messages", map[string]any{"max_results": 1}, nil) // the first refresh: an access token to echo
	refresh := e.refreshTokens()[len(e.refreshTokens())-1]

	// Every status Google's errors are mapped from, on a route of its own.
	routes := []struct {
		path, tool string
		args       map[string]any
		status     int
		reason     string
		says       string
	}{
		{"GET /gmail/v1/users/me/messages", "list_messages", nil, 400, "badRequest", "Google refused the request"},
		{"GET /gmail/v1/users/me/labels", "list_messages", map[string]any{"label": "Work"}, 403, "forbidden", "Google refused access"},
		{"GET /gmail/v1/users/me/messages/{id}", "get_message", map[string]any{"id": "18c0ffee"}, 404, "notFound", "was not found"},
		{"GET /calendar/v3/users/me/calendarList", "list_calendars", nil, 503, "backendError", "not answering properly"},
		{"POST /gmail/v1/users/me/messages/send", "send_email", map[string]any{"to": []string{googletest.FixtureBob}, "subject": "Hi", "body": "Hello"},
			500, "backendError", "may have been carried out"},
		{"GET /calendar/v3/calendars/{id}/events", "list_events", nil, 429, "rateLimitExceeded", "rate-limiting"},
	}
	for _, rt := range routes {
		e.fg.Handle(rt.path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rt.status == 429 || rt.status == 503 {
				w.Header().Set("Retry-After", "120") // beyond the retry budget: no retry
			}
			writeGoogleError(w, rt.status, rt.reason, hostileMessage(r, refresh))
		}))
	}
	for _, rt := range routes {
		text := e.fails(t, rt.tool, rt.args, rt.says)
		if rt.status != 429 && rt.status != 404 && !strings.Contains(text, "Request had invalid credentials. Authorization: Bearer [redacted]") {
			t.Errorf("%s: Google's words are lost: %s", rt.tool, text)
		}
	}

	// The token endpoint's hostile description: the refresh fails with its
	// OAuth error, redacted.
	hostileTokens.Store(true)
	e.fg.ExpireAccessTokens()
	e.fails(t, "check_account", nil, "Google's token endpoint answered HTTP 400", "invalid_request", "refresh_token=[redacted] client_secret=[redacted]")
	// The fixture's leak audit checks every result above and the server's
	// log when the test ends.
}
