// Package integrations serves the connection REST API of an http
// deployment: list a tenant's connected accounts, start a connection,
// finish it with a code, and disconnect.
package integrations

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
)

// API is the /api/integrations handler. Every request must already carry
// its tenant (tenant.Require).
type API struct {
	Flows     *oauth.Flows
	Grants    *grants.Store
	Providers *providers.Registry
	// RedirectURI is BaseURL + /oauth/callback.
	RedirectURI string
	// ReadOnly: the server serves only tools that change nothing, so a
	// connection asks for read scopes unless told otherwise.
	ReadOnly bool
}

// maxBody bounds JSON request bodies.
const maxBody = 16 << 10

// Handler returns the routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/integrations", a.list)
	mux.HandleFunc("GET /api/integrations/{provider}/authorize", a.authorize)
	mux.HandleFunc("POST /api/integrations/{provider}/connect", a.connect)
	mux.HandleFunc("DELETE /api/integrations/{provider}/{account}", a.disconnect)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: see GET /api/integrations, GET /api/integrations/{provider}/authorize, POST /api/integrations/{provider}/connect, DELETE /api/integrations/{provider}/{account}")
	})
	return mux
}

// Integration is one connected account as the API shows it.
type Integration struct {
	Provider    string   `json:"provider"`
	Account     string   `json:"account"`
	Connected   bool     `json:"connected"`
	ConnectedAt string   `json:"connected_at"`
	Status      string   `json:"status"`
	Scopes      []string `json:"scopes"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "no tenant")
		return
	}
	gs, err := a.Grants.List(r.Context(), t)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the accounts could not be read: "+err.Error())
		return
	}
	out := make([]Integration, 0, len(gs))
	for _, g := range gs {
		out = append(out, Integration{
			Provider: g.Provider, Account: g.Account, Connected: g.Status == grants.StatusActive,
			ConnectedAt: g.ConnectedAt.UTC().Format(time.RFC3339), Status: g.Status, Scopes: g.Scopes,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": out})
}

func (a *API) authorize(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	name := r.PathValue("provider")
	_, limit, err := a.Providers.Resolve(name)
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown_provider", err.Error())
		return
	}
	q := r.URL.Query()
	scopes, err := providers.ParseScopes(q.Get("scopes"), limit, a.ReadOnly)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_scopes", "scopes: "+err.Error())
		return
	}
	flow, err := a.Flows.Begin(r.Context(), oauth.Request{Tenant: t, Provider: name, Scopes: scopes, LoginHint: q.Get("login_hint"), RedirectURI: a.RedirectURI})
	if err != nil {
		status, code := http.StatusBadRequest, "invalid_request"
		if errors.Is(err, providers.ErrNotConfigured) {
			status, code = http.StatusServiceUnavailable, "provider_not_configured"
		}
		writeError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_url": flow.URL, "state": flow.State, "expires_at": flow.Expires.UTC().Format(time.RFC3339),
	})
}

func (a *API) connect(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	if _, _, err := a.Providers.Resolve(r.PathValue("provider")); err != nil {
		writeError(w, http.StatusNotFound, "unknown_provider", err.Error())
		return
	}
	var body struct {
		AuthCode string `json:"auth_code"`
		State    string `json:"state"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	switch {
	case body.AuthCode == "":
		writeError(w, http.StatusBadRequest, "invalid_request", `"auth_code" is required: the code the provider sent to the redirect URI`)
		return
	case body.State == "":
		writeError(w, http.StatusBadRequest, "invalid_request", `"state" is required: the state returned by GET /api/integrations/{provider}/authorize`)
		return
	}
	res := a.Flows.Complete(r.Context(), body.State, t, body.AuthCode)
	if res.Err != nil {
		switch {
		case errors.Is(res.Err, oauth.ErrUnknownState), errors.Is(res.Err, oauth.ErrExpiredState):
			writeError(w, http.StatusBadRequest, "invalid_state", res.Err.Error())
		case errors.Is(res.Err, oauth.ErrBadCode):
			writeError(w, http.StatusBadRequest, "invalid_code", res.Err.Error())
		default:
			var oe *oauth.OAuthError
			if errors.As(res.Err, &oe) && oe.Code == "invalid_grant" {
				writeError(w, http.StatusBadRequest, "invalid_code", res.Err.Error())
				return
			}
			writeError(w, http.StatusBadGateway, "provider_error", res.Err.Error())
		}
		return
	}
	out := map[string]any{"success": true, "status": "connected", "account": res.Grant.Account, "provider": res.Grant.Provider, "scopes": res.Grant.Scopes}
	if len(res.Missing) > 0 {
		out["missing_scopes"] = res.Missing
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) disconnect(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	p, _, err := a.Providers.Resolve(r.PathValue("provider"))
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown_provider", err.Error())
		return
	}
	// An account is a key of the store: a name it could not hold (a path,
	// a control character) is the caller's mistake, not a store failure.
	account := r.PathValue("account")
	key := store.GrantKey{Tenant: t, Provider: p.Name, Account: strings.ToLower(account)}
	if !providers.PlausibleEmail(account) || store.ValidGrantKey(key) != nil {
		writeError(w, http.StatusBadRequest, "invalid_account", "the account must be an email address, as GET /api/integrations lists it")
		return
	}
	d, err := a.Flows.Disconnect(r.Context(), t, p.Name, account)
	if errors.Is(err, grants.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no %s account %q is connected", p.Name, account))
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the account could not be deleted; see the server log")
		return
	}
	out := map[string]any{"success": true, "revoked": d.Revoked}
	if !d.Revoked {
		out["warning"] = "deleted from mailcal, but not revoked at the provider: " + d.RevokeErr.Error()
		if d.RevokeHelp != "" && !errors.Is(d.RevokeErr, oauth.ErrSharedGrant) {
			out["revoke_by_hand"] = d.RevokeHelp
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeJSON reads one bounded JSON object, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body larger than %d bytes", maxBody)
		}
		return fmt.Errorf("body must be a JSON object {\"auth_code\",\"state\"}: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("body must hold one JSON object only")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	tenant.WriteError(w, status, code, msg)
}
