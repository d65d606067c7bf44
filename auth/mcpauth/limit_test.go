package mcpauth_test

import (
	"net/url"
	"testing"
	"time"
)

// Sign-ins are begun without credentials, and each stores a pending flow:
// one source address may begin 20 at once, then one every 6 seconds; the
// refusal goes back to the client as temporarily_unavailable.
func TestSigninsLimitedPerSource(t *testing.T) {
	f := newFixture(t)
	begin := func() *url.URL {
		t.Helper()
		return f.toProvider(t, f.authParams("a", "alice@example.com"))
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
