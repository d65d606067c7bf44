// Package audit is mailcal's audit log: one JSON line per state-changing
// tool call, appended to a file (mode 0600) or written to stderr, and read
// back by `mailcal audit`. A record names who did what to which account,
// with what outcome, the ids the provider gave, the recipients and the
// subject: never a body, an attachment or a token.
package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Outcomes of a call.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused" // the tenant's policy stopped it (or the person declined)
	OutcomeError   = "error"
)

// Record is one line of the log.
type Record struct {
	Time       time.Time `json:"time"`
	Tenant     string    `json:"tenant"`
	Account    string    `json:"account,omitempty"`
	Provider   string    `json:"provider,omitempty"`
	Tool       string    `json:"tool"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error,omitempty"` // what the call answered, clipped
	IDs        []string  `json:"ids,omitempty"`
	Actions    []string  `json:"actions,omitempty"` // what a change did (modify_messages: mark_read, trash, add_labels:Work…)
	Recipients []string  `json:"recipients,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	// SignedIn and Client: a call through an OAuth sign-in (the tenant's own
	// endpoint) names the account that signed in and the client it used.
	SignedIn string `json:"signed_in,omitempty"`
	Client   string `json:"client,omitempty"`
}

// MaxErrorLen bounds a record's error text.
const MaxErrorLen = 500

// Log appends records, one line each, safe for concurrent use.
type Log struct {
	mu sync.Mutex
	w  io.Writer
	f  *os.File // nil for stderr
}

// Open opens the log at path: "-" writes to stderr; a file is created with
// mode 0600 (an existing one is set to 0600) and appended to, so several
// processes may share it (each record is one write of one line).
func Open(path string, stderr io.Writer) (*Log, error) {
	if path == "-" {
		return &Log{w: stderr}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Log{w: f, f: f}, nil
}

// Write appends one record.
func (l *Log) Write(r Record) error {
	if len(r.Error) > MaxErrorLen {
		r.Error = r.Error[:MaxErrorLen] + "…"
	}
	r.Time = r.Time.UTC()
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(line)
	return err
}

// Close closes the file (not stderr).
func (l *Log) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// MaxLineLen bounds a line Read takes; longer ones are skipped as damaged.
const MaxLineLen = 1 << 20

// Read calls each for every record of r that keep accepts, with its line.
// It returns how many lines it skipped because they are not records (a
// torn last line, say).
func Read(r io.Reader, keep func(Record) bool, each func(Record, []byte) error) (skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if errors.Is(err, errLong) {
			skipped++
			continue
		}
		if len(line) > 0 {
			var rec Record
			if json.Unmarshal(line, &rec) != nil || rec.Tool == "" {
				skipped++
			} else if keep(rec) {
				if err := each(rec, line); err != nil {
					return skipped, err
				}
			}
		}
		if err == io.EOF {
			return skipped, nil
		}
		if err != nil {
			return skipped, err
		}
	}
}

var errLong = errors.New("line too long")

// readLine reads one line without its newline, refusing (and skipping)
// lines longer than MaxLineLen.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineLen {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLong
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		return line, err
	}
}
