package providers

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func testSpec(name string, aliases ...Alias) *Spec {
	return &Spec{
		Name: name, Title: strings.ToUpper(name[:1]) + name[1:], Products: name + " mail", Aliases: aliases,
		Configure: func(get func(string) string) (Config, error) {
			return Config{ClientID: get("MAILCAL_" + strings.ToUpper(name) + "_CLIENT_ID")}, nil
		},
		NewAPI:  func(Config, *http.Client) (API, error) { return nil, nil },
		Scopes:  map[string][]string{MailRead: {name + ".read"}, MailSend: {name + ".send"}, MailModify: {name + ".modify"}},
		Implies: map[string][]string{MailModify: {MailRead}},
		Revoke:  func(context.Context, *http.Client, Config, string) error { return nil },
		Limits:  Limits{MaxMessageBytes: 1 << 20, MaxRecipients: 10},
	}
}

// TestRegistry: names and aliases resolve, with the alias's scope limit;
// choices and help list them all; a name used twice is refused.
func TestRegistry(t *testing.T) {
	reg, err := NewRegistry([]*Spec{
		testSpec("exmail", Alias{Name: "exonly", Scopes: []string{MailRead}, What: "reading only"}),
		testSpec("other"),
	}, func(k string) string { return map[string]string{"MAILCAL_EXMAIL_CLIENT_ID": "id"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	p, limit, err := reg.Resolve(" ExOnly ")
	if err != nil || p.Name != "exmail" || strings.Join(limit, ",") != MailRead || p.Config.ClientID != "id" {
		t.Fatalf("Resolve(exonly) = %v %v %v", p, limit, err)
	}
	if _, _, err := reg.Resolve("nope"); err == nil || !strings.Contains(err.Error(), "exmail, exonly or other") {
		t.Fatalf("unknown name: %v", err)
	}
	if got := reg.Help(); got != "exmail (exmail mail), exonly (reading only), other (other mail)" {
		t.Errorf("Help = %q", got)
	}
	if err := p.Configured(); err == nil || !strings.Contains(err.Error(), "Exmail") {
		t.Errorf("a client without a secret: %v", err)
	}
	if got := p.Missing([]string{MailModify}, []string{MailRead, MailSend}); strings.Join(got, ",") != MailSend {
		t.Errorf("Missing = %v: modify implies read only", got)
	}
	if got := p.GrantedScopes("openid exmail.read exmail.modify"); strings.Join(got, ",") != "mail.read,mail.modify" {
		t.Errorf("GrantedScopes = %v", got)
	}
	if _, err := NewRegistry([]*Spec{testSpec("exmail"), testSpec("exmail")}, func(string) string { return "" }); err == nil {
		t.Error("a name used twice was accepted")
	}
}

// TestParseScopes: the defaults cover every tool served by default, or the
// read ones for a read-only server, within an alias's limit.
func TestParseScopes(t *testing.T) {
	for _, c := range []struct {
		list     string
		limit    []string
		readOnly bool
		want     string
	}{
		{"", nil, false, "mail.read,mail.send,mail.modify,calendar.read,calendar.write"},
		{"", nil, true, "mail.read,calendar.read"},
		{"", []string{CalendarRead, CalendarWrite}, false, "calendar.read,calendar.write"},
		{"", []string{MailRead, MailSend, MailModify}, true, "mail.read"},
		{" calendar.read , mail.read,mail.read", nil, false, "mail.read,calendar.read"},
	} {
		got, err := ParseScopes(c.list, c.limit, c.readOnly)
		if err != nil || strings.Join(got, ",") != c.want {
			t.Errorf("ParseScopes(%q, %v, %v) = %v, %v; want %s", c.list, c.limit, c.readOnly, got, err, c.want)
		}
	}
	for _, bad := range []string{"mail.write", ",", "calendar.read"} {
		if _, err := ParseScopes(bad, []string{MailRead}, false); err == nil {
			t.Errorf("ParseScopes(%q) within mail.read accepted", bad)
		}
	}
}

func TestDefaultTransportKeepsIdleConnections(t *testing.T) {
	for _, n := range []int{0, 20, 64, 200, 1000} {
		tr := DefaultTransport(n)
		want := max(n, MinIdleConnsPerHost, 64)
		if tr.MaxIdleConnsPerHost != want || tr.MaxIdleConns < 2*want {
			t.Errorf("DefaultTransport(%d): %d idle per host, %d in all; want %d per host and room for two hosts", n, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, want)
		}
	}
}

// TestScopeKey: a spec's ScopeKey compares granted scopes as the provider
// spells them; without one they are compared as they are.
func TestScopeKey(t *testing.T) {
	plain := testSpec("exmail")
	keyed := testSpec("other")
	keyed.ScopeKey = strings.ToLower
	reg, err := NewRegistry([]*Spec{plain, keyed}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Get("exmail")
	if got := p.GrantedScopes("EXMAIL.READ exmail.send"); strings.Join(got, ",") != MailSend {
		t.Fatalf("plain: %v", got)
	}
	o, _ := reg.Get("other")
	if got := o.GrantedScopes("OTHER.READ other.send"); strings.Join(got, ",") != MailRead+","+MailSend {
		t.Fatalf("keyed: %v", got)
	}
	bad := testSpec("third")
	bad.LoopbackHost = "127.0.0.2"
	if _, err := NewRegistry([]*Spec{bad}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "LoopbackHost") {
		t.Fatalf("a LoopbackHost other than localhost: %v", err)
	}
}

// TestWrapTransport: a provider's API clients are given a client whose
// transport is the wrap of DefaultTransport, named for the provider.
func TestWrapTransport(t *testing.T) {
	var gotClient *http.Client
	spec := testSpec("exmail")
	spec.NewAPI = func(_ Config, hc *http.Client) (API, error) { gotClient = hc; return nil, nil }
	reg, err := NewRegistry([]*Spec{spec}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	type wrapped struct{ http.RoundTripper }
	var named string
	reg.WrapTransport(func(provider string, rt http.RoundTripper) http.RoundTripper {
		named = provider
		return wrapped{rt}
	})
	p, err := reg.Get("exmail")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.API(); err != nil {
		t.Fatal(err)
	}
	w, ok := gotClient.Transport.(wrapped)
	if gotClient == nil || !ok || named != "exmail" {
		t.Fatalf("NewAPI got %#v, wrap named %q", gotClient, named)
	}
	if tr, ok := w.RoundTripper.(*http.Transport); !ok || tr.MaxIdleConnsPerHost < MinIdleConnsPerHost {
		t.Errorf("wrapped transport %T: want DefaultTransport", w.RoundTripper)
	}
}
