package googletest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file holds what the fake Gmail and Calendar APIs share: routing,
// request accounting, injected latency and failures, Google's error bodies
// and partial responses (the fields parameter).

// apiState is the state of the fake APIs. It has its own lock, never held
// while s.mu is taken.
type apiState struct {
	routes []*route

	mu          sync.Mutex
	latency     time.Duration
	failures    []*apiFailure
	requests    []string // the path of every API request received
	inflight    int
	maxInflight int
	disc        *discovery
	violations  []string
	mail        map[string]*mailbox  // by lower-case email
	cal         map[string]*calStore // by lower-case email
	uploads     map[string]*resumableUpload
	seq         uint64
}

// route is one API method. tmpl is the path without its leading slash, with
// {name} segments, as the discovery document writes it; id is the method's
// discovery id ("" for requests that are not method calls, such as upload
// chunks).
type route struct {
	method string
	tmpl   []string
	id     string
	upload bool // the media-upload path of the method
	h      func(w http.ResponseWriter, r *http.Request, p map[string]string)
}

type apiFailure struct {
	prefix     string
	n          int
	status     int
	reason     string
	retryAfter time.Duration
}

type routeKey struct{}

// initAPI creates the API state and registers the Gmail and Calendar
// routes. Called once from New.
func (s *Server) initAPI() {
	s.api = &apiState{
		mail:    map[string]*mailbox{},
		cal:     map[string]*calStore{},
		uploads: map[string]*resumableUpload{},
	}
	s.gmailRoutes()
	s.calendarRoutes()
	for _, prefix := range []string{"/gmail/v1/", "/upload/gmail/v1/", "/calendar/v3/"} {
		s.mux.HandleFunc(prefix, s.serveAPI)
	}
}

func (s *Server) addRoute(method, tmpl, id string, h func(http.ResponseWriter, *http.Request, map[string]string)) *route {
	rt := &route{method: method, tmpl: strings.Split(tmpl, "/"), id: id, h: h}
	s.api.routes = append(s.api.routes, rt)
	return rt
}

// match finds the route of a request; path segments are unescaped one by
// one, so a calendar id with "/" or "#" in it stays one segment.
func (a *apiState) match(method, escapedPath string) (*route, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for _, rt := range a.routes {
		if rt.method != method || len(rt.tmpl) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, t := range rt.tmpl {
			seg, err := url.PathUnescape(segs[i])
			if err != nil {
				ok = false
				break
			}
			if strings.HasPrefix(t, "{") {
				if seg == "" {
					ok = false
					break
				}
				params[strings.Trim(t, "{}+")] = seg
			} else if t != seg {
				ok = false
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// serveAPI is the entry of every Gmail and Calendar request: it counts the
// request, adds the configured latency, answers injected failures, finds the
// route, checks the request against the discovery documents when enabled,
// and calls the method's handler.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	a := s.api
	a.mu.Lock()
	a.requests = append(a.requests, r.URL.Path)
	a.inflight++
	a.maxInflight = max(a.maxInflight, a.inflight)
	latency := a.latency
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inflight--
		a.mu.Unlock()
	}()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f := a.takeFailure(r.URL.Path); f != nil {
		writeFailure(w, f)
		return
	}
	rt, params := a.match(r.Method, r.URL.EscapedPath())
	if rt == nil {
		notFoundPage(w, r)
		return
	}
	a.mu.Lock()
	d := a.disc
	a.mu.Unlock()
	if d != nil && rt.id != "" && !d.checkRequest(w, r, rt) {
		return
	}
	rt.h(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)), params)
}

// notFoundPage is Google's front end answer for a path no API serves.
func notFoundPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=en>\n<meta charset=utf-8>\n<title>Error 404 (Not Found)!!1</title>\n"+
		"<p><b>404.</b> <ins>That’s an error.</ins>\n<p>The requested URL <code>%s</code> was not found on this server.  <ins>That’s all we know.</ins>\n",
		strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(r.URL.Path))
}

func (a *apiState) takeFailure(path string) *apiFailure {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.failures {
		if f.n > 0 && strings.HasPrefix(path, f.prefix) {
			f.n--
			c := *f
			return &c
		}
	}
	return nil
}

// Google's messages for the reasons FailAPI is used with.
var failureMessages = map[string]string{
	"rateLimitExceeded":     "Rate Limit Exceeded",
	"userRateLimitExceeded": "User Rate Limit Exceeded",
	"quotaExceeded":         "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
	"backendError":          "Backend Error",
	"internalError":         "Internal error encountered.",
}

func writeFailure(w http.ResponseWriter, f *apiFailure) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
	}
	msg := failureMessages[f.reason]
	switch {
	case f.status == http.StatusServiceUnavailable && f.reason == "backendError":
		msg = "The service is currently unavailable."
	case msg == "":
		msg = http.StatusText(f.status)
	}
	WriteAPIError(w, f.status, msg, f.reason)
}

// FailAPI makes the next n API requests whose path starts with pathPrefix
// (e.g. "/gmail/v1/users/me/messages", or "/" for all) answer status with
// Google's error body for reason: 429 "rateLimitExceeded", 403
// "userRateLimitExceeded" or "rateLimitExceeded", 500/503 "backendError"…
// A positive retryAfter is sent as a Retry-After header (whole seconds,
// rounded up). Rules are tried in the order they were added.
func (s *Server) FailAPI(pathPrefix string, n int, status int, reason string, retryAfter time.Duration) {
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures = append(a.failures, &apiFailure{prefix: pathPrefix, n: n, status: status, reason: reason, retryAfter: retryAfter})
}

// SetAPILatency makes every Gmail and Calendar request wait d before it is
// handled (or until the request is cancelled).
func (s *Server) SetAPILatency(d time.Duration) {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	s.api.latency = d
}

// APIRequests counts the Gmail and Calendar requests received whose path
// starts with pathPrefix, failed ones included.
func (s *Server) APIRequests(pathPrefix string) int {
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, p := range a.requests {
		if strings.HasPrefix(p, pathPrefix) {
			n++
		}
	}
	return n
}

// MaxConcurrentAPI is the largest number of Gmail and Calendar requests
// that were in flight at the same time (latency included).
func (s *Server) MaxConcurrentAPI() int {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	return s.api.maxInflight
}

// ResetAPIStats forgets the counted requests and the concurrency maximum,
// and drops pending injected failures.
func (s *Server) ResetAPIStats() {
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests, a.maxInflight, a.failures = nil, a.inflight, nil
}

// writeAPI answers 2xx with v as JSON. With discovery checking on, the
// answer is checked against the method's response schema first (problems
// are recorded, see DiscoveryViolations); the fields parameter (partial
// response) is honoured.
func (s *Server) writeAPI(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	rt, _ := r.Context().Value(routeKey{}).(*route)
	s.api.mu.Lock()
	d := s.api.disc
	s.api.mu.Unlock()
	if d != nil && rt != nil && rt.id != "" {
		if problems := d.checkResponse(rt.id, b); len(problems) > 0 {
			s.api.mu.Lock()
			s.api.violations = append(s.api.violations, problems...)
			s.api.mu.Unlock()
		}
	}
	if fields := r.URL.Query().Get("fields"); fields != "" {
		m, err := parseFieldMask(fields)
		if err != nil {
			writeAPIErrorDetails(w, 400, "INVALID_ARGUMENT", "Invalid field selection "+fields, "invalidParameter", nil)
			return
		}
		var g any
		json.Unmarshal(b, &g)
		b, _ = json.Marshal(m.apply(g))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Vary", "Origin, X-Origin, Referer")
	h.Set("Cache-Control", "private")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// writeAPIErrorDetails is WriteAPIError with an explicit status string and
// optional details (google.rpc error details).
func writeAPIErrorDetails(w http.ResponseWriter, code int, status, message, reason string, details []any) {
	e := map[string]any{
		"code": code, "message": message, "status": status,
		"errors": []map[string]string{{"message": message, "domain": "global", "reason": reason}},
	}
	if len(details) > 0 {
		e["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": e})
}

// badRequestField answers 400 INVALID_ARGUMENT with a BadRequest detail, as
// Google's front end does for parameters it cannot bind.
func badRequestField(w http.ResponseWriter, field, message string) {
	fv := map[string]string{"description": message}
	if field != "" {
		fv["field"] = field
	}
	writeAPIErrorDetails(w, 400, "INVALID_ARGUMENT", message, "invalid", []any{map[string]any{
		"@type":           "type.googleapis.com/google.rpc.BadRequest",
		"fieldViolations": []any{fv},
	}})
}

// snakeCase turns a JSON name into the proto field name Google's errors use.
func snakeCase(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// invalidValue answers Google's error for a query value of the wrong type.
func invalidValue(w http.ResponseWriter, name, typ, value string) {
	badRequestField(w, name, fmt.Sprintf("Invalid value at '%s' (%s), %q", snakeCase(name), typ, value))
}

// queryInt reads an integer parameter; ok is false after an error answer.
func queryInt(w http.ResponseWriter, q url.Values, name, typ string, def int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || typ == "TYPE_UINT32" && n < 0 {
		invalidValue(w, name, typ, v)
		return 0, false
	}
	return n, true
}

// queryBool reads a boolean parameter; ok is false after an error answer.
func queryBool(w http.ResponseWriter, q url.Values, name string) (bool, bool) {
	switch v := q.Get(name); v {
	case "", "false":
		return false, true
	case "true":
		return true, true
	default:
		invalidValue(w, name, "TYPE_BOOL", v)
		return false, false
	}
}

// pageToken makes an opaque page token for a position in a result list,
// bound to the query it belongs to.
func pageToken(query string, pos string) string {
	sum := sha256.Sum256([]byte(query))
	return base64.RawURLEncoding.EncodeToString(append(sum[:6], pos...))
}

// readPageToken returns the position in a token made by pageToken for the
// same query; ok is false for any other token.
func readPageToken(query, tok string) (pos string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	sum := sha256.Sum256([]byte(query))
	if err != nil || len(b) < 6 || string(b[:6]) != string(sum[:6]) {
		return "", false
	}
	return string(b[6:]), true
}

// queryKey joins the parameters a page token is bound to.
func queryKey(q url.Values, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		vs := slices.Clone(q[n])
		slices.Sort(vs)
		fmt.Fprintf(&b, "%s=%q;", n, vs)
	}
	return b.String()
}

// fieldMask is a parsed partial-response selector ("fields" parameter):
// a nil sub-mask selects the whole value.
type fieldMask map[string]fieldMask

// parseFieldMask parses Google's field selector syntax:
// "a,b/c,d(e,f/g)".
func parseFieldMask(s string) (fieldMask, error) {
	p := &maskParser{s: strings.ReplaceAll(s, " ", "")}
	m := fieldMask{}
	if err := p.list(m); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return m, nil
}

type maskParser struct {
	s string
	i int
}

func (p *maskParser) list(m fieldMask) error {
	for {
		if err := p.item(m); err != nil {
			return err
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return nil
	}
}

func (p *maskParser) item(m fieldMask) error {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",()/", rune(p.s[p.i])) {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return fmt.Errorf("empty field name at %d", start)
	}
	sub, seen := m[name]
	if seen && sub == nil { // already selected whole
		sub = fieldMask{}
		defer func() { m[name] = nil }()
	}
	if sub == nil {
		sub = fieldMask{}
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '/':
		p.i++
		if err := p.item(sub); err != nil {
			return err
		}
		m[name] = sub
	case p.i < len(p.s) && p.s[p.i] == '(':
		p.i++
		if err := p.list(sub); err != nil {
			return err
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return fmt.Errorf("missing )")
		}
		p.i++
		m[name] = sub
	default:
		m[name] = nil
	}
	return nil
}

func (m fieldMask) apply(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range m {
			if k == "*" {
				for kk, vv := range x {
					out[kk] = vv
				}
				continue
			}
			if val, ok := x[k]; ok {
				if sub == nil {
					out[k] = val
				} else {
					out[k] = sub.apply(val)
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.apply(e)
		}
		return out
	default:
		return v
	}
}
