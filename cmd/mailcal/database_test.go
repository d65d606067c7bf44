package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/seal"
	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
)

// passwordOf returns the password of a pgtest URL, which no output may show.
func passwordOf(t *testing.T, url string) string {
	t.Helper()
	_, rest, _ := strings.Cut(url, "://mailcal:")
	pw, _, ok := strings.Cut(rest, "@")
	if !ok || pw == "" {
		t.Fatalf("no password in the test URL")
	}
	return pw
}

func TestMigrateCommand(t *testing.T) {
	url := pgtest.URL(t)
	pw := passwordOf(t, url)
	vars := map[string]string{envDatabaseURL: url}
	out, errOut, code := runInProcess(t, vars, "migrate")
	if code != 0 || !strings.Contains(out, "Applied 5 migration(s): 0001 init, 0002 webhooks, 0003 oauth, 0004 oauth_clients, 0005 webhook_previous_secret") {
		t.Errorf("migrate of an empty database: exit %d, %q %q; want it to name what it applied", code, out, errOut)
	}
	out, errOut, code = runInProcess(t, vars, "migrate")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("migrate of a migrated database: exit %d, %q %q; want it up to date", code, out, errOut)
	}

	wrong := strings.Replace(url, pw, "not-the-password", 1)
	out, errOut, code = runInProcess(t, map[string]string{envDatabaseURL: wrong}, "migrate")
	if code != 1 || !strings.Contains(errOut, "authentication failed") || !strings.Contains(errOut, envDatabaseURL) {
		t.Errorf("migrate with a wrong password: exit %d, %q; want exit 1 naming %s and the failed authentication", code, errOut, envDatabaseURL)
	}
	if strings.Contains(out+errOut, "not-the-password") {
		t.Errorf("migrate showed the URL's password: %q", errOut)
	}

	_, errOut, code = runInProcess(t, nil, "migrate")
	if code != 2 || !strings.Contains(errOut, envDatabaseURL) {
		t.Errorf("migrate without a database: exit %d, %q; want a usage error naming %s", code, errOut, envDatabaseURL)
	}
}

func TestDatabaseURLChecked(t *testing.T) {
	for _, u := range []string{"mysql://u:hunter2@h/db", "postgres://u:hunter2@/db", "hunter2"} {
		_, errOut, code := runInProcess(t, map[string]string{envDatabaseURL: u}, "tenant", "list")
		if code == 0 || !strings.Contains(errOut, envDatabaseURL) || !strings.Contains(errOut, "postgres://USER") {
			t.Errorf("%s: exit %d, %q; want it refused, naming the variable and the form", u, code, errOut)
		}
		if strings.Contains(errOut, "hunter2") && u != "hunter2" {
			t.Errorf("%s: the error shows the password: %q", u, errOut)
		}
	}
}

// A database keeps refresh tokens only sealed: without a master key it is
// refused, naming the variable, before anything is written.
func TestDatabaseNeedsMasterKey(t *testing.T) {
	url := pgtest.URL(t)
	_, errOut, code := runInProcess(t, map[string]string{envDatabaseURL: url}, "tenant", "list")
	if code != 1 || !strings.Contains(errOut, seal.EnvKey) {
		t.Errorf("tenant list with a database and no master key: exit %d, %q; want it refused naming %s", code, errOut, seal.EnvKey)
	}
	if strings.Contains(errOut, passwordOf(t, url)) {
		t.Errorf("the error shows the password: %q", errOut)
	}
}

// The commands over a database: a tenant added by one process is seen by
// the next; a grant written by one app is read back by a new one (a
// restart), its refresh token sealed in the database under the tenant's
// data key.
func TestDatabaseCommands(t *testing.T) {
	url := pgtest.URL(t)
	key := make([]byte, 32)
	rand.Read(key)
	vars := map[string]string{envDatabaseURL: url, seal.EnvKey: base64.StdEncoding.EncodeToString(key)}

	out, errOut, code := runInProcess(t, vars, "tenant", "add", "acme")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("tenant add: exit %d, %q %q", code, out, errOut)
	}
	out, _, code = runInProcess(t, vars, "tenant", "list")
	if code != 0 || !strings.Contains(out, "acme") {
		t.Errorf("tenant list after tenant add in another process: exit %d, %q", code, out)
	}

	cfg, err := loadConfig(env{getenv: func(n string) string { return vars[n] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a, err := newApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const token = "1//refresh-token-in-the-database"
	err = a.grants.Put(ctx, grants.Grant{Tenant: "acme", Provider: "google", Account: "alice@example.com",
		RefreshToken: token, Scopes: []string{"mail.read"}, Status: grants.StatusActive, ConnectedAt: time.Now()})
	a.close()
	if err != nil {
		t.Fatal(err)
	}

	b, err := newApp(ctx, cfg) // a restart
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	g, err := b.grants.Get(ctx, "acme", "google", "alice@example.com")
	if err != nil || g.RefreshToken != token {
		t.Errorf("the grant after a restart: %+v, %v", g, err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var secret []byte
	if err := conn.QueryRow(ctx, "SELECT secret FROM grants WHERE tenant = 'acme'").Scan(&secret); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(secret, []byte("refresh-token")) {
		t.Errorf("the refresh token is in the database in the clear")
	}
}
