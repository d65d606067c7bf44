package googletest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const (
	gmailSendScope   = "https://www.googleapis.com/auth/gmail.send"
	gmailModifyScope = "https://www.googleapis.com/auth/gmail.modify"
	gmailMetaScope   = "https://www.googleapis.com/auth/gmail.metadata"
	calScope         = "https://www.googleapis.com/auth/calendar"
	calEventsScope   = "https://www.googleapis.com/auth/calendar.events"
)

// fixedNow is a Friday two days before Europe's switch to summer time
// (New York switched three weeks earlier): recurring events in the next
// week cross a daylight-saving change.
var fixedNow = time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC)

// apiTest is a fake with discovery checking on, alice's fixtures loaded
// and the server clock fixed at fixedNow.
type apiTest struct {
	t   *testing.T
	s   *Server
	fx  *Fixtures
	cfg *oauth2.Config
}

func newAPITest(t *testing.T) *apiTest {
	t.Helper()
	s, cfg := setup(t, Options{Now: func() time.Time { return fixedNow }})
	s.VerifyDiscovery(t)
	return &apiTest{t: t, s: s, fx: s.LoadFixtures(alice), cfg: cfg}
}

// client is an HTTP client with a token for these scopes, from the fake's
// OAuth flow.
func (a *apiTest) client(scopes ...string) *http.Client {
	a.t.Helper()
	cfg := *a.cfg
	cfg.Scopes = append([]string{"openid", "email"}, scopes...)
	tok := connect(a.t, a.s, &cfg)
	return cfg.Client(context.Background(), tok)
}

func (a *apiTest) gmail(scopes ...string) *gmail.Service {
	a.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{gmailModifyScope}
	}
	svc, err := gmail.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/"), option.WithHTTPClient(a.client(scopes...)))
	if err != nil {
		a.t.Fatal(err)
	}
	return svc
}

func (a *apiTest) calendar(scopes ...string) *calendar.Service {
	a.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{calScope}
	}
	svc, err := calendar.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/calendar/v3/"), option.WithHTTPClient(a.client(scopes...)))
	if err != nil {
		a.t.Fatal(err)
	}
	return svc
}

// runConcurrently runs f(0) to f(n-1), at most limit at once, and fails
// the test on the first error.
func runConcurrently(t *testing.T, n, limit int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- f(i)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// wantAPIError checks err is Google's error with this code, reason and
// (if not empty) a message containing msg.
func wantAPIError(t *testing.T, err error, code int, reason, msg string) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("got %v, want googleapi.Error %d %s", err, code, reason)
	}
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason || !strings.Contains(ge.Message, msg) {
		t.Fatalf("got %d %q %+v, want %d %s %q", ge.Code, ge.Message, ge.Errors, code, reason, msg)
	}
	return ge
}

func TestGmailDiscoveryChecks(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	_, err := svc.Users.Messages.List("me").Do(googleapi.QueryParameter("labelId", "INBOX"))
	ge := wantAPIError(t, err, 400, "invalid", `Invalid JSON payload received. Unknown name "labelId": Cannot bind query parameter. Field 'labelId' could not be found in request message.`)
	if !strings.Contains(string(ge.Body), "google.rpc.BadRequest") || !strings.Contains(string(ge.Body), `"status": "INVALID_ARGUMENT"`) &&
		!strings.Contains(string(ge.Body), `"status":"INVALID_ARGUMENT"`) {
		t.Fatalf("body %s", ge.Body)
	}
	_, err = svc.Users.Messages.List("me").Do(googleapi.QueryParameter("maxResults", "ten"))
	wantAPIError(t, err, 400, "invalid", `Invalid value at 'max_results' (TYPE_UINT32), "ten"`)
	_, err = svc.Users.Messages.List("me").Do(googleapi.QueryParameter("includeSpamTrash", "yes"))
	wantAPIError(t, err, 400, "invalid", "TYPE_BOOL")
	// Standard parameters are fine, and fields gives a partial answer.
	r, err := svc.Users.Messages.List("me").MaxResults(3).Fields("messages/id", "nextPageToken").Do(googleapi.QuotaUser("u1"))
	if err != nil || len(r.Messages) != 3 || r.Messages[0].ThreadId != "" || r.NextPageToken == "" || r.ResultSizeEstimate != 0 {
		t.Fatalf("partial answer: %v %+v", err, r)
	}
	// A selection the answer cannot have is refused, naming it.
	for fields, bad := range map[string]string{
		"nextPageTokn":               "nextPageTokn",
		"messages(id,threadID)":      "messages/threadID",
		"messages(id":                "messages(id",
		"messages(id),,":             "messages(id),,",
		"resultSizeEstimate/missing": "resultSizeEstimate/missing",
	} {
		_, err := svc.Users.Messages.List("me").Fields(googleapi.Field(fields)).Do()
		if ge := wantAPIError(t, err, 400, "invalidParameter", "Invalid field selection "+bad); !strings.Contains(ge.Body, `"location":"fields"`) {
			t.Errorf("fields %q: %s, want the location fields", fields, ge.Body)
		}
	}
	// A JSON body with a field the schema lacks.
	client := a.client(gmailSendScope)
	resp, err := client.Post(a.s.URL()+"/gmail/v1/users/me/messages/send", "application/json",
		strings.NewReader(`{"raw":"`+base64.URLEncoding.EncodeToString(rawMessage("bob@example.com", "x"))+`","thread_id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `Unknown name \"thread_id\": Cannot find field.`) {
		t.Fatalf("unknown body field: %d %s", resp.StatusCode, b)
	}
	// Unknown paths get Google's HTML 404.
	resp, _ = client.Get(a.s.URL() + "/gmail/v1/users/me/nothing")
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// CheckDiscovery compares the fake's routes with the documents.
	gmailDoc, _, _ := DiscoveryDocs()
	raw, _ := os.ReadFile(gmailDoc)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	get := doc["resources"].(map[string]any)["users"].(map[string]any)["resources"].(map[string]any)["messages"].(map[string]any)["methods"].(map[string]any)["get"].(map[string]any)
	get["path"] = "gmail/v1/users/{userId}/msgs/{id}"
	bad, _ := json.Marshal(doc)
	p := filepath.Join(t.TempDir(), "gmail.json")
	os.WriteFile(p, bad, 0o600)
	if err := New(Options{}).CheckDiscovery(p, ""); err == nil || !strings.Contains(err.Error(), "gmail.users.messages.get") {
		t.Fatalf("doctored document: %v", err)
	}
}

func TestAPIFailuresLatencyAndCounts(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailRead)
	a.s.ResetAPIStats()
	a.s.FailAPI("/gmail/v1/users/me/messages", 2, 429, "rateLimitExceeded", 1500*time.Millisecond)
	a.s.FailAPI("/calendar/", 1, 403, "userRateLimitExceeded", 0)
	a.s.FailAPI("/gmail/v1/users/me/labels", 1, 503, "backendError", time.Second)
	for range 2 {
		_, err := svc.Users.Messages.List("me").Do()
		ge := wantAPIError(t, err, 429, "rateLimitExceeded", "Rate Limit Exceeded")
		if ge.Header.Get("Retry-After") != "2" || !strings.Contains(string(ge.Body), "RESOURCE_EXHAUSTED") {
			t.Fatalf("Retry-After %q body %s", ge.Header.Get("Retry-After"), ge.Body)
		}
	}
	if _, err := svc.Users.Messages.List("me").Do(); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Users.Labels.List("me").Do()
	wantAPIError(t, err, 503, "backendError", "The service is currently unavailable.")
	_, err = a.calendar(calRead).CalendarList.List().Do()
	wantAPIError(t, err, 403, "userRateLimitExceeded", "User Rate Limit Exceeded")
	if n := a.s.APIRequests("/gmail/v1/users/me/messages"); n != 3 {
		t.Fatalf("%d message requests", n)
	}

	// Latency: 20 metadata gets, 10 at a time, take about two latencies.
	list, err := svc.Users.Messages.List("me").MaxResults(20).Do()
	if err != nil {
		t.Fatal(err)
	}
	a.s.ResetAPIStats()
	a.s.SetAPILatency(50 * time.Millisecond)
	start := time.Now()
	runConcurrently(t, len(list.Messages), 10, func(i int) error {
		_, err := svc.Users.Messages.Get("me", list.Messages[i].Id).Format("metadata").MetadataHeaders("From", "Subject", "Date").Do()
		return err
	})
	took := time.Since(start)
	if got := a.s.MaxConcurrentAPI(); got < 5 || got > 10 || took < 100*time.Millisecond || a.s.APIRequests("/gmail/") != 20 {
		t.Fatalf("max concurrency %d, took %v, %d requests", got, took, a.s.APIRequests("/gmail/"))
	}
	a.s.SetAPILatency(0)

	// Expired token: 401 with Google's body and WWW-Authenticate.
	cfg := *a.cfg
	cfg.Scopes = []string{gmailRead}
	tok := connect(t, a.s, &cfg)
	a.s.ExpireAccessTokens()
	stale, _ := gmail.NewService(context.Background(), option.WithEndpoint(a.s.URL()+"/"),
		option.WithHTTPClient(oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))))
	_, err = stale.Users.Messages.List("me").Do()
	ge := wantAPIError(t, err, 401, "authError", "Request had invalid authentication credentials.")
	if ge.Header.Get("WWW-Authenticate") == "" || ge.Errors[0].Message != "Invalid Credentials" {
		t.Fatalf("401: %+v %v", ge.Errors, ge.Header)
	}
}
