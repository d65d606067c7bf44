package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

// TestUndecodableAnswer: a 200 whose body is not JSON is an answer mailcal
// cannot read, not a network error worth retrying: one request, and no
// advice to try again.
func TestUndecodableAnswer(t *testing.T) {
	var n atomic.Int32
	p := testProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("<html>captive portal</html>"))
	}), Options{})
	_, err := mustMail(t, p, testToken, "alice@example.com").Get(context.Background(), "m1")
	pe := wantKind(t, err, providers.ErrInvalidAnswer)
	if n.Load() != 1 || strings.Contains(pe.Message, "network") || strings.Contains(pe.Message, "captive") {
		t.Fatalf("%d requests, %v", n.Load(), pe)
	}
}

// TestTokenErrorPassedThrough: a failure to get an access token reaches
// the caller as it is (so that it can advise reconnecting), not as a
// network error.
func TestTokenErrorPassedThrough(t *testing.T) {
	var n atomic.Int32
	p := testProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }), Options{})
	dead := errors.New("account needs to be reconnected")
	m, err := p.Mail(deadSource{dead}, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Get(context.Background(), "m1")
	var te *providers.TokenError
	if !errors.As(err, &te) || !errors.Is(err, dead) || n.Load() != 0 {
		t.Fatalf("%v after %d requests", err, n.Load())
	}
}

// deadSource is an account whose tokens cannot be had.
type deadSource struct{ err error }

func (d deadSource) Token(context.Context) (*oauth2.Token, error) { return nil, d.err }
func (deadSource) Invalidate(string)                              {}

// TestHostileErrorTextRedacted: Google error answers that echo the request's
// Authorization header, a token in a URL, a refresh token, a JWT and an API
// key, for every status mapError handles: the mapped error keeps Google's
// words and none of the secrets.
func TestHostileErrorTextRedacted(t *testing.T) {
	const (
		refresh = "1//0gHOSTILErefreshtoken0123456789"
		jwt     = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJob3N0aWxlIn0.c2lnbmF0dXJlLXZhbHVl"
		key     = "AIzaSyHOSTILEapikey0123456789abcdefgh"
	)
	tok := &oauth2.Token{AccessToken: "ya29.a0HOSTILE-access-token-0123456789", TokenType: "Bearer"}
	for _, status := range []int{400, 401, 403, 404, 429, 500, 503} {
		p := testProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			msg := "Invalid Credentials. Authorization: " + r.Header.Get("Authorization") +
				"; retry at https://gmail.googleapis.com/gmail/v1/users/me?access_token=" + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") +
				"&key=" + key + " with refresh_token " + refresh + " and id_token=" + jwt
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg,
				"errors": []map[string]string{{"message": msg, "reason": "authError"}}}})
		}), Options{MaxRetryWait: time.Millisecond})
		_, err := mustMail(t, p, tok, "alice@example.com").Get(context.Background(), "m1")
		var pe *providers.Error
		if !errors.As(err, &pe) {
			t.Fatalf("HTTP %d: %v", status, err)
		}
		text := fmt.Sprintf("%v %+v", err, pe)
		for _, s := range []string{tok.AccessToken, "HOSTILE", refresh, jwt, key} {
			if strings.Contains(text, s) {
				t.Errorf("HTTP %d: the error holds %s…: %s", status, s[:min(8, len(s))], text)
			}
		}
		if !strings.Contains(pe.Message, "Invalid Credentials. Authorization: Bearer [redacted]") {
			t.Errorf("HTTP %d: Google's words are lost: %s", status, pe.Message)
		}
	}
}

// TestUnknownPageToken: Google's 400 for a page token it did not issue is
// an error of the page_token argument, said as such.
func TestUnknownPageToken(t *testing.T) {
	p := testProvider(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"code":400,"message":"Invalid pageToken","errors":[{"message":"Invalid pageToken","domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT"}}`))
	}), Options{})
	_, err := mustMail(t, p, testToken, "alice@example.com").List(context.Background(), providers.MessageQuery{PageToken: "bm90IGEgdG9rZW4", MaxResults: 10})
	var fe *providers.FieldError
	if !errors.As(err, &fe) || fe.Field != "page_token" || !strings.Contains(fe.Msg, "Invalid pageToken") {
		t.Fatalf("err = %v, want a page_token FieldError", err)
	}
}
