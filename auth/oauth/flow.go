// Package oauth runs mailcal's OAuth 2.0 authorization-code flow (PKCE S256,
// a random single-use state bound to its tenant) over any provider of the
// registry, keeping waiting flows in the store (so that any process, or any
// replica, can complete them) and the resulting grants in the grant store.
// It also ends connections: revoking upstream where the provider can, and
// forgetting a tenant's accounts.
package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/store"
	"github.com/mailcal/mailcal/providers"
)

// StateTTL is how long an authorization may take from URL to callback.
const StateTTL = 10 * time.Minute

// maxPendingPerTenant bounds the flows one tenant may have waiting: a
// tenant at its limit loses its oldest flow rather than being locked out of
// connecting for 10 minutes.
const maxPendingPerTenant = 20

// Errors of Complete. None of them changes anything.
var (
	ErrUnknownState = errors.New("unknown or already used state: start the connection again")
	ErrExpiredState = errors.New("this authorization took longer than 10 minutes and expired: start the connection again")
	ErrDenied       = errors.New("access was not granted")
	ErrBadCode      = errors.New("invalid authorization code")
	ErrSuperseded   = errors.New("this authorization was replaced by newer ones of the same workspace: start the connection again")
)

// Request starts a connection.
type Request struct {
	Tenant      string
	Provider    string   // a provider name or alias
	Scopes      []string // scope names; empty: the default ones the provider allows
	LoginHint   string   // the account expected, if known
	RedirectURI string
	// Wait: this process will Wait for the result (the CLI's loopback
	// flow); without it nobody is told in-process.
	Wait bool
	// MaxPending is how many of the tenant's flows may wait at once before
	// this one ends the oldest; 0: maxPendingPerTenant. Sign-ins through
	// mailcal's OAuth server allow more: a whole workspace may sign in at
	// once.
	MaxPending int
}

// Result is the outcome of a flow.
type Result struct {
	Grant   grants.Grant
	Missing []string // scopes asked for but not granted (the person unticked them)
	Err     error
}

// Flow is a started authorization, waiting for its callback.
type Flow struct {
	URL string
	// RedirectURI is where the provider sends the person back: the
	// request's, with the provider's loopback host name where it has one
	// (providers.Spec.LoopbackHost).
	RedirectURI string
	State       string
	Expires     time.Time
	done        chan Result // nil unless Request.Wait
	forget      func()      // drops the waiter
}

// Wait returns the flow's result once its callback has come, ErrExpiredState
// once it expired, or ctx's error. Only flows begun with Request.Wait can
// be waited for.
func (f *Flow) Wait(ctx context.Context) Result {
	if f.done == nil {
		return Result{Err: errors.New("oauth: this flow was not begun with Wait")}
	}
	t := time.NewTimer(time.Until(f.Expires) + time.Second)
	defer t.Stop()
	defer f.forget()
	select {
	case r := <-f.done:
		return r
	case <-t.C:
		return Result{Err: ErrExpiredState}
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
}

// Flows runs authorization-code flows.
type Flows struct {
	cfg FlowsConfig
	now func() time.Time

	mu      sync.Mutex
	waiters map[string]chan Result // by flow id: flows this process waits for
}

// FlowsConfig configures Flows.
type FlowsConfig struct {
	Providers *providers.Registry
	Grants    *grants.Store
	States    store.FlowStates
	// Tenants lists every tenant, to tell whether another tenant connected
	// the same account before revoking it (Disconnect).
	Tenants func(ctx context.Context) ([]string, error)
	// HTTPClient talks to token, identity and revocation endpoints;
	// default: a 20 s timeout.
	HTTPClient *http.Client
	// OnChanged is called after an account was connected, reconnected or
	// disconnected (drop its cached tokens).
	OnChanged func(tenant, provider, account string)
}

// NewFlows returns a flow runner.
func NewFlows(cfg FlowsConfig) *Flows {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if cfg.OnChanged == nil {
		cfg.OnChanged = func(string, string, string) {}
	}
	return &Flows{cfg: cfg, now: time.Now, waiters: map[string]chan Result{}}
}

// Begin starts a flow and returns its authorization URL.
func (f *Flows) Begin(ctx context.Context, req Request) (*Flow, error) {
	p, limit, err := f.cfg.Providers.Resolve(req.Provider)
	if err != nil {
		return nil, err
	}
	if err := p.Configured(); err != nil {
		return nil, err
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		if scopes, err = providers.ParseScopes("", limit, false); err != nil {
			return nil, err
		}
	}
	for _, s := range scopes {
		if !slices.Contains(providers.AllScopes, s) || (limit != nil && !slices.Contains(limit, s)) {
			return nil, fmt.Errorf("scope %q is not available with provider %s", s, req.Provider)
		}
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return nil, err
	}
	redirect := loopbackRedirect(req.RedirectURI, p.LoopbackHost)
	if req.LoginHint != "" && !providers.PlausibleEmail(req.LoginHint) {
		return nil, fmt.Errorf("login hint %q is not an email address", req.LoginHint)
	}
	state, err := randomString(32)
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	opts := append(slices.Clone(p.AuthParams), oauth2.S256ChallengeOption(verifier))
	if req.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", req.LoginHint))
	}
	now := f.now()
	fs := store.FlowState{
		ID: store.FlowID(state), Tenant: req.Tenant, Provider: p.Name, Scopes: scopes, Verifier: verifier,
		RedirectURI: redirect, LoginHint: req.LoginHint, CreatedAt: now.UTC(), ExpiresAt: now.Add(StateTTL).UTC(),
	}
	pending := req.MaxPending
	if pending <= 0 {
		pending = maxPendingPerTenant
	}
	if err := f.makeRoom(ctx, req.Tenant, now, pending); err != nil {
		return nil, err
	}
	if err := f.cfg.States.PutFlowState(ctx, fs); err != nil {
		return nil, fmt.Errorf("keeping the connection's state: %w", err)
	}
	flow := &Flow{URL: p.OAuth2(scopes, redirect).AuthCodeURL(state, opts...), RedirectURI: redirect, State: state, Expires: fs.ExpiresAt}
	if req.Wait {
		flow.done = make(chan Result, 1)
		f.mu.Lock()
		f.waiters[fs.ID] = flow.done
		f.mu.Unlock()
		flow.forget = func() {
			f.mu.Lock()
			delete(f.waiters, fs.ID)
			f.mu.Unlock()
		}
	}
	return flow, nil
}

// makeRoom drops a tenant's expired flows and, at the limit, its oldest
// waiting one (one: a flow with a smaller limit than the flows waiting must
// not end them all), telling their waiters in this process.
func (f *Flows) makeRoom(ctx context.Context, tenant string, now time.Time, limit int) error {
	states, err := f.cfg.States.ListFlowStates(ctx, tenant)
	if err != nil {
		return fmt.Errorf("reading the connections waiting: %w", err)
	}
	live := 0
	for _, s := range states {
		if now.After(s.ExpiresAt) {
			if _, err := f.cfg.States.TakeFlowState(ctx, s.ID); err == nil {
				f.notify(s.ID, Result{Err: ErrExpiredState})
			}
			continue
		}
		live++
	}
	if live < limit {
		return nil
	}
	for _, s := range states { // oldest first
		if now.After(s.ExpiresAt) {
			continue
		}
		if _, err := f.cfg.States.TakeFlowState(ctx, s.ID); err == nil {
			f.notify(s.ID, Result{Err: ErrSuperseded})
			return nil
		}
	}
	return nil
}

// notify hands a result to the flow's waiter in this process, if any.
func (f *Flows) notify(id string, r Result) {
	f.mu.Lock()
	ch := f.waiters[id]
	delete(f.waiters, id)
	f.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// take removes and returns the flow with this state. A flow of another
// tenant (when tenant is not empty) is put back and reads as unknown.
func (f *Flows) take(ctx context.Context, state, tenant string) (store.FlowState, error) {
	if len(state) == 0 || len(state) > 256 {
		return store.FlowState{}, ErrUnknownState
	}
	fs, err := f.cfg.States.TakeFlowState(ctx, store.FlowID(state))
	if errors.Is(err, store.ErrNotFound) {
		return fs, ErrUnknownState
	}
	if err != nil {
		return fs, fmt.Errorf("reading the connection's state: %w", err)
	}
	if tenant != "" && fs.Tenant != tenant {
		if err := f.cfg.States.PutFlowState(ctx, fs); err != nil {
			slog.WarnContext(ctx, "could not put back a flow state taken with another tenant's key", "err", err)
		}
		return store.FlowState{}, ErrUnknownState
	}
	if f.now().After(fs.ExpiresAt) {
		f.notify(fs.ID, Result{Err: ErrExpiredState})
		return store.FlowState{}, ErrExpiredState
	}
	return fs, nil
}

// Waiting reports whether the tenant's flow with this state still waits
// for its callback with at least d left before it expires.
func (f *Flows) Waiting(ctx context.Context, tenant, state string, d time.Duration) bool {
	states, err := f.cfg.States.ListFlowStates(ctx, tenant)
	if err != nil {
		return false
	}
	id := store.FlowID(state)
	for _, s := range states {
		if s.ID == id {
			return s.ExpiresAt.Sub(f.now()) >= d
		}
	}
	return false
}

// Deny ends a flow whose callback carried an error (the person declined).
func (f *Flows) Deny(ctx context.Context, state, tenant, errCode string) error {
	fs, err := f.take(ctx, state, tenant)
	if err != nil {
		return err
	}
	err = fmt.Errorf("%w: the provider answered %q", ErrDenied, providers.SafeCode(errCode))
	f.notify(fs.ID, Result{Err: err})
	return err
}

// Complete finishes a flow with the authorization code: exchanges it (with
// the PKCE verifier), learns the account from the provider and stores the
// grant. tenant is empty for a browser callback (the state names the
// tenant) and the caller's tenant for the connect API, which must match.
func (f *Flows) Complete(ctx context.Context, state, tenant, code string) Result {
	return f.finish(ctx, state, tenant, code, nil, "connection")
}

// finish takes the flow, completes it (with admit, if any), tells its waiter
// and logs the outcome; what names the kind of flow in the log.
func (f *Flows) finish(ctx context.Context, state, tenant, code string, admit Admit, what string) Result {
	fs, err := f.take(ctx, state, tenant)
	if err != nil {
		return Result{Err: err}
	}
	res := f.complete(ctx, fs, code, admit)
	f.notify(fs.ID, res)
	if res.Err != nil {
		slog.WarnContext(ctx, what+" failed", "tenant", fs.Tenant, "provider", fs.Provider, "err", res.Err)
	} else {
		slog.InfoContext(ctx, what+": account connected", "tenant", fs.Tenant, "provider", fs.Provider, "account", res.Grant.Account, "scopes", res.Grant.Scopes)
	}
	return res
}

func (f *Flows) complete(ctx context.Context, fs store.FlowState, code string, admit Admit) Result {
	if code == "" || len(code) > 2048 || strings.ContainsAny(code, " \t\r\n") {
		return Result{Err: ErrBadCode}
	}
	p, err := f.cfg.Providers.Get(fs.Provider)
	if err != nil {
		return Result{Err: err}
	}
	tok, err := p.OAuth2(fs.Scopes, fs.RedirectURI).Exchange(
		context.WithValue(ctx, oauth2.HTTPClient, f.cfg.HTTPClient), code, oauth2.VerifierOption(fs.Verifier))
	if err != nil {
		return Result{Err: fmt.Errorf("%s refused the authorization code: %w", p.Title, SanitizeError(err))}
	}
	if tok.RefreshToken == "" {
		return Result{Err: fmt.Errorf("%s sent no refresh token, so the connection could not last; remove mailcal's access in the account's security settings and connect again", p.Title)}
	}
	res := f.keep(ctx, p, fs, tok, admit)
	if res.Err != nil {
		// The provider issued a refresh token we will not keep: do not leave
		// it live upstream.
		f.revokeQuietly(ctx, p, tok.RefreshToken)
	}
	return res
}

// keep learns who the account is, asks admit (when set) whether it may be
// kept, and stores the grant.
func (f *Flows) keep(ctx context.Context, p *providers.Provider, fs store.FlowState, tok *oauth2.Token, admit Admit) Result {
	api, err := p.API()
	if err != nil {
		return Result{Err: err}
	}
	email, err := api.Identity(ctx, providers.StaticSource(tok))
	if err != nil {
		return Result{Err: fmt.Errorf("asking %s who the account is: %w", p.Title, err)}
	}
	if admit != nil {
		if err := admit(ctx, fs, strings.ToLower(email)); err != nil {
			return Result{Err: err}
		}
	}
	granted := fs.Scopes
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		granted = p.GrantedScopes(s)
	}
	var missing []string
	for _, s := range fs.Scopes {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	g := grants.Grant{
		Tenant: fs.Tenant, Provider: p.Name, Account: strings.ToLower(email),
		RefreshToken: tok.RefreshToken, Scopes: granted,
		ConnectedAt: f.now().UTC().Truncate(time.Second), Status: grants.StatusActive,
	}
	if err := f.cfg.Grants.Put(ctx, g); err != nil {
		return Result{Err: fmt.Errorf("storing the connection of %s: %w", g.Account, err)}
	}
	f.cfg.OnChanged(g.Tenant, g.Provider, g.Account)
	return Result{Grant: g, Missing: missing}
}

func checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("redirect URI %q is not an absolute URL without query", raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && providers.IsLoopbackHost(u.Host)) {
		return nil
	}
	return fmt.Errorf("redirect URI %q must use https unless it is on a loopback host (set MAILCAL_BASE_URL to an https URL)", raw)
}

// loopbackRedirect names a provider's loopback host (Spec.LoopbackHost) in
// a redirect URI on a loopback IP address, keeping its port and path: a
// Microsoft app registration matches http://localhost on any port but
// cannot take http://127.0.0.1. Other URIs are returned as they are.
func loopbackRedirect(raw, host string) string {
	if host == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return raw
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil || !ip.IsLoopback() {
		return raw
	}
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else {
		u.Host = host
	}
	return u.String()
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
