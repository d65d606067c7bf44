package mcpauth

import "testing"

func TestRedirectRegistered(t *testing.T) {
	reg := []string{"http://127.0.0.1:1/callback", "http://[::1]/cb?x=1", "https://app.example/cb", "cursor://anysphere.cursor-retrieval/oauth/callback", "http://localhost:8080/cb"}
	for uri, want := range map[string]bool{
		"http://127.0.0.1:1/callback":                        true,
		"http://127.0.0.1:55123/callback":                    true, // a loopback IP's port may differ
		"http://[::1]:4000/cb?x=1":                           true,
		"http://127.0.0.1:55123/callback/":                   false,
		"http://127.0.0.1:55123/other":                       false,
		"http://127.0.0.1:55123/callback?extra=1":            false,
		"http://127.0.0.2:55123/callback":                    false,
		"http://user@127.0.0.1:55123/callback":               false,
		"https://127.0.0.1:55123/callback":                   false,
		"http://localhost:9090/cb":                           false, // localhost is a name: exact only
		"http://localhost:8080/cb":                           true,
		"https://app.example:8443/cb":                        false,
		"https://app.example/cb":                             true,
		"cursor://anysphere.cursor-retrieval/oauth/callback": true,
		"http://127.0.0.1:55123/callback#f":                  false,
	} {
		if got := redirectRegistered(reg, uri); got != want {
			t.Errorf("%s: %t, want %t", uri, got, want)
		}
	}
}
