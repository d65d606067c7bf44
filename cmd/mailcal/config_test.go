package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers/registry"
	"github.com/mailcal/mailcal/tools"
)

// TestCallTimeoutSetting: MAILCAL_CALL_TIMEOUT is a Go duration from 1s to
// 1h, 60s when unset; a bad value stops the command with an error naming
// the variable.
func TestCallTimeoutSetting(t *testing.T) {
	for v, want := range map[string]time.Duration{"": tools.DefaultCallTimeout, "90s": 90 * time.Second, " 2m ": 2 * time.Minute, "1s": time.Second} {
		cfg, err := loadConfig(env{getenv: func(name string) string {
			if name == envCallTimeout {
				return v
			}
			return ""
		}})
		if err != nil || cfg.callTimeout != want {
			t.Errorf("MAILCAL_CALL_TIMEOUT=%q: %v, %v; want %s", v, cfg, err, want)
		}
	}
	for _, v := range []string{"60", "soon", "500ms", "-1m", "2h"} {
		_, stderr, code := runInProcess(t, map[string]string{envCallTimeout: v}, "serve")
		if code == 0 || !strings.Contains(stderr, "MAILCAL_CALL_TIMEOUT") || !strings.Contains(stderr, "1s to 1h") {
			t.Errorf("MAILCAL_CALL_TIMEOUT=%q: exit %d, stderr %q; want an error naming the variable", v, code, stderr)
		}
	}
}

// TestMaxRequestBytes: the default --max-request-bytes carries a send_email
// call whose attachment is as large as the largest message a provider takes
// (base64 in JSON, a third more), with 5 MiB bodies besides, so that the
// tool can judge it; a 31 MiB attachment, which the former default of
// 40 MiB cut off with a 413, fits.
func TestMaxRequestBytes(t *testing.T) {
	limit := defaultMaxRequestBytes(registry.Specs())
	call := func(attachment, bodies int) int64 {
		b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": map[string]any{
			"name": "send_email", "arguments": map[string]any{
				"to": []string{"bob@example.com"}, "subject": "Big", "body": strings.Repeat("x", bodies), "html_body": strings.Repeat("x", bodies),
				"attachments": []any{map[string]any{"filename": "big.bin", "content_base64": ""}},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(b) + base64.StdEncoding.EncodedLen(attachment))
	}
	if n := call(31<<20, 10); n <= 40<<20 || n > limit {
		t.Errorf("a call with a 31 MiB attachment is %d bytes; the default limit is %d (the old one %d)", n, limit, 40<<20)
	}
	for _, s := range registry.Specs() {
		if n := call(s.Limits.MaxMessageBytes, 5<<20); n > limit {
			t.Errorf("%s: a call with a %d-byte attachment and 5 MiB bodies is %d bytes, over the default limit %d", s.Title, s.Limits.MaxMessageBytes, n, limit)
		}
	}
	// The flag's help says where the default comes from.
	stdout, stderr, _ := runInProcess(t, nil, "serve", "--help")
	if help := stdout + stderr; !strings.Contains(help, "the largest message a provider accepts, 35 MiB for Google, base64-encoded") {
		t.Errorf("serve --help does not say where --max-request-bytes' default comes from:\n%s", help)
	}
}
