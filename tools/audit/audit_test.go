package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogAppendsLinesWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(`{"time":"2026-11-27T10:00:00Z","tenant":"old","tool":"send_email","outcome":"ok"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Write(Record{Time: time.Now(), Tenant: "acme", Tool: "send_email", Outcome: OutcomeOK, IDs: []string{strings.Repeat("x", i)}, Error: strings.Repeat("e", MaxErrorLen+10)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	l.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	data, _ := os.ReadFile(path)
	n, acme := 0, 0
	skipped, err := Read(bytes.NewReader(data), func(r Record) bool { return true }, func(r Record, _ []byte) error {
		n++
		if r.Tenant == "acme" {
			acme++
			if len(r.Error) > MaxErrorLen+len("…") {
				t.Errorf("error of %d bytes kept", len(r.Error))
			}
		}
		return nil
	})
	if err != nil || skipped != 0 || n != 51 || acme != 50 {
		t.Errorf("read %d records (%d acme), skipped %d, %v; want 51 whole lines, the old one kept", n, acme, skipped, err)
	}
}

func TestReadSkipsDamagedLines(t *testing.T) {
	in := `{"time":"2026-11-27T10:00:00Z","tenant":"a","tool":"send_email","outcome":"ok"}
not json
` + `{"tenant":"x"}` + "\n" + strings.Repeat("y", MaxLineLen+5) + "\n" + `{"time":"2026-11-28T10:00:00Z","tenant":"b","tool":"create_event","outcome":"error"}
{"time":"2026-11-28T11:00:00Z","tenant":"b","tool":"send_em`
	var got []string
	skipped, err := Read(strings.NewReader(in), func(r Record) bool { return r.Tenant == "b" }, func(r Record, line []byte) error {
		got = append(got, r.Tool)
		return nil
	})
	if err != nil || skipped != 4 || strings.Join(got, ",") != "create_event" {
		t.Errorf("Read = %v, skipped %d, %v", got, skipped, err)
	}
}
