package microsofttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Graph's JSON batching ("Combine multiple HTTP requests using JSON
// batching"): POST /v1.0/$batch with {"requests":[{id, method, url,
// headers, body, dependsOn}]}, at most 20 requests, answered 200 with
// {"responses":[{id, status, headers, body}]} in no particular order. Each
// request is served as it would be alone (its own authorization, status
// and error body) and counts against the mailbox's limit of 4 concurrent
// requests: the requests of a batch run at once unless dependsOn orders
// them, and those past the limit are answered 429 ApplicationThrottled with
// Retry-After. A request whose dependency did not succeed is answered 424.
// A batch that breaks these rules (more than 20 requests, duplicate or
// missing ids, a dependsOn naming no request, a body without a
// Content-Type) is refused whole with 400.

// GraphMaxBatchRequests is Graph's limit of requests a batch.
const GraphMaxBatchRequests = 20

type subRequestKey struct{}

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	g := s.graph
	defer g.ctl.BeginBatch(r)()
	c := &call{s: s, w: w, r: r, reqID: newGUID()}
	c.cliID = c.reqID
	if r.Method != http.MethodPost {
		c.fail(http.StatusMethodNotAllowed, "BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if !c.authenticate() {
		return
	}
	if !g.ctl.Wait(r, maxRequestBytes+1) {
		return
	}
	if f := g.ctl.TakeFailure(r.URL.Path); f != nil {
		c.injected(f)
		return
	}
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	if !c.readBody(&in) {
		return
	}
	if msg := checkBatch(in.Requests); msg != "" {
		c.fail(http.StatusBadRequest, "BadRequest", msg)
		return
	}
	done := make(map[string]chan struct{}, len(in.Requests))
	status := make(map[string]int, len(in.Requests))
	for _, br := range in.Requests {
		done[br.ID] = make(chan struct{})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := make([]batchResponse, 0, len(in.Requests))
	for _, br := range in.Requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[br.ID])
			failed := ""
			for _, d := range br.DependsOn {
				select {
				case <-done[d]:
				case <-r.Context().Done():
					return
				}
				mu.Lock()
				st := status[d]
				mu.Unlock()
				if st < 200 || st > 299 {
					failed = d
				}
			}
			var resp batchResponse
			if failed != "" {
				resp = failedDependency(br.ID, failed)
			} else {
				resp = s.serveSubRequest(r, br)
			}
			mu.Lock()
			status[br.ID] = resp.Status
			out = append(out, resp)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if r.Context().Err() != nil {
		return
	}
	c.ok(http.StatusOK, map[string]any{"responses": out})
}

// checkBatch is what makes Graph refuse a whole batch ("" none).
func checkBatch(reqs []batchRequest) string {
	switch {
	case len(reqs) == 0:
		return "Invalid batch payload format."
	case len(reqs) > GraphMaxBatchRequests:
		return fmt.Sprintf("The number of requests in the batch exceeds the limit of %d.", GraphMaxBatchRequests)
	}
	ids := map[string]bool{}
	for _, br := range reqs {
		switch {
		case br.ID == "":
			return "Request id is missing."
		case ids[br.ID]:
			return "Request id " + br.ID + " is duplicated."
		case br.Method == "" || br.URL == "":
			return "Request " + br.ID + " has no method or url."
		case strings.Contains(br.URL, "://"):
			return "Request " + br.ID + ": the url must be relative to the version (/me/...)."
		case len(bytes.TrimSpace(br.Body)) > 0 && headerValue(br.Headers, "Content-Type") == "":
			return "Content-Type header must be specified when a body is present (request " + br.ID + ")."
		}
		ids[br.ID] = true
	}
	for _, br := range reqs {
		for _, d := range br.DependsOn {
			if !ids[d] || d == br.ID {
				return "Request " + br.ID + " depends on " + d + ", which is not in the batch."
			}
		}
	}
	// A cycle would never finish: Graph refuses one.
	for _, br := range reqs {
		seen := map[string]bool{}
		var walk func(id string) bool
		walk = func(id string) bool {
			if seen[id] {
				return false
			}
			seen[id] = true
			for _, x := range reqs {
				if x.ID == id {
					for _, d := range x.DependsOn {
						if d == br.ID || !walk(d) {
							return false
						}
					}
				}
			}
			return true
		}
		if !walk(br.ID) {
			return "The dependencies of request " + br.ID + " form a cycle."
		}
	}
	return ""
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func failedDependency(id, dep string) batchResponse {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{
		"code": "FailedDependency", "message": "Request " + dep + " that this request depends on failed."}})
	return batchResponse{ID: id, Status: http.StatusFailedDependency, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
}

// serveSubRequest serves one request of a batch as Graph would alone,
// with the batch's access token.
func (s *Server) serveSubRequest(outer *http.Request, br batchRequest) batchResponse {
	u := "/v1.0/" + strings.TrimPrefix(br.URL, "/")
	var body *bytes.Reader
	if len(bytes.TrimSpace(br.Body)) > 0 {
		body = bytes.NewReader(br.Body)
	} else {
		body = bytes.NewReader(nil)
	}
	ctx := context.WithValue(outer.Context(), subRequestKey{}, true)
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(br.Method), u, body)
	if err != nil {
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "BadRequest", "message": "Invalid request URI."}})
		return batchResponse{ID: br.ID, Status: http.StatusBadRequest, Body: b}
	}
	req.Host = outer.Host
	for k, v := range br.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	rec := httptest.NewRecorder()
	s.serveGraph(rec, req)
	resp := batchResponse{ID: br.ID, Status: rec.Code, Headers: map[string]string{}}
	for _, k := range []string{"Content-Type", "Retry-After", "Location", "Preference-Applied"} {
		if v := rec.Header().Get(k); v != "" {
			resp.Headers[k] = v
		}
	}
	if b := bytes.TrimSpace(rec.Body.Bytes()); len(b) > 0 && json.Valid(b) {
		resp.Body = json.RawMessage(b)
	}
	return resp
}

// HTTPRequests counts the HTTP requests Graph received whose path starts
// with pathPrefix: a batch ("/v1.0/$batch") once however many requests it
// carries (APIRequests counts those one by one, by their own paths).
func (s *Server) HTTPRequests(pathPrefix string) int { return s.graph.ctl.RoundTrips(pathPrefix) }
