package microsofttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The tests drive the fake over HTTP as a client following Microsoft's
// documentation would.

const (
	alice = "alice@contoso.example" // a work account, in contoso.example's directory
	zoe   = "zoe@outlook.com"       // a personal Microsoft account
	bob   = "bob@contoso.example"
)

// fixedNow is a Friday two days before Europe's switch to summer time (New
// York switched three weeks earlier): series in the next week cross a
// daylight-saving change.
var fixedNow = time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	s.AddUser(alice)
	s.AddUser(zoe)
	s.AddUser(bob)
	return s
}

// oauthConfig is the app as x/oauth2 sees it, at a tenant.
func oauthConfig(s *Server, tenant string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: s.ClientID(), ClientSecret: s.ClientSecret(),
		Endpoint:    oauth2.Endpoint{AuthURL: s.AuthURL(tenant), TokenURL: s.TokenURL(tenant), AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://localhost:5555/callback", Scopes: scopes,
	}
}

// flow runs the authorization-code flow with PKCE for login at common and
// returns the token answer.
func flow(t *testing.T, s *Server, login string, scopes ...string) *oauth2.Token {
	t.Helper()
	cfg := oauthConfig(s, "common", scopes...)
	v := oauth2.GenerateVerifier()
	loc, err := s.Approve(context.Background(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("login_hint", login)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// access is an access token of login with these Graph scopes (Token, the
// exported helper).
func access(t *testing.T, s *Server, login string, scopes ...string) string {
	t.Helper()
	tok, err := s.Token(context.Background(), login, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// answer is a Graph answer: status, headers and the decoded JSON object.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// errCode is a Graph error's code.
func (a answer) errCode() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a answer) errMessage() string {
	e, _ := a.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func (a answer) values() []map[string]any {
	list, _ := a.body["value"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// request sends a Graph request; path is under /v1.0 (or a whole URL), body a
// JSON value, []byte sent as is, or nil; headers are name, value pairs.
func request(t *testing.T, s *Server, method, path, tok string, body any, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/plain"
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.GraphURL() + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal(raw, &a.body)
	return a
}

func q(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return "?" + strings.ReplaceAll(v.Encode(), "+", "%20")
}

func str(v any) string { s, _ := v.(string); return s }

// mailTest is a fake with alice's fixtures at fixedNow and a token that
// reads, writes and sends her mail and calendar.
type mailTest struct {
	t   *testing.T
	s   *Server
	fx  *Fixtures
	tok string
}

func newMailTest(t *testing.T) *mailTest {
	t.Helper()
	s := setup(t, Options{Now: func() time.Time { return fixedNow }})
	fx := s.LoadFixtures(alice)
	return &mailTest{t: t, s: s, fx: fx, tok: access(t, s, alice, "User.Read", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite", "MailboxSettings.Read")}
}

func (m *mailTest) get(path string, headers ...string) answer {
	m.t.Helper()
	return request(m.t, m.s, "GET", path, m.tok, nil, headers...)
}

func (m *mailTest) post(path string, body any, headers ...string) answer {
	m.t.Helper()
	return request(m.t, m.s, "POST", path, m.tok, body, headers...)
}
