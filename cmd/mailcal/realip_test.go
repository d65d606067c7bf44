package main

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	c := &config{}
	get := func(string) string { return " 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::ffff:198.51.100.1" }
	if err := parseTrustedProxies(get, c); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.trustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.7/32 fd00::/8 198.51.100.1/32" {
		t.Errorf("parsed %v", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1:80"} {
		err := parseTrustedProxies(func(string) string { return bad }, &config{})
		if err == nil || !strings.Contains(err.Error(), envTrustedProxies) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want an error naming the variable and the value", bad, err)
		}
	}
}

// Only a trusted proxy's X-Forwarded-For is believed, read from the right:
// the address the nearest proxy saw, never one the client wrote itself.
func TestRealIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	var seen string
	h := realIP(trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"10.1.2.3:5000", []string{"198.51.100.9"}, "198.51.100.9:0"},
		{"10.1.2.3:5000", []string{"203.0.113.66, 198.51.100.9, 10.9.9.9"}, "198.51.100.9:0"}, // the client's own claim (left) ignored
		{"10.1.2.3:5000", []string{"203.0.113.66", "198.51.100.9"}, "198.51.100.9:0"},         // several headers
		{"[fd00::1]:443", []string{"[2001:db8::5]:1234"}, "[2001:db8::5]:0"},
		{"10.1.2.3:5000", []string{"10.2.2.2"}, "10.2.2.2:0"},                         // all trusted: the leftmost
		{"10.1.2.3:5000", []string{"not-an-address, 198.51.100.9"}, "198.51.100.9:0"}, // read from the right, stops at the client
		{"10.1.2.3:5000", []string{"198.51.100.9, garbage"}, "10.1.2.3:5000"},         // unreadable nearest hop: not believed
		{"10.1.2.3:5000", nil, "10.1.2.3:5000"},
		{"198.51.100.7:5000", []string{"10.0.0.1"}, "198.51.100.7:5000"}, // not a proxy: its header is not believed
	} {
		r := httptest.NewRequest("GET", "/mcp", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: RemoteAddr %s, want %s", c.peer, c.xff, seen, c.want)
		}
		if r.RemoteAddr != c.peer {
			t.Errorf("the caller's request was changed: %s", r.RemoteAddr)
		}
	}
	// No proxy configured: nothing is believed.
	r := httptest.NewRequest("GET", "/mcp", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	realIP(nil, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })).ServeHTTP(httptest.NewRecorder(), r)
	if seen != "10.1.2.3:5000" {
		t.Errorf("without trusted proxies: %s", seen)
	}
}

// Behind a trusted proxy, the limit on wrong API keys counts each client,
// not the proxy: one client out of tries does not lock out the others.
func TestWrongKeysCountedPerForwardedClient(t *testing.T) {
	ts := newTestHTTP(t, serveConfig{trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, "a")
	wrong := func(client string) int {
		code, _, _ := ts.do(t, "POST", "/mcp", "", `{}`, "X-API-Key", "mck_wrong", "X-Forwarded-For", client)
		return code
	}
	limited := false
	for i := 0; i < 100 && !limited; i++ {
		limited = wrong("198.51.100.9") == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("100 wrong keys from one client: never limited")
	}
	if code := wrong("203.0.113.5"); code != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: %d, want 401 (its own budget)", code)
	}
}
