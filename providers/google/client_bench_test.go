package google

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/google/googletest"
)

// replay answers every request as the fake Google answered it the first
// time: the benchmarks below then measure the client's own work (building
// requests, the transports, reading and decoding answers), not the fake's
// or the network's. A batch is told apart by the calls it carries.
type replay struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]*recorded
}

type recorded struct {
	status int
	header http.Header
	body   []byte
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Method + " " + req.URL.String()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "GET ") {
				key += "|" + strings.TrimSpace(line)
			}
		}
	}
	r.mu.Lock()
	rec := r.seen[key]
	r.mu.Unlock()
	if rec == nil {
		fwd := req.Clone(req.Context())
		fwd.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := r.next.RoundTrip(fwd)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rec = &recorded{status: resp.StatusCode, header: resp.Header, body: b}
		r.mu.Lock()
		r.seen[key] = rec
		r.mu.Unlock()
	}
	return &http.Response{StatusCode: rec.status, Header: rec.header.Clone(), Body: io.NopCloser(bytes.NewReader(rec.body)),
		ContentLength: int64(len(rec.body)), Request: req}, nil
}

// replayed is a provider whose requests the fake Google answers once, with
// alice's fixture mailbox and calendar.
func replayed(b *testing.B) (*API, providers.TokenSource) {
	b.Helper()
	s := googletest.New(googletest.Options{})
	b.Cleanup(s.Close)
	s.AddUser(alice)
	s.LoadFixtures(alice)
	tok := connect(b, s, alice, allScopes...)
	p, err := New(Options{APIURL: s.URL(), HTTPClient: &http.Client{Transport: &replay{next: http.DefaultTransport, seen: map[string]*recorded{}}}})
	if err != nil {
		b.Fatal(err)
	}
	return p, providers.StaticSource(tok)
}

// BenchmarkClientListMessages10 is one list_messages page of 10 as the
// provider reads it, upstream answers replayed from memory.
func BenchmarkClientListMessages10(b *testing.B) {
	p, src := replayed(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		mb, err := p.Mail(src, alice)
		if err != nil {
			b.Fatal(err)
		}
		page, err := mb.List(ctx, providers.MessageQuery{MaxResults: 10})
		if err != nil || len(page.Messages) != 10 {
			b.Fatalf("%v, %d rows", err, len(page.Messages))
		}
	}
}

// BenchmarkClientListEvents is one list_events page (a week of the fixture
// calendar), upstream answers replayed from memory.
func BenchmarkClientListEvents(b *testing.B) {
	p, src := replayed(b)
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour)
	q := providers.EventQuery{CalendarID: "primary", TimeMin: now, TimeMax: now.Add(7 * 24 * time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		cal, err := p.Calendar(src)
		if err != nil {
			b.Fatal(err)
		}
		page, err := cal.ListEvents(ctx, q)
		if err != nil || len(page.Events) == 0 {
			b.Fatalf("%v, %d events", err, len(page.Events))
		}
	}
}

// BenchmarkClientGetMessage reads one message in full, upstream answers
// replayed from memory.
func BenchmarkClientGetMessage(b *testing.B) {
	p, src := replayed(b)
	ctx := context.Background()
	mb, err := p.Mail(src, alice)
	if err != nil {
		b.Fatal(err)
	}
	page, err := mb.List(ctx, providers.MessageQuery{MaxResults: 1, Query: "subject:(Q3 report draft)"})
	if err != nil || len(page.Messages) != 1 {
		b.Fatalf("%v %+v", err, page)
	}
	id := page.Messages[0].ID
	b.ReportAllocs()
	for b.Loop() {
		mb, err := p.Mail(src, alice)
		if err != nil {
			b.Fatal(err)
		}
		if m, err := mb.Get(ctx, id); err != nil || m.BodyText == "" {
			b.Fatalf("%v %+v", err, m)
		}
	}
}
