package google

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

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
