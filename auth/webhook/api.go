package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/auth/tenant"
)

// API serves GET, PUT and DELETE /api/webhook for the request's tenant
// (every request must already carry it: tenant.Require). Store is nil when
// the deployment's store keeps no webhooks (the keyring): every request is
// then refused, saying why.
type API struct {
	Store         store.Webhooks
	Sealer        grants.Sealer
	AllowLoopback bool
	Log           *slog.Logger
	// Lookup resolves a host name (nil: the system resolver).
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

	now func() time.Time // nil: time.Now (tests move it)
}

const maxBody = 4 << 10

// SecretOverlap is how long the secret a PUT replaces keeps signing
// deliveries beside the new one: a receiver has that long to deploy the
// new secret before deliveries signed with the old one alone stop.
const SecretOverlap = 24 * time.Hour

func (a *API) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// Handler returns the routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/webhook", a.get)
	mux.HandleFunc("PUT /api/webhook", a.put)
	mux.HandleFunc("DELETE /api/webhook", a.delete)
	mux.HandleFunc("/api/webhook", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, PUT, DELETE")
		tenant.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET, PUT or DELETE /api/webhook")
	})
	return mux
}

// view is what GET answers, and PUT with the secret.
type view struct {
	URL       string `json:"url"`
	CreatedAt string `json:"created_at"`
	Secret    string `json:"secret,omitempty"`
	// PreviousSecretUntil is when the secret the current one replaced
	// stops signing (absent when it no longer does). Never the secret.
	PreviousSecretUntil string `json:"previous_secret_until,omitempty"`
	Note                string `json:"note,omitempty"`
}

// viewOf is what GET answers of wh at now.
func viewOf(wh store.Webhook, now time.Time) view {
	v := view{URL: wh.URL, CreatedAt: wh.CreatedAt.UTC().Format(time.RFC3339)}
	if len(wh.PreviousSecret) != 0 && now.Before(wh.PreviousUntil) {
		v.PreviousSecretUntil = wh.PreviousUntil.UTC().Format(time.RFC3339)
	}
	return v
}

func (a *API) tenantOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		tenant.WriteError(w, http.StatusUnauthorized, "unauthorized", "no tenant on this request")
		return "", false
	}
	if a.Store == nil {
		tenant.WriteError(w, http.StatusNotImplemented, "not_available", "webhooks need the database store (MAILCAL_DATABASE_URL); this deployment uses the keyring")
		return "", false
	}
	return t, true
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	t, ok := a.tenantOf(w, r)
	if !ok {
		return
	}
	wh, err := a.Store.GetWebhook(r.Context(), t)
	if err != nil {
		a.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(wh, a.clock()))
}

// put sets the URL and, unless keep_secret, makes a new signing secret
// (every PUT did before keep_secret existed, and the README promises it):
// the secret it replaces keeps signing for SecretOverlap. With
// keep_secret, only the URL changes.
func (a *API) put(w http.ResponseWriter, r *http.Request) {
	t, ok := a.tenantOf(w, r)
	if !ok {
		return
	}
	var body struct {
		URL        string `json:"url"`
		KeepSecret bool   `json:"keep_secret"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tenant.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", maxBody))
			return
		}
		tenant.WriteError(w, http.StatusBadRequest, "invalid_request", `the body must be {"url": "https://…"}, optionally with "keep_secret": true, and nothing else`)
		return
	}
	u, err := ParseURL(body.URL, a.AllowLoopback)
	if err == nil {
		err = CheckResolved(r.Context(), u, a.AllowLoopback, a.Lookup)
	}
	if err != nil {
		tenant.WriteError(w, http.StatusBadRequest, "invalid_url", err.Error())
		return
	}
	cur, err := a.Store.GetWebhook(r.Context(), t)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.storeError(w, err)
		return
	}
	now := a.clock().UTC().Truncate(time.Second)
	if body.KeepSecret {
		if !exists {
			tenant.WriteError(w, http.StatusConflict, "conflict", `keep_secret: this tenant has no webhook, so no secret to keep; PUT without "keep_secret" to make one`)
			return
		}
		cur.URL, cur.CreatedAt = u.String(), now
		if !now.Before(cur.PreviousUntil) { // its overlap is over: forget it
			cur.PreviousSecret, cur.PreviousUntil = nil, time.Time{}
		}
		if err := a.Store.PutWebhook(r.Context(), cur); err != nil {
			a.storeError(w, err)
			return
		}
		v := viewOf(cur, now)
		v.Note = "the signing secret is unchanged"
		writeJSON(w, http.StatusOK, v)
		return
	}
	secret, err := NewSecret()
	if err != nil {
		a.storeError(w, err)
		return
	}
	sealed, err := a.Sealer.Seal(r.Context(), secretKey(t), []byte(secret))
	if err != nil {
		a.storeError(w, err)
		return
	}
	wh := store.Webhook{Tenant: t, URL: u.String(), Secret: sealed, CreatedAt: now}
	note := "the signing secret is shown this once; PUT again to replace it (with \"keep_secret\": true to change only the URL)"
	if exists {
		// Sealed under the same key, it needs no opening to be kept.
		wh.PreviousSecret, wh.PreviousUntil = cur.Secret, now.Add(SecretOverlap)
		note = "the signing secret is shown this once; deliveries are also signed with the previous one until previous_secret_until; PUT again to replace it (with \"keep_secret\": true to change only the URL)"
	}
	if err := a.Store.PutWebhook(r.Context(), wh); err != nil {
		a.storeError(w, err)
		return
	}
	v := viewOf(wh, now)
	v.Secret, v.Note = secret, note
	writeJSON(w, http.StatusOK, v)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	t, ok := a.tenantOf(w, r)
	if !ok {
		return
	}
	if err := a.Store.DeleteWebhook(r.Context(), t); err != nil {
		a.storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		tenant.WriteError(w, http.StatusNotFound, "not_found", "this tenant has no webhook; PUT /api/webhook {\"url\": …} to set one")
		return
	}
	if a.Log != nil {
		a.Log.Error("webhook API", "err", err)
	}
	tenant.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the webhook could not be read or saved; try again")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
