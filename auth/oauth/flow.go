package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
)

// StateTTL is how long an authorization may take from URL to callback.
const StateTTL = 10 * time.Minute

// Limits on flows waiting for their callback, so that nobody can fill memory
// by asking for authorization URLs.
const (
	maxPending          = 1000
	maxPendingPerTenant = 20
)

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
	Provider    string   // google, microsoft, or an alias (gmail, calendar)
	Scopes      []string // scope names; empty: the default ones the provider allows
	LoginHint   string   // the account expected, if known
	RedirectURI string
}

// Result is the outcome of a flow.
type Result struct {
	Grant   grants.Grant
	Missing []string // scopes asked for but not granted (the person unticked them)
	Err     error
}

// Flow is a started authorization, waiting for its callback.
type Flow struct {
	URL     string
	State   string
	Expires time.Time
	done    chan Result
}

// Wait returns the flow's result once its callback has come, or ctx's error.
func (f *Flow) Wait(ctx context.Context) Result {
	select {
	case r := <-f.done:
		return r
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
}

type pending struct {
	Flow
	tenant, provider string
	scopes           []string
	verifier         string
	redirectURI      string
	created          time.Time
}

// Flows runs authorization-code flows: it makes authorization URLs (PKCE
// S256, a random single-use state bound to its tenant) and completes them
// with the code, keeping the grant.
type Flows struct {
	providers   func(name string) (*Provider, error)
	grants      *grants.Store
	client      *http.Client
	onConnected func(grants.Grant)
	now         func() time.Time

	mu      sync.Mutex
	pending []*pending
}

// FlowsConfig configures Flows.
type FlowsConfig struct {
	Providers   func(name string) (*Provider, error)
	Grants      *grants.Store
	HTTPClient  *http.Client       // for the token and userinfo endpoints; default: 20 s timeout
	OnConnected func(grants.Grant) // called after a grant is stored (drop cached tokens)
}

// NewFlows returns a flow runner.
func NewFlows(cfg FlowsConfig) *Flows {
	c := cfg.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 20 * time.Second}
	}
	return &Flows{providers: cfg.Providers, grants: cfg.Grants, client: c, onConnected: cfg.OnConnected, now: time.Now}
}

// Aliases: provider names that mean another provider limited to some scopes.
var aliases = map[string]struct {
	provider string
	scopes   []string
}{
	"gmail":    {"google", []string{MailRead, MailSend, MailModify}},
	"calendar": {"google", []string{CalendarRead, CalendarWrite}},
}

// ResolveProvider turns a provider name or alias into the provider and the
// scope names it may ask for (nil: all).
func ResolveProvider(name string) (string, []string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[name]; ok {
		return a.provider, a.scopes, nil
	}
	switch name {
	case "google", "microsoft":
		return name, nil, nil
	}
	return "", nil, fmt.Errorf("unknown provider %q: use google, gmail, calendar or microsoft", name)
}

// Begin starts a flow and returns its authorization URL.
func (f *Flows) Begin(ctx context.Context, req Request) (*Flow, error) {
	name, limit, err := ResolveProvider(req.Provider)
	if err != nil {
		return nil, err
	}
	p, err := f.providers(name)
	if err != nil {
		return nil, err
	}
	if err := p.Configured(); err != nil {
		return nil, err
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		if scopes, err = ParseScopes("", limit); err != nil {
			return nil, err
		}
	}
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) || (limit != nil && !slices.Contains(limit, s)) {
			return nil, fmt.Errorf("scope %q is not available with provider %s", s, req.Provider)
		}
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return nil, err
	}
	if req.LoginHint != "" && !plausibleEmail(req.LoginHint) {
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
	pd := &pending{
		Flow:        Flow{URL: p.Config(scopes, req.RedirectURI).AuthCodeURL(state, opts...), State: state, Expires: now.Add(StateTTL), done: make(chan Result, 1)},
		tenant:      req.Tenant,
		provider:    name,
		scopes:      scopes,
		verifier:    verifier,
		redirectURI: req.RedirectURI,
		created:     now,
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweepLocked(now)
	// A tenant at its limit loses its oldest waiting flow rather than being
	// locked out of connecting for 10 minutes.
	n, oldest := 0, -1
	for i, q := range f.pending {
		if q.tenant == req.Tenant {
			if n++; oldest < 0 {
				oldest = i
			}
		}
	}
	if n >= maxPendingPerTenant {
		f.pending[oldest].done <- Result{Err: ErrSuperseded}
		f.pending = slices.Delete(f.pending, oldest, oldest+1)
	}
	if len(f.pending) >= maxPending {
		return nil, fmt.Errorf("too many connections waiting for their callback; finish one or wait %s for them to expire", StateTTL)
	}
	f.pending = append(f.pending, pd)
	return &pd.Flow, nil
}

// sweepLocked drops expired flows, telling their waiters.
func (f *Flows) sweepLocked(now time.Time) {
	kept := f.pending[:0]
	for _, p := range f.pending {
		if now.After(p.Expires) {
			p.done <- Result{Err: ErrExpiredState}
			continue
		}
		kept = append(kept, p)
	}
	clear(f.pending[len(kept):])
	f.pending = kept
}

// take removes and returns the flow with this state, comparing states in
// constant time. A flow of another tenant (when tenant is not empty) is not
// taken and reads as unknown.
func (f *Flows) take(state, tenant string) (*pending, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var found *pending
	idx := -1
	for i, p := range f.pending {
		if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) == 1 {
			found, idx = p, i
		}
	}
	if found == nil || (tenant != "" && found.tenant != tenant) {
		return nil, ErrUnknownState
	}
	f.pending = slices.Delete(f.pending, idx, idx+1)
	if f.now().After(found.Expires) {
		found.done <- Result{Err: ErrExpiredState}
		return nil, ErrExpiredState
	}
	return found, nil
}

// Pending reports how many flows wait for a callback.
func (f *Flows) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweepLocked(f.now())
	return len(f.pending)
}

// Waiting reports whether the flow with this state still waits for its
// callback with at least d left before it expires.
func (f *Flows) Waiting(state string, d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pending {
		if p.State == state {
			return p.Expires.Sub(f.now()) >= d
		}
	}
	return false
}

// Deny ends a flow whose callback carried an error (the person declined).
func (f *Flows) Deny(state, tenant, errCode string) error {
	p, err := f.take(state, tenant)
	if err != nil {
		return err
	}
	err = fmt.Errorf("%w: the provider answered %q", ErrDenied, sanitizeCode(errCode))
	p.done <- Result{Err: err}
	return err
}

// Complete finishes a flow with the authorization code: exchanges it (with
// the PKCE verifier), learns the account from userinfo and stores the grant.
// tenant is empty for a browser callback (the state names the tenant) and
// the caller's tenant for the connect API, which must match.
func (f *Flows) Complete(ctx context.Context, state, tenant, code string) Result {
	if len(state) == 0 || len(state) > 256 {
		return Result{Err: ErrUnknownState}
	}
	p, err := f.take(state, tenant)
	if err != nil {
		return Result{Err: err}
	}
	res := f.complete(ctx, p, code)
	p.done <- res
	if res.Err != nil {
		slog.WarnContext(ctx, "connection failed", "tenant", p.tenant, "provider", p.provider, "err", res.Err)
	} else {
		slog.InfoContext(ctx, "account connected", "tenant", p.tenant, "provider", p.provider, "account", res.Grant.Account, "scopes", res.Grant.Scopes)
	}
	return res
}

func (f *Flows) complete(ctx context.Context, p *pending, code string) Result {
	if code == "" || len(code) > 2048 || strings.ContainsAny(code, " \t\r\n") {
		return Result{Err: ErrBadCode}
	}
	prov, err := f.providers(p.provider)
	if err != nil {
		return Result{Err: err}
	}
	cfg := prov.Config(p.scopes, p.redirectURI)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, f.client)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		return Result{Err: fmt.Errorf("%s refused the authorization code: %w", prov.Name, SanitizeError(err))}
	}
	if tok.RefreshToken == "" {
		return Result{Err: fmt.Errorf("%s sent no refresh token, so the connection could not last; remove mailcal's access in the account's security settings and connect again", prov.Name)}
	}
	email, err := Identity(ctx, f.client, prov, tok)
	if err != nil {
		return Result{Err: err}
	}
	granted := p.scopes
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		granted = prov.GrantedScopes(s)
	}
	var missing []string
	for _, s := range p.scopes {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	g := grants.Grant{
		Tenant: p.tenant, Provider: prov.Name, Account: strings.ToLower(email),
		RefreshToken: tok.RefreshToken, Scopes: granted,
		ConnectedAt: f.now().UTC().Truncate(time.Second), Status: grants.StatusActive,
	}
	if err := f.grants.Put(ctx, g); err != nil {
		return Result{Err: fmt.Errorf("storing the connection of %s: %w", g.Account, err)}
	}
	if f.onConnected != nil {
		f.onConnected(g)
	}
	return Result{Grant: g, Missing: missing}
}

// ErrUnauthorized is returned by Identity when the provider refused the
// access token (HTTP 401): refresh it and try once more.
var ErrUnauthorized = errors.New("the provider refused the access token")

// Identity asks the provider who the account is (OpenID userinfo) and
// returns its email address.
func Identity(ctx context.Context, client *http.Client, p *Provider, tok *oauth2.Token) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserinfoURL, nil)
	if err != nil {
		return "", err
	}
	tok.SetAuthHeader(req)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking %s who the account is: %w", p.Name, scrubURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusUnauthorized {
		return "", ErrUnauthorized
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("asking %s who the account is: HTTP %d", p.Name, resp.StatusCode)
	}
	var info struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
		Mail          string `json:"mail"`              // Microsoft Graph /me
		UPN           string `json:"userPrincipalName"` // Microsoft Graph /me
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("asking %s who the account is: unreadable answer", p.Name)
	}
	email := info.Email
	if email == "" {
		email = info.Mail
	}
	if email == "" {
		email = info.UPN
	}
	if !plausibleEmail(email) {
		return "", fmt.Errorf("%s did not say which email address the account has (was the email scope granted?)", p.Name)
	}
	if info.EmailVerified != nil && !*info.EmailVerified {
		return "", fmt.Errorf("%s says the account's email address %s is not verified", p.Name, email)
	}
	return email, nil
}

// Revoke asks the provider to revoke a refresh token.
func (f *Flows) Revoke(ctx context.Context, providerName, refreshToken string) error {
	p, err := f.providers(providerName)
	if err != nil {
		return err
	}
	if p.RevokeURL == "" {
		return fmt.Errorf("%s has no revocation endpoint", p.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevokeURL, strings.NewReader(url.Values{"token": {refreshToken}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("revoking at %s: %w", p.Name, scrubURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if e.Error == "invalid_token" {
		return nil // already revoked or expired: the goal is reached
	}
	return fmt.Errorf("revoking at %s: HTTP %d %s", p.Name, resp.StatusCode, sanitizeCode(e.Error))
}

// SanitizeError turns an x/oauth2 error into one that carries the OAuth
// error code and description but never the response body or a token.
func SanitizeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := sanitizeCode(re.ErrorCode)
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		if d := re.ErrorDescription; d != "" && len(d) < 300 {
			msg += ": " + d
		}
		return &OAuthError{Code: sanitizeCode(re.ErrorCode), Msg: msg, Status: re.Response.StatusCode}
	}
	return scrubURLError(err)
}

// OAuthError is a provider's OAuth error answer.
type OAuthError struct {
	Code   string // e.g. invalid_grant
	Msg    string
	Status int
}

func (e *OAuthError) Error() string { return e.Msg }

// scrubURLError drops the URL from a transport error: token and revoke
// URLs may carry a token in their query.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, hostOf(ue.URL), ue.Err)
	}
	return err
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return "the provider"
}

// sanitizeCode keeps an OAuth error code printable and short.
func sanitizeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, s)
}

func checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("redirect URI %q is not an absolute URL without query", raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && IsLoopbackHost(u.Host)) {
		return nil
	}
	return fmt.Errorf("redirect URI %q must use https unless it is on a loopback host (set MAILCAL_BASE_URL to an https URL)", raw)
}

func plausibleEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && len(s) <= 254 && !strings.ContainsAny(s, " \t\r\n<>,;\"'/\\")
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
