//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// conformanceScenarios are the MCP conformance suite's server scenarios that
// apply to any server (`conformance list`); the others need fixture tools
// with fixed names.
var conformanceScenarios = []string{
	"server-initialize",
	"ping",
	"tools-list",
	"dns-rebinding-protection",
	"server-sse-multiple-streams",
}

// keyProxy is a reverse proxy in front of the server that adds the tenant's
// API key, which the suite cannot send, and keeps the Host header the suite
// sent, so that the DNS-rebinding scenario still reaches the server's check.
func keyProxy(t *testing.T, target, key string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
			r.Out.Header.Set("Authorization", "Bearer "+key)
		},
		FlushInterval: -1, // SSE: pass every event on at once
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// conformanceCheck is one check of the suite's checks.json.
type conformanceCheck struct {
	ID           string          `json:"id"`
	Status       string          `json:"status"`
	ErrorMessage string          `json:"errorMessage"`
	Details      json.RawMessage `json:"details"`
}

// TestE2EConformance runs the MCP conformance suite's generic server
// scenarios against /mcp. Every check must pass.
func TestE2EConformance(t *testing.T) {
	t.Parallel()
	n := needNPM(t)
	k := newKeyring(t)
	key := k.addTenant(t, "a")
	s := startHTTP(t, k)
	mcpURL := keyProxy(t, s.base, key) + "/mcp"

	for _, scenario := range conformanceScenarios {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			outDir := t.TempDir()
			cmd := command(ctx, n.node22, n.conformance(), "server",
				"--url", mcpURL, "--scenario", scenario, "-o", outDir)
			cmd.Env, cmd.Dir = k.env("NO_COLOR=1"), k.home
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("conformance %s: %v", scenario, err)
			}
			if ctx.Err() != nil {
				t.Fatalf("conformance %s timed out:\n%s", scenario, tail(out.String(), 4000))
			}
			checks := readConformanceChecks(t, outDir)
			if len(checks) == 0 {
				t.Fatalf("conformance %s reported no checks (exit %v):\n%s", scenario, err, tail(out.String(), 4000))
			}
			failed := 0
			for _, c := range checks {
				switch c.Status {
				case "SUCCESS", "INFO", "SKIPPED":
				default:
					failed++
					t.Errorf("conformance %s: check %s: %s %s %s", scenario, c.ID, c.Status, c.ErrorMessage, c.Details)
				}
			}
			if err != nil && failed == 0 {
				t.Errorf("conformance %s exited %v with every check passing:\n%s", scenario, err, tail(out.String(), 4000))
			}
			if t.Failed() {
				t.Logf("conformance output:\n%s", tail(out.String(), 6000))
			} else {
				t.Logf("conformance %s: %d checks passed", scenario, len(checks))
			}
		})
	}
}

// readConformanceChecks reads every checks.json the suite wrote under dir.
func readConformanceChecks(t *testing.T, dir string) []conformanceCheck {
	t.Helper()
	var checks []conformanceCheck
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "checks.json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var cs []conformanceCheck
		if err := json.Unmarshal(data, &cs); err != nil {
			return err
		}
		checks = append(checks, cs...)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the conformance results: %v", err)
	}
	return checks
}
