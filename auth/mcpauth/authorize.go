package mcpauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/oauth"
	"github.com/mailcal/mailcal/auth/store"
	tenantpkg "github.com/mailcal/mailcal/auth/tenant"
	"github.com/mailcal/mailcal/providers"
)

// Sign-ins one source address may begin: a burst, then one every interval
// (each stores a pending flow); and how many of a tenant's sign-ins may wait
// for their person at once (a morning when a whole workspace signs in),
// beyond which each new one ends the oldest.
const (
	signinBurst       = 20
	signinEvery       = 6 * time.Second
	maxPendingSignins = 200
)

// maxForm bounds a form /authorize, /token or /revoke reads.
const maxForm = 16 << 10

// challengeRE is a PKCE code challenge (RFC 7636 section 4.2: a verifier's
// alphabet; an S256 challenge is 43 characters of base64url).
var challengeRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// serveAuthorize begins a sign-in: it checks the client and its redirect
// URI (failures are a page: nothing is sent to a URI the client did not
// register), then everything else (failures go back to the client), picks
// the mail provider and sends the person to it.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	switch r.Method {
	case http.MethodGet:
		params = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			errorPage(w, http.StatusBadRequest, "The authorization request could not be read: send a form of at most 16 KB.", "")
			return
		}
		params = r.PostForm
	default:
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, http.StatusMethodNotAllowed, "The authorization endpoint takes GET or POST.", "")
		return
	}
	ctx := r.Context()
	clientID, redirect := params.Get("client_id"), params.Get("redirect_uri")
	if clientID == "" || len(params["client_id"]) > 1 {
		errorPage(w, http.StatusBadRequest, "The app that sent you here gave no client_id (or gave it twice), so mailcal cannot tell who is asking.", "Go back to the app and add the server again; if it happens again, the app's OAuth support is broken.")
		return
	}
	client, err := s.cfg.Clients.Lookup(ctx, clientID)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "temporarily_unavailable" {
			errorPage(w, http.StatusServiceUnavailable, "mailcal could not read the description of the app that sent you here: "+e.Description, "Try again in a minute.")
			return
		}
		msg := "The app that sent you here is not known to mailcal."
		if errors.As(err, &e) {
			msg += " " + e.Description
		} else {
			slog.WarnContext(ctx, "authorize: looking up the client failed", "err", err)
		}
		errorPage(w, http.StatusBadRequest, msg, "Go back to the app and add the server again.")
		return
	}
	if redirect == "" || len(params["redirect_uri"]) > 1 || !redirectRegistered(client.RedirectURIs, redirect) {
		errorPage(w, http.StatusBadRequest, "The app that sent you here asked to be answered at an address it did not register (redirect_uri must be exactly one of the client's redirect_uris), so mailcal will not send anything there.",
			"If you did not start signing in to mailcal from one of your apps just now, close this page.")
		return
	}
	state := params.Get("state")
	back := func(e *Error) { s.redirectError(w, r, redirect, state, e) }
	if len(state) > store.MaxOAuthStateLen {
		state = ""
		back(&Error{Code: "invalid_request", Description: "state: at most 1024 bytes"})
		return
	}
	for k, v := range params {
		if len(v) > 1 {
			back(&Error{Code: "invalid_request", Description: k + ": given more than once; give each parameter once (RFC 6749 section 3.1)"})
			return
		}
	}
	if rt := params.Get("response_type"); rt != "code" {
		back(&Error{Code: "unsupported_response_type", Description: "response_type: " + quoted(rt) + " is not supported; only 'code' is"})
		return
	}
	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	switch {
	case challenge == "":
		back(&Error{Code: "invalid_request", Description: "code_challenge: required (PKCE with S256)"})
		return
	case !challengeRE.MatchString(challenge):
		back(&Error{Code: "invalid_request", Description: "code_challenge: 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'"})
		return
	case method != "S256":
		back(&Error{Code: "invalid_request", Description: "code_challenge_method: " + quoted(method) + " is not accepted; use S256"})
		return
	}
	resource := params.Get("resource")
	tenant, ok := s.tenantOf(resource)
	if ok {
		exists, err := s.cfg.TenantExists(ctx, tenant)
		if err != nil {
			slog.WarnContext(ctx, "authorize: reading the tenant failed", "err", err)
			back(&Error{Code: "temporarily_unavailable", Description: "the workspace could not be read; try again shortly"})
			return
		}
		ok = exists
	}
	if !ok {
		desc := "resource: required, the MCP endpoint of an existing workspace, exactly " + s.Resource("{workspace}")
		if resource != "" {
			desc = "resource: " + quoted(resource) + " is not the MCP endpoint of a workspace here; expected exactly " + s.Resource("{workspace}")
		}
		back(&Error{Code: "invalid_target", Description: desc})
		return
	}
	provider, scopes, e := s.chooseProvider(params)
	if e != nil {
		back(e)
		return
	}
	if !consented(r, params) {
		s.consentPage(w, params, client, tenant, redirect, provider)
		return
	}
	if provider == "" {
		back(&Error{Code: "invalid_request", Description: "provider: the consent form names the mail provider; choose one of its buttons"})
		return
	}
	// The policy is read only once the person consented: the consent page
	// does not need the scopes.
	if !s.cfg.ReadOnly {
		if scopes, e = s.policyScopes(ctx, tenant, provider); e != nil {
			back(e)
			return
		}
	}
	hint := params.Get("login_hint")
	if !providers.PlausibleEmail(hint) {
		hint = ""
	}
	if wait, ok := s.signins.Take(tenantpkg.Source(r), s.now()); !ok {
		back(&Error{Code: "temporarily_unavailable", Description: fmt.Sprintf("too many sign-ins were begun from this address; try again in %d seconds", int(wait.Seconds())+1)})
		return
	}
	flow, err := s.cfg.Flows.Begin(ctx, oauth.Request{Tenant: tenant, Provider: provider, Scopes: scopes, LoginHint: hint,
		RedirectURI: s.cfg.RedirectURI, MaxPending: maxPendingSignins})
	if err != nil {
		slog.WarnContext(ctx, "authorize: beginning the provider's sign-in failed", "tenant", tenant, "provider", provider, "err", err)
		back(&Error{Code: "server_error", Description: "the sign-in with the mail provider could not begin: " + providers.Redact(err.Error())})
		return
	}
	now := s.now()
	p, _, _ := s.cfg.Providers.Resolve(provider)
	err = s.cfg.Store.PutOAuthToken(ctx, store.OAuthToken{
		Hash: store.FlowID(flow.State), Kind: store.OAuthRequest, Family: newFamily(now), Tenant: tenant, Provider: p.Name,
		Client: client.ID, Resource: resource, Scopes: []string{Scope}, RedirectURI: redirect, Challenge: challenge,
		State: state, CreatedAt: now.UTC(), ExpiresAt: now.Add(oauth.StateTTL).UTC(),
	})
	if err != nil {
		slog.ErrorContext(ctx, "authorize: storing the request failed", "tenant", tenant, "err", err)
		_ = s.cfg.Flows.Deny(ctx, flow.State, tenant, "server_error") // drop the upstream flow
		back(&Error{Code: "server_error", Description: "the sign-in could not be stored; try again shortly"})
		return
	}
	slog.InfoContext(ctx, "sign-in begun", "tenant", tenant, "provider", provider, "client", clip(client.ID, 100))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

// chooseProvider picks the mail provider: the `provider` parameter (a name
// or alias), else login_hint's domain, else the only configured one. ""
// with no error: the person chooses on a page. scopes is nil unless the
// server is read-only.
func (s *Server) chooseProvider(params url.Values) (name string, scopes []string, e *Error) {
	var configured []*providers.Provider
	for _, p := range s.cfg.Providers.All() {
		if p.Configured() == nil {
			configured = append(configured, p)
		}
	}
	if len(configured) == 0 {
		return "", nil, &Error{Code: "temporarily_unavailable", Description: "no mail provider is configured on this server: its operator sets up a Google or Microsoft OAuth client"}
	}
	name = strings.ToLower(strings.TrimSpace(params.Get("provider")))
	if name == "" {
		name = providerOfAddress(params.Get("login_hint"))
		if name != "" && !slices.ContainsFunc(configured, func(p *providers.Provider) bool { return p.Name == name }) {
			name = ""
		}
	}
	if name == "" && len(configured) == 1 {
		name = configured[0].Name
	}
	if name == "" {
		return "", nil, nil
	}
	p, limit, err := s.cfg.Providers.Resolve(name)
	if err != nil || p.Configured() != nil {
		return "", nil, &Error{Code: "invalid_request", Description: "provider: " + quoted(name) + " is not configured here; use " + names(configured)}
	}
	if s.cfg.ReadOnly {
		if scopes, err = providers.ParseScopes("", limit, true); err != nil || len(scopes) == 0 {
			return "", nil, &Error{Code: "invalid_request", Description: "provider: " + quoted(name) + " offers nothing this read-only server serves"}
		}
	}
	return name, scopes, nil
}

// providerOfAddress is the provider of a consumer mail domain, "" for any
// other (a company's domain may be on either).
func providerOfAddress(addr string) string {
	_, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok {
		return ""
	}
	switch {
	case domain == "gmail.com" || domain == "googlemail.com":
		return "google"
	case domain == "outlook.com" || strings.HasPrefix(domain, "hotmail.") || domain == "live.com" || domain == "msn.com":
		return "microsoft"
	}
	return ""
}

func names(ps []*providers.Provider) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, " or ")
}

// redirectError sends an error back to the client's (checked) redirect
// URI (RFC 6749 section 4.1.2.1, with iss per RFC 9207).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirect, state string, e *Error) {
	q := url.Values{"error": {e.Code}, "error_description": {safeDesc(e.Description)}}
	if state != "" {
		q.Set("state", state)
	}
	s.redirectBack(w, r, redirect, q)
}

// redirectBack sends the browser to the client's redirect URI with params
// (and iss) added to its query.
func (s *Server) redirectBack(w http.ResponseWriter, r *http.Request, redirect string, params url.Values) {
	u, err := url.Parse(redirect)
	if err != nil {
		errorPage(w, http.StatusBadRequest, "The app's redirect address cannot be used.", "")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	q.Set("iss", s.base)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// quoted is someone else's text quoted for an error_description (whose
// characters safeDesc limits).
func quoted(s string) string { return "'" + clip(s, 80) + "'" }

// safeDesc makes an error_description of the characters RFC 6749 allows
// there (printable ASCII without '"' and '\\').
func safeDesc(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// policyScopes are the mailbox scopes a sign-in asks the provider for: the
// default ones, without sending when the tenant's policy is drafts_only (its
// people are never served a tool that sends). nil: the default ones.
func (s *Server) policyScopes(ctx context.Context, tenant, provider string) ([]string, *Error) {
	pol, err := s.cfg.Policies.Read(ctx, tenant)
	if err != nil {
		slog.WarnContext(ctx, "authorize: reading the workspace's policy failed", "tenant", tenant, "err", err)
		return nil, &Error{Code: "temporarily_unavailable", Description: "the workspace's policy could not be read; try again shortly"}
	}
	if !pol.DraftsOnly {
		return nil, nil
	}
	_, limit, err := s.cfg.Providers.Resolve(provider)
	if err != nil {
		return nil, &Error{Code: "invalid_request", Description: "provider: " + quoted(provider) + " is not configured here"}
	}
	def, err := providers.ParseScopes("", limit, false)
	if err != nil {
		return nil, &Error{Code: "server_error", Description: "the provider's scopes could not be worked out"}
	}
	return slices.DeleteFunc(def, func(sc string) bool { return sc == providers.MailSend }), nil
}

// redirectRegistered reports whether redirect is one of the client's
// redirect URIs: the same string, except that a loopback IP literal's port
// may differ (OAuth 2.1 section 2.3.1 and RFC 8252 section 7.3: a native
// app listens on whichever port is free when it signs in).
func redirectRegistered(registered []string, redirect string) bool {
	if slices.Contains(registered, redirect) {
		return true
	}
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || !loopbackIP(u.Hostname()) || u.Port() == "" {
		return false
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err == nil && ru.Scheme == "http" && ru.Hostname() == u.Hostname() && ru.User == nil && u.User == nil &&
			ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery && ru.Fragment == "" && u.Fragment == "" {
			return true
		}
	}
	return false
}

// loopbackIP: 127.0.0.0/8 or ::1 written as an IP literal (not "localhost",
// which a hostile resolver may point elsewhere).
func loopbackIP(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
