package keyring

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

// fakeKeyring is an in-memory keyring.Keyring that can block, panic and
// counts how many calls run at once.
type fakeKeyring struct {
	mu        sync.Mutex
	items     map[string]keyring.Item
	block     chan struct{} // if non-nil, every call waits for it to close
	delay     atomic.Int64  // nanoseconds
	panicOn   string        // key whose Get panics
	lenient   bool          // Remove of a missing item succeeds (secret-service, kwallet)
	active    atomic.Int32
	maxActive atomic.Int32
}

func newFake() *fakeKeyring { return &fakeKeyring{items: map[string]keyring.Item{}} }

func (f *fakeKeyring) enter() func() {
	n := f.active.Add(1)
	for {
		m := f.maxActive.Load()
		if n <= m || f.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	if f.block != nil {
		<-f.block
	}
	time.Sleep(time.Duration(f.delay.Load()))
	return func() { f.active.Add(-1) }
}

func (f *fakeKeyring) Get(key string) (keyring.Item, error) {
	defer f.enter()()
	if key == f.panicOn {
		var m map[string]int
		m["boom"]++ // like the file backend without FilePasswordFunc
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.items[key]
	if !ok {
		return keyring.Item{}, keyring.ErrKeyNotFound
	}
	return it, nil
}

func (f *fakeKeyring) GetMetadata(string) (keyring.Metadata, error) {
	return keyring.Metadata{}, keyring.ErrMetadataNotSupported
}

func (f *fakeKeyring) Set(it keyring.Item) error {
	defer f.enter()()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[it.Key] = it
	return nil
}

func (f *fakeKeyring) Remove(key string) error {
	defer f.enter()()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.items[key]; !ok && !f.lenient {
		return keyring.ErrKeyNotFound
	}
	delete(f.items, key)
	return nil
}

func (f *fakeKeyring) Keys() ([]string, error) {
	defer f.enter()()
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for k := range f.items {
		ks = append(ks, k)
	}
	return ks, nil
}

func TestKeyringStoreOnFake(t *testing.T) {
	for _, backend := range []string{"keyctl", "secret-service"} {
		t.Run(backend, func(t *testing.T) {
			fakes := map[string]*fakeKeyring{}
			exerciseStore(t, func(t *testing.T, service string) KV {
				c := codec{slash: "/", tagValues: backend == "keyctl"}
				f := fakes[service]
				if f == nil {
					f = newFake()
					f.lenient = backend == "secret-service"
					fakes[service] = f
				}
				s := newKeyringStore(f, backend, c, time.Second)
				if err := s.probe(context.Background()); err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestKeyringStoreListSkipsForeignAndProbeItems(t *testing.T) {
	f := newFake()
	c := codec{prefix: "mailcal/", slash: "/"}
	for _, name := range []string{"mailcal/tenant/b", "mailcal/tenant/a", "mailcal/probe/0011", "other/tenant/x", "mailcal/tenant/A", "mailcal/tenant/a~80", "mailcal/tenant/a~01", "Chrome Safe Storage"} {
		f.items[name] = keyring.Item{Key: name}
	}
	s := newKeyringStore(f, "secret-service", c, time.Second)
	checkList(t, s, "", []string{"Tenant/a", "tenant/A", "tenant/a", "tenant/b"})
	checkList(t, s, "tenant/a", []string{"tenant/a"})
}

func TestKeyringStoreTimeout(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	defer close(f.block)
	s := newKeyringStore(f, "secret-service", codec{slash: "/"}, 100*time.Millisecond)
	ctx := context.Background()

	start := time.Now()
	_, err := s.Get(ctx, "tenant/acme")
	want := "keyring (secret-service) did not answer within 100ms; it may be locked or waiting for an unlock prompt"
	if err == nil || err.Error() != want {
		t.Fatalf("Get on a stuck keyring: %v; want %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) is false")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %s", d)
	}

	// The stuck call still holds the lock: the next caller gives up at its own deadline.
	start = time.Now()
	err = s.Set(ctx, "tenant/acme", []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "did not answer within 100ms (an earlier call is still running)") {
		t.Fatalf("Set behind a stuck call: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %s", d)
	}

	// The caller's context is honoured too, with its own error.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := s.List(cctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
	if _, err := s.List(cctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a dead context: %v", err)
	}
}

func TestKeyringStoreRecoversAfterSlowCall(t *testing.T) {
	f := newFake()
	f.delay.Store(int64(150 * time.Millisecond))
	s := newKeyringStore(f, "file", codec{slash: "!"}, 50*time.Millisecond)
	if err := s.Set(context.Background(), "k", []byte("v")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow Set: %v", err)
	}
	f.delay.Store(0)
	time.Sleep(200 * time.Millisecond) // the abandoned call finishes and releases the lock
	s.timeout = time.Second
	mustGet(t, s, "k", []byte("v"))
}

func TestKeyringStoreSerialisesCalls(t *testing.T) {
	f := newFake()
	f.delay.Store(int64(time.Millisecond))
	s := newKeyringStore(f, "file", codec{slash: "!"}, 10*time.Second)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := "k/" + string(rune('a'+i))
			if err := s.Set(context.Background(), k, []byte("v")); err != nil {
				t.Error(err)
			}
			if _, err := s.Get(context.Background(), k); err != nil {
				t.Error(err)
			}
			s.List(context.Background(), "")
		}()
	}
	wg.Wait()
	if m := f.maxActive.Load(); m != 1 {
		t.Errorf("%d keyring calls ran at once", m)
	}
}

func TestKeyringStorePanicBecomesError(t *testing.T) {
	f := newFake()
	f.panicOn = "boom"
	s := newKeyringStore(f, "file", codec{slash: "/"}, time.Second)
	_, err := s.Get(context.Background(), "boom")
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("Get: %v", err)
	}
	mustSet(t, s, "ok", []byte("v")) // the lock was released
}

func TestOpenUnavailableBackend(t *testing.T) {
	other := "keychain"
	if runtime.GOOS == "darwin" {
		other = "wincred"
	}
	_, err := Open(context.Background(), Config{Backend: other, Timeout: time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), other+": not available on "+runtime.GOOS) {
		t.Fatalf("Open(%s): %v", other, err)
	}
	var av []string
	for _, b := range keyring.AvailableBackends() {
		av = append(av, string(b))
	}
	if !slices.Contains(av, "file") || slices.Contains(av, other) {
		t.Errorf("AvailableBackends = %q", av)
	}
}
