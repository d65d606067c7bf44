package policy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
)

// shared_accounts goes through PUT /api/policy to the store and back, and
// a PUT that does not name it keeps it.
func TestSharedAccountsThroughAPIAndStore(t *testing.T) {
	s := New(memory.New(), nil)
	h := (&API{Store: s}).Handler()
	put := func(body string) {
		t.Helper()
		req := httptest.NewRequest("PUT", "/api/policy", strings.NewReader(body))
		req = req.WithContext(tenant.WithName(req.Context(), "acme"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"shared_accounts":true`) {
			t.Fatalf("PUT %s = %d %s; want 200 with shared_accounts true", body, rec.Code, rec.Body)
		}
	}
	if p, err := s.Get(t.Context(), "acme"); err != nil || p.SharedAccounts {
		t.Fatalf("no policy: SharedAccounts = %v, %v; want false", p.SharedAccounts, err)
	}
	put(`{"shared_accounts":true}`)
	put(`{"max_recipients":3}`)
	p, err := s.Read(t.Context(), "acme")
	if err != nil || !p.SharedAccounts || p.MaxRecipients != 3 {
		t.Fatalf("stored policy = %+v, %v; want shared_accounts kept true", p, err)
	}
	p.SharedAccounts = false
	if _, err := s.Put(t.Context(), "acme", p); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(t.Context(), "acme"); got.SharedAccounts {
		t.Error("SharedAccounts still true after a Put of false")
	}
}
