//go:build unix

package e2e

// The leak audit: every subprocess's stdout and stderr, every HTTP answer
// and every tool result of the tests that use a fixture is kept by the
// fixture, and each such test ends by asserting that none of them holds a
// secret: the fake's codes, tokens, PKCE verifiers and client secret, the
// tenants' API keys and the keyring passphrase (TestE2EOAuthLeakCheck checks
// that the check itself fires).

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

type leakAudit struct {
	mu      sync.Mutex
	sources []leakSource
	secrets []string
}

type leakSource struct {
	name string
	text func() string
}

func (l *leakAudit) watch(name string, text func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sources = append(l.sources, leakSource{name, text})
}

func (l *leakAudit) record(name, text string) {
	l.watch(name, func() string { return text })
}

func (l *leakAudit) secret(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s != "" {
		l.secrets = append(l.secrets, s)
	}
}

// check fails the test for every source that holds a secret, the fake's
// (more) included, and when the fake (fakeName) reports none.
func (l *leakAudit) check(t *testing.T, fakeName string, more []string) {
	t.Helper()
	l.mu.Lock()
	sources, secrets := slices.Clone(l.sources), append(slices.Clone(l.secrets), more...)
	l.mu.Unlock()
	if len(more) == 0 {
		t.Errorf("leak check: %s reports no secret at all (not even its client secret)", fakeName)
	}
	for _, leak := range findLeaks(sources, secrets) {
		t.Errorf("secret leaked: %s", leak)
	}
}

// findLeaks returns a description of every secret found in a source, as it
// is or URL-escaped (a logged request URL).
func findLeaks(sources []leakSource, secrets []string) []string {
	var out []string
	for _, src := range sources {
		text := src.text()
		for _, s := range secrets {
			if len(s) < 8 {
				continue
			}
			for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
				if strings.Contains(text, form) {
					out = append(out, fmt.Sprintf("%s holds %s… (%d bytes)", src.name, s[:6], len(s)))
					break
				}
			}
		}
	}
	return out
}

// TestE2EOAuthLeakCheck: the audit finds a secret, also URL-escaped, and
// nothing in clean text (the check every test ends with can fail).
func TestE2EOAuthLeakCheck(t *testing.T) {
	t.Parallel()
	secrets := []string{"1//0abcdefghijklmnop", "4/0Aqwertyuiopasdf", "ya29.a0zxcvbnmasdfgh", "short"}
	leaky := []leakSource{
		{"log", func() string { return `{"msg":"refreshed","token":"1//0abcdefghijklmnop"}` }},
		{"request log", func() string { return "GET /oauth/callback?code=4%2F0Aqwertyuiopasdf&state=x" }},
		{"clean", func() string { return "nothing to see; ya29.a0 is only a prefix; short" }},
	}
	got := findLeaks(leaky, secrets)
	if len(got) != 2 || !strings.HasPrefix(got[0], "log ") || !strings.HasPrefix(got[1], "request log ") {
		t.Errorf("findLeaks = %q, want the token in log and the escaped code in request log", got)
	}
}
