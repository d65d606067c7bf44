package googletest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// Google's HTTP batch endpoints, as the Gmail and Calendar "Batching
// requests" guides describe them: POST {batchPath} with a multipart/mixed
// body, each part (Content-Type: application/http, an optional Content-ID)
// holding one complete HTTP request to the same API, with only the path
// portion of the URL. The headers of the outer request other than the
// Content- ones, and its query parameters, apply to every part unless the
// part sets its own; the Authorization of the outer request serves every
// part. The answer is 200 multipart/mixed, one application/http part per
// call in the order of the request, each a complete HTTP response with its
// own status (a call can fail alone: a 429 or a 404 inside a 200 batch),
// Content-ID "response-" + the call's. Each call counts as a call of its
// own (APIRequests and FailAPI see its path); the batch is one round trip
// (HTTPRequests). A batch of more calls than the API allows is refused as a
// whole: 400 "Inner request count exceeds the limit".
//
// The latency set with SetAPILatency is waited once per batch: Google's
// front end fans the calls out, as it answers parallel requests.

// batchAPI is one API's batch endpoint: the prefix its calls' paths must
// have and the most calls a batch may carry (the Gmail guide says 100; the
// Calendar guide 1000).
type batchAPI struct {
	prefix string
	limit  int
}

// batchAPIs are the batch endpoints by path: the guides' API-specific ones,
// and Gmail's batchPath in its discovery document ("batch", on
// gmail.googleapis.com, whose calls are Gmail's).
var batchAPIs = map[string]batchAPI{
	"/batch":             {prefix: "/gmail/v1/", limit: 100},
	"/batch/gmail/v1":    {prefix: "/gmail/v1/", limit: 100},
	"/batch/calendar/v3": {prefix: "/calendar/v3/", limit: 1000},
}

// maxBatchBody bounds a batch request's body.
const maxBatchBody = 64 << 20

// batchPart is one call of a batch request.
type batchPart struct {
	contentID string
	raw       []byte // the call: request line, headers, body
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	api, ok := batchAPIs[r.URL.Path]
	if !ok || r.Method != http.MethodPost {
		notFoundPage(w, r)
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		writeBatchError(w, "Invalid Content-Type of a batch request: want multipart/mixed with a boundary")
		return
	}
	parts, err := readBatchParts(io.LimitReader(r.Body, maxBatchBody), params["boundary"])
	if err != nil {
		writeBatchError(w, "Failed to parse the batch request: "+err.Error())
		return
	}
	if len(parts) > api.limit {
		writeBatchError(w, fmt.Sprintf("Inner request count exceeds the limit. Received: %d, Limit: %d", len(parts), api.limit))
		return
	}
	if len(parts) == 0 {
		writeBatchError(w, "The batch request holds no call")
		return
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.SetBoundary("batch_" + randomHex(12)); err != nil {
		panic(err)
	}
	for _, p := range parts {
		if r.Context().Err() != nil {
			return
		}
		rec := httptest.NewRecorder()
		s.servePart(rec, r, api, p)
		h := textproto.MIMEHeader{"Content-Type": {"application/http"}}
		if p.contentID != "" {
			h.Set("Content-ID", responseID(p.contentID))
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			panic(err)
		}
		writeHTTPResponse(pw, rec.Result())
	}
	mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	w.WriteHeader(http.StatusOK)
	w.Write(body.Bytes())
}

// servePart serves one call of the batch outer: the call as its own request
// with outer's headers and query parameters where it has none, counted,
// subject to injected failures, served like any request (serveCall).
func (s *Server) servePart(w http.ResponseWriter, outer *http.Request, api batchAPI, p batchPart) {
	req, err := readPartRequest(p.raw)
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Failed to parse a call of the batch request: "+err.Error(), "badRequest")
		return
	}
	if req.URL.IsAbs() || req.URL.Host != "" {
		WriteAPIError(w, http.StatusBadRequest, "A call of a batch request names only the path of its URL, not "+req.URL.Scheme+"://"+req.URL.Host, "badRequest")
		return
	}
	for k, vs := range outer.Header {
		if !strings.HasPrefix(k, "Content-") && req.Header.Get(k) == "" {
			req.Header[k] = vs
		}
	}
	q := req.URL.Query()
	for k, vs := range outer.URL.Query() {
		if !q.Has(k) {
			q[k] = vs
		}
	}
	req.URL.RawQuery = q.Encode()
	req.RemoteAddr, req.Host = outer.RemoteAddr, outer.Host
	req = req.WithContext(outer.Context())
	a := s.api
	a.ctl.Record(req.URL.Path)
	if f := a.ctl.TakeFailure(req.URL.Path); f != nil {
		writeFailure(w, f)
		return
	}
	if !strings.HasPrefix(req.URL.Path, api.prefix) {
		notFoundPage(w, req) // another API, or a batch within the batch
		return
	}
	s.serveCall(w, req)
}

// readBatchParts splits a multipart/mixed batch body into its calls.
func readBatchParts(r io.Reader, boundary string) ([]batchPart, error) {
	mr := multipart.NewReader(r, boundary)
	var parts []batchPart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/http") {
			return nil, fmt.Errorf("part %d has Content-Type %q, want application/http", len(parts)+1, ct)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, batchPart{contentID: p.Header.Get("Content-ID"), raw: raw})
	}
}

// readPartRequest parses a call. As in the guides' examples, its request
// line may leave out the HTTP version ("GET /gmail/v1/users/me/profile"),
// and a call without headers or body may end right after it (the CRLF
// before the next delimiter belongs to the delimiter).
func readPartRequest(raw []byte) (*http.Request, error) {
	raw = bytes.TrimLeft(raw, "\r\n")
	if !bytes.Contains(raw, []byte("\r\n\r\n")) && !bytes.Contains(raw, []byte("\n\n")) {
		raw = append(bytes.TrimRight(raw, "\r\n"), "\r\n\r\n"...)
	}
	line, rest, _ := bytes.Cut(raw, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	version := ""
	if len(bytes.Fields(line)) == 2 {
		version = " HTTP/1.1"
	}
	return http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(line), strings.NewReader(version+"\r\n"), bytes.NewReader(rest))))
}

// responseID is the Content-ID of the answer to a call of Content-ID id:
// "<response-x>" for "<x>".
func responseID(id string) string {
	if strings.HasPrefix(id, "<") && strings.HasSuffix(id, ">") {
		return "<response-" + id[1:]
	}
	return "response-" + id
}

// writeHTTPResponse writes resp as an HTTP/1.1 message with its length.
func writeHTTPResponse(w io.Writer, resp *http.Response) {
	body, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	resp.Header.Del("Content-Length")
	resp.Header.Write(w)
	fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body))
	w.Write(body)
}

// writeBatchError is the answer to a batch refused as a whole, as Google
// words it: {"error":{"code":400,"message":…,"status":"INVALID_ARGUMENT"}}.
func writeBatchError(w http.ResponseWriter, message string) {
	oauthtest.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"code": http.StatusBadRequest, "message": message, "status": "INVALID_ARGUMENT",
	}})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
