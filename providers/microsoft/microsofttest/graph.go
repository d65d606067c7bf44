package microsofttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// What every Graph request goes through: accounting, authentication, the
// mailbox it is for and Outlook's concurrency limit, injected latency and
// failures, routing, the permission check, and Graph's JSON answers and
// errors ("Microsoft Graph error responses and resource types").

// mailboxConcurrency is Outlook's limit of concurrent requests per app and
// mailbox ("Microsoft Graph service-specific throttling limits", Outlook
// service limits); past it Graph answers 429 ApplicationThrottled.
const mailboxConcurrency = 4

// graphState is the state of the fake Graph. It has its own lock, never
// held while the identity platform's is taken.
type graphState struct {
	routes []*route

	ctl oauthtest.APIControl // requests, latency, injected failures

	mu          sync.Mutex
	boxInflight map[string]int // by mailbox (lower-case UPN)
	boxMax      map[string]int
	throttled   map[string]int // 429s for the concurrency limit, by mailbox
	mailboxes   map[string]*mailbox
	uploads     map[string]*uploadSession // by session id
	seq         uint64
}

// route is one Graph method: tmpl are the path segments after the
// mailbox's (/me or /users/{id}), with {name} wildcards; perms are the
// delegated permissions that allow it (any one).
type route struct {
	method string
	tmpl   []string
	perms  []string
	h      func(c *call)
}

// call is an authorized request for a mailbox.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	user   Account  // the token's user, whose mailbox it is
	perms  []string // the token's Graph permissions
	params map[string]string
	prefer preferences
	reqID  string // request-id; client-request-id is the client's or this
	cliID  string
	// applied are the Prefer preferences honoured, for Preference-Applied.
	applied []string
}

func (s *Server) initGraph() {
	s.graph = &graphState{
		boxInflight: map[string]int{}, boxMax: map[string]int{}, throttled: map[string]int{},
		mailboxes: map[string]*mailbox{}, uploads: map[string]*uploadSession{},
	}
	s.mailRoutes()
	s.calendarRoutes()
	s.scheduleRoutes()
	// Graph has a host of its own (graph.microsoft.com), as do the upload
	// sessions (outlook.office.com): here one more server.
	mux := http.NewServeMux()
	mux.HandleFunc("/v1.0/", s.serveGraph)
	mux.HandleFunc("/v1.0/$batch", s.serveBatch)
	mux.HandleFunc("/api/v2.0/", s.serveUpload)
	s.graphSrv = httptest.NewServer(mux)
}

func (s *Server) addRoute(method, tmpl string, perms []string, h func(c *call)) {
	var segs []string
	if tmpl != "" {
		segs = strings.Split(tmpl, "/")
	}
	s.graph.routes = append(s.graph.routes, &route{method: method, tmpl: segs, perms: perms, h: h})
}

// serveGraph is the entry of every Graph request.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	g := s.graph
	if r.Context().Value(subRequestKey{}) != nil {
		g.ctl.Record(r.URL.Path) // a request of a batch: the batch is the round trip
	} else {
		defer g.ctl.Begin(r)()
	}
	c := &call{s: s, w: w, r: r, reqID: newGUID(), prefer: parsePrefer(r.Header.Values("Prefer"))}
	c.cliID = r.Header.Get("client-request-id")
	if c.cliID == "" {
		c.cliID = c.reqID
	}
	if !c.authenticate() {
		return
	}
	segs, ok := c.mailboxPath()
	if !ok {
		return
	}
	box := lowerKey(c.user.UPN)
	g.mu.Lock()
	g.boxInflight[box]++
	n := g.boxInflight[box]
	g.boxMax[box] = max(g.boxMax[box], n)
	if n > mailboxConcurrency {
		g.boxInflight[box]--
		g.throttled[box]++
		g.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		c.fail(http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
		return
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.boxInflight[box]--
		g.mu.Unlock()
	}()
	if !g.ctl.Wait(r, maxRequestBytes+1) {
		return
	}
	if f := g.ctl.TakeFailure(r.URL.Path); f != nil {
		c.injected(f)
		return
	}
	rt, params, status, segment := g.match(r.Method, segs)
	switch status {
	case http.StatusMethodNotAllowed:
		c.fail(status, "BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	case http.StatusNotFound:
		c.fail(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+segment+"'.")
		return
	}
	if !slices.ContainsFunc(rt.perms, func(p string) bool { return slices.Contains(c.perms, p) }) {
		if len(rt.tmpl) == 0 { // the user resource: a directory permission
			c.fail(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		} else {
			c.fail(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		}
		return
	}
	c.params = params
	rt.h(c)
}

// authenticate checks the bearer token; it answers 401 itself.
func (c *call) authenticate() bool {
	auth := c.r.Header.Get("Authorization")
	found := len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") // the scheme is case-insensitive (RFC 7235)
	tok := ""
	if found {
		tok = auth[7:]
	}
	if !found || strings.TrimSpace(tok) == "" {
		c.unauthenticated("Access token is empty.")
		return false
	}
	email, scopes, ok := c.s.CheckToken(strings.TrimSpace(tok))
	if !ok {
		c.unauthenticated("Lifetime validation failed, the token is expired.")
		return false
	}
	c.user, c.perms = c.s.accounts.get(email), c.s.grantedPermissions(scopes)
	return true
}

func (c *call) unauthenticated(message string) {
	c.w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+c.s.URL()+
		`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	c.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", message)
}

// mailboxPath resolves /me or /users/{id | userPrincipalName} to the
// token's user and returns the segments after it, unescaped one by one.
// Another user's mailbox is refused: the fake knows no delegation.
func (c *call) mailboxPath() ([]string, bool) {
	raw := strings.Split(strings.TrimPrefix(c.r.URL.EscapedPath(), "/v1.0/"), "/")
	segs := make([]string, 0, len(raw))
	for _, r := range raw {
		seg, err := url.PathUnescape(r)
		if err != nil {
			c.fail(http.StatusBadRequest, "BadRequest", "Invalid URI: the path is not escaped correctly.")
			return nil, false
		}
		segs = append(segs, seg)
	}
	switch {
	case len(segs) > 0 && segs[0] == "me":
		return segs[1:], true
	case len(segs) > 1 && segs[0] == "users" && segs[1] != "":
		who := segs[1]
		if strings.EqualFold(who, c.user.UPN) || strings.EqualFold(who, c.user.Email) || strings.EqualFold(who, c.user.GraphID()) {
			return segs[2:], true
		}
		if c.s.accounts.known(who) {
			c.fail(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		} else {
			c.fail(http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+who+"' is invalid.")
		}
		return nil, false
	}
	c.fail(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+segs[0]+"'.")
	return nil, false
}

func (ac *accounts) known(name string) bool {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if _, ok := ac.byName[lowerKey(name)]; ok {
		return true
	}
	for _, a := range ac.byName {
		if strings.EqualFold(a.GraphID(), name) {
			return true
		}
	}
	return false
}

// match finds the route of a request: status 0, 405 when the path exists
// for another method, 404 with the first segment no route knows.
func (g *graphState) match(method string, segs []string) (*route, map[string]string, int, string) {
	status, depth := http.StatusNotFound, 0
	for _, rt := range g.routes {
		params, n := matchTemplate(rt.tmpl, segs)
		if params == nil {
			depth = max(depth, n)
			continue
		}
		if rt.method == method {
			return rt, params, 0, ""
		}
		status = http.StatusMethodNotAllowed
	}
	segment := ""
	if depth < len(segs) {
		segment = segs[depth]
	}
	return nil, nil, status, segment
}

// matchTemplate returns the {name} values of a matching template (nil if
// it does not match) and how many segments matched.
func matchTemplate(tmpl, segs []string) (map[string]string, int) {
	params := map[string]string{}
	for i, t := range tmpl {
		if i >= len(segs) {
			return nil, i
		}
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return nil, i
			}
			params[strings.Trim(t, "{}")] = segs[i]
		} else if !strings.EqualFold(t, segs[i]) { // Graph's segments are case-insensitive
			return nil, i
		}
	}
	if len(tmpl) != len(segs) {
		return nil, len(tmpl)
	}
	return params, len(tmpl)
}

// Graph's messages for the codes FailAPI is used with.
var failureMessages = map[string]string{
	"ApplicationThrottled":     "Application is over its MailboxConcurrency limit.",
	"TooManyRequests":          "Too many requests.",
	"ErrorServerBusy":          "The server cannot service this request right now. Try again later.",
	"ServiceNotAvailable":      "The service is temporarily unavailable. Please try again later.",
	"UnknownError":             "An unknown error has occurred.",
	"ErrorInternalServerError": "An internal server error occurred. The operation failed.",
	"GatewayTimeout":           "The server, while acting as a proxy, did not receive a timely response from the upstream server.",
}

func (c *call) injected(f *oauthtest.InjectedFailure) {
	f.SetRetryAfter(c.w)
	msg := failureMessages[f.Reason]
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	c.fail(f.Status, f.Reason, msg)
}

// FailAPI makes the next n Graph requests whose path starts with
// pathPrefix (e.g. "/v1.0/me/messages", or "/" for all) answer status
// with Graph's error body for code: 429 "ApplicationThrottled" or
// "TooManyRequests", 503 "ServiceNotAvailable", 504 "GatewayTimeout",
// 500 "UnknownError"… A positive retryAfter is sent as a Retry-After header
// (whole seconds, rounded up). Rules are tried in the order they were
// added; requests refused for want of a token or for the concurrency limit
// do not use them up.
func (s *Server) FailAPI(pathPrefix string, n int, status int, code string, retryAfter time.Duration) {
	s.graph.ctl.Fail(pathPrefix, n, status, code, retryAfter)
}

// SetAPILatency makes every Graph request wait d, holding its place among
// the mailbox's concurrent requests, before it is handled (or until the
// request is cancelled).
func (s *Server) SetAPILatency(d time.Duration) { s.graph.ctl.SetLatency(d) }

// APIRequests counts the Graph requests received whose path starts with
// pathPrefix ("/v1.0/me/messages"), failed ones included.
func (s *Server) APIRequests(pathPrefix string) int { return s.graph.ctl.Requests(pathPrefix) }

// MaxConcurrentAPI is the largest number of Graph requests that were in
// flight at the same time (latency included).
func (s *Server) MaxConcurrentAPI() int { return s.graph.ctl.MaxConcurrent() }

// MaxConcurrentMailbox is the largest number of authenticated requests for
// one mailbox that were in flight at the same time, those refused for
// exceeding the limit of 4 included.
func (s *Server) MaxConcurrentMailbox(email string) int {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	return s.graph.boxMax[lowerKey(s.accounts.get(email).UPN)]
}

// Throttled counts the requests for a mailbox refused with 429
// ApplicationThrottled for exceeding its concurrency limit.
func (s *Server) Throttled(email string) int {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	return s.graph.throttled[lowerKey(s.accounts.get(email).UPN)]
}

// ResetAPIStats forgets the counted requests, the concurrency maxima and
// throttling counts, and drops pending injected failures.
func (s *Server) ResetAPIStats() {
	g := s.graph
	g.ctl.Reset()
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.boxMax)
	for k, v := range g.boxInflight {
		g.boxMax[k] = v
	}
	clear(g.throttled)
}

// fail answers Graph's JSON error:
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
func (c *call) fail(status int, code, message string) {
	c.headers()
	c.w.Header().Del("Preference-Applied")
	body := map[string]any{"error": map[string]any{
		"code": code, "message": message,
		"innerError": map[string]string{
			"date": c.s.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": c.reqID, "client-request-id": c.cliID,
		},
	}}
	writeJSON(c.w, status, body)
}

// headers sets the headers every Graph answer has.
func (c *call) headers() {
	h := c.w.Header()
	h.Set("request-id", c.reqID)
	h.Set("client-request-id", c.cliID)
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Fake","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"microsofttest"}}`)
	if len(c.applied) > 0 {
		h.Set("Preference-Applied", strings.Join(c.applied, ","))
	}
}

// ok answers status with v as Graph's JSON (OData minimal metadata).
func (c *call) ok(status int, v any) {
	c.headers()
	c.w.Header().Set("OData-Version", "4.0")
	writeJSON(c.w, status, v)
}

// noContent answers status (202, 204) without a body.
func (c *call) noContent(status int) {
	c.headers()
	c.w.WriteHeader(status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// context is @odata.context for what follows the user in the metadata URL
// ("messages", "mailFolders('inbox')/messages(subject,from)").
func (c *call) context(what string) string {
	return c.s.GraphURL() + "/$metadata#users('" + url.PathEscape(c.user.GraphID()) + "')/" + what
}

// preferences are the Prefer header's values Graph's Outlook APIs honour.
type preferences struct {
	timeZone  string // outlook.timezone
	bodyType  string // outlook.body-content-type: "text" or "html"
	immutable bool   // IdType="ImmutableId"
}

// parsePrefer reads Prefer headers: comma-separated preferences, values
// quoted or not.
func parsePrefer(values []string) preferences {
	var p preferences
	for _, v := range values {
		for _, part := range splitOutsideQuotes(v, ',') {
			name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "outlook.timezone":
				p.timeZone = val
			case "outlook.body-content-type":
				p.bodyType = strings.ToLower(val)
			case "idtype":
				p.immutable = strings.EqualFold(val, "ImmutableId")
			}
		}
	}
	return p
}

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// apply records a preference as honoured.
func (c *call) apply(pref string) {
	if !slices.Contains(c.applied, pref) {
		c.applied = append(c.applied, pref)
	}
}

// maxRequestBytes is Graph's limit on a request's size: 4 MB ("there is
// currently a limit of 4MB on the total size of each REST request", the
// attachment pages; "Attach large files to Outlook messages or events").
const maxRequestBytes = 4 << 20

// readBody reads a JSON request body within Graph's size limit, answering
// 413 past it and 400 for what is not JSON; v gets the body. Unknown
// properties are the caller's to check.
func (c *call) readBody(v any) bool {
	var data []byte
	if !c.readRaw(&data) {
		return false
	}
	if err := json.Unmarshal(data, v); err != nil {
		c.fail(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type Header is set and payload is of valid JSON format.")
		return false
	}
	return true
}

// readRaw reads a request body within Graph's size limit, answering 413
// past it.
func (c *call) readRaw(dst *[]byte) bool {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, maxRequestBytes+1))
	switch {
	case err != nil:
		c.fail(http.StatusBadRequest, "BadRequest", "The request body could not be read.")
		return false
	case len(data) > maxRequestBytes:
		c.tooLarge()
		return false
	}
	*dst = data
	return true
}

// tooLarge is the answer to a request past 4 MB: 413, with the message
// Graph gives ("The maximum request length supported is 4MB.").
func (c *call) tooLarge() {
	c.fail(http.StatusRequestEntityTooLarge, "BadRequest", "The maximum request length supported is 4MB.")
}

// badID answers an id that is not an Outlook id at all.
func (c *call) badID() {
	c.fail(http.StatusBadRequest, "ErrorInvalidIdMalformed", "Id is malformed.")
}

// notFound answers an id of nothing in this mailbox (another mailbox's, a
// moved message's old id, a deleted item's).
func (c *call) notFound() {
	c.fail(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

// graphTime formats an instant as Graph's DateTimeOffset values.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// preciseTime is Graph's createdDateTime/lastModifiedDateTime form.
func preciseTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
