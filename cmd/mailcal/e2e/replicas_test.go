//go:build unix

package e2e

// Several replicas behind a load balancer with no affinity: the harness
// (replicaSet: N `mailcal serve --transport http` processes on one
// PostgreSQL database with one master key, behind a round-robin reverse
// proxy written here) and the tests that any replica serves any request.

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
)

// replicaSet is n HTTP servers on one database behind a round-robin
// proxy. Every replica's public base URL (MAILCAL_BASE_URL) is the
// proxy's, as in a deployment: OAuth redirects come back through it.
type replicaSet struct {
	*googleFixture
	dbURL    string
	replicas []*httpServer
	// proxy is the load balancer: use it like a server (its proc is nil).
	proxy *httpServer
	lb    *roundRobin
}

// newReplicaSet starts a fake Google, a database, n replicas and the
// proxy in front of them. The replicas are stopped (and the proxy closed)
// when the test ends.
func newReplicaSet(t *testing.T, n int, opts googletest.Options, extraEnv ...string) *replicaSet {
	t.Helper()
	mailcalBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	fx, dbURL := newDatabaseFixture(t, opts, append([]string{"MAILCAL_BASE_URL=" + base}, extraEnv...)...)
	rs := &replicaSet{googleFixture: fx, dbURL: dbURL}
	// The schema first, so that the replicas do not all wait for its lock.
	if out, errOut, code := fx.run(t, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d, %q %s", code, out, tail(errOut, 1000))
	}
	rs.replicas, rs.lb, rs.proxy = balance(t, ln, n, func() *httpServer { return fx.startHTTP(t) })
	return rs
}

// balance starts n servers with start and serves them round robin on ln
// (the balancer's address is their MAILCAL_BASE_URL) until the test ends.
func balance(t *testing.T, ln net.Listener, n int, start func() *httpServer) ([]*httpServer, *roundRobin, *httpServer) {
	t.Helper()
	var replicas []*httpServer
	var backends []*url.URL
	for range n {
		s := start()
		replicas = append(replicas, s)
		u, _ := url.Parse(s.base)
		backends = append(backends, u)
	}
	lb := newRoundRobin(backends)
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close() // streams still open
		}
	})
	return replicas, lb, &httpServer{base: "http://" + ln.Addr().String()}
}

// roundRobin is a reverse proxy that sends each request to the next
// backend, whatever it carries (no affinity), streaming answers as they
// come. It counts the requests each backend got.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy

	mu     sync.Mutex
	served map[string]int // backend host → requests
	paths  map[string]map[string]int
}

type backendKey struct{}

func newRoundRobin(backends []*url.URL) *roundRobin {
	rr := &roundRobin{backends: backends, served: map[string]int{}, paths: map[string]map[string]int{}}
	rr.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*url.URL))
			r.Out.Host = r.In.Host // the replicas see the public host, as behind a real balancer
			r.SetXForwarded()
		},
		FlushInterval: -1, // SSE answers go through at once
	}
	return rr
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := rr.backends[(rr.next.Add(1)-1)%uint64(len(rr.backends))]
	rr.mu.Lock()
	rr.served[b.Host]++
	if rr.paths[b.Host] == nil {
		rr.paths[b.Host] = map[string]int{}
	}
	rr.paths[b.Host][r.Method+" "+r.URL.Path]++
	rr.mu.Unlock()
	rr.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
}

// count returns how many requests for method and path each backend got,
// in the order of the backends.
func (rr *roundRobin) count(method, path string) []int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make([]int, len(rr.backends))
	for i, b := range rr.backends {
		out[i] = rr.paths[b.Host][method+" "+path]
	}
	return out
}

// connect connects alice's Google account for the tenant with key, with
// the scopes given (mail.read if none): the authorization starts on
// replica from and its callback completes on replica to, both reached
// directly.
func (rs *replicaSet) connect(t *testing.T, key string, from, to int, scopes ...string) {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"mail.read"}
	}
	auth := rs.authorize(t, rs.replicas[from], key, "google", url.Values{"login_hint": {alice}, "scopes": {strings.Join(scopes, ",")}})
	loc := rs.approve(t, auth.URL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rs.proxy.base+"/oauth/callback" {
		t.Fatalf("googletest sent the browser to %s, want the proxy's callback", got)
	}
	onTo, _ := url.Parse(rs.replicas[to].base)
	loc.Host = onTo.Host
	if r := rs.browse(t, loc.String()); r.status != 200 || !strings.Contains(string(r.body), "Connected") {
		t.Fatalf("the callback on replica %d answered %d %s, want the account connected", to, r.status, tail(string(r.body), 500))
	}
}

// TestE2EReplicasNoAffinity: three replicas behind a round-robin proxy. A
// connect started on the first completes on the third, and through the
// proxy too; mcp-go's client (a 2025-11-25 session, and a sessionless
// 2026-07-28 one) and the official Go SDK's keep their sessions while
// every request reaches another replica; a session ended through the
// proxy is refused by the replica that ended it.
func TestE2EReplicasNoAffinity(t *testing.T) {
	t.Parallel()
	rs := newReplicaSet(t, 3, googletest.Options{})
	key := rs.dbTenant(t, "acme")
	rs.connect(t, key, 0, 2)

	// The same through the proxy: the callback reaches whichever replica.
	auth := rs.authorize(t, rs.proxy, key, "google", url.Values{"login_hint": {bob}, "scopes": {"mail.read"}})
	if r := rs.browse(t, rs.approve(t, auth.URL).String()); r.status != 200 || !strings.Contains(string(r.body), "Connected") {
		t.Fatalf("the callback through the proxy answered %d %s", r.status, tail(string(r.body), 500))
	}

	legacy := mcpgoHTTP(t, rs.proxy, "/mcp", "Authorization", "Bearer "+key, true)
	modern := mcpgoHTTP(t, rs.proxy, "/mcp", "Authorization", "Bearer "+key, false)
	for i := range 6 {
		for _, c := range []*mcpclient.Client{legacy, modern} {
			account := alice
			if i%2 == 1 {
				account = bob
			}
			rs.checkOK(t, "through the proxy", c, account)
		}
	}
	if n := rs.lb.count("POST", "/mcp"); n[0] < 3 || n[1] < 3 || n[2] < 3 {
		t.Errorf("POST /mcp per replica: %v; want the calls spread over all three", n)
	}
	for i, s := range rs.replicas {
		if got := s.toolCalls("check_account", "acme"); got < 2 {
			t.Errorf("replica %d ran %d check_account calls, want at least 2 of the 12", i, got)
		}
	}

	cs := sdkHTTP(t, rs.proxy, "/mcp", "Authorization", "Bearer "+key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 6 {
		account := []string{alice, bob}[i%2]
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_messages", Arguments: map[string]any{"account": account, "max_results": 2}})
		if err != nil || res.IsError {
			t.Fatalf("go-sdk list_messages of %s through the proxy: %v %+v", account, err, res)
		}
	}
	spread := 0
	for _, s := range rs.replicas {
		if s.toolCalls("list_messages", "acme") > 0 {
			spread++
		}
	}
	if spread < 3 {
		t.Errorf("the go-sdk's 6 calls reached %d replicas, want all 3 (no affinity)", spread)
	}

	// DELETE ends the session on the replica that got it, which then
	// refuses it (the others may still accept it: see README).
	id := legacy.GetSessionId()
	onSession := func(s *httpServer, method, body string) rawResponse {
		return rs.do(t, s, method, "/mcp", strings.NewReader(body),
			"Authorization", "Bearer "+key, "Mcp-Session-Id", id, "Content-Type", "application/json",
			"Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-11-25")
	}
	if r := onSession(rs.replicas[1], "DELETE", ""); r.status != http.StatusOK {
		t.Fatalf("DELETE on replica 1: %d %s", r.status, tail(string(r.body), 300))
	}
	if r := onSession(rs.replicas[1], "POST", `{"jsonrpc":"2.0","id":9,"method":"ping"}`); r.status != http.StatusNotFound {
		t.Errorf("the replica that ended the session answered %d %s, want 404", r.status, tail(string(r.body), 300))
	}
	other := mcpgoHTTP(t, rs.proxy, "/mcp", "Authorization", "Bearer "+rs.dbTenant(t, "other"), true)
	if r := rs.do(t, rs.replicas[0], "POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"ping"}`),
		"Authorization", "Bearer "+key, "Mcp-Session-Id", other.GetSessionId(), "Content-Type", "application/json",
		"Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-11-25"); r.status != http.StatusNotFound {
		t.Errorf("another tenant's session with acme's key: %d %s, want 404", r.status, tail(string(r.body), 300))
	}
}

// TestE2EReplicasTenantRemoved: a tenant removed with `mailcal tenant
// remove` against the database is refused by every replica within 2 s,
// its open sessions too. The time it took is logged.
func TestE2EReplicasTenantRemoved(t *testing.T) {
	t.Parallel()
	rs := newReplicaSet(t, 3, googletest.Options{})
	key := rs.dbTenant(t, "acme")
	other := rs.dbTenant(t, "other")
	rs.connect(t, key, 1, 0)
	c := mcpgoHTTP(t, rs.proxy, "/mcp", "Authorization", "Bearer "+key, true)
	for range 3 {
		rs.checkOK(t, "before the removal", c, alice)
	}
	ok := func(s *httpServer, k string) int {
		return rs.do(t, s, "GET", "/api/integrations", nil, "Authorization", "Bearer "+k).status
	}
	for i, s := range rs.replicas {
		if st := ok(s, key); st != http.StatusOK {
			t.Fatalf("replica %d before the removal: %d", i, st)
		}
	}

	if _, errOut, code := rs.run(t, "tenant", "remove", "acme"); code != 0 {
		t.Fatalf("tenant remove: exit %d %s", code, tail(errOut, 500))
	}
	removed := time.Now()
	refused := make([]time.Duration, len(rs.replicas))
	var wg sync.WaitGroup
	for i, s := range rs.replicas {
		wg.Go(func() {
			for time.Since(removed) < 5*time.Second {
				if st := ok(s, key); st == http.StatusUnauthorized {
					refused[i] = time.Since(removed)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	var worst time.Duration
	for i, d := range refused {
		if d == 0 {
			t.Errorf("replica %d still accepts the removed tenant's key 5 s after the removal", i)
		}
		worst = max(worst, d)
	}
	t.Logf("the removal reached every replica within %s (per replica %v)", worst.Round(time.Millisecond), refused)
	if worst > 2500*time.Millisecond { // 2 s, and the polling's own request
		t.Errorf("the removal took %s to reach every replica, want at most 2 s", worst)
	}
	for range 3 {
		if _, err := rs.callTool(c, "check_account", map[string]any{"account": alice}); err == nil {
			t.Errorf("a call on the removed tenant's session went through")
		}
	}
	for i, s := range rs.replicas {
		if st := ok(s, other); st != http.StatusOK {
			t.Errorf("replica %d refuses another tenant after the removal: %d", i, st)
		}
	}
}

// TestE2EReplicasRoundTrips measures the database transactions (each a
// round trip: mailcal's statements run one per transaction, outside the
// refresh lock) per tool call through the proxy once the grants are
// cached, net of what the replicas read in the background meanwhile (the
// tenants' key verification, the sessions' recheck), and logs it. A
// session adopted by a replica costs none: it fails if calls on sessions
// other replicas opened cost a read each.
func TestE2EReplicasRoundTrips(t *testing.T) {
	t.Parallel()
	rs := newReplicaSet(t, 3, googletest.Options{})
	key := rs.dbTenant(t, "acme")
	rs.connect(t, key, 0, 1)
	c := mcpgoHTTP(t, rs.proxy, "/mcp", "Authorization", "Bearer "+key, true)
	call := func() {
		rs.callOK(t, c, "list_messages", map[string]any{"account": alice, "max_results": 1}, nil)
	}
	for range 6 { // every replica has the grant and the access token cached
		call()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, rs.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Every backend reports its counts when idle for a second.
	xacts := func() int64 {
		time.Sleep(1500 * time.Millisecond)
		var n int64
		if err := conn.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	x0, t0 := xacts(), time.Now()
	time.Sleep(3 * time.Second)
	x1, t1 := xacts(), time.Now()
	const calls = 300
	for range calls {
		call()
	}
	x2, t2 := xacts(), time.Now()
	background := float64(x1-x0-1) / t1.Sub(t0).Seconds()
	net := float64(x2-x1-1) - background*t2.Sub(t1).Seconds()
	t.Logf("%d calls through the proxy: %d transactions in %s, %.1f/s in the background: %.3f per call net",
		calls, x2-x1-1, t2.Sub(t1).Round(time.Millisecond), background, net/calls)
	if net/calls > 0.2 {
		t.Errorf("%.3f database round trips per tool call on cached grants, want about 0", net/calls)
	}
}

// TestE2EReplicasConfirmSends: under confirm_sends "elicit", a client that
// declared elicitation is asked before every send, whichever replica its
// call reaches, and nothing is sent unasked: the official Go SDK's client
// (protocol 2026-07-28: the answer comes with the repeated call) and
// mcp-go's on a 2025-11-25 session (a replica that adopted the session
// knows the capability from the session id; the answer to its question is
// a POST of its own, which may reach another replica: then the send is not
// made, at the call's deadline).
func TestE2EReplicasConfirmSends(t *testing.T) {
	t.Parallel()
	rs := newReplicaSet(t, 3, googletest.Options{}, "MAILCAL_CALL_TIMEOUT=3s")
	key := rs.dbTenant(t, "a")
	rs.connect(t, key, 2, 1, "mail.read", "mail.send")
	if r := rs.do(t, rs.proxy, "PUT", "/api/policy", strings.NewReader(`{"confirm_sends":"elicit"}`),
		"Authorization", "Bearer "+key, "Content-Type", "application/json"); r.status != http.StatusOK {
		t.Fatalf("PUT /api/policy: %d %s", r.status, r.body)
	}
	var asked atomic.Int32
	cs := sdkClientWith(t, rs.proxy, key, &sdk.ClientOptions{ElicitationHandler: func(ctx context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
		asked.Add(1)
		return &sdk.ElicitResult{Action: "accept"}, nil
	}})
	subject := 0
	args := func() map[string]any {
		subject++
		return map[string]any{"to": []any{"bob@example.com"}, "subject": "Through the proxy " + strconv.Itoa(subject), "body": "Hello"}
	}
	sent := func() int { return len(rs.fg.SentMessages(alice)) }

	const sends = 6
	for range sends {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "send_email", Arguments: args()})
		if err != nil || res.IsError {
			t.Fatalf("go-sdk send_email through the proxy: %v %+v", err, res)
		}
	}
	if asked.Load() != sends || sent() != sends {
		t.Errorf("go-sdk: %d sends asked about %d times, %d sent; want each asked and sent", sends, asked.Load(), sent())
	}

	// mcp-go on a 2025-11-25 session through the proxy: a send is never
	// made unasked. The answer to a question may reach another replica: the
	// send is then not made (and mcp-go's client, answered 404 for it,
	// takes its session for ended).
	asked.Store(0)
	before := sent()
	legacy := mcpgoEliciting(t, rs.proxy, key, func() { asked.Add(1) })
	done := 0
	for range sends {
		r, err := rs.callTool(legacy, "send_email", args())
		if err != nil {
			t.Logf("mcp-go through the proxy: %v", err)
			break
		}
		if !r.IsError {
			done++
		} else if !strings.Contains(r.text(), "waiting for the person to confirm the send") {
			t.Errorf("mcp-go through the proxy: %s", r.text())
		}
	}
	t.Logf("mcp-go 2025-11-25 through the proxy: asked %d times, %d sends made, %d sent", asked.Load(), done, sent()-before)
	if got := sent() - before; got != done || got > int(asked.Load()) {
		t.Errorf("mcp-go through the proxy: %d sent, %d sends answered ok, %d questions asked: want nothing sent unasked", got, done, asked.Load())
	}

	// With affinity it works, on the replica that opened the session and
	// on one the balancer moves it to (which adopts it, and knows from its
	// id that the client can be asked).
	asked.Store(0)
	before = sent()
	opened := mcpgoEliciting(t, rs.replicas[0], key, func() { asked.Add(1) })
	moved := mcpgoResume(t, rs.replicas[2], key, opened.GetSessionId(), func() { asked.Add(1) })
	for _, c := range []*mcpclient.Client{opened, moved} {
		if r := rs.call(t, c, "send_email", args()); r.IsError {
			t.Errorf("mcp-go with affinity: %s", r.text())
		}
	}
	if asked.Load() != 2 || sent()-before != 2 {
		t.Errorf("mcp-go with affinity, on the replica that opened the session and on another: asked %d times, %d sent; want 2 and 2", asked.Load(), sent()-before)
	}
}

// mcpgoResume is mcp-go's streamable client going on with a 2025-11-25
// session opened elsewhere, accepting every question.
func mcpgoResume(t *testing.T, s *httpServer, key, session string, asked func()) *mcpclient.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(s.base+"/mcp", transport.WithSession(session),
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + key, "Mcp-Protocol-Version": "2025-11-25"}))
	if err != nil {
		t.Fatal(err)
	}
	c := mcpclient.NewClient(tr, mcpclient.WithSession(), mcpclient.WithElicitationHandler(acceptAll(asked)))
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// mcpgoEliciting is mcp-go's streamable client on a 2025-11-25 session
// that declares elicitation and accepts every question, calling asked.
func mcpgoEliciting(t *testing.T, s *httpServer, key string, asked func()) *mcpclient.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(s.base+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + key}))
	if err != nil {
		t.Fatal(err)
	}
	c := mcpclient.NewClient(tr, mcpclient.WithElicitationHandler(acceptAll(asked)))
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "mailcal-e2e", Version: "1"}
	init.Params.ProtocolVersion = "2025-11-25"
	init.Params.Capabilities.Elicitation = &mcp.ElicitationCapability{}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("mcp-go initialize: %v", err)
	}
	return c
}

type acceptAll func()

func (a acceptAll) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a()
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept}}, nil
}
