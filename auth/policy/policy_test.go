package policy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

func TestNormalizeNamesTheField(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{RecipientAllowlist: []string{"a@b.com", "nobody"}}, "recipient_allowlist[1]"},
		{Policy{RecipientAllowlist: []string{"a*@b.com"}}, "recipient_allowlist[0]"},
		{Policy{RecipientAllowlist: []string{"*@b..com"}}, "recipient_allowlist[0]"},
		{Policy{RecipientAllowlist: []string{"Ann <a@b.com>"}}, "recipient_allowlist[0]"},
		{Policy{AllowedSignins: []string{""}}, "allowed_signins[0]"},
		{Policy{ConfirmSends: "always"}, "confirm_sends"},
		{Policy{MaxSendsPerDay: -1}, "max_sends_per_day"},
		{Policy{MaxRecipients: MaxRecipientsLimit + 1}, "max_recipients"},
	} {
		err := c.p.Normalize()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Normalize(%+v) = %v; want an error naming %s", c.p, err, c.want)
		}
	}
	p := Policy{RecipientAllowlist: []string{" A@Example.com", "*@EXAMPLE.org", "a@example.com"}}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.RecipientAllowlist, ",") != "a@example.com,*@example.org" || p.ConfirmSends != ConfirmOff || p.AllowedSignins == nil {
		t.Errorf("Normalize = %+v", p)
	}
}

func TestAllows(t *testing.T) {
	p := Policy{RecipientAllowlist: []string{"boss@corp.com", "*@example.org"}}
	for addr, want := range map[string]bool{
		"boss@corp.com": true, "BOSS@Corp.com": true, "x@example.org": true,
		"other@corp.com": false, "x@sub.example.org": false, "x@example.org.evil.com": false, "example.org": false,
	} {
		if got := p.Allows(addr); got != want {
			t.Errorf("Allows(%q) = %v, want %v", addr, got, want)
		}
	}
	if got := p.Refused([]string{"boss@corp.com", "A@b.com", "a@b.com", "c@d.com"}); strings.Join(got, ",") != "a@b.com,c@d.com" {
		t.Errorf("Refused = %v", got)
	}
	if !(&Policy{}).Allows("anyone@anywhere.com") {
		t.Error("an empty allowlist refused an address")
	}
}

func TestDay(t *testing.T) {
	day, next := Day(time.Date(2026, 11, 29, 0, 30, 0, 0, time.FixedZone("UTC+1", 3600)))
	if day != "2026-11-28" || !next.Equal(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Day = %s, %s", day, next)
	}
}

// counting counts the policy reads that reach the store and can fail them.
type counting struct {
	*memory.Store
	reads atomic.Int64
	fail  atomic.Bool
}

func (c *counting) GetPolicy(ctx context.Context, tenant string) (store.Policy, error) {
	c.reads.Add(1)
	if c.fail.Load() {
		return store.Policy{}, errors.New("store down")
	}
	return c.Store.GetPolicy(ctx, tenant)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestCacheServesWarmCallsAndOwnWrites(t *testing.T) {
	ctx := t.Context()
	b := &counting{Store: memory.New()}
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	s := New(b, clk.now)
	p, err := s.Get(ctx, "acme")
	if err != nil || p.Version != 0 || p.ConfirmSends != ConfirmOff {
		t.Fatalf("Get of no policy = %+v, %v", p, err)
	}
	for range 100 {
		if _, err := s.Get(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.reads.Load(); n != 1 {
		t.Errorf("101 warm Gets read the store %d times, want 1", n)
	}
	w, err := s.Put(ctx, "acme", Policy{MaxRecipients: 3})
	if err != nil || w.Version != 1 {
		t.Fatalf("Put = %+v, %v", w, err)
	}
	if p, _ := s.Get(ctx, "acme"); p.MaxRecipients != 3 {
		t.Errorf("Get right after Put = %+v; own writes must show at once", p)
	}
	if _, err := s.Put(ctx, "acme", Policy{MaxRecipients: 4}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Put at a stale version = %v, want ErrConflict", err)
	}

	// Another process's write shows once the entry is older than fresh
	// (served stale once while the background read runs), and at once past ttl.
	other := New(b, clk.now)
	if _, err := other.Put(ctx, "acme", Policy{Version: 1, MaxRecipients: 7}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, "acme"); p.MaxRecipients != 3 {
		t.Errorf("Get within fresh = %+v, want the cached policy", p)
	}
	clk.add(ttl)
	if p, _ := s.Get(ctx, "acme"); p.MaxRecipients != 7 {
		t.Errorf("Get past ttl = %+v, want the other writer's policy", p)
	}

	// A failed read is not served as "no policy": the caller gets the error.
	clk.add(ttl)
	b.fail.Store(true)
	if _, err := s.Get(ctx, "acme"); err == nil {
		t.Error("Get with the store failing past ttl answered a policy; want the error (enforcement fails closed)")
	}
	b.fail.Store(false)
	if p, err := s.Get(ctx, "acme"); err != nil || p.MaxRecipients != 7 {
		t.Errorf("Get after the store recovered = %+v, %v", p, err)
	}
}

func TestCountSend(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)}
	s := New(memory.New(), clk.now)
	k := store.GrantKey{Tenant: "acme", Provider: "google", Account: "a@b.com"}
	for range 2 {
		if err := s.CountSend(ctx, k, 2); err != nil {
			t.Fatal(err)
		}
	}
	err := s.CountSend(ctx, k, 2)
	var le *SendLimitError
	if !errors.As(err, &le) || !le.Next.Equal(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)) ||
		!strings.Contains(err.Error(), "2026-11-29T00:00:00Z") {
		t.Fatalf("third send under a limit of 2 = %v; want a SendLimitError saying when", err)
	}
	if err := s.CountSend(ctx, k, 0); err != nil {
		t.Errorf("no limit: %v", err)
	}
	clk.add(time.Hour)
	if err := s.CountSend(ctx, k, 2); err != nil {
		t.Errorf("the next UTC day: %v", err)
	}
	if n, _ := s.SentToday(ctx, k); n != 1 {
		t.Errorf("SentToday = %d, want 1", n)
	}
}
