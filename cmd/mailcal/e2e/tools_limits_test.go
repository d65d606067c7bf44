//go:build unix

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// TestE2EHTTPLargeAttachment: a 31 MiB attachment (43 MB of JSON) reaches
// send_email over HTTP with the default --max-request-bytes, which answers
// why it cannot be sent (Gmail takes 35 MB, encoded attachments included),
// naming the field: the former default of 40 MiB cut the request off with
// a 413 before the tool saw it. Nothing reaches Google. (TestMaxRequestBytes
// in cmd/mailcal checks the arithmetic for every provider.)
func TestE2EHTTPLargeAttachment(t *testing.T) {
	if raceEnabled {
		t.Skip("43 MB through a client and a server built with -race takes over a minute on two cores; run without -race")
	}
	t.Parallel()
	e := newToolsEnv(t, ttAllScopes)
	e.fg.ResetAPIStats()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := e.c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "send_email", Arguments: map[string]any{
		"to": []string{googletest.FixtureBob}, "subject": "Big", "body": "Attached.",
		"attachments": []any{map[string]any{"filename": "big.bin", "content_base64": base64.StdEncoding.EncodeToString(make([]byte, 31<<20))}},
	}}})
	if err != nil {
		t.Fatalf("send_email with a 31 MiB attachment over HTTP: %v (want the tool's answer)", err)
	}
	data, _ := json.Marshal(res)
	r := asWire[wireResult](t, "send_email", data)
	e.leaks.record("send_email result", string(data))
	if !r.IsError || !strings.Contains(r.text(), "invalid argument attachments") || !strings.Contains(r.text(), "Google accepts at most 35 MB") {
		t.Errorf("send_email with a 31 MiB attachment: %s; want a tool error naming attachments and Google's limit", r.text())
	}
	if n := e.fg.APIRequests("/"); n != 0 {
		t.Errorf("%d Google API requests for a message too large to send, want none", n)
	}
}
