//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// logSink collects a subprocess's stderr: every line, and the lines that
// parse as JSON log records.
type logSink struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	records []map[string]any
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var rec map[string]any
		if json.Unmarshal(l.partial[:i], &rec) == nil {
			l.records = append(l.records, rec)
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// find returns the log records with this msg whose attributes include attrs.
func (l *logSink) find(msg string, attrs ...any) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
next:
	for _, r := range l.records {
		if r["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if r[attrs[i].(string)] != attrs[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// wait polls until find returns a record, or fails the test.
func (l *logSink) wait(t *testing.T, d time.Duration, msg string, attrs ...any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if rs := l.find(msg, attrs...); len(rs) > 0 {
			return rs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record %q %v within %s; stderr:\n%s", msg, attrs, d, tail(l.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// lines splits output into non-empty lines.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}
