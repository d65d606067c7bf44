package microsoft

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigure(t *testing.T) {
	cfg, err := configure(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthURL != "https://login.microsoftonline.com/common/oauth2/v2.0/authorize" || cfg.TokenURL != "https://login.microsoftonline.com/common/oauth2/v2.0/token" ||
		cfg.APIURL != "https://graph.microsoft.com/v1.0" || cfg.RevokeURL != "" {
		t.Fatalf("%+v", cfg)
	}
	for tenant, want := range map[string]string{
		"Organizations": "organizations", "consumers": "consumers", "contoso.onmicrosoft.com": "contoso.onmicrosoft.com",
		"72F988BF-86F1-41AF-91AB-2D7CD011DB47": "72f988bf-86f1-41af-91ab-2d7cd011db47",
	} {
		cfg, err := configure(env(map[string]string{EnvTenant: tenant}))
		if err != nil || !strings.Contains(cfg.TokenURL, "/"+want+"/oauth2/v2.0/token") {
			t.Errorf("%s: %v %s", tenant, err, cfg.TokenURL)
		}
	}
	for _, bad := range []string{"../evil", "a b", "contoso", "http://x", "common/../x", "x.y?z=1", strings.Repeat("a", 300) + ".com"} {
		if _, err := configure(env(map[string]string{EnvTenant: bad})); err == nil || !strings.Contains(err.Error(), EnvTenant) {
			t.Errorf("tenant %q: %v", bad, err)
		}
	}
	if _, err := configure(env(map[string]string{EnvGraphURL: "http://graph.example.com/v1.0"})); err == nil || !strings.Contains(err.Error(), EnvGraphURL) {
		t.Errorf("plain http Graph: %v", err)
	}
	cfg, err = configure(env(map[string]string{EnvAuthURL: "http://127.0.0.1:9/a", EnvTokenURL: "http://127.0.0.1:9/t", EnvGraphURL: "http://127.0.0.1:9/v1.0/"}))
	if err != nil || cfg.APIURL != "http://127.0.0.1:9/v1.0" {
		t.Fatalf("%v %+v", err, cfg)
	}
}

func TestRegistryWithMicrosoft(t *testing.T) {
	reg, err := providers.NewRegistry([]*providers.Spec{&google.Spec, &Spec}, env(map[string]string{EnvClientID: "app-id"}))
	if err != nil {
		t.Fatal(err)
	}
	p, limit, err := reg.Resolve("outlook")
	if err != nil || p.Name != "microsoft" || !slices.Equal(limit, []string{providers.MailRead, providers.MailSend, providers.MailModify}) {
		t.Fatalf("%v %v %v", p, limit, err)
	}
	if _, limit, _ := reg.Resolve("Outlook-Calendar"); !slices.Equal(limit, []string{providers.CalendarRead, providers.CalendarWrite}) {
		t.Fatal(limit)
	}
	if err := p.Configured(); err != nil {
		t.Fatalf("a public client (no secret) must do: %v", err)
	}
	if p.Revocable() || Spec.RevokeHelp == "" {
		t.Fatal("Microsoft has no revocation endpoint; RevokeHelp says where to remove access")
	}
	// The identity platform answers scopes with or without Graph's prefix, in any case.
	for _, granted := range []string{
		"openid profile email https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/Calendars.ReadWrite https://graph.microsoft.com/User.Read",
		"Mail.Read Calendars.ReadWrite User.Read profile openid email",
		"mail.read calendars.readwrite",
	} {
		if got := p.GrantedScopes(granted); !slices.Equal(got, []string{providers.MailRead, providers.CalendarWrite}) {
			t.Errorf("%q: %v", granted, got)
		}
	}
	if m := p.Missing([]string{providers.CalendarWrite, providers.MailModify}, []string{providers.CalendarRead, providers.MailRead, providers.MailSend}); !slices.Equal(m, []string{providers.MailSend}) {
		t.Fatalf("missing %v: Mail.ReadWrite does not send", m)
	}
	conf := p.OAuth2([]string{providers.MailRead, providers.MailSend}, "http://localhost:5000/oauth/callback")
	if !slices.Equal(conf.Scopes, []string{"openid", "profile", "email", "offline_access", "User.Read", "MailboxSettings.Read", "Mail.Read", "Mail.Send"}) {
		t.Fatalf("scopes %v", conf.Scopes)
	}
	u := conf.AuthCodeURL("st", p.AuthParams...)
	if !strings.Contains(u, "prompt=select_account") || !strings.HasPrefix(u, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?") {
		t.Fatal(u)
	}
}

func TestDeadGrantAdvice(t *testing.T) {
	for desc, want := range map[string]string{
		"AADSTS700082: The refresh token has expired due to inactivity. Trace ID: x":              "expire",
		"AADSTS50173: The provided grant has expired due to it being revoked":                     "password",
		"AADSTS65001: The user or administrator has not consented to use the application":         "consent",
		"AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.":       EnvTenant,
		"AADSTS500011: The resource principal named https://graph.microsoft.com was not found":    EnvClientID,
		"AADSTS50076: Due to a configuration change made by your administrator, you must use MFA": "multi-factor",
		"AADSTS12345678: something new": "",
		"AADSTS99999: Something else":   "login.microsoftonline.com/error?code=99999",
		"no code at all":                "",
	} {
		got := deadGrantAdvice(providers.DeadGrant{Code: "invalid_grant", Description: desc})
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%q: %q, want it to say %q", desc, got, want)
		}
	}
}
