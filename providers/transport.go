package providers

import (
	"io"
	"net/http"
	"time"
)

// TokenError is a failure to get an access token (the grant is dead, the
// token endpoint failed): the request was not sent. Providers hand it back
// unchanged, so that callers can tell what to advise.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// Transport sends each request with an access token of Source. When the
// provider answers 401, it invalidates that token, gets a fresh one (one
// refresh for all callers, as the source does) and sends the request once
// more; a second 401 is handed back as it is.
type Transport struct {
	Source TokenSource
	Base   http.RoundTripper // nil: http.DefaultTransport
}

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, &TokenError{Err: err}
	}
	resp, err := t.send(req, tok.Type()+" "+tok.AccessToken, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	t.Source.Invalidate(tok.AccessToken)
	fresh, err := t.Source.Token(req.Context())
	if err != nil || fresh.AccessToken == tok.AccessToken {
		// No other token to try: the 401 stands (a refresh failure is the
		// more useful answer).
		if body != nil {
			body.Close()
		}
		if err != nil {
			resp.Body.Close()
			return nil, &TokenError{Err: err}
		}
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return t.send(req, fresh.Type()+" "+fresh.AccessToken, body)
}

func (t *Transport) send(req *http.Request, auth string, body io.ReadCloser) (*http.Response, error) {
	r := req.Clone(req.Context()) // a RoundTripper must not change the request
	r.Body = body
	r.Header.Set("Authorization", auth)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// replayBody returns a fresh copy of the request's body for a second try
// (nil for a request without one); false when it cannot be replayed.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	return b, err == nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// APIClient is how a provider's API client takes the *http.Client it is
// given: hc (a new one when nil) with timeout when it has none, and the
// transport under its own layers: hc's, else DefaultTransport(idlePerHost).
func APIClient(hc *http.Client, timeout time.Duration, idlePerHost int) (*http.Client, http.RoundTripper) {
	if hc == nil {
		hc = &http.Client{}
	}
	if hc.Timeout <= 0 {
		c := *hc
		c.Timeout = timeout
		hc = &c
	}
	base := hc.Transport
	if base == nil {
		base = DefaultTransport(idlePerHost)
	}
	return hc, base
}
