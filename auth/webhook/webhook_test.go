package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidSecret(secret); err != nil {
		t.Fatal(err)
	}
	other, _ := NewSecret()
	if other == secret {
		t.Fatal("two secrets alike")
	}
	body := []byte(`{"id":"evt_1","type":"account.connected"}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify(secret, h, body, now.Add(time.Minute), DefaultTolerance); err != nil {
		t.Fatalf("verify: %v", err)
	}
	cases := []struct {
		name, secret, header string
		body                 []byte
		at                   time.Time
		want                 error
	}{
		{"body changed", secret, h, []byte(`{"id":"evt_2","type":"account.connected"}`), now, ErrBadSignature},
		{"other secret", other, h, body, now, ErrBadSignature},
		{"too old", secret, h, body, now.Add(DefaultTolerance + time.Second), ErrStale},
		{"from the future", secret, h, body, now.Add(-DefaultTolerance - time.Second), ErrStale},
		{"timestamp changed", secret, strings.Replace(h, "t=1800000000", "t=1800000001", 1), body, now, ErrBadSignature},
		{"no timestamp", secret, h[strings.Index(h, "v1="):], body, now, ErrNoSignature},
		{"no signature", secret, "t=1800000000", body, now, ErrNoSignature},
		{"short signature", secret, "t=1800000000,v1=abcd", body, now, ErrNoSignature},
		{"two timestamps", secret, "t=1,t=1800000000," + h[strings.Index(h, "v1="):], body, now, ErrNoSignature},
		{"empty", secret, "", body, now, ErrNoSignature},
		{"huge", secret, h + strings.Repeat(",x=y", 300), body, now, ErrNoSignature},
	}
	for _, c := range cases {
		if err := Verify(c.secret, c.header, c.body, c.at, DefaultTolerance); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// During a secret's replacement: one of two v1 matching is enough.
	two := Sign(other, now, body) + "," + h[strings.Index(h, "v1="):]
	if err := Verify(secret, two, body, now, DefaultTolerance); err != nil {
		t.Errorf("two signatures: %v", err)
	}
	for _, bad := range []string{"", "secret", "whsec_", "whsec_" + strings.Repeat("A", 40), "whsec_!!!!"} {
		if ValidSecret(bad) == nil {
			t.Errorf("ValidSecret(%q) accepted", bad)
		}
	}
}

// TestSignKnownValue pins the scheme a receiver implements from the README:
// HMAC-SHA256 keyed with the secret string over "timestamp.body", in hex.
func TestSignKnownValue(t *testing.T) {
	// printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac 'whsec_test'
	got := Sign("whsec_test", time.Unix(1700000000, 0), []byte("{}"))
	want := "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
	if got != want {
		t.Fatalf("%s, want %s", got, want)
	}
}

func TestParseURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLen)
	for _, c := range []struct {
		url      string
		loopback bool
		want     string // "" accepted, else a word of the error
	}{
		{"https://hooks.example.com/mailcal?x=1", false, ""},
		{"https://hooks.example.com:8443/h", false, ""},
		{"https://93.184.215.14/h", false, ""},
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/h", false, ""},
		{"http://127.0.0.1:9000/h", true, ""},
		{"http://localhost:9000/h", true, ""},
		{"http://[::1]:9000/h", true, ""},
		{"https://127.0.0.1/h", true, ""},
		{"", false, "required"},
		{long, false, "at most"},
		{"http://hooks.example.com/h", false, "https"},
		{"ftp://hooks.example.com/h", false, "scheme"},
		{"https://user:pw@hooks.example.com/h", false, "credentials"},
		{"https://hooks.example.com/h#frag", false, "fragment"},
		{"https://hooks.example.com/a b", false, "space"},
		{"https://hooks.example.com/a\nb", false, "control"},
		{"hooks.example.com/h", false, "absolute"},
		{"/relative", false, "absolute"},
		{"https:opaque", false, "absolute"},
		{"https://hooks.example.com:0/h", false, "port"},
		{"https://hooks.example.com:99999/h", false, "port"},
		{"http://127.0.0.1:9000/h", false, "loopback"},
		{"http://localhost/h", false, "loopback"},
		{"https://LOCALHOST./h", false, "loopback"},
		{"https://a.localhost/h", false, "loopback"},
		{"https://[::1]/h", false, "loopback"},
		{"https://[::ffff:127.0.0.1]/h", false, "loopback"},
		{"https://10.1.2.3/h", true, "private"},
		{"https://192.168.0.1/h", true, "private"},
		{"https://172.16.5.5/h", true, "private"},
		{"https://100.64.1.1/h", true, "private"},
		{"https://[fd00::1]/h", true, "private"},
		{"https://169.254.169.254/latest", true, "link-local"},
		{"https://[fe80::1%25eth0]/h", true, "zone"},
		{"https://0.0.0.0/h", true, "unicast"},
		{"https://239.1.1.1/h", true, "unicast"},
		{"https://metadata/h", false, "public name"},
		{"https://printer.local/h", false, "public name"},
		{"https://db.internal/h", false, "public name"},
		{"http://10.0.0.1/h", true, "private"},
	} {
		_, err := ParseURL(c.url, c.loopback)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("ParseURL(%.60q, %v): %v", c.url, c.loopback, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ParseURL(%.60q, %v) = %v, want an error about %q", c.url, c.loopback, err, c.want)
		case err != nil && !strings.HasPrefix(err.Error(), "url: "):
			t.Errorf("error %q does not name the field", err)
		case err != nil && strings.Contains(c.url, "pw@") && strings.Contains(err.Error(), "pw"):
			t.Errorf("error %q repeats the credentials", err)
		}
	}
}

func TestDialControl(t *testing.T) {
	strict, loose := DialControl(false), DialControl(true)
	for addr, ok := range map[string][2]bool{ // strict, loose
		"93.184.215.14:443":  {true, true},
		"127.0.0.1:443":      {false, true},
		"[::1]:443":          {false, true},
		"10.0.0.7:443":       {false, false},
		"169.254.169.254:80": {false, false},
		"[fe80::1]:443":      {false, false},
		"0.0.0.0:443":        {false, false},
	} {
		if got := strict("tcp4", addr, nil) == nil; got != ok[0] {
			t.Errorf("strict %s: allowed %v", addr, got)
		}
		if got := loose("tcp4", addr, nil) == nil; got != ok[1] {
			t.Errorf("loopback allowed %s: allowed %v", addr, got)
		}
	}
	if strict("tcp", "name:443", nil) == nil {
		t.Error("an unresolved name was dialled")
	}
}

// TestSendRefusesLoopbackAtDial: a name that passes ParseURL but resolves
// to a refused address (DNS rebinding) reaches nothing: the check is made
// on the address dialled.
func TestSendRefusesLoopbackAtDial(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s := NewSender(false)
	// Resolve every name to the test server, as a rebinding DNS would.
	tr := s.client.Transport.(*http.Transport)
	inner := tr.DialContext
	port := srv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":"):]
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return inner(ctx, network, "127.0.0.1"+port)
	}
	tr.TLSClientConfig = nil
	err := s.Send(context.Background(), "https://hooks.example.com/h", []string{"whsec_x"}, "evt_1", []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "loopback") || hits.Load() != 0 {
		t.Fatalf("err %v, hits %d; want refused at dial", err, hits.Load())
	}
	if strings.Contains(err.Error(), "/h") {
		t.Errorf("error %q repeats the URL's path", err)
	}
}

func TestSend(t *testing.T) {
	secret, _ := NewSecret()
	var got struct {
		sig, id, ctype string
		body           []byte
	}
	status := atomic.Int32{}
	status.Store(204)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		case "/elsewhere":
			t.Error("a redirect was followed")
		case "/big":
			w.WriteHeader(200)
			for range 1 << 10 {
				if _, err := w.Write(make([]byte, 1<<10)); err != nil {
					return
				}
			}
			return
		case "/slow":
			_, _ = io.Copy(io.Discard, r.Body) // then a closed connection ends r.Context()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		got.sig, got.id, got.ctype = r.Header.Get(SignatureHeader), r.Header.Get(IDHeader), r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, "secret=whsec_leaked details")
	}))
	defer srv.Close()
	s := NewSender(true)
	defer s.CloseIdle()
	ev := Event{ID: NewEventID(), Type: AccountNeedsReauth, Time: time.Now(), Tenant: "acme", Provider: "google", Account: "a@example.com",
		Data: map[string]string{"cause": "invalid_grant", "reconnect_url": "https://mailcal.example.com/connect"}}
	body, err := ev.Body()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Send(ctx, srv.URL+"/hook", []string{secret}, ev.ID, body); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := Verify(secret, got.sig, got.body, time.Now(), DefaultTolerance); err != nil {
		t.Errorf("receiver's verification: %v (%q)", err, got.sig)
	}
	if got.id != ev.ID || got.ctype != "application/json" {
		t.Errorf("id %q, content type %q", got.id, got.ctype)
	}
	var back Event
	if err := json.Unmarshal(got.body, &back); err != nil || back.ID != ev.ID || back.Type != AccountNeedsReauth || back.Data["cause"] != "invalid_grant" || back.Account != "a@example.com" {
		t.Errorf("body %s (%v)", got.body, err)
	}

	status.Store(500)
	err = s.Send(ctx, srv.URL+"/hook", []string{secret}, ev.ID, body)
	if err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "whsec") || strings.Contains(err.Error(), "details") {
		t.Errorf("500: %v", err)
	}
	if err := s.Send(ctx, srv.URL+"/redirect", []string{secret}, ev.ID, body); err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("redirect: %v", err)
	}
	if err := s.Send(ctx, srv.URL+"/big", []string{secret}, ev.ID, body); err != nil {
		t.Errorf("a large answer: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Send(short, srv.URL+"/slow", []string{secret}, ev.ID, body); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("slow receiver: %v after %s", err, time.Since(start))
	}
	if err := s.Send(ctx, "http://10.0.0.1/h", []string{secret}, ev.ID, body); !errors.Is(err, ErrRefused) {
		t.Errorf("private URL: %v", err)
	}
	if _, err := (Event{Type: "account.bogus"}).Body(); err == nil {
		t.Error("an unknown type encoded")
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := func() float64 { return 0 }, func() float64 { return 0.999999 }
	prev := time.Duration(0)
	for n := 1; n <= 40; n++ {
		a, b := Backoff(n, lo), Backoff(n, hi)
		if a > b || a < prev/2 || b > maxDelay || a < baseDelay/2 {
			t.Errorf("attempt %d: [%s, %s]", n, a, b)
		}
		prev = a
	}
	if Backoff(1, lo) != 5*time.Second || Backoff(1, hi) > 10*time.Second || Backoff(2, lo) != 10*time.Second {
		t.Errorf("first waits %s..%s, then %s", Backoff(1, lo), Backoff(1, hi), Backoff(2, lo))
	}
	if Backoff(30, lo) != maxDelay/2 || Backoff(-3, lo) != Backoff(1, lo) {
		t.Error("not capped or not floored")
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[Backoff(3, nil)] = true
	}
	if len(seen) < 5 {
		t.Errorf("jitter: %d distinct waits of 20", len(seen))
	}
	t0 := time.Unix(0, 0)
	if GiveUp(MaxAttempts-1, t0, t0.Add(time.Hour)) || !GiveUp(MaxAttempts, t0, t0) || !GiveUp(1, t0, t0.Add(MaxAge)) {
		t.Error("GiveUp")
	}
	// The schedule reaches MaxAttempts well within MaxAge, so both bounds matter.
	var total time.Duration
	for n := 1; n < MaxAttempts; n++ {
		total += Backoff(n, hi)
	}
	if total > MaxAge {
		t.Errorf("the whole schedule takes %s, past MaxAge", total)
	}
}
