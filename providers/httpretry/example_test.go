package httpretry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers/httpretry"
)

// oauthPolicy retries what Default retries, plus the OAuth error answers
// that say the token endpoint is momentarily unable (RFC 6749 §5.2 and
// §4.1.2.1: temporarily_unavailable, server_error), read from the body.
func oauthPolicy(resp *http.Response, err error) (httpretry.Verdict, time.Duration) {
	if v, wait := httpretry.Default(resp, err); v != httpretry.Stop {
		return v, wait
	}
	if resp == nil || resp.StatusCode < 400 {
		return httpretry.Stop, 0
	}
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(httpretry.PeekBody(resp, 64<<10), &e)
	if e.Error == "temporarily_unavailable" || e.Error == "server_error" {
		return httpretry.RetryIfIdempotent, httpretry.RetryAfter(resp.Header, time.Now())
	}
	return httpretry.Stop, 0
}

// A token manager refreshing an access token: a POST that it marks safe to
// repeat, retried on 5xx, 429, network errors and OAuth errors that say
// "try again", within a deadline, reporting how many attempts it took.
func Example_tokenEndpoint() {
	var n atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.FormValue("refresh_token") == "dead":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
		case n.Add(1) == 1:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"temporarily_unavailable"}`)
		case n.Load() == 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"server_error"}`)
		default:
			fmt.Fprint(w, `{"access_token":"ya29.new","token_type":"Bearer","expires_in":3599}`)
		}
	}))
	defer endpoint.Close()

	client := &http.Client{Transport: &httpretry.Transport{
		Policy:         oauthPolicy,
		MaxAttempts:    3,
		AttemptTimeout: 15 * time.Second,
		Backoff:        func(n int) time.Duration { return time.Duration(n) * time.Millisecond },
	}}
	conf := &oauth2.Config{ClientID: "id", Endpoint: oauth2.Endpoint{TokenURL: endpoint.URL, AuthStyle: oauth2.AuthStyleInParams}}

	refresh := func(refreshToken string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ctx = context.WithValue(httpretry.Idempotent(ctx), oauth2.HTTPClient, client)
		ctx, attempts := httpretry.CountAttempts(ctx)
		tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re):
			fmt.Printf("%s after %d attempt(s)\n", re.ErrorCode, attempts())
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Printf("%s after %d attempt(s)\n", tok.AccessToken, attempts())
		}
	}
	refresh("good")
	refresh("dead")
	// Output:
	// ya29.new after 3 attempt(s)
	// invalid_grant after 1 attempt(s)
}
