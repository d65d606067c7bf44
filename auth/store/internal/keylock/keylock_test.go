package keylock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	var s Set
	ctx := context.Background()
	unlockA, err := s.Lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another name is free; the same name waits until the caller's deadline.
	unlockB, err := s.Lock(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held name: %v", err)
	}
	unlockA()
	unlockA() // a second call does nothing
	if n := s.Len(); n != 0 {
		t.Errorf("%d names left after every lock was released", n)
	}

	// Mutual exclusion under contention.
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := s.Lock(ctx, "c")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			time.Sleep(100 * time.Microsecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if most.Load() != 1 || s.Len() != 0 {
		t.Errorf("%d holders at once; %d names left", most.Load(), s.Len())
	}
}
