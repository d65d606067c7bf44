package googletest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mailcal/mailcal/providers/oauthtest"
)

// Authorize is CheckAccess for API handlers: it answers the request itself
// with Google's API errors, 401 UNAUTHENTICATED for a bad token and 403
// PERMISSION_DENIED when the token has none of anyOf (the scopes that
// authorize the method, as listed in the discovery document).
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request, anyOf ...string) (email string, ok bool) {
	email, _, ok = s.authorize(w, r, anyOf)
	return email, ok
}

// authorize is Authorize that also returns the token's scopes.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, anyOf []string) (email string, scopes []string, ok bool) {
	email, scopes, ok = s.CheckAccess(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", oauthtest.BearerChallenge(realm, "invalid_token", ""))
		WriteAPIError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "authError")
		return "", nil, false
	}
	if len(anyOf) > 0 && !slices.ContainsFunc(anyOf, func(sc string) bool { return slices.Contains(scopes, sc) }) {
		w.Header().Set("WWW-Authenticate", oauthtest.BearerChallenge(realm, "insufficient_scope", strings.Join(anyOf, " ")))
		WriteAPIError(w, http.StatusForbidden, "Request had insufficient authentication scopes.", "insufficientPermissions")
		return "", nil, false
	}
	return email, scopes, true
}

// apiErrorItem is an entry of the errors list of Google's API errors.
type apiErrorItem struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

// apiStatus is the google.rpc status of each HTTP status the fake answers.
var apiStatus = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

// WriteAPIError answers with Google's JSON API error:
// {"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}.
func WriteAPIError(w http.ResponseWriter, code int, message, reason string) {
	status := apiStatus[code]
	if status == "" {
		status = "UNKNOWN"
	}
	it := apiErrorItem{Message: message, Domain: "global", Reason: reason}
	if code == http.StatusUnauthorized {
		it.Message, it.Location, it.LocationType = "Invalid Credentials", "Authorization", "header"
	}
	if code == http.StatusForbidden && reason == "insufficientPermissions" {
		it.Message = "Insufficient Permission"
	}
	writeAPIErrorBody(w, code, status, message, it, nil)
}

// writeAPIErrorDetails is WriteAPIError with an explicit status string and
// optional details (google.rpc error details).
func writeAPIErrorDetails(w http.ResponseWriter, code int, status, message, reason string, details []any) {
	writeAPIErrorBody(w, code, status, message, apiErrorItem{Message: message, Domain: "global", Reason: reason}, details)
}

func writeAPIErrorBody(w http.ResponseWriter, code int, status, message string, it apiErrorItem, details []any) {
	e := map[string]any{"code": code, "message": message, "errors": []apiErrorItem{it}, "status": status}
	if len(details) > 0 {
		e["details"] = details
	}
	oauthtest.WriteJSON(w, code, map[string]any{"error": e})
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
