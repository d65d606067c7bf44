package mcpauth

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/mailcal/mailcal/auth/store"
)

// authMethods are the client authentications /token and /revoke take.
var authMethods = []string{"none", "client_secret_post", "client_secret_basic"}

// asMetadata is the authorization server's metadata (RFC 8414).
type asMetadata struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	RegistrationEndpoint                   string   `json:"registration_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	ResponseModesSupported                 []string `json:"response_modes_supported"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported          []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                        []string `json:"scopes_supported"`
	ClientIDMetadataDocumentSupported      bool     `json:"client_id_metadata_document_supported"`
	AuthorizationResponseIssParameter      bool     `json:"authorization_response_iss_parameter_supported"`
}

// prMetadata is a protected resource's metadata (RFC 9728).
type prMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name"`
}

func (s *Server) serveASMetadata(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, asMetadata{
		Issuer:                                 s.base,
		AuthorizationEndpoint:                  s.base + "/authorize",
		TokenEndpoint:                          s.base + "/token",
		RegistrationEndpoint:                   s.base + "/register",
		RevocationEndpoint:                     s.base + "/revoke",
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query"},
		GrantTypesSupported:                    []string{"authorization_code", "refresh_token"},
		CodeChallengeMethodsSupported:          []string{"S256"},
		TokenEndpointAuthMethodsSupported:      authMethods,
		RevocationEndpointAuthMethodsSupported: authMethods,
		ScopesSupported:                        []string{Scope},
		ClientIDMetadataDocumentSupported:      true,
		AuthorizationResponseIssParameter:      true,
	}, true)
}

// servePRM answers a tenant's protected-resource metadata; 404 for a
// tenant that does not exist.
func (s *Server) servePRM(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	t := r.PathValue("tenant")
	ok := store.ValidTenant(t) == nil
	if ok {
		var err error
		if ok, err = s.cfg.TenantExists(r.Context(), t); err != nil {
			slog.WarnContext(r.Context(), "protected-resource metadata: reading the tenant failed", "err", err)
			writeOAuthError(w, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the workspace could not be read; try again shortly"})
			return
		}
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such workspace: check the MCP URL your administrator gave you"}, false)
		return
	}
	writeJSON(w, http.StatusOK, prMetadata{
		Resource:               s.Resource(t),
		AuthorizationServers:   []string{s.base},
		ScopesSupported:        []string{Scope},
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "mailcal (" + t + ")",
	}, true)
}

// getOnly answers 405 to anything but GET and HEAD.
func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD, OPTIONS")
	writeOAuthError(w, &Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "this endpoint takes GET"})
	return false
}

// writeJSON answers v; cacheable metadata may be kept an hour, anything
// else is no-store.
func writeJSON(w http.ResponseWriter, status int, v any, cacheable bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if cacheable {
		h.Set("Cache-Control", "public, max-age=3600")
	} else {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeOAuthError answers an error per RFC 6749 section 5.2.
func writeOAuthError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": e.Code, "error_description": safeDesc(e.Description)}, false)
}
