package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"time"
)

// leaderLockID is the advisory lock key of a leadership: like a grant's, a
// hash of its name in a namespace of its own.
func leaderLockID(name string) int64 {
	sum := sha256.Sum256([]byte("mailcal leader\x00" + name))
	id := int64(binary.BigEndian.Uint64(sum[:8]))
	if id == migrationLock {
		id++
	}
	return id
}

// leaderPing bounds the statement that checks the leader's connection.
const leaderPing = 5 * time.Second

// Lead runs fn while this process leads name among all the processes on
// the database, and returns when ctx ends (after fn returned). Leading is
// holding a session advisory lock (pg_try_advisory_lock) on a connection of
// the lock pool kept for it; a process that does not get it tries again
// every retry. The leader checks its connection every retry: when the
// check fails (the connection or the server is gone, and with them the
// lock), fn's context is cancelled, Lead waits for fn to return, and tries
// to lead again.
//
// So after a leader dies, another process leads within retry once the
// server has noticed: at once when the process exits or is killed (its
// socket is closed), within about 25 s when it vanishes (the lock pool's
// TCP keepalives). Two processes never lead at once as far as the server
// is concerned; a leader cut off from the server stops within retry plus
// leaderPing.
func (s *Store) Lead(ctx context.Context, name string, retry time.Duration, fn func(ctx context.Context)) {
	id := leaderLockID(name)
	for ctx.Err() == nil {
		if s.leadOnce(ctx, name, id, retry, fn) {
			continue // lost it: try again at once
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// leadOnce tries to take the lock; if it did, it runs fn until ctx ends or
// the connection fails, and reports true.
func (s *Store) leadOnce(ctx context.Context, name string, id int64, retry time.Duration, fn func(context.Context)) bool {
	actx, cancel := context.WithTimeout(ctx, leaderPing)
	defer cancel()
	conn, err := s.locks.Acquire(actx)
	if err != nil {
		return false
	}
	var got bool
	if err := conn.QueryRow(actx, "SELECT pg_try_advisory_lock($1)", id).Scan(&got); err != nil || !got {
		if err != nil {
			conn.Conn().Close(context.Background()) // the lock may have been granted: end the session
		}
		conn.Release()
		return false
	}
	slog.Info("leading among the replicas", "role", name)

	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(fctx)
	}()
	tick := time.NewTicker(retry)
	defer tick.Stop()
	lost := false
	for !lost && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			pctx, pcancel := context.WithTimeout(ctx, leaderPing)
			_, err := conn.Exec(pctx, "SELECT 1")
			pcancel()
			if err != nil && ctx.Err() == nil {
				slog.Warn("no longer leading among the replicas: the database connection failed", "role", name, "err", err)
				lost = true
			}
		}
	}
	stop()
	<-done
	// Closing the session releases the lock whatever state it is in.
	cctx, ccancel := context.WithTimeout(context.Background(), unlockWait)
	conn.Conn().Close(cctx)
	ccancel()
	conn.Release()
	return true
}
