package googletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// batchAnswer is one part of a batch's answer.
type batchAnswer struct {
	contentID string
	status    int
	header    http.Header
	body      string
}

// postBatch sends calls (each "METHOD path" plus optional header lines) to
// path as one batch, with Content-IDs <c0>, <c1>…, and returns the HTTP
// status, the raw body, and the parts when the answer is multipart.
func postBatch(t *testing.T, c *http.Client, url string, calls ...string) (int, []byte, []batchAnswer) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i, call := range calls {
		pw, _ := mw.CreatePart(map[string][]string{"Content-Type": {"application/http"}, "Content-Id": {fmt.Sprintf("<c%d>", i)}})
		// As the guides write it: the call, an empty line, the delimiter
		// (whose CRLF the writer adds).
		io.WriteString(pw, strings.ReplaceAll(call, "\n", "\r\n")+"\r\n")
	}
	mw.Close()
	resp, err := c.Post(url, "multipart/mixed; boundary="+mw.Boundary(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		return resp.StatusCode, raw, nil
	}
	var out []batchAnswer
	mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("answer part: %v", err)
		}
		if p.Header.Get("Content-Type") != "application/http" {
			t.Fatalf("answer part Content-Type %q", p.Header.Get("Content-Type"))
		}
		r, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatalf("answer part: %v", err)
		}
		b, _ := io.ReadAll(r.Body)
		out = append(out, batchAnswer{contentID: p.Header.Get("Content-Id"), status: r.StatusCode, header: r.Header, body: string(b)})
	}
	return resp.StatusCode, raw, out
}

func TestBatch(t *testing.T) {
	a := newAPITest(t)
	c := a.client(gmailModifyScope)
	report, welcome := a.fx.Messages["report"], a.fx.Messages["welcome"]
	get := "GET /gmail/v1/users/me/messages/%s?format=metadata&metadataHeaders=Subject HTTP/1.1"
	a.s.ResetAPIStats()
	status, raw, parts := postBatch(t, c, a.s.URL()+"/batch/gmail/v1",
		fmt.Sprintf(get, report), fmt.Sprintf(get, welcome), fmt.Sprintf(get, "0123456789abcdef"),
		"GET /gmail/v1/users/me/labels") // the guides' request line, without the HTTP version
	if status != 200 || len(parts) != 4 {
		t.Fatalf("batch: %d, %d parts: %s", status, len(parts), raw)
	}
	for i, want := range []int{200, 200, 404, 200} {
		if p := parts[i]; p.status != want || p.contentID != fmt.Sprintf("<response-c%d>", i) {
			t.Errorf("part %d: %d %q, want %d <response-c%d>", i, p.status, p.contentID, want, i)
		}
	}
	var m struct {
		ID      string `json:"id"`
		Payload struct {
			Headers []header `json:"headers"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(parts[0].body), &m); err != nil || m.ID != report || len(m.Payload.Headers) != 1 || m.Payload.Headers[0].Value != "Q3 report draft" {
		t.Errorf("part 0: %v %s", err, parts[0].body)
	}
	if !strings.Contains(parts[2].body, "Requested entity was not found.") {
		t.Errorf("part 2: %s", parts[2].body)
	}
	// Each call is a call; the batch one round trip.
	if calls, trips, batches := a.s.APIRequests("/gmail/v1/users/me/"), a.s.HTTPRequests("/"), a.s.HTTPRequests("/batch/gmail/v1"); calls != 4 || trips != 1 || batches != 1 {
		t.Errorf("%d calls, %d round trips (%d batches), want 4, 1, 1", calls, trips, batches)
	}

	// A call fails alone (a 429 inside a 200 batch), with its own Retry-After.
	a.s.FailAPI("/gmail/v1/users/me/messages/"+welcome, 1, 429, "rateLimitExceeded", 2*time.Second)
	_, _, parts = postBatch(t, c, a.s.URL()+"/batch", fmt.Sprintf(get, report), fmt.Sprintf(get, welcome))
	if len(parts) != 2 || parts[0].status != 200 || parts[1].status != 429 || parts[1].header.Get("Retry-After") != "2" ||
		!strings.Contains(parts[1].body, "rateLimitExceeded") {
		t.Fatalf("a failed call: %+v", parts)
	}
	// A failure of the batch request itself.
	a.s.FailAPI("/batch/gmail/v1", 1, 503, "backendError", 0)
	if status, raw, _ := postBatch(t, c, a.s.URL()+"/batch/gmail/v1", fmt.Sprintf(get, report)); status != 503 || !strings.Contains(string(raw), "backendError") {
		t.Fatalf("a failed batch: %d %s", status, raw)
	}
}

func TestBatchHeadersAndParameters(t *testing.T) {
	a := newAPITest(t)
	c := a.client(gmailModifyScope)
	report := a.fx.Messages["report"]
	// The outer query parameters apply to every call that has none of its own.
	_, _, parts := postBatch(t, c, a.s.URL()+"/batch/gmail/v1?fields=id",
		"GET /gmail/v1/users/me/messages/"+report+"?format=metadata",
		"GET /gmail/v1/users/me/messages/"+report+"?format=metadata&fields=threadId")
	if len(parts) != 2 || parts[0].body != `{"id":"`+report+`"}`+"\n" || !strings.HasPrefix(parts[1].body, `{"threadId":`) {
		t.Fatalf("outer fields: %+v", parts)
	}
	// The outer Authorization serves every call; a call's own overrides it.
	_, _, parts = postBatch(t, c, a.s.URL()+"/batch/gmail/v1",
		"GET /gmail/v1/users/me/labels",
		"GET /gmail/v1/users/me/labels\nAuthorization: Bearer not-a-token")
	if len(parts) != 2 || parts[0].status != 200 || parts[1].status != 401 || parts[1].header.Get("WWW-Authenticate") == "" {
		t.Fatalf("authorization: %+v", parts)
	}
	// Without an outer Authorization, every call is unauthenticated.
	_, _, parts = postBatch(t, http.DefaultClient, a.s.URL()+"/batch/gmail/v1", "GET /gmail/v1/users/me/labels")
	if len(parts) != 1 || parts[0].status != 401 {
		t.Fatalf("no authorization: %+v", parts)
	}
	// Calls are checked against the discovery document like requests.
	_, _, parts = postBatch(t, c, a.s.URL()+"/batch/gmail/v1", "GET /gmail/v1/users/me/messages/"+report+"?format=metadata&fields=nope")
	if len(parts) != 1 || parts[0].status != 400 || !strings.Contains(parts[0].body, "Invalid field selection nope") {
		t.Fatalf("bad fields in a call: %+v", parts)
	}
}

func TestBatchRefused(t *testing.T) {
	a := newAPITest(t)
	c := a.client(gmailModifyScope, calScope)
	labels := "GET /gmail/v1/users/me/labels"
	many := make([]string, 101)
	for i := range many {
		many[i] = labels
	}
	status, raw, _ := postBatch(t, c, a.s.URL()+"/batch/gmail/v1", many...)
	if status != 400 || !strings.Contains(string(raw), "Inner request count exceeds the limit. Received: 101, Limit: 100") ||
		!strings.Contains(string(raw), "INVALID_ARGUMENT") {
		t.Fatalf("101 calls: %d %s", status, raw)
	}
	if status, _, parts := postBatch(t, c, a.s.URL()+"/batch/gmail/v1", many[:100]...); status != 200 || len(parts) != 100 {
		t.Fatalf("100 calls: %d, %d parts", status, len(parts))
	}
	if status, _, _ := postBatch(t, c, a.s.URL()+"/batch/gmail/v1"); status != 400 {
		t.Fatalf("no call: %d", status)
	}
	resp, err := c.Post(a.s.URL()+"/batch/gmail/v1", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a JSON batch: %d", resp.StatusCode)
	}
	resp, err = c.Get(a.s.URL() + "/batch/gmail/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("GET of the batch path: %d", resp.StatusCode)
	}
	// Calls name a path of the batch's API, nothing else.
	_, _, parts := postBatch(t, c, a.s.URL()+"/batch/gmail/v1",
		"GET "+a.s.URL()+"/gmail/v1/users/me/labels",
		"GET /calendar/v3/users/me/calendarList",
		"POST /batch/gmail/v1",
		"not a request")
	for i, want := range []int{400, 404, 404, 400} {
		if len(parts) != 4 || parts[i].status != want {
			t.Fatalf("foreign calls: %+v, want statuses 400 404 404 400", parts)
		}
	}
	// The Calendar's batch endpoint serves Calendar calls.
	if _, _, parts := postBatch(t, c, a.s.URL()+"/batch/calendar/v3", "GET /calendar/v3/users/me/calendarList"); len(parts) != 1 || parts[0].status != 200 {
		t.Fatalf("calendar batch: %+v", parts)
	}
}

// TestBatchLatency: a batch waits the latency once, however many calls it
// carries.
func TestBatchLatency(t *testing.T) {
	a := newAPITest(t)
	c := a.client(gmailModifyScope)
	calls := make([]string, 10)
	for i := range calls {
		calls[i] = "GET /gmail/v1/users/me/labels"
	}
	a.s.SetAPILatency(100 * time.Millisecond)
	start := time.Now()
	_, _, parts := postBatch(t, c, a.s.URL()+"/batch/gmail/v1", calls...)
	took := time.Since(start)
	a.s.SetAPILatency(0)
	if len(parts) != 10 || took < 100*time.Millisecond || took > 900*time.Millisecond {
		t.Fatalf("%d parts in %v: want 10 in one latency", len(parts), took)
	}
}
