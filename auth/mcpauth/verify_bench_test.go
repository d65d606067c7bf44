package mcpauth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/store/memory"
)

// countingStore counts the reads of access tokens.
type countingStore struct {
	*memory.Store
	gets atomic.Int64
}

func (s *countingStore) GetOAuthToken(ctx context.Context, hash string) (store.OAuthToken, error) {
	s.gets.Add(1)
	return s.Store.GetOAuthToken(ctx, hash)
}

// BenchmarkVerify: what checking an OAuth access token costs each MCP
// request. Within 2 s of the last read it is served from memory; the figure
// reported is store reads per verification.
//
//	go test -run '^$' -bench BenchmarkVerify -benchmem ./auth/mcpauth/
func BenchmarkVerify(b *testing.B) {
	st := &countingStore{Store: memory.New()}
	f := newFixtureOpts(b, fixtureOpts{store: st})
	access, _ := f.tokens(b)
	ctx := context.Background()
	if _, err := f.srv.Verify(ctx, access, "a"); err != nil {
		b.Fatal(err)
	}
	st.gets.Store(0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.srv.Verify(ctx, access, "a"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(st.gets.Load())/float64(b.N), "reads/op")
}

// countingOAuth counts every call of the OAuth contract.
type countingOAuth struct {
	*memory.Store
	calls atomic.Int64
}

func (s *countingOAuth) GetOAuthToken(ctx context.Context, hash string) (store.OAuthToken, error) {
	s.calls.Add(1)
	return s.Store.GetOAuthToken(ctx, hash)
}

func (s *countingOAuth) PutOAuthToken(ctx context.Context, t store.OAuthToken) error {
	s.calls.Add(1)
	return s.Store.PutOAuthToken(ctx, t)
}

func (s *countingOAuth) SpendOAuthToken(ctx context.Context, hash string, at time.Time) (store.OAuthToken, bool, error) {
	s.calls.Add(1)
	return s.Store.SpendOAuthToken(ctx, hash, at)
}

// BenchmarkRefresh: a refresh-token rotation through /token over loopback
// HTTP, and the store calls it makes (the tenant's existence, read through
// the fixture's map, not counted).
//
//	go test -run '^$' -bench BenchmarkRefresh -benchmem ./auth/mcpauth/
func BenchmarkRefresh(b *testing.B) {
	st := &countingOAuth{Store: memory.New()}
	f := newFixtureOpts(b, fixtureOpts{store: st})
	_, rt := f.tokens(b)
	st.calls.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, m := f.refresh(b, rt)
		if code != 200 {
			b.Fatalf("refresh: %d %v", code, m)
		}
		rt = str(m, "refresh_token")
	}
	b.ReportMetric(float64(st.calls.Load())/float64(b.N), "store-calls/op")
}
