package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

// grantLockID is the advisory lock key of a grant: 64 bits of a hash of the
// key, apart from the migration lock's. Two keys that share a hash share a
// lock, which the contract allows (a waiter waits a little longer).
func grantLockID(k store.GrantKey) int64 {
	sum := sha256.Sum256([]byte("mailcal grant\x00" + k.Tenant + "\x00" + k.Provider + "\x00" + k.Account))
	id := int64(binary.BigEndian.Uint64(sum[:8]))
	if id == migrationLock {
		id++
	}
	return id
}

// unlockWait bounds the unlock statement; past it the connection is closed,
// which releases the lock on the server.
const unlockWait = 5 * time.Second

// LockGrant implements store.Grants with a session advisory lock
// (pg_advisory_lock) on a connection of the lock pool, kept out of the pool
// for as long as the lock is held, so that waiters never take the
// connections a holder needs for its reads and writes. Waiting is bounded by
// ctx: when it ends, pgx interrupts the statement and the connection is
// closed, which also drops a lock granted at that very moment. Unlock runs
// pg_advisory_unlock, and closes the connection when that fails (a lost
// connection: the server released the lock when the session ended).
func (s *Store) LockGrant(ctx context.Context, k store.GrantKey) (func(), error) {
	if err := store.ValidGrantKey(k); err != nil {
		return nil, err
	}
	id := grantLockID(k)
	conn, err := s.locks.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("grant %s: waiting for its lock: %w", k, ctxErr(ctx, err))
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
		conn.Conn().Close(context.Background()) // whatever the server did, the session ends with it
		conn.Release()
		return nil, fmt.Errorf("grant %s: waiting for its lock: %w", k, ctxErr(ctx, err))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, fmt.Errorf("grant %s: the store is closed", k)
	}
	s.held[conn] = struct{}{}
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		_, ok := s.held[conn]
		delete(s.held, conn)
		s.mu.Unlock()
		if !ok {
			return // Close released it
		}
		uctx, cancel := context.WithTimeout(context.Background(), unlockWait)
		defer cancel()
		var released bool
		if err := conn.QueryRow(uctx, "SELECT pg_advisory_unlock($1)", id).Scan(&released); err != nil || !released {
			conn.Conn().Close(uctx)
		}
		conn.Release()
	}), nil
}

// ctxErr prefers the context's error, so that callers see
// context.DeadlineExceeded or Canceled as the cause when the wait ran out.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}
