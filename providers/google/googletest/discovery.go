package googletest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The discovery checker: with CheckDiscovery, every request to the fake
// Gmail and Calendar APIs is checked against Google's discovery documents
// (the ones shipped in the google.golang.org/api module) before it is
// handled: query parameters must be declared for the method (or be one of
// the standard parameters) and have the declared type and enum values, a
// JSON body may hold only the request schema's fields. The fake's own
// answers are checked against the response schema, and its routes against
// the documents' methods, paths and scopes.

// Standard query parameters every Google API accepts.
var standardParams = []string{
	"$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
	"prettyPrint", "quotaUser", "upload_protocol", "uploadType", "userIp",
}

type discovery struct {
	methods map[string]*discMethod // by method id
	schemas map[string]map[string]*discSchema
	global  map[string]map[string]*discParam // by API name
}

type discDoc struct {
	Name        string                   `json:"name"`
	ServicePath string                   `json:"servicePath"`
	BatchPath   string                   `json:"batchPath"`
	Parameters  map[string]*discParam    `json:"parameters"`
	Resources   map[string]*discResource `json:"resources"`
	Schemas     map[string]*discSchema   `json:"schemas"`
	Methods     map[string]*discMethod   `json:"methods"`
}

type discResource struct {
	Methods   map[string]*discMethod   `json:"methods"`
	Resources map[string]*discResource `json:"resources"`
}

type discMethod struct {
	ID          string                `json:"id"`
	HTTPMethod  string                `json:"httpMethod"`
	Path        string                `json:"path"`
	Parameters  map[string]*discParam `json:"parameters"`
	Request     *discSchema           `json:"request"`
	Response    *discSchema           `json:"response"`
	Scopes      []string              `json:"scopes"`
	MediaUpload *struct {
		Accept    []string `json:"accept"`
		MaxSize   string   `json:"maxSize"`
		Protocols map[string]struct {
			Path string `json:"path"`
		} `json:"protocols"`
	} `json:"mediaUpload"`

	api  string // "gmail", "calendar"
	full string // servicePath + path
}

type discParam struct {
	Type     string   `json:"type"`
	Format   string   `json:"format"`
	Location string   `json:"location"`
	Repeated bool     `json:"repeated"`
	Required bool     `json:"required"`
	Enum     []string `json:"enum"`
	Minimum  string   `json:"minimum"`
	Maximum  string   `json:"maximum"`
}

type discSchema struct {
	Ref                  string                 `json:"$ref"`
	Type                 string                 `json:"type"`
	Format               string                 `json:"format"`
	Properties           map[string]*discSchema `json:"properties"`
	Items                *discSchema            `json:"items"`
	AdditionalProperties *discSchema            `json:"additionalProperties"`
}

// DiscoveryDocs returns the paths of the Gmail and Calendar discovery
// documents in the google.golang.org/api module the build uses (found with
// `go list -m`, else in GOMODCACHE). For tests: it runs the go command.
func DiscoveryDocs() (gmailDoc, calendarDoc string, err error) {
	dir := ""
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output(); err == nil {
		dir = strings.TrimSpace(string(out))
	}
	if dir == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", "", fmt.Errorf("googletest: locating google.golang.org/api: %w", err)
		}
		matches, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "google.golang.org", "api@v*"))
		if len(matches) == 0 {
			return "", "", errors.New("googletest: google.golang.org/api is not in the module cache")
		}
		sort.Strings(matches)
		dir = matches[len(matches)-1]
	}
	gmailDoc = filepath.Join(dir, "gmail", "v1", "gmail-api.json")
	calendarDoc = filepath.Join(dir, "calendar", "v3", "calendar-api.json")
	for _, p := range []string{gmailDoc, calendarDoc} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("googletest: %w", err)
		}
	}
	return gmailDoc, calendarDoc, nil
}

// CheckDiscovery turns request checking on: it loads the Gmail and Calendar
// discovery documents (either path may be empty to skip that API) and
// checks that every route the fake serves is a method of the document with
// the same HTTP method, path and scopes. From then on, requests with
// undeclared or ill-typed query parameters, or JSON bodies with unknown
// fields, are answered 400 as Google does ("Invalid JSON payload received.
// Unknown name …"), and answers that do not fit the response schema are
// recorded (DiscoveryViolations).
func (s *Server) CheckDiscovery(gmailDocPath, calendarDocPath string) error {
	d := &discovery{methods: map[string]*discMethod{}, schemas: map[string]map[string]*discSchema{}, global: map[string]map[string]*discParam{}}
	for _, p := range []string{gmailDocPath, calendarDocPath} {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("googletest: %w", err)
		}
		var doc discDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("googletest: %s: %w", p, err)
		}
		d.schemas[doc.Name] = doc.Schemas
		d.global[doc.Name] = doc.Parameters
		if _, ok := batchAPIs["/"+doc.BatchPath]; !ok {
			return fmt.Errorf("googletest: %s's batch path /%s is not served", doc.Name, doc.BatchPath)
		}
		var walk func(map[string]*discMethod, map[string]*discResource)
		walk = func(ms map[string]*discMethod, rs map[string]*discResource) {
			for _, m := range ms {
				m.api, m.full = doc.Name, doc.ServicePath+m.Path
				d.methods[m.ID] = m
			}
			for _, r := range rs {
				walk(r.Methods, r.Resources)
			}
		}
		walk(doc.Methods, doc.Resources)
	}
	var problems []string
	for _, rt := range s.api.routes {
		if rt.id == "" {
			continue
		}
		api, _, _ := strings.Cut(rt.id, ".")
		if d.schemas[api] == nil {
			continue // that document was not loaded
		}
		m := d.methods[rt.id]
		if m == nil {
			problems = append(problems, rt.id+": not in the discovery document")
			continue
		}
		want := m.full
		if rt.upload {
			if m.MediaUpload == nil {
				problems = append(problems, rt.id+": no media upload in the discovery document")
				continue
			}
			want = strings.TrimPrefix(m.MediaUpload.Protocols["simple"].Path, "/")
		}
		if got := strings.Join(rt.tmpl, "/"); got != want || rt.method != m.HTTPMethod {
			problems = append(problems, fmt.Sprintf("%s: fake serves %s %s, document says %s %s", rt.id, rt.method, got, m.HTTPMethod, want))
		}
		if got := routeScopes[rt.id]; !sameSet(got, m.Scopes) {
			problems = append(problems, fmt.Sprintf("%s: fake accepts scopes %v, document says %v", rt.id, got, m.Scopes))
		}
	}
	if len(problems) > 0 {
		return errors.New("googletest: routes differ from the discovery documents:\n" + strings.Join(problems, "\n"))
	}
	s.api.mu.Lock()
	s.api.disc = d
	s.api.mu.Unlock()
	return nil
}

// DiscoveryViolations returns the fake's own answers that did not fit the
// discovery documents' response schemas (a bug in the fake; tests of the
// fake assert none).
func (s *Server) DiscoveryViolations() []string {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	return slices.Clone(s.api.violations)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkRequest checks the query and JSON body of a request for method
// rt.id; it answers the request and returns false when they do not fit.
func (d *discovery) checkRequest(w http.ResponseWriter, r *http.Request, rt *route) bool {
	m := d.methods[rt.id]
	if m == nil || rt.upload && r.URL.Query().Has("upload_id") {
		return true // that document was not loaded, or a resumable-upload chunk
	}
	for name, vals := range r.URL.Query() {
		p := m.Parameters[name]
		if p == nil || p.Location != "query" {
			p = d.global[m.api][name]
		}
		if p == nil {
			if slices.Contains(standardParams, name) {
				continue
			}
			badRequestField(w, "", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field '%s' could not be found in request message.", name, name))
			return false
		}
		if len(vals) > 1 && !p.Repeated {
			badRequestField(w, name, fmt.Sprintf("Invalid JSON payload received. Repeated values for non-repeated field %q.", name))
			return false
		}
		for _, v := range vals {
			if msg := checkParamValue(name, p, v); msg != "" {
				badRequestField(w, name, msg)
				return false
			}
		}
	}
	for name, p := range m.Parameters {
		if p.Required && p.Location == "query" && !r.URL.Query().Has(name) {
			badRequestField(w, name, "Required parameter: "+name)
			return false
		}
	}
	if m.Request == nil || r.Body == nil || rt.upload {
		return true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		WriteAPIError(w, 400, "Failed to read the request body.", "badRequest")
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
		return false
	}
	if msg := d.checkBody(m.api, m.Request, v, ""); msg != "" {
		badRequestField(w, "", "Invalid JSON payload received. "+msg)
		return false
	}
	return true
}

func checkParamValue(name string, p *discParam, v string) string {
	switch p.Type {
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		typ := "TYPE_INT32"
		if p.Format == "uint32" {
			typ = "TYPE_UINT32"
		}
		if err != nil || typ == "TYPE_UINT32" && n < 0 {
			return fmt.Sprintf("Invalid value at '%s' (%s), %q", snakeCase(name), typ, v)
		}
	case "boolean":
		if v != "true" && v != "false" {
			return fmt.Sprintf("Invalid value at '%s' (TYPE_BOOL), %q", snakeCase(name), v)
		}
	}
	if len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e string) bool { return strings.EqualFold(e, v) }) {
		return fmt.Sprintf("Invalid value at '%s' (TYPE_ENUM), %q", snakeCase(name), v)
	}
	return ""
}

func (d *discovery) resolve(api string, sc *discSchema) *discSchema {
	for sc != nil && sc.Ref != "" {
		sc = d.schemas[api][sc.Ref]
	}
	return sc
}

// checkBody reports the first field of a request body the schema lacks.
func (d *discovery) checkBody(api string, sc *discSchema, v any, at string) string {
	sc = d.resolve(api, sc)
	if sc == nil {
		return ""
	}
	switch x := v.(type) {
	case map[string]any:
		if sc.Properties == nil {
			return ""
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := sc.Properties[k]
			if p == nil {
				if at == "" {
					return fmt.Sprintf("Unknown name %q: Cannot find field.", k)
				}
				return fmt.Sprintf("Unknown name %q at '%s': Cannot find field.", k, at)
			}
			if msg := d.checkBody(api, p, x[k], joinPath(at, k)); msg != "" {
				return msg
			}
		}
	case []any:
		for i, e := range x {
			if msg := d.checkBody(api, sc.Items, e, fmt.Sprintf("%s[%d]", at, i)); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func joinPath(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// checkResponse lists where an answer does not fit the method's response
// schema: unknown fields and values of the wrong JSON type (int64 and
// uint64 fields are strings in Google's JSON).
func (d *discovery) checkResponse(id string, body []byte) []string {
	m := d.methods[id]
	if m == nil || m.Response == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{id + ": answer is not JSON: " + err.Error()}
	}
	var out []string
	d.walkResponse(m.api, m.Response, v, id+": ", &out)
	return out
}

func (d *discovery) walkResponse(api string, sc *discSchema, v any, at string, out *[]string) {
	sc = d.resolve(api, sc)
	if sc == nil {
		return
	}
	bad := func(want string) {
		*out = append(*out, fmt.Sprintf("%s is %T, schema says %s", strings.TrimSuffix(at, "."), v, want))
	}
	switch sc.Type {
	case "string":
		if _, ok := v.(string); !ok {
			bad("string " + sc.Format)
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			bad(sc.Type)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("boolean")
		}
	case "array":
		x, ok := v.([]any)
		if !ok {
			bad("array")
			return
		}
		for i, e := range x {
			d.walkResponse(api, sc.Items, e, fmt.Sprintf("%s[%d].", strings.TrimSuffix(at, "."), i), out)
		}
	case "object", "":
		x, ok := v.(map[string]any)
		if !ok {
			bad("object")
			return
		}
		for k, e := range x {
			p := sc.Properties[k]
			if p == nil {
				p = sc.AdditionalProperties
			}
			if p == nil {
				*out = append(*out, fmt.Sprintf("%s%s: no such field in the schema", at, k))
				continue
			}
			d.walkResponse(api, p, e, at+k+".", out)
		}
	}
}
