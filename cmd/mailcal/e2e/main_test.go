//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// mailcalPackage is the binary under test.
const mailcalPackage = "github.com/mailcal/mailcal/cmd/mailcal"

// built is the binary under test, built on first use by mailcalBinary.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// mailcalBinary returns the path of a freshly built mailcal binary, building
// it on first use. When the tests run with -race, so is the binary: a data
// race in the server then shows up in its stderr, which checkStderr fails on.
func mailcalBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "mailcal-e2e-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		args := []string{"build", "-buildvcs=false", "-o", filepath.Join(dir, "mailcal")}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, mailcalPackage)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
			return
		}
		built.path = filepath.Join(dir, "mailcal")
	})
	if built.err != nil {
		t.Fatalf("building mailcal: %v", built.err)
	}
	return built.path
}
