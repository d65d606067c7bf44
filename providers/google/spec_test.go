package google

import (
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// TestTestingModeAdvice: a grant that died about 7 days after it was
// connected is named as the consent-screen-in-"Testing" case, and no other.
func TestTestingModeAdvice(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{
		{7 * 24 * time.Hour, true},
		{7*24*time.Hour + time.Hour, true},
		{7*24*time.Hour - 3*time.Hour, true},
		{30 * 24 * time.Hour, false},
		{24 * time.Hour, false},
	} {
		got := Spec.DeadGrantAdvice(providers.DeadGrant{Code: "invalid_grant", ConnectedAt: at, FailedAt: at.Add(c.after)})
		if strings.Contains(got, `"Testing" status`) != c.want {
			t.Errorf("dead after %v: advice %q", c.after, got)
		}
	}
	if got := Spec.DeadGrantAdvice(providers.DeadGrant{}); got != "" {
		t.Errorf("unknown times: %q", got)
	}
}

// TestSpecConfigure: defaults, overrides, and a bad endpoint named by its
// variable.
func TestSpecConfigure(t *testing.T) {
	env := map[string]string{EnvClientID: " id ", EnvTokenURL: "http://127.0.0.1:9/token"}
	cfg, err := Spec.Configure(func(k string) string { return env[k] })
	if err != nil || cfg.ClientID != "id" || cfg.TokenURL != "http://127.0.0.1:9/token" || cfg.AuthURL != defaultAuthURL || cfg.RevokeURL != defaultRevokeURL {
		t.Fatalf("%+v, %v", cfg, err)
	}
	env[EnvAuthURL] = "http://accounts.example.com/auth"
	if _, err := Spec.Configure(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvAuthURL) {
		t.Fatalf("plain http on a public host: %v", err)
	}
	reg, err := providers.NewRegistry([]*providers.Spec{&Spec}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	p, limit, err := reg.Resolve("Calendar")
	if err != nil || p.Name != "google" || strings.Join(limit, ",") != "calendar.read,calendar.write" {
		t.Fatalf("calendar alias: %v %v %v", p, limit, err)
	}
	if err := p.Configured(); err == nil || !strings.Contains(err.Error(), EnvClientID) {
		t.Fatalf("no client: %v", err)
	}
	if got := p.Missing([]string{providers.MailModify}, []string{providers.MailRead, providers.MailSend, providers.CalendarRead}); strings.Join(got, ",") != "calendar.read" {
		t.Fatalf("missing %v", got)
	}
}
