package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
)

// leaders runs Lead on n stores of one database, each until its cancel is
// called, and tells which lead.
type leaders struct {
	t       *testing.T
	running []atomic.Bool
	cancel  []context.CancelFunc
	max     atomic.Int32 // most leaders seen at once
	now     atomic.Int32
	wg      sync.WaitGroup
}

const retry = 100 * time.Millisecond

func startLeaders(t *testing.T, url string, n int) *leaders {
	l := &leaders{t: t, running: make([]atomic.Bool, n), cancel: make([]context.CancelFunc, n)}
	for i := range n {
		s := open(t, url)
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel[i] = cancel
		l.wg.Go(func() {
			s.Lead(ctx, "health", retry, func(ctx context.Context) {
				l.running[i].Store(true)
				if now := l.now.Add(1); now > l.max.Load() {
					l.max.Store(now)
				}
				<-ctx.Done()
				l.now.Add(-1)
				l.running[i].Store(false)
			})
		})
	}
	t.Cleanup(func() {
		for _, c := range l.cancel {
			c()
		}
		l.wg.Wait()
	})
	return l
}

// leader waits up to limit for one store to lead, other than not, and
// returns it and how long that took.
func (l *leaders) leader(not int, limit time.Duration) (int, time.Duration) {
	l.t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		for i := range l.running {
			if i != not && l.running[i].Load() {
				return i, time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.t.Fatalf("no store led within %s", limit)
	return -1, 0
}

// Three processes' stores on one database: one leads at a time; when the
// leader stops (its process exits), another leads within the retry
// interval.
func TestLeadOneAtATime(t *testing.T) {
	l := startLeaders(t, pgtest.URL(t), 3)
	first, _ := l.leader(-1, 10*time.Second)
	time.Sleep(10 * retry)
	if m := l.max.Load(); m != 1 {
		t.Fatalf("%d stores led at once, want 1", m)
	}
	l.cancel[first]()
	second, took := l.leader(first, 10*time.Second)
	t.Logf("store %d led after store %d stopped, %s later", second, first, took.Round(time.Millisecond))
	if took > 5*retry {
		t.Errorf("a new leader after %s, want within about %s", took, retry)
	}
	time.Sleep(10 * retry)
	if m := l.max.Load(); m != 1 {
		t.Errorf("%d stores led at once, want 1", m)
	}
}

// When the leader's connection dies (the server ends its session, as when
// the leader's host is cut off), the leader stops within its check and
// another store, or the same on a new connection, leads.
func TestLeadConnectionLost(t *testing.T) {
	url := pgtest.URL(t)
	l := startLeaders(t, url, 2)
	first, _ := l.leader(-1, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ended int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&ended)
	if err != nil || ended != 1 {
		t.Fatalf("ending the leader's session: %d ended, %v; want 1", ended, err)
	}
	start := time.Now()
	for l.running[first].Load() {
		if time.Since(start) > 2*retry+5*time.Second {
			t.Fatal("the leader whose connection died still leads")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("the leader stopped %s after its session ended", time.Since(start).Round(time.Millisecond))
	l.leader(-1, 5*time.Second)
}
