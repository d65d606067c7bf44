package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOriginGuard(t *testing.T) {
	origins, err := allowedOrigins("https://mail.example.com", "https://app.example.com, http://localhost:3000")
	if err != nil {
		t.Fatal(err)
	}
	h := originGuard(origins, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for origin, want := range map[string]int{
		"":                           200, // not a browser
		"http://localhost:6274":      200, // a local tool such as the Inspector's web UI
		"http://127.0.0.1:9":         200,
		"https://mail.example.com":   200, // MAILCAL_BASE_URL
		"https://app.example.com":    200, // listed
		"http://app.example.com":     403, // other scheme
		"https://evil.example":       403,
		"null":                       403,
		"https://mail.example.com.x": 403,
	} {
		req := httptest.NewRequest("POST", "http://mail.example.com/mcp", nil)
		req.Host = "mcp.internal:8080"
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Origin %q: %d, want %d", origin, rec.Code, want)
		}
	}
	// Same origin as the request itself.
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Host = "mcp.internal:8080"
	req.Header.Set("Origin", "https://mcp.internal:8080")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("same origin: %d", rec.Code)
	}
	if _, err := allowedOrigins("", "app.example.com"); err == nil {
		t.Error("an origin without scheme was accepted")
	}
}

func TestCleanPath(t *testing.T) {
	h := cleanPath(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for p, want := range map[string]int{
		"/mcp":                             200,
		"/api/":                            200,
		"/api/integrations/google/a%2Fb@x": 200, // an escaped slash is the handler's to refuse
		"/api/integrations/google/../../tenant/acme": 400,
		"/api/./integrations":                        400,
		"/api//integrations":                         400,
		"/api/integrations/google/%2e%2e":            400,
	} {
		req := httptest.NewRequest("DELETE", "http://127.0.0.1"+p, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", p, rec.Code, want)
		}
	}
}
