//go:build unix

package e2e

// The fixture of the OAuth server's end-to-end tests (oauth_server_test.go,
// oauth_server_sdk_test.go): both fakes (Google and Microsoft, each with
// alice and bob), mailcal on a PostgreSQL database (or the file keyring)
// with n replicas behind the round-robin proxy of replicas_test.go, whose
// URL is every replica's MAILCAL_BASE_URL and so the issuer; and a host
// serving Client ID Metadata Documents over https under a CA made for the
// test. The fakes share one harness as bothFakes (tools_freetime_test.go).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcal/mailcal/auth/store/postgres/pgtest"
	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

// oauthFixture is mailcal with both providers configured, n replicas on
// one store behind a round-robin proxy.
type oauthFixture struct {
	*harness
	fg       *googletest.Server
	fm       *microsofttest.Server
	replicas []*httpServer
	// proxy is the load balancer, at the public base URL (the issuer).
	proxy *httpServer
	lb    *roundRobin
	// host is the base URL's host: the replicas are reached directly with
	// it as the Host header, as the balancer does.
	host string
}

// newOAuthFixture starts both fakes, then n replicas on a new PostgreSQL
// database (database) or on the fixture's file keyring, and the proxy in
// front of them. extraEnv adds to the replicas' environment.
func newOAuthFixture(t *testing.T, n int, database bool, extraEnv ...string) *oauthFixture {
	t.Helper()
	mailcalBinary(t)
	fg := googletest.New(googletest.Options{})
	t.Cleanup(fg.Close)
	fm := microsofttest.New(microsofttest.Options{})
	t.Cleanup(fm.Close)
	for _, email := range []string{alice, bob} {
		fg.AddUser(email)
		fm.AddUser(email)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := []string{"MAILCAL_BASE_URL=" + base}
	var secrets []string
	if database {
		dbURL := pgtest.URL(t)
		master := make([]byte, 32)
		rand.Read(master)
		masterKey := base64.StdEncoding.EncodeToString(master)
		env = append(env, "MAILCAL_DATABASE_URL="+dbURL, "MAILCAL_ENCRYPTION_KEY="+masterKey)
		u, _ := url.Parse(dbURL)
		pw, _ := u.User.Password()
		secrets = append(secrets, pw, masterKey)
	}
	fx := &oauthFixture{
		harness: newHarness(t, "googletest and microsofttest", bothFakes{fg: fg, fm: fm}, append(env, extraEnv...)...),
		fg:      fg, fm: fm, host: ln.Addr().String(),
	}
	for _, s := range secrets {
		fx.leaks.secret(s)
	}
	if database {
		if out, errOut, code := fx.run(t, "migrate"); code != 0 {
			t.Fatalf("migrate: exit %d, %q %s", code, out, tail(errOut, 1000))
		}
	}
	fx.replicas, fx.lb, fx.proxy = balance(t, ln, n, func() *httpServer { return fx.startHTTP(t) })
	return fx
}

// served is how many requests each replica got through the proxy.
func (fx *oauthFixture) served() []int {
	fx.lb.mu.Lock()
	defer fx.lb.mu.Unlock()
	out := make([]int, len(fx.lb.backends))
	for i, b := range fx.lb.backends {
		out[i] = fx.lb.served[b.Host]
	}
	return out
}

// resource is tenant's MCP endpoint: the resource its tokens are for.
func (fx *oauthFixture) resource(tenantName string) string {
	return fx.proxy.base + "/t/" + tenantName + "/mcp"
}

// tenant adds a tenant with `mailcal tenant add` and returns its API key,
// which the leak audit then looks for (this command prints it, so its own
// output is not audited).
func (fx *oauthFixture) tenant(t *testing.T, name string) string {
	t.Helper()
	c := newProc(t, fx.env(), fx.k.home, "tenant", "add", name)
	c.start(t)
	code := c.waitExit(t, 60*time.Second)
	key := strings.TrimSpace(c.stdout.String())
	if code != 0 || key == "" {
		t.Fatalf("tenant add %s: exit %d, %q %s", name, code, key, tail(c.logs.String(), 1000))
	}
	fx.leaks.secret(key)
	return key
}

// allowSignins sets a tenant's allowed_signins with `mailcal policy set`.
func (fx *oauthFixture) allowSignins(t *testing.T, tenantName, list string) {
	t.Helper()
	if out, errOut, code := fx.run(t, "policy", "set", "--tenant", tenantName, "--allowed-signins", list); code != 0 {
		t.Fatalf("policy set --tenant %s --allowed-signins %q: exit %d, %q %s", tenantName, list, code, out, tail(errOut, 1000))
	}
}

// connectREST connects an account to the tenant through the REST API and
// the fake's consent, with the tenant's key, through the proxy: another
// person's account, next to the one that signs in through OAuth.
func (fx *oauthFixture) connectREST(t *testing.T, key, provider, email string) {
	t.Helper()
	a := fx.authorize(t, fx.proxy, key, provider, url.Values{"login_hint": {email}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	approve := fx.fg.Approve
	if provider == "microsoft" {
		approve = fx.fm.Approve
	}
	loc, err := approve(ctx, a.URL)
	if err != nil {
		t.Fatalf("approving at the %s fake: %v", provider, err)
	}
	if r := fx.browse(t, loc.String()); r.status != http.StatusOK || !strings.Contains(string(r.body), "Connected") {
		t.Fatalf("the callback of %s's %s connect answered %d %s", email, provider, r.status, tail(string(r.body), 500))
	}
}

// accounts is `mailcal accounts --tenant NAME --json`: "provider account".
func (fx *oauthFixture) accounts(t *testing.T, tenantName string) []string {
	t.Helper()
	var out []string
	for _, a := range fx.accountsJSON(t, tenantName).Accounts {
		out = append(out, a.Provider+" "+a.Account)
	}
	slices.Sort(out)
	return out
}

// --- Client ID Metadata Documents over https

// metadataHost serves Client ID Metadata Documents over https on
// 127.0.0.1, with a certificate from a CA made for the test, whose PEM is
// in caFile (mailcal trusts it through SSL_CERT_FILE).
type metadataHost struct {
	srv     *httptest.Server
	caFile  string
	mu      sync.Mutex
	docs    map[string][]byte
	fetches atomic.Int32
}

func newMetadataHost(t *testing.T) *metadataHost {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailcal e2e test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	h := &metadataHost{docs: map[string][]byte{}}
	h.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(h.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	h.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *metadataHost) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	doc, ok := h.docs[r.URL.Path]
	h.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	h.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(doc)
}

// publish serves a public client's metadata document at path and returns
// its URL, the client_id.
func (h *metadataHost) publish(t *testing.T, path, name string, redirectURIs ...string) string {
	t.Helper()
	id := h.srv.URL + path
	doc, err := json.Marshal(map[string]any{
		"client_id": id, "client_name": name, "redirect_uris": redirectURIs,
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.docs[path] = doc
	h.mu.Unlock()
	return id
}

// loopbackRedirect is a client's loopback redirect URI on a port nobody
// listens on (the browser's last hop is never fetched).
func loopbackRedirect(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String() + "/callback"
}
