package googletest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// What the fake Gmail and Calendar APIs share: routing, request
// accounting, injected latency and failures, and the JSON answer (Google's
// error bodies are in api_errors.go, partial responses in fieldmask.go).

// routeScopes are the scopes that authorize each method, as the discovery
// documents list them (CheckDiscovery verifies they agree).
var routeScopes = map[string][]string{
	gmailListMethod:     {scopeMail, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailGetMethod:      {scopeMail, scopeAddonsAction, scopeAddonsMetadata, scopeAddonsReadonly, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailAttachmentsGet: {scopeMail, scopeAddonsAction, scopeAddonsReadonly, scopeGmailModify, scopeGmailReadonly},
	gmailSendMethod:     {scopeMail, scopeAddonsCompose, scopeGmailCompose, scopeGmailModify, scopeGmailSend},
	gmailLabelsMethod:   {scopeMail, scopeGmailLabels, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailLabelMethod:    {scopeMail, scopeGmailLabels, scopeGmailMetadata, scopeGmailModify, scopeGmailReadonly},
	gmailDraftsCreate:   draftWriteScopes,
	gmailDraftsUpdate:   draftWriteScopes,
	gmailDraftsSend:     draftWriteScopes,
	gmailDraftsDelete:   draftWriteScopes,
	gmailDraftsGet:      draftReadScopes,
	gmailDraftsList:     draftReadScopes,
	calCalendarList:     {scopeCalendar, scopeCalendarList, scopeCalendarListRO, scopeCalendarRO},
	calCalendarListGet:  {scopeCalendar, scopeCalendarAppCreated, scopeCalendarList, scopeCalendarListRO, scopeCalendarRO},
	calEventsList:       calendarReadScopes,
	calEventsGet:        calendarReadScopes,
	calEventsInsert:     {scopeCalendar, scopeCalendarAppCreated, scopeCalendarEvents, scopeCalendarEventsOwned},
	calFreeBusy:         {scopeCalendar, scopeCalendarFreeBusy, scopeCalendarFreeBusyAll, scopeCalendarRO},
	calEventsPatch:      {scopeCalendar, scopeCalendarAppCreated, scopeCalendarEvents, scopeCalendarEventsOwned},
	calEventsDelete:     {scopeCalendar, scopeCalendarAppCreated, scopeCalendarEvents, scopeCalendarEventsOwned},
	calEventsInstances:  calendarReadScopes,
}

// apiState is the state of the fake APIs. It has its own lock, never held
// while the OAuth server's lock is taken.
type apiState struct {
	routes []*route

	ctl oauthtest.APIControl // requests, latency, injected failures

	mu         sync.Mutex
	disc       *discovery
	violations []string
	mail       map[string]*mailbox  // by lower-case email
	cal        map[string]*calStore // by lower-case email
	uploads    map[string]*resumableUpload
	seq        uint64
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
	h      func(w http.ResponseWriter, r *http.Request, c call)
}

// call is an authorized request for a method: the token's user and
// scopes, and the path's {name} parameters.
type call struct {
	email  string
	scopes []string
	params map[string]string
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
	s.gmailThreadRoutes()
	s.calendarRoutes()
	for _, prefix := range []string{"/gmail/v1/", "/upload/gmail/v1/", "/calendar/v3/", "/batch/", "/batch"} {
		s.Handle(prefix, http.HandlerFunc(s.serveAPI))
	}
}

func (s *Server) addRoute(method, tmpl, id string, h func(http.ResponseWriter, *http.Request, call)) *route {
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

// serveAPI is the entry of every Gmail and Calendar HTTP request: it
// counts the request, adds the configured latency, answers injected
// failures, and hands a batch to serveBatch (batch.go) and any other
// request to serveCall.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	a := s.api
	_, batch := batchAPIs[r.URL.Path]
	if batch {
		defer a.ctl.BeginBatch(r)()
	} else {
		defer a.ctl.Begin(r)()
	}
	if !a.ctl.Wait(r, math.MaxInt64) {
		return
	}
	if f := a.ctl.TakeFailure(r.URL.Path); f != nil {
		writeFailure(w, f)
		return
	}
	if batch {
		s.serveBatch(w, r)
		return
	}
	s.serveCall(w, r)
}

// serveCall serves one API call (a request, or a part of a batch): it finds
// the route, checks the request against the discovery documents when
// enabled, authorizes it with the method's scopes (and, for Gmail, the
// userId: "me" or the token's own address; another user's is "Delegation
// denied"), and calls the method's handler.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request) {
	a := s.api
	rt, params := a.match(r.Method, r.URL.EscapedPath())
	if rt == nil {
		notFoundPage(w, r)
		return
	}
	a.mu.Lock()
	d := a.disc
	a.mu.Unlock()
	if d != nil && rt.id != "" && (!d.checkRequest(w, r, rt) || !d.checkFields(w, rt.id, r.URL.Query().Get("fields"))) {
		return
	}
	c := call{params: params}
	if rt.id != "" && !(rt.upload && r.URL.Query().Has("upload_id")) { // a resumable upload's chunk: the session is its credential
		var ok bool
		if c.email, c.scopes, ok = s.authorize(w, r, routeScopes[rt.id]); !ok {
			return
		}
		if u, has := params["userId"]; has && u != "me" && !strings.EqualFold(u, c.email) {
			WriteAPIError(w, http.StatusForbidden, "Delegation denied for "+c.email, "forbidden")
			return
		}
	}
	rt.h(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)), c)
}

// notFoundPage is Google's front end answer for a path no API serves.
func notFoundPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=en>\n<meta charset=utf-8>\n<title>Error 404 (Not Found)!!1</title>\n"+
		"<p><b>404.</b> <ins>That’s an error.</ins>\n<p>The requested URL <code>%s</code> was not found on this server.  <ins>That’s all we know.</ins>\n",
		strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(r.URL.Path))
}

// Google's messages for the reasons FailAPI is used with.
var failureMessages = map[string]string{
	"rateLimitExceeded":     "Rate Limit Exceeded",
	"userRateLimitExceeded": "User Rate Limit Exceeded",
	"quotaExceeded":         "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
	"backendError":          "Backend Error",
	"internalError":         "Internal error encountered.",
}

func writeFailure(w http.ResponseWriter, f *oauthtest.InjectedFailure) {
	f.SetRetryAfter(w)
	msg := failureMessages[f.Reason]
	switch {
	case f.Status == http.StatusServiceUnavailable && f.Reason == "backendError":
		msg = "The service is currently unavailable."
	case msg == "":
		msg = http.StatusText(f.Status)
	}
	WriteAPIError(w, f.Status, msg, f.Reason)
}

// FailAPI makes the next n API requests whose path starts with pathPrefix
// (e.g. "/gmail/v1/users/me/messages", or "/" for all) answer status with
// Google's error body for reason: 429 "rateLimitExceeded", 403
// "userRateLimitExceeded" or "rateLimitExceeded", 500/503 "backendError"…
// A positive retryAfter is sent as a Retry-After header (whole seconds,
// rounded up). Rules are tried in the order they were added.
func (s *Server) FailAPI(pathPrefix string, n int, status int, reason string, retryAfter time.Duration) {
	s.api.ctl.Fail(pathPrefix, n, status, reason, retryAfter)
}

// SetAPILatency makes every Gmail and Calendar request wait d before it is
// handled (or until the request is cancelled).
func (s *Server) SetAPILatency(d time.Duration) { s.api.ctl.SetLatency(d) }

// APIRequests counts the Gmail and Calendar API calls received whose path
// starts with pathPrefix, failed ones included. Each call of a batch is one
// (as Google's quotas count them); the batch request itself is not
// (HTTPRequests counts it).
func (s *Server) APIRequests(pathPrefix string) int { return s.api.ctl.Requests(pathPrefix) }

// HTTPRequests counts the HTTP requests the fake Gmail and Calendar APIs
// received whose path starts with pathPrefix: round trips, a batch
// ("/batch/gmail/v1") counting once however many calls it carries.
func (s *Server) HTTPRequests(pathPrefix string) int { return s.api.ctl.RoundTrips(pathPrefix) }

// MaxConcurrentAPI is the largest number of Gmail and Calendar requests
// that were in flight at the same time (latency included).
func (s *Server) MaxConcurrentAPI() int { return s.api.ctl.MaxConcurrent() }

// ResetAPIStats forgets the counted requests and the concurrency maximum,
// and drops pending injected failures.
func (s *Server) ResetAPIStats() { s.api.ctl.Reset() }

// writeFound answers v, or 404 with message when it is nil.
func writeFound[T any](s *Server, w http.ResponseWriter, r *http.Request, v *T, message string) {
	if v == nil {
		WriteAPIError(w, http.StatusNotFound, message, "notFound")
		return
	}
	s.writeAPI(w, r, http.StatusOK, v)
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
			invalidFieldSelection(w, fields)
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
