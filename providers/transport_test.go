package providers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// rotatingSource hands out "tok1", then after each Invalidate of the
// current token "tok2", "tok3"…; err, if set, is returned instead.
type rotatingSource struct {
	mu          sync.Mutex
	n           int
	invalidated []string
	err         error
}

func (s *rotatingSource) Token(context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if s.n == 0 {
		s.n = 1
	}
	return &oauth2.Token{AccessToken: "tok" + string(rune('0'+s.n)), TokenType: "Bearer"}, nil
}

func (s *rotatingSource) Invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, tok)
	if tok == "tok"+string(rune('0'+s.n)) {
		s.n++
	}
}

// TestTransportRefreshesOnceOn401: a 401 invalidates the token, and the
// request goes once more, with the same body, with a fresh token; a second
// 401 is handed back.
func TestTransportRefreshesOnceOn401(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	accept := "Bearer tok2"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization")+" "+string(b))
		ok := r.Header.Get("Authorization") == accept
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	src := &rotatingSource{}
	hc := &http.Client{Transport: &Transport{Source: src}}
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("payload"))
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if strings.Join(seen, "|") != "Bearer tok1 payload|Bearer tok2 payload" || strings.Join(src.invalidated, ",") != "tok1" {
		t.Fatalf("requests %q, invalidated %v", seen, src.invalidated)
	}

	// Refused again with the fresh token: one retry only.
	seen, src.invalidated = nil, nil
	accept = "never"
	resp, err = hc.Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || len(seen) != 2 {
		t.Fatalf("%v %v after %d requests", resp, err, len(seen))
	}
	resp.Body.Close()

	// A static token: nothing fresh to try, the 401 stands after one request.
	seen = nil
	hc = &http.Client{Transport: &Transport{Source: StaticSource(&oauth2.Token{AccessToken: "x"})}}
	resp, err = hc.Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || len(seen) != 1 {
		t.Fatalf("%v %v after %d requests", resp, err, len(seen))
	}
	resp.Body.Close()

	// A source that fails: nothing is sent, the error says why.
	seen = nil
	dead := errors.New("account needs to be reconnected")
	hc = &http.Client{Transport: &Transport{Source: &rotatingSource{err: dead}}}
	_, err = hc.Get(srv.URL)
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, dead) || len(seen) != 0 {
		t.Fatalf("%v after %d requests", err, len(seen))
	}
}
