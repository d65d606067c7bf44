package mcpauth_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Sign-ins are begun without credentials, and each stores a pending flow:
// one source address may begin 20 at once, then one every 6 seconds; the
// refusal goes back to the client as temporarily_unavailable.
func TestSigninsLimitedPerSource(t *testing.T) {
	f := newFixture(t)
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	begin := func() *url.URL {
		t.Helper()
		resp, err := c.Get(f.base + "/authorize?" + f.authParams("a", "alice@example.com").Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize answered %d, not a redirect", resp.StatusCode)
		}
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for i := 0; i < 20; i++ {
		if u := begin(); u.Query().Get("error") != "" {
			t.Fatalf("sign-in %d refused: %v", i+1, u.Query())
		}
	}
	q := begin().Query()
	if q.Get("error") != "temporarily_unavailable" || q.Get("state") != "st-123" {
		t.Fatalf("21st sign-in from one address: %v, want temporarily_unavailable with the state", q)
	}
	f.advance(6 * time.Second)
	if u := begin(); u.Query().Get("error") != "" {
		t.Fatalf("after 6 s: %v", u.Query())
	}
}
