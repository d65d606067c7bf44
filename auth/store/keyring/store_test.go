package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// exerciseStore runs the behaviour every backend must have. open returns a
// Store for a service name; two services must not see each other's keys.
func exerciseStore(t *testing.T, open func(t *testing.T, service string) KV) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc := "mailcal-test-" + randomHex(4)
	s := open(t, svc)

	if _, err := s.Get(ctx, "tenant/acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "tenant/acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete missing: got %v, want ErrNotFound", err)
	}
	if got, err := s.List(ctx, ""); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("List on empty store: %q, %v; want empty non-nil", got, err)
	}

	// Round trip and overwrite.
	mustSet(t, s, "tenant/acme", []byte("v1"))
	mustGet(t, s, "tenant/acme", []byte("v1"))
	mustSet(t, s, "tenant/acme", []byte("v2"))
	mustGet(t, s, "tenant/acme", []byte("v2"))

	big := make([]byte, maxValueLen)
	rand.Read(big)
	long := strings.Repeat("AbCdEfGhIj", maxKeyLen/10) // 200 bytes, one segment, mixed case
	slashy := strings.TrimSuffix(strings.Repeat("a/", maxKeyLen/2), "/") + "Z"
	items := map[string][]byte{
		"tenant/acme":                            []byte("v2"),
		"Tenant/Acme":                            []byte("upper"), // distinct from tenant/acme
		"tenant/acme-2":                          []byte("x"),
		"grant/acme/google/x@y.com":              []byte("refresh-1"),
		"grant/acme/microsoft/X.Y+z@example.com": []byte("refresh-2"),
		"grant/beta/google/a_b-c":                []byte{0, 1, 2, 255},
		"a":                                      {},
		"a/b.c/d":                                []byte("dots"),
		"...x/.y":                                []byte("dot-led segments"),
		long:                                     big,
		slashy:                                   []byte("slashes"),
	}
	for k, v := range items {
		mustSet(t, s, k, v)
	}
	for k, v := range items {
		mustGet(t, s, k, v)
	}
	all := sortedKeys(items)
	checkList(t, s, "", all)
	checkList(t, s, "tenant/", []string{"tenant/acme", "tenant/acme-2"})
	checkList(t, s, "tenant/acme", []string{"tenant/acme", "tenant/acme-2"})
	checkList(t, s, "Tenant", []string{"Tenant/Acme"})
	checkList(t, s, "grant/acme/", []string{"grant/acme/google/x@y.com", "grant/acme/microsoft/X.Y+z@example.com"})
	checkList(t, s, "nothing", []string{})

	// Limits and validation happen before any backend call.
	if err := s.Set(ctx, "tenant/big", make([]byte, maxValueLen+1)); err == nil || !strings.Contains(err.Error(), "at most 2048 bytes") {
		t.Errorf("Set of %d bytes: %v", maxValueLen+1, err)
	}
	for _, k := range []string{"", "/a", "a/", "a//b", "a/../b", "a/./b", "a b", "a:b", "a~b", "a!b", "probe/x", strings.Repeat("a", maxKeyLen+1)} {
		if err := s.Set(ctx, k, []byte("v")); err == nil {
			t.Errorf("Set(%q) succeeded", k)
		}
		if _, err := s.Get(ctx, k); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want a validation error", k, err)
		}
	}

	// Another service on the same backend sees nothing of this one.
	other := open(t, svc+"-other")
	checkList(t, other, "", []string{})
	if _, err := other.Get(ctx, "tenant/acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other service Get: %v, want ErrNotFound", err)
	}
	mustSet(t, other, "tenant/other", []byte("o"))
	checkList(t, s, "tenant/", []string{"tenant/acme", "tenant/acme-2"})
	mustDelete(t, other, "tenant/other")

	// A second Store on the same service sees the same items.
	again := open(t, svc)
	mustGet(t, again, "grant/acme/google/x@y.com", []byte("refresh-1"))
	checkList(t, again, "", all)

	for _, k := range all {
		mustDelete(t, s, k)
	}
	checkList(t, s, "", []string{})
	if _, err := s.Get(ctx, "tenant/acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "tenant/acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete deleted: got %v, want ErrNotFound", err)
	}
}

func mustSet(t *testing.T, s KV, k string, v []byte) {
	t.Helper()
	if err := s.Set(context.Background(), k, v); err != nil {
		t.Fatalf("Set(%q): %v", k, err)
	}
}

func mustGet(t *testing.T, s KV, k string, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes, want %d bytes (values differ)", k, len(got), len(want))
	}
}

func mustDelete(t *testing.T, s KV, k string) {
	t.Helper()
	if err := s.Delete(context.Background(), k); err != nil {
		t.Fatalf("Delete(%q): %v", k, err)
	}
}

func checkList(t *testing.T, s KV, prefix string, want []string) {
	t.Helper()
	got, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	if got == nil || !slices.Equal(got, want) {
		t.Fatalf("List(%q) = %q, want %q", prefix, got, want)
	}
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func TestValidateKey(t *testing.T) {
	good := []string{"a", "tenant/acme", "grant/acme/google/x@y.com", "A.B_c@d+e-f/G", "...", ".a/..b/c..", "probe", "probes/x", strings.Repeat("x", 200)}
	for _, k := range good {
		if err := validateKey(k); err != nil {
			t.Errorf("validateKey(%q): %v", k, err)
		}
	}
	bad := map[string]string{
		"":                       "empty",
		strings.Repeat("x", 201): "201 bytes",
		"/a":                     "empty segment",
		"a/":                     "empty segment",
		"a//b":                   "empty segment",
		"a/../b":                 `segment ".."`,
		"..":                     `segment ".."`,
		"./a":                    `segment "."`,
		"a b":                    `character ' '`,
		"é":                      "character",
		"a\x00":                  "character",
		"a~b":                    "character '~'",
		"a!b":                    "character '!'",
		"a%2Fb":                  "character '%'",
		"probe/x":                "reserved",
	}
	for k, why := range bad {
		err := validateKey(k)
		if err == nil {
			t.Errorf("validateKey(%q) succeeded", k)
			continue
		}
		if !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "keys are 1-200 bytes of A-Z a-z 0-9 . _ @ + -") {
			t.Errorf("validateKey(%q) = %q; want it to mention %q and the rules", k, err, why)
		}
	}
	if err := validateValue("k", make([]byte, 2048)); err != nil {
		t.Error(err)
	}
	if err := validateValue("k", []byte(strings.Repeat("s3cret", 400))); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("validateValue: %v (must fail without quoting the value)", err)
	}
}

func TestCodec(t *testing.T) {
	codecs := []codec{{slash: "/"}, {slash: "!"}, {prefix: "mailcal/", slash: "/"}}
	keys := []string{"a", "A", "tenant/acme", "Tenant/Acme", "grant/acme/google/X@Y.com", "probe/ab12", "...", "a.gpg",
		strings.Repeat("Z", 200), strings.Repeat("aB/", 66) + "cd"}
	for i := 0; i < 500; i++ {
		keys = append(keys, randomKey())
	}
	for _, c := range codecs {
		seen := map[string]string{}
		for _, k := range keys {
			if checkKeySyntax(k) != nil {
				t.Fatalf("bad test key %q", k)
			}
			name := c.encode(k)
			if got, ok := c.decode(name); !ok || got != k {
				t.Errorf("%+v: decode(encode(%q)) = %q, %v", c, k, got, ok)
			}
			if name != c.prefix+strings.ToLower(name[len(c.prefix):]) {
				t.Errorf("%+v: encode(%q) = %q has upper case", c, k, name)
			}
			if c.slash != "/" && strings.Contains(name, "/") {
				t.Errorf("%+v: encode(%q) = %q has a slash", c, k, name)
			}
			if len(name)-len(c.prefix) > 251 {
				t.Errorf("encode(%q) is %d bytes", k, len(name))
			}
			if prev, dup := seen[name]; dup && prev != k {
				t.Errorf("%q and %q both encode to %q", prev, k, name)
			}
			seen[name] = k
		}
	}
	c := codec{prefix: "mailcal/", slash: "!"}
	if got := c.encode("Grant/a"); got != "mailcal/grant!a~01" {
		t.Errorf("encode = %q", got)
	}
	// Names that are not ours are skipped by List.
	for _, name := range []string{"other/x", "mailcal/", "mailcal/a/b", "mailcal/A", "mailcal/a~", "mailcal/a~zz", "mailcal/a~02",
		"mailcal/a~0100", "mailcal/1~01", "mailcal/a!!b", "mailcal/!a", "mailcal/a%2Fb", "mailcal/a~01~01"} {
		if k, ok := c.decode(name); ok {
			t.Errorf("decode(%q) = %q, want not ours", name, k)
		}
	}
}

func randomKey() string {
	const alpha = "abcXYZ019._@+-"
	for {
		n, _ := rand.Int(rand.Reader, big.NewInt(40))
		b := make([]byte, n.Int64()+1)
		for i := range b {
			j, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alpha)+3)))
			if int(j.Int64()) >= len(alpha) {
				b[i] = '/'
			} else {
				b[i] = alpha[j.Int64()]
			}
		}
		if checkKeySyntax(string(b)) == nil {
			return string(b)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := ConfigFromEnv(env(map[string]string{
		EnvBackend: "File", EnvService: "svc", EnvDir: "/d", EnvPassDir: "/p",
		EnvPassword: "pw", EnvPasswordFile: "/f", EnvTimeout: "3s",
	}))
	want := Config{Backend: "file", Service: "svc", Dir: "/d", PassDir: "/p", Password: "pw", PasswordFile: "/f", Timeout: 3 * time.Second}
	if err != nil || cfg != want {
		t.Fatalf("ConfigFromEnv = %+v, %v; want %+v", cfg, err, want)
	}
	if cfg, err := ConfigFromEnv(env(nil)); err != nil || cfg != (Config{}) {
		t.Fatalf("empty env: %+v, %v", cfg, err)
	}
	for _, tc := range []struct{ k, v, want string }{
		{EnvBackend, "gnome", "MAILCAL_KEYRING_BACKEND: unknown keyring backend \"gnome\"; allowed: auto, file, secret-service, pass, keyctl, keychain, wincred, kwallet"},
		{EnvTimeout, "10", EnvTimeout},
		{EnvTimeout, "-1s", EnvTimeout},
		{EnvService, "a/b", EnvService},
	} {
		_, err := ConfigFromEnv(env(map[string]string{tc.k: tc.v}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: %v; want it to contain %q", tc.k, tc.v, err, tc.want)
		}
	}
	if _, err := Open(context.Background(), Config{Backend: "nope"}); err == nil || !strings.Contains(err.Error(), "allowed: auto, file") {
		t.Errorf("Open(nope): %v", err)
	}
}

func TestAutoCandidates(t *testing.T) {
	for goos, want := range map[string][]string{
		"linux":   {"secret-service", "kwallet", "pass", "file"},
		"freebsd": {"secret-service", "kwallet", "pass", "file"},
		"darwin":  {"keychain", "pass", "file"},
		"windows": {"wincred", "pass", "file"},
		"plan9":   {"pass", "file"},
	} {
		if got := autoCandidates(goos); !slices.Equal(got, want) {
			t.Errorf("autoCandidates(%s) = %q, want %q", goos, got, want)
		}
	}
}

func TestMemory(t *testing.T) {
	stores := map[string]KV{}
	exerciseStore(t, func(t *testing.T, service string) KV {
		if s, ok := stores[service]; ok {
			return s
		}
		stores[service] = NewMemory()
		return stores[service]
	})
	s := NewMemory()
	if s.Backend() != "memory" {
		t.Errorf("Backend = %q", s.Backend())
	}
	v := []byte("abc")
	mustSet(t, s, "k", v)
	v[0] = 'X'
	mustGet(t, s, "k", []byte("abc"))
}

func TestLazy(t *testing.T) {
	ctx := context.Background()
	t.Run("concurrent first use opens once", func(t *testing.T) {
		var opens atomic.Int32
		mem := NewMemory()
		l := Lazy(func(ctx context.Context) (KV, error) {
			opens.Add(1)
			time.Sleep(50 * time.Millisecond)
			return mem, nil
		})
		if l.Backend() != "" {
			t.Errorf("Backend before open = %q", l.Backend())
		}
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := l.Set(ctx, fmt.Sprintf("k/%d", i), []byte("v")); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := opens.Load(); n != 1 {
			t.Errorf("opened %d times", n)
		}
		if keys, _ := l.List(ctx, "k/"); len(keys) != 20 {
			t.Errorf("List = %q", keys)
		}
		if l.Backend() != "memory" {
			t.Errorf("Backend = %q", l.Backend())
		}
	})
	t.Run("failure is not cached", func(t *testing.T) {
		var opens atomic.Int32
		boom := errors.New("keyring locked")
		l := Lazy(func(ctx context.Context) (KV, error) {
			if opens.Add(1) == 1 {
				return nil, boom
			}
			return NewMemory(), nil
		})
		if _, err := l.Get(ctx, "k"); !errors.Is(err, boom) {
			t.Fatalf("first Get: %v, want the open error", err)
		}
		if _, err := l.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second Get: %v, want ErrNotFound from the opened store", err)
		}
		l.Delete(ctx, "k")
		l.List(ctx, "")
		if n := opens.Load(); n != 2 {
			t.Errorf("opened %d times, want 2", n)
		}
	})
	t.Run("waiters give up at their deadline", func(t *testing.T) {
		release := make(chan struct{})
		l := Lazy(func(ctx context.Context) (KV, error) {
			<-release
			return NewMemory(), nil
		})
		go l.List(ctx, "") // holds the open
		time.Sleep(20 * time.Millisecond)
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := l.List(wctx, ""); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting List: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("waited %s", d)
		}
		close(release)
	})
}
