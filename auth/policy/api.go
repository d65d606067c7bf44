package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// API serves GET and PUT /api/policy for the request's tenant (every
// request must already carry it: tenant.Require).
type API struct {
	Store *Store
}

// maxBody bounds a PUT body.
const maxBody = 16 << 10

// Handler returns the routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/policy", a.get)
	mux.HandleFunc("PUT /api/policy", a.put)
	mux.HandleFunc("/api/policy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, PUT")
		tenant.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET /api/policy or PUT /api/policy")
	})
	return mux
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		tenant.WriteError(w, http.StatusUnauthorized, "unauthorized", "no tenant on this request")
		return
	}
	p, err := a.Store.Read(r.Context(), t)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// change is a PUT body: the fields given replace the stored ones; version,
// when given, must be the stored one (a compare-and-set; 409 otherwise).
type change struct {
	RecipientAllowlist *[]string `json:"recipient_allowlist"`
	MaxSendsPerDay     *int      `json:"max_sends_per_day"`
	MaxRecipients      *int      `json:"max_recipients"`
	DraftsOnly         *bool     `json:"drafts_only"`
	ConfirmSends       *string   `json:"confirm_sends"`
	AllowedSignins     *[]string `json:"allowed_signins"`
	SharedAccounts     *bool     `json:"shared_accounts"`
	Version            *int64    `json:"version"`
	UpdatedAt          any       `json:"updated_at"` // what GET answered; ignored
}

func (a *API) put(w http.ResponseWriter, r *http.Request) {
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		tenant.WriteError(w, http.StatusUnauthorized, "unauthorized", "no tenant on this request")
		return
	}
	var c change
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tenant.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", maxBody))
			return
		}
		tenant.WriteError(w, http.StatusBadRequest, "invalid_request", "the body is not a JSON policy object: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		tenant.WriteError(w, http.StatusBadRequest, "invalid_request", "the body holds more than one JSON value")
		return
	}
	cur, err := a.Store.Read(r.Context(), t)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if c.Version != nil && *c.Version != cur.Version {
		tenant.WriteError(w, http.StatusConflict, "conflict", fmt.Sprintf("version: the stored policy is at version %d, not %d; GET it again and apply your change to it", cur.Version, *c.Version))
		return
	}
	apply(&cur, c)
	if err := cur.Normalize(); err != nil {
		tenant.WriteError(w, http.StatusBadRequest, "invalid_policy", err.Error())
		return
	}
	p, err := a.Store.Put(r.Context(), t, cur)
	switch {
	case errors.Is(err, store.ErrConflict):
		tenant.WriteError(w, http.StatusConflict, "conflict", "the policy changed while it was being saved; GET it again and retry")
	case err != nil:
		a.storeError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func apply(p *Policy, c change) {
	if c.RecipientAllowlist != nil {
		p.RecipientAllowlist = *c.RecipientAllowlist
	}
	if c.MaxSendsPerDay != nil {
		p.MaxSendsPerDay = *c.MaxSendsPerDay
	}
	if c.MaxRecipients != nil {
		p.MaxRecipients = *c.MaxRecipients
	}
	if c.DraftsOnly != nil {
		p.DraftsOnly = *c.DraftsOnly
	}
	if c.ConfirmSends != nil {
		p.ConfirmSends = *c.ConfirmSends
	}
	if c.AllowedSignins != nil {
		p.AllowedSignins = *c.AllowedSignins
	}
	if c.SharedAccounts != nil {
		p.SharedAccounts = *c.SharedAccounts
	}
}

func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "policy API: store failed", "err", err)
	tenant.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "the policy store did not answer; try again in a little while")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
