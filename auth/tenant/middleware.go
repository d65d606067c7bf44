package tenant

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// KeyFromRequest returns the API key of a request: `Authorization: Bearer KEY`
// or `X-API-Key: KEY`.
func KeyFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// Require authenticates every request by its API key and puts the tenant in
// its context. A request without a valid key gets 401 and a JSON error, and
// goes no further; once its source address sent too many wrong keys, 429
// with Retry-After (see Authenticator).
func Require(a *Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := KeyFromRequest(r)
		if key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mailcal"`)
			WriteError(w, http.StatusUnauthorized, "unauthorized",
				"missing API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY` (create a key with `mailcal tenant add NAME`)")
			return
		}
		name, ok, err := a.AuthenticateFrom(r.Context(), key, Source(r))
		var limited *RateLimitError
		if errors.As(err, &limited) {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(limited.RetryAfter.Seconds()))))
			WriteError(w, http.StatusTooManyRequests, "too_many_wrong_keys", limited.Error())
			return
		}
		if err != nil {
			WriteError(w, http.StatusServiceUnavailable, "keyring_unavailable",
				"the tenant store cannot be read right now; see the server log")
			return
		}
		if !ok {
			slog.InfoContext(r.Context(), "rejected request with an unknown API key", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="mailcal", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, "unauthorized", "invalid API key")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithName(r.Context(), name)))
	})
}

// WriteError answers {"error":{"code":..,"message":..}} with the given status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
