//go:build linux

package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// shared returns the server of the `go test` run this test binary belongs
// to, starting it if this binary is the first to ask; ok is false when the
// binary does not run under the go command (then it starts its own). The
// files naming the server carry the go command's process id and start time,
// so that a later run never finds a dead run's server.
func shared() (s *server, err error, ok bool) {
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return nil, nil, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ppid))
	i := bytes.LastIndexByte(stat, ')')
	if err != nil || i < 0 || i+2 > len(stat) {
		return nil, nil, false
	}
	fields := strings.Fields(string(stat[i+2:])) // from field 3 on
	if len(fields) < 20 {
		return nil, nil, false
	}
	base := filepath.Join(os.TempDir(), fmt.Sprintf("mailcal-pgtest-%d-%d-%s", os.Getuid(), ppid, fields[19])) // field 22: start time
	f, err := os.OpenFile(base+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close() // releases the lock
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return nil, nil, false
	}
	if b, err := os.ReadFile(base + ".url"); err == nil && answers(string(b)) {
		return &server{adminURL: string(b), stop: func() {}}, nil, true
	}
	s, err = start(ppid, base+".lock", base+".url")
	if err != nil {
		return nil, err, true
	}
	if err := os.WriteFile(base+".url", []byte(s.adminURL), 0o600); err != nil {
		return nil, err, true
	}
	return s, nil, true
}

// answers reports whether the server at url takes a connection.
func answers(url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}
