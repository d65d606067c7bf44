//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --- npm clients (testdata/npm, installed by `make test-deps`).

// npmTools locates the pinned npm clients.
type npmTools struct {
	dir       string // testdata/npm/node_modules
	node22    string // a Node >= 22.19: see node22 in node_test.go
	inspector string // the Inspector launcher script
}

func needNPM(t *testing.T) npmTools {
	t.Helper()
	mailcalBinary(t) // skip with -short before looking
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "npm", "node_modules")
	n := npmTools{
		dir:       dir,
		node22:    node22(dir),
		inspector: filepath.Join(dir, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"),
	}
	for _, f := range []string{n.node22, n.inspector, n.conformance()} {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("npm test clients missing (%v): run make test-deps", err)
			if os.Getenv("MAILCAL_E2E_REQUIRE") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return n
}

// moduleRoot is the folder of the go.mod above the working folder (the
// package's folder while its tests run): testdata/npm is relative to it.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working folder")
		}
		dir = parent
	}
}

func (n npmTools) conformance() string {
	return filepath.Join(n.dir, "@modelcontextprotocol", "conformance", "dist", "index.js")
}

// inspectorCLI runs the MCP Inspector CLI and returns its stdout (one JSON
// object with --format json) and exit code. The Inspector requires Node
// >= 22.19 (its package.json engines), so it runs on n.node22.
func (n npmTools) inspectorCLI(t *testing.T, k *testKeyring, args ...string) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{n.inspector, "--cli", "--format", "json"}, args...)
	cmd := command(ctx, n.node22, full...)
	cmd.Env = k.env("MCP_CATALOG_PATH="+filepath.Join(k.home, "inspector-catalog.json"), "NO_COLOR=1")
	cmd.Dir = k.home
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("inspector %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("inspector %v timed out; stderr:\n%s", args, tail(errOut.String(), 4000))
	}
	if code != 0 {
		t.Logf("inspector %v exited %d; stdout: %s\nstderr:\n%s", args, code, tail(out.String(), 2000), tail(errOut.String(), 4000))
	}
	checkNoRace(t, "inspector's server", errOut.String())
	return out.Bytes(), code
}

// inspectorResult extracts the MCP result from the Inspector's --format json
// output: {"result": RESULT}.
func inspectorResult(t *testing.T, out []byte) json.RawMessage {
	t.Helper()
	var v struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &v); err != nil || len(v.Result) == 0 {
		t.Fatalf("inspector output is not {\"result\": ...} (%v): %s", err, tail(string(out), 2000))
	}
	return v.Result
}

func checkNoRace(t *testing.T, who, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("%s: data race in the server:\n%s", who, stderr)
	}
}
