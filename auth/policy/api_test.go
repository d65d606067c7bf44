package policy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/auth/store/memory"
	"github.com/mailcal/mailcal/auth/tenant"
)

func TestAPI(t *testing.T) {
	s := New(memory.New(), nil)
	h := (&API{Store: s}).Handler()
	do := func(method, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, "/api/policy", strings.NewReader(body))
		req = req.WithContext(tenant.WithName(req.Context(), "acme"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: not JSON: %s", method, rec.Body)
		}
		return rec.Code, out
	}
	code, p := do("GET", "")
	if code != 200 || p["version"] != 0.0 || p["confirm_sends"] != "off" {
		t.Fatalf("GET of no policy = %d %v", code, p)
	}
	code, p = do("PUT", `{"recipient_allowlist":["*@Corp.com"],"max_sends_per_day":5}`)
	if code != 200 || p["version"] != 1.0 || p["recipient_allowlist"].([]any)[0] != "*@corp.com" {
		t.Fatalf("PUT = %d %v", code, p)
	}
	code, p = do("PUT", `{"drafts_only":true,"version":1}`)
	if code != 200 || p["max_sends_per_day"] != 5.0 || p["drafts_only"] != true {
		t.Fatalf("PUT of one field at its version = %d %v; want the others kept", code, p)
	}
	if got, _ := s.Get(t.Context(), "acme"); !got.DraftsOnly {
		t.Error("the API's write is not seen by Get at once")
	}
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"drafts_only":false,"version":1}`, 409, "version"},
		{`{"max_recipients":-2}`, 400, "max_recipients"},
		{`{"recipient_allowlist":["a@b.com","bad"]}`, 400, "recipient_allowlist[1]"},
		{`{"confirm_sends":"sometimes"}`, 400, "confirm_sends"},
		{`{"max_send_per_day":3}`, 400, "max_send_per_day"},
		{`{"drafts_only":false} {}`, 400, "more than one"},
		{`{"recipient_allowlist":["` + strings.Repeat("a", 20000) + `@b.com"]}`, 413, "over"},
	} {
		code, out := do("PUT", c.body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("PUT %.60s = %d %q; want %d naming %q", c.body, code, msg, c.code, c.want)
		}
	}
	if code, p = do("GET", ""); p["version"] != 2.0 || p["drafts_only"] != true {
		t.Errorf("refused PUTs changed the policy: %d %v", code, p)
	}
	if code, _ := do("DELETE", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE = %d", code)
	}
}
