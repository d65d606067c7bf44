package google

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

// Batches whose answers are broken, from a scripted endpoint: what the
// batcher sends, and what it makes of answers that leave calls out, pair
// them wrongly, break off or are not a batch answer at all.

// sentCall is a call as the scripted endpoint received it.
type sentCall struct{ id, line string }

// batchScript answers each batch request with answer(round, calls).
type batchScript struct {
	t      *testing.T
	answer func(round int, calls []sentCall) *http.Response

	mu     sync.Mutex
	rounds [][]sentCall
	urls   []string
}

func (s *batchScript) RoundTrip(req *http.Request) (*http.Response, error) {
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || req.Method != http.MethodPost {
		s.t.Errorf("a batch request %s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	var calls []sentCall
	mr := multipart.NewReader(req.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		raw, _ := io.ReadAll(p)
		line, rest, _ := strings.Cut(string(raw), "\r\n")
		if p.Header.Get("Content-Type") != "application/http" || rest != "\r\n" {
			s.t.Errorf("a call %q with part headers %v", raw, p.Header)
		}
		calls = append(calls, sentCall{id: p.Header.Get("Content-ID"), line: line})
	}
	req.Body.Close()
	s.mu.Lock()
	s.rounds = append(s.rounds, calls)
	s.urls = append(s.urls, req.URL.String())
	round := len(s.rounds)
	s.mu.Unlock()
	resp := s.answer(round, calls)
	resp.Request = req
	return resp, nil
}

// multipartAnswer is a 200 batch answer of the given parts (raw part
// contents after their headers), each with Content-ID ids[i].
func multipartAnswer(ids []string, parts []string) *http.Response {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i, p := range parts {
		h := map[string][]string{"Content-Type": {"application/http"}}
		if ids[i] != "" {
			h["Content-ID"] = []string{ids[i]}
		}
		pw, _ := mw.CreatePart(h)
		io.WriteString(pw, p)
	}
	mw.Close()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"multipart/mixed; boundary=" + mw.Boundary()}},
		Body: io.NopCloser(&b)}
}

func okPart(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func respID(c sentCall) string { return "<response-" + strings.Trim(c.id, "<>") + ">" }

func scriptedBatcher(t *testing.T, answer func(round int, calls []sentCall) *http.Response) (*batcher, *batchScript) {
	s := &batchScript{t: t, answer: answer}
	hc := &http.Client{Transport: &providers.Transport{Source: providers.StaticSource(&oauth2.Token{AccessToken: "tok"}), Base: s}}
	return &batcher{hc: hc, src: providers.StaticSource(&oauth2.Token{AccessToken: "tok"}), url: "https://gmail.example/api/batch/gmail/v1",
		prefix: "/api/gmail/v1/", maxWait: 5 * time.Second, backoff: func(int) time.Duration { return time.Millisecond }}, s
}

// collect runs b.get and keeps the answers, in order.
func collect(b *batcher, paths []string) ([]callAnswer, error) {
	out := make([]callAnswer, len(paths))
	err := b.get(context.Background(), paths, func(i int, a *callAnswer) error {
		out[i] = callAnswer{status: a.status, header: a.header, body: bytes.Clone(a.body)}
		return nil
	})
	return out, err
}

var threePaths = []string{"users/me/messages/a?format=metadata", "users/me/messages/b?format=metadata", "users/me/messages/c?format=metadata"}

func TestBatchRequestForm(t *testing.T) {
	b, s := scriptedBatcher(t, func(_ int, calls []sentCall) *http.Response {
		ids, parts := []string{}, []string{}
		for i := len(calls) - 1; i >= 0; i-- { // in another order: paired by Content-ID
			ids, parts = append(ids, respID(calls[i])), append(parts, okPart(fmt.Sprintf(`{"n":%d}`, i)))
		}
		return multipartAnswer(ids, parts)
	})
	answers, err := collect(b, threePaths)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range answers {
		if a.status != 200 || string(a.body) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Errorf("answer %d: %d %s", i, a.status, a.body)
		}
	}
	if s.urls[0] != "https://gmail.example/api/batch/gmail/v1" {
		t.Errorf("batch sent to %s", s.urls[0])
	}
	for i, c := range s.rounds[0] {
		if want := "GET /api/gmail/v1/" + threePaths[i] + " HTTP/1.1"; c.line != want || c.id != fmt.Sprintf("<call+%d>", i) {
			t.Errorf("call %d: %q %q, want %q <call+%d>", i, c.id, c.line, want, i)
		}
	}
}

func TestBatchBrokenAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(round int, calls []sentCall) *http.Response
		rounds int    // batches sent
		err    string // "" for success
	}{
		{"a call left out, then answered", func(round int, calls []sentCall) *http.Response {
			if round == 1 {
				return multipartAnswer([]string{respID(calls[0]), respID(calls[2])}, []string{okPart(`{}`), okPart(`{}`)})
			}
			if len(calls) != 1 || !strings.Contains(calls[0].line, "/b?") {
				t.Errorf("the second batch carries %v, want only b", calls)
			}
			return multipartAnswer([]string{respID(calls[0])}, []string{okPart(`{}`)})
		}, 2, ""},
		{"unknown, repeated and garbled parts", func(round int, calls []sentCall) *http.Response {
			if round == 1 {
				return multipartAnswer(
					[]string{"<response-call+7>", "<other+1>", respID(calls[0]), respID(calls[0]), respID(calls[1]), respID(calls[2]), ""},
					[]string{okPart(`{}`), okPart(`{}`), okPart(`{"first":1}`), "HTTP/1.1 500 Oops\r\n\r\n", "not HTTP at all", okPart(`{}`), okPart(`{}`)})
			}
			return multipartAnswer([]string{respID(calls[0])}, []string{okPart(`{}`)})
		}, 2, ""},
		{"an answer that breaks off", func(round int, calls []sentCall) *http.Response {
			var ids, parts []string
			for _, c := range calls {
				ids, parts = append(ids, respID(c)), append(parts, okPart(`{}`))
			}
			resp := multipartAnswer(ids, parts)
			if round == 1 {
				b, _ := io.ReadAll(resp.Body)
				resp.Body = io.NopCloser(bytes.NewReader(b[:len(b)*3/4]))
			}
			return resp
		}, 2, ""},
		{"answers without Content-IDs, one a call, in order", func(_ int, calls []sentCall) *http.Response {
			ids, parts := make([]string, len(calls)), make([]string, len(calls))
			for i := range calls {
				parts[i] = okPart(fmt.Sprintf(`{"n":%d}`, i))
			}
			return multipartAnswer(ids, parts)
		}, 1, ""},
		{"answers without Content-IDs, one missing", func(round int, calls []sentCall) *http.Response {
			if round == 1 {
				return multipartAnswer([]string{"", ""}, []string{okPart(`{}`), okPart(`{}`)})
			}
			var ids, parts []string
			for _, c := range calls {
				ids, parts = append(ids, respID(c)), append(parts, okPart(`{}`))
			}
			return multipartAnswer(ids, parts)
		}, 2, ""},
		{"a call never answered", func(_ int, calls []sentCall) *http.Response {
			var ids, parts []string
			for _, c := range calls {
				if !strings.Contains(c.line, "/b?") {
					ids, parts = append(ids, respID(c)), append(parts, okPart(`{}`))
				}
			}
			return multipartAnswer(ids, parts)
		}, maxBatchRounds, "left out calls"},
		{"not multipart", func(int, []sentCall) *http.Response {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{}`))}
		}, 1, "not multipart/mixed"},
		{"too large", func(_ int, calls []sentCall) *http.Response {
			return multipartAnswer([]string{respID(calls[0])}, []string{okPart(strings.Repeat("x", maxBatchAnswer))})
		}, 1, "larger than 8 MB"},
		{"the batch refused", func(int, []sentCall) *http.Response {
			return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(
				`{"error":{"code":400,"message":"Inner request count exceeds the limit. Received: 101, Limit: 100","status":"INVALID_ARGUMENT"}}`))}
		}, 1, "Inner request count exceeds the limit"},
		{"a 3xx batch answer", func(int, []sentCall) *http.Response {
			return &http.Response{StatusCode: 304, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}
		}, 1, "HTTP 304"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, s := scriptedBatcher(t, tc.answer)
			answers, err := collect(b, threePaths)
			if len(s.rounds) != tc.rounds {
				t.Errorf("%d batches, want %d", len(s.rounds), tc.rounds)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(mapError(err).Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range answers {
				if a.status != 200 {
					t.Errorf("answer %d: %d", i, a.status)
				}
			}
			if tc.name == "unknown, repeated and garbled parts" && string(answers[0].body) != `{"first":1}` {
				t.Errorf("a repeated answer replaced the first: %s", answers[0].body)
			}
			if strings.HasSuffix(tc.name, "in order") && (string(answers[0].body) != `{"n":0}` || string(answers[2].body) != `{"n":2}`) {
				t.Errorf("answers without Content-IDs: %s, %s", answers[0].body, answers[2].body)
			}
		})
	}
}

// TestBatchEndpoint: the batch endpoint and the calls' paths follow the API
// base URL, Google's or one with a path.
func TestBatchEndpoint(t *testing.T) {
	for base, want := range map[string][2]string{
		"":                             {"https://gmail.googleapis.com/batch/gmail/v1", "/gmail/v1/"},
		"https://proxy.example/google": {"https://proxy.example/google/batch/gmail/v1", "/google/gmail/v1/"},
		"http://127.0.0.1:8080/":       {"http://127.0.0.1:8080/batch/gmail/v1", "/gmail/v1/"},
	} {
		p, err := New(Options{APIURL: base})
		if err != nil {
			t.Fatal(err)
		}
		m, err := p.Mail(providers.StaticSource(&oauth2.Token{AccessToken: "x"}), alice)
		if err != nil {
			t.Fatal(err)
		}
		if b := m.(*mailbox).batch; b.url != want[0] || b.prefix != want[1] {
			t.Errorf("APIURL %q: batches to %s with calls under %s, want %s and %s", base, b.url, b.prefix, want[0], want[1])
		}
	}
}

// TestSplitParts: multipart bodies as RFC 2046 allows them (a preamble and
// an epilogue, transport padding, LF line ends, boundary-like text inside
// a part), and bodies that break off.
func TestSplitParts(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		parts      []string // header + "|" + content
		complete   bool
	}{
		{"plain", "--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n", []string{"A: 1\r\n|one", "|two"}, true},
		{"preamble, epilogue, padding", "ignored\r\n--b \t\r\nA: 1\r\n\r\none\r\n--b--\r\nignored too", []string{"A: 1\r\n|one"}, true},
		{"LF line ends", "--b\nA: 1\n\none\n--b--\n", []string{"A: 1\n|one"}, true},
		{"boundary-like text inside", "--b\r\n\r\nx--b y\r\n--bz\r\n--b--", []string{"|x--b y\r\n--bz"}, true},
		{"empty content", "--b\r\nA: 1\r\n\r\n\r\n--b--", []string{"A: 1\r\n|"}, true},
		{"breaks off in a part", "--b\r\n\r\none\r\n--b\r\n\r\ntw", []string{"|one"}, false},
		{"no close delimiter", "--b\r\n\r\none\r\n--b\r\n", []string{"|one"}, false},
		{"no delimiter", "just text", nil, false},
		{"garbage after a delimiter", "--b\r\n\r\none\r\n--b junk", []string{}, false},
	} {
		parts, complete := splitParts([]byte(tc.body), "b")
		var got []string
		for _, p := range parts {
			got = append(got, string(p.header)+"|"+string(p.content))
		}
		if strings.Join(got, "/") != strings.Join(tc.parts, "/") || complete != tc.complete {
			t.Errorf("%s: parts %q complete %v, want %q %v", tc.name, got, complete, tc.parts, tc.complete)
		}
	}
}

// TestParseAnswer: a call's answer, its body cut at Content-Length, its
// headers read for a failure only.
func TestParseAnswer(t *testing.T) {
	a, ok := parseAnswer([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\r\n"))
	if !ok || a.status != 200 || string(a.body) != "{}" || a.header != nil {
		t.Fatalf("200: %+v %v", a, ok)
	}
	a, ok = parseAnswer([]byte("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":429}}"))
	if !ok || a.status != 429 || a.header.Get("Retry-After") != "7" || string(a.body) != `{"error":{"code":429}}` {
		t.Fatalf("429: %+v %v", a, ok)
	}
	for _, bad := range []string{"", "HTTP/1.1\r\n\r\n", "SPDY/3 200 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"} {
		if a, ok := parseAnswer([]byte(bad)); ok {
			t.Errorf("parseAnswer(%q) = %+v, want not ok", bad, a)
		}
	}
}
