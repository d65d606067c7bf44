package tools

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/tools.golden.json from the tools as declared")

// TestToolsGolden compares what tools/list shows models (names,
// descriptions, input and output schemas, annotations), with every
// provider of the registry, to testdata/tools.golden.json, so that every
// change to it is deliberate and reviewed. After a deliberate change:
//
//	go test ./tools/ -run TestToolsGolden -update
func TestToolsGolden(t *testing.T) {
	reg, err := providers.NewRegistry(registry.Specs(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defs, err := Definitions(Options{
		Accounts: grants.New(memory.New(), grants.Plain), Providers: reg,
		Connector: fakeConnector{}, Sources: &fakeTokens{},
	})
	if err != nil {
		t.Fatal(err)
	}
	list := make([]mcp.Tool, 0, len(defs))
	for _, d := range defs {
		list = append(list, d.Tool)
	}
	got, err := json.MarshalIndent(map[string]any{"tools": list}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "tools.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("tools/list differs from %s; if the change is deliberate, review it and run\n\tgo test ./tools/ -run TestToolsGolden -update\n%s", path, firstDiff(want, got))
	}
}

// firstDiff shows where two texts start to differ.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-200)
	return "golden: …" + string(a[from:min(len(a), i+200)]) + "…\n   got: …" + string(b[from:min(len(b), i+200)]) + "…"
}
