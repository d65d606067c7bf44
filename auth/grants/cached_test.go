package grants

import (
	"context"
	"testing"
)

// TestCachedReadsNoStore: Cached walks the listings in memory, reads no
// store, and knows only the tenants listed.
func TestCachedReadsNoStore(t *testing.T) {
	ctx := context.Background()
	g, rc, _ := newCached(t)
	if err := g.Put(ctx, Grant{Tenant: "b", Provider: "microsoft", Account: "y@example.com", Status: StatusNeedsReauth}); err != nil {
		t.Fatal(err)
	}
	seen := func() map[string]int {
		out := map[string]int{}
		g.Cached(func(tenant string, gs []Grant) {
			for _, gr := range gs {
				out[tenant+"/"+gr.Provider+"/"+gr.Status]++
			}
		})
		return out
	}
	if got := seen(); len(got) != 0 {
		t.Fatalf("before any listing: %v", got)
	}
	for _, tn := range []string{"a", "b"} {
		if _, err := g.List(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	rc.lists.Store(0)
	got := seen()
	if len(got) != 2 || got["a/google/"+StatusActive] != 1 || got["b/microsoft/"+StatusNeedsReauth] != 1 {
		t.Fatalf("Cached = %v", got)
	}
	if n := rc.lists.Load(); n != 0 {
		t.Errorf("Cached read the store %d times", n)
	}
}
