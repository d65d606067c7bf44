package mcpauth_test

import (
	"context"
	"sync/atomic"
	"testing"

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
