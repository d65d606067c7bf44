package mcpauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/providers"
)

// refusedError is the admission check's refusal: the account is not in
// the tenant's allowed_signins (nobody: the list is empty).
type refusedError struct {
	account string
	nobody  bool
}

func (e *refusedError) Error() string { return e.account + " may not sign in to this workspace" }

// Callback wraps the provider's callback (/oauth/callback): a sign-in's
// callback (its state names a request /authorize stored) finishes here,
// any other goes to next (oauth.CallbackHandler).
func (s *Server) Callback(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := r.URL.Query().Get("state")
		if r.Method != http.MethodGet || state == "" || len(state) > 256 {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		req, err := s.cfg.Store.GetOAuthToken(ctx, store.FlowID(state))
		cancel()
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && req.Kind != store.OAuthRequest):
			next.ServeHTTP(w, r)
		case err != nil:
			// Never hand a possible sign-in to next: it would connect the
			// account without the allowed_signins check.
			slog.WarnContext(r.Context(), "sign-in callback: reading the request failed", "err", err)
			errorPage(w, http.StatusServiceUnavailable, "mailcal could not read this sign-in right now.", "Go back to your app and sign in again in a minute.")
		default:
			s.finishSignin(w, r, state, req)
		}
	})
}

// finishSignin completes the upstream flow (the account checked against
// allowed_signins before its grant is written) and hands the client its
// code.
func (s *Server) finishSignin(w http.ResponseWriter, r *http.Request, state string, req store.OAuthToken) {
	ctx := r.Context()
	if !req.SpentAt.IsZero() || !s.now().Before(req.ExpiresAt) {
		errorPage(w, http.StatusBadRequest, "This sign-in was already used or took longer than 10 minutes.", "Go back to your app and sign in again.")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		if err := s.cfg.Flows.Deny(ctx, state, req.Tenant, e); !errors.Is(err, oauth.ErrDenied) {
			// Another callback of this state took the flow (or it expired):
			// that one answers the client.
			errorPage(w, http.StatusBadRequest, "This sign-in was already used or took longer than 10 minutes.", "Go back to your app and sign in again.")
			return
		}
		s.spendRequest(ctx, req)
		s.observe("signin", "denied")
		s.redirectError(w, r, req.RedirectURI, req.State, &Error{Code: "access_denied",
			Description: "access was not granted at " + s.cfg.Providers.Title(req.Provider) + " (" + providers.SafeCode(e) + "), so nobody signed in"})
		return
	}
	res := s.cfg.Flows.CompleteChecked(ctx, state, req.Tenant, q.Get("code"), s.admit)
	var refused *refusedError
	switch {
	case errors.As(res.Err, &refused):
		s.spendRequest(ctx, req)
		slog.WarnContext(ctx, "sign-in refused: not in allowed_signins", "tenant", req.Tenant, "account", refused.account)
		s.observe("signin", "refused")
		pg := page{
			Title: "Not allowed to sign in", Class: "err",
			Paragraphs: []string{
				"You signed in as " + refused.account + ", who may not use mailcal in the workspace " + req.Tenant + ". Nothing was connected.",
				"The workspace's administrator decides who may sign in. If you should have access, ask them to add your address (or your whole domain, *@example.com) to the list of allowed sign-ins. The list is replaced as a whole, so they name everyone already on it too (mailcal policy show --tenant " + req.Tenant + " lists them):",
			},
			Command: "mailcal policy set --tenant " + req.Tenant + " --allowed-signins 'CURRENT-LIST," + refused.account + "'",
		}
		if refused.nobody {
			pg.Paragraphs[1] = "Nobody may sign in to this workspace yet: its administrator has not said who may. If you should have access, ask them to allow your address (or your whole domain, *@example.com):"
			pg.Command = "mailcal policy set --tenant " + req.Tenant + " --allowed-signins '" + refused.account + "'"
		}
		writePage(w, http.StatusForbidden, pg)
		return
	case errors.Is(res.Err, oauth.ErrUnknownState) || errors.Is(res.Err, oauth.ErrExpiredState):
		// Unknown: another callback of this state (a double click) took the
		// flow and finishes the sign-in; leave its request to it.
		errorPage(w, http.StatusBadRequest, res.Err.Error(), "Go back to your app and sign in again.")
		return
	case res.Err != nil:
		s.spendRequest(ctx, req)
		s.observe("signin", "failed")
		s.redirectError(w, r, req.RedirectURI, req.State, &Error{Code: "server_error", Description: "signing in with the mail provider failed: " + res.Err.Error()})
		return
	}
	if _, first, err := s.cfg.Store.SpendOAuthToken(ctx, req.Hash, s.now()); err != nil || !first {
		if err != nil {
			slog.ErrorContext(ctx, "sign-in callback: spending the request failed", "err", err)
		}
		errorPage(w, http.StatusBadRequest, "This sign-in was already used.", "Go back to your app and sign in again.")
		return
	}
	code, err := s.issueCode(ctx, req, res.Grant.Provider, res.Grant.Account)
	if err != nil {
		slog.ErrorContext(ctx, "sign-in callback: storing the code failed", "tenant", req.Tenant, "err", err)
		s.observe("signin", "failed")
		s.redirectError(w, r, req.RedirectURI, req.State, &Error{Code: "server_error", Description: "the sign-in could not be stored; sign in again shortly"})
		return
	}
	s.observe("signin", "ok")
	slog.InfoContext(ctx, "signed in", "tenant", req.Tenant, "provider", res.Grant.Provider, "account", res.Grant.Account, "client", clip(req.Client, 100), "family", fam(req.Family))
	params := url.Values{"code": {code}}
	if req.State != "" {
		params.Set("state", req.State)
	}
	s.redirectBack(w, r, req.RedirectURI, params)
}

// admit lets in the accounts of the tenant's allowed_signins (empty:
// nobody).
func (s *Server) admit(ctx context.Context, fs store.FlowState, account string) error {
	p, err := s.cfg.Policies.Read(ctx, fs.Tenant)
	if err != nil {
		return fmt.Errorf("reading the workspace's policy: %w", err)
	}
	if !p.SigninAllowed(account) {
		return &refusedError{account: account, nobody: len(p.AllowedSignins) == 0}
	}
	return nil
}

// spendRequest marks a request used, so that its state cannot finish a
// sign-in again.
func (s *Server) spendRequest(ctx context.Context, req store.OAuthToken) {
	if _, _, err := s.cfg.Store.SpendOAuthToken(ctx, req.Hash, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		slog.WarnContext(ctx, "sign-in callback: spending the request failed", "err", err)
	}
}

// issueCode stores an authorization code bound to the request and the
// account that signed in, and returns it.
func (s *Server) issueCode(ctx context.Context, req store.OAuthToken, provider, account string) (string, error) {
	code := newToken(CodePrefix)
	now := s.now()
	err := s.cfg.Store.PutOAuthToken(ctx, store.OAuthToken{
		Hash: hashToken(code), Kind: store.OAuthCode, Family: req.Family, Tenant: req.Tenant, Provider: provider,
		Account: account, Client: req.Client, Resource: req.Resource, Scopes: []string{Scope},
		RedirectURI: req.RedirectURI, Challenge: req.Challenge, CreatedAt: now.UTC(), ExpiresAt: now.Add(CodeTTL).UTC(),
	})
	if err != nil {
		return "", err
	}
	return code, nil
}
