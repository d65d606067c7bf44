package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store"
)

func testTenants(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	got, err := s.ListTenants(ctx)
	must(t, "ListTenants on an empty store", err)
	if len(got) != 0 {
		t.Fatalf("ListTenants on an empty store = %v", got)
	}
	checkBackend(t, s)

	long := strings.Repeat("z", 63)
	want := []store.Tenant{
		{Name: "beta", KeyHash: keyHash(1), CreatedAt: t0},
		{Name: "acme", KeyHash: keyHash(2), CreatedAt: t0.Add(time.Hour)},
		{Name: "acme-2", KeyHash: keyHash(3), CreatedAt: t0.Add(-time.Hour)},
		{Name: "0day", KeyHash: keyHash(4), CreatedAt: t0.UTC()},
		{Name: "a_b", KeyHash: keyHash(5), CreatedAt: t0},
		{Name: long, KeyHash: keyHash(6), CreatedAt: t0},
	}
	for _, tn := range want {
		must(t, "CreateTenant "+tn.Name, s.CreateTenant(ctx, tn))
	}
	for _, tn := range want {
		g, err := s.GetTenant(ctx, tn.Name)
		must(t, "GetTenant "+tn.Name, err)
		checkTenant(t, g, tn)
	}

	err = s.CreateTenant(ctx, store.Tenant{Name: "acme", KeyHash: keyHash(99), CreatedAt: t0})
	checkIs(t, "CreateTenant of an existing name", err, store.ErrExists)
	if g, err := s.GetTenant(ctx, "acme"); err != nil || g.KeyHash != keyHash(2) {
		t.Errorf("after a refused CreateTenant: %+v, %v; want the first record unchanged", g, err)
	}

	got, err = s.ListTenants(ctx)
	must(t, "ListTenants", err)
	order := []string{"0day", "a_b", "acme", "acme-2", "beta", long}
	checkTenantList(t, got, order, want)

	_, err = s.GetTenant(ctx, "nobody")
	checkIs(t, "GetTenant of a missing tenant", err, store.ErrNotFound)
	checkIs(t, "DeleteTenant of a missing tenant", s.DeleteTenant(ctx, "nobody"), store.ErrNotFound)
	_, err = s.GetTenant(ctx, "acm")
	checkIs(t, "GetTenant of a prefix of a tenant's name", err, store.ErrNotFound)

	must(t, "DeleteTenant acme", s.DeleteTenant(ctx, "acme"))
	_, err = s.GetTenant(ctx, "acme")
	checkIs(t, "GetTenant after DeleteTenant", err, store.ErrNotFound)
	checkIs(t, "DeleteTenant twice", s.DeleteTenant(ctx, "acme"), store.ErrNotFound)
	if g, err := s.GetTenant(ctx, "acme-2"); err != nil || g.Name != "acme-2" {
		t.Errorf("GetTenant acme-2 after deleting acme: %+v, %v", g, err)
	}
	got, err = s.ListTenants(ctx)
	must(t, "ListTenants after a delete", err)
	checkTenantList(t, got, []string{"0day", "a_b", "acme-2", "beta", long}, want)

	// A name deleted can be created again, with a new record.
	must(t, "CreateTenant after DeleteTenant", s.CreateTenant(ctx, store.Tenant{Name: "acme", KeyHash: keyHash(7), CreatedAt: t0}))
	if g, err := s.GetTenant(ctx, "acme"); err != nil || g.KeyHash != keyHash(7) {
		t.Errorf("GetTenant of a re-created tenant: %+v, %v", g, err)
	}
}

func checkTenant(t *testing.T, got, want store.Tenant) {
	t.Helper()
	if got.Name != want.Name || got.KeyHash != want.KeyHash {
		t.Errorf("tenant %s read back as %+v, want %+v", want.Name, got, want)
	}
	checkTime(t, "tenant "+want.Name+" CreatedAt", got.CreatedAt, want.CreatedAt)
}

// checkTenantList checks that got holds exactly the named tenants of all, in
// that order.
func checkTenantList(t *testing.T, got []store.Tenant, names []string, all []store.Tenant) {
	t.Helper()
	var gotNames []string
	for _, g := range got {
		gotNames = append(gotNames, g.Name)
	}
	if !sameStrings(gotNames, names) {
		t.Fatalf("ListTenants = %q, want %q", gotNames, names)
	}
	for _, g := range got {
		for _, w := range all {
			if w.Name == g.Name {
				checkTenant(t, g, w)
			}
		}
	}
}

func testTenantNamesInvalid(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, name := range []string{"", "Acme", "-acme", "_acme", "a/b", "a b", "a.b", "..", "acme/", "é", "a\x00", "a~1",
		strings.Repeat("z", 64)} {
		checkRefused(t, "CreateTenant "+quote(name), s.CreateTenant(ctx, store.Tenant{Name: name, KeyHash: keyHash(0), CreatedAt: t0}))
		_, err := s.GetTenant(ctx, name)
		checkRefused(t, "GetTenant "+quote(name), err)
		checkRefused(t, "DeleteTenant "+quote(name), s.DeleteTenant(ctx, name))
	}
	got, err := s.ListTenants(ctx)
	must(t, "ListTenants", err)
	if len(got) != 0 {
		t.Errorf("ListTenants after refused creates = %v", got)
	}
}

func quote(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%q…", s[:20])
	}
	return fmt.Sprintf("%q", s)
}
