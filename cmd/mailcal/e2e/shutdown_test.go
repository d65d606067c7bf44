//go:build unix

package e2e

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"
)

// TestE2EShutdownFinishesRunningCalls sends SIGTERM while list_messages
// waits on a slow Google: the call must still answer, then the server exit
// 0. Over /sse the answer travels on the event stream, not on the request
// that carried the call, so only the server's own count of running calls
// keeps it from being cut off.
func TestE2EShutdownFinishesRunningCalls(t *testing.T) {
	t.Parallel()
	for _, endpoint := range []string{"/mcp", "/sse"} {
		t.Run(endpoint, func(t *testing.T) {
			t.Parallel()
			shutdownDuringCall(t, endpoint)
		})
	}
}

func shutdownDuringCall(t *testing.T, endpoint string) {
	e := newToolsEnv(t, "")
	c := e.c
	if endpoint != "/mcp" {
		c = mcpgoHTTP(t, e.s, endpoint, "Authorization", "Bearer "+e.key, false)
	}
	e.fg.SetAPILatency(600 * time.Millisecond) // list, then gets: about 1.2 s
	before := e.fg.APIRequests("/gmail/v1/")

	type outcome struct {
		res wireResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := e.callTool(c, "list_messages", map[string]any{"max_results": 5})
		done <- outcome{r, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for e.fg.APIRequests("/gmail/v1/") == before {
		if time.Now().After(deadline) {
			t.Fatal("list_messages never reached the fake Gmail API")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.s.signal(t, syscall.SIGTERM)
	e.s.logs.wait(t, 5*time.Second, "shutting down")

	o := <-done
	if o.err != nil {
		t.Fatalf("the running call was cut off by the shutdown: %v", o.err)
	}
	var list ttList
	_ = json.Unmarshal(o.res.StructuredContent, &list)
	if o.res.IsError || len(list.Messages) != 5 {
		t.Fatalf("the running call did not finish: error %v, %d messages: %s", o.res.IsError, len(list.Messages), o.res.text())
	}
	if code := e.s.waitExit(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	e.s.logs.wait(t, time.Second, "stopped")
}
