package oauthtest

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// handleAuthorize is the authorization endpoint (RFC 6749 4.1.1): the
// person is signed in and approves at once, unless told otherwise
// (DenyNext, GrantOnly). Failures before the redirect is known to be safe
// are error pages; later ones too, unless Authorize.RedirectErrors.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.authReqs = append(s.authReqs, cloneValues(q))
	s.mu.Unlock()

	page := func(f Failure, detail string) {
		e, _ := s.errorFor(f, detail)
		s.cfg.Authorize.ErrorPage(w, e)
	}
	tenant := r.PathValue("tenant")
	if t := s.cfg.Tenants; t != nil && !t.Exists(tenant) {
		page(UnknownTenant, tenant)
		return
	}
	redirectURI := q.Get("redirect_uri")
	switch clientID := q.Get("client_id"); {
	case clientID == "":
		page(AuthMissingClientID, "")
		return
	case clientID != s.cfg.ClientID:
		page(AuthUnknownClient, "")
		return
	case redirectURI == "":
		page(AuthMissingRedirectURI, "")
		return
	case !s.redirectAllowed(redirectURI):
		page(AuthRedirectMismatch, redirectURI)
		return
	}
	state := q.Get("state")
	asked := strings.Fields(q.Get("scope"))
	prompt := strings.Fields(q.Get("prompt"))
	if e := s.checkAuthorizeParams(q, asked, prompt); e != nil {
		if s.cfg.Authorize.RedirectErrors {
			redirect(w, r, redirectURI, "error", e.Code, "error_description", e.Description, "state", state)
		} else {
			s.cfg.Authorize.ErrorPage(w, *e)
		}
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.ToLower(q.Get("login_hint"))]
	if u == nil {
		u = s.defaultUser
	}
	if u == nil {
		s.cfg.Authorize.ErrorPage(w, Error{Status: 400, Code: "invalid_request",
			Description: s.cfg.Name + ": no account signed in (call AddUser)"})
		return
	}
	if t := s.cfg.Tenants; t != nil && !t.Accepts(tenant, u.User) {
		e, _ := s.errorFor(TenantRejectsUser, u.Email)
		s.cfg.Authorize.ErrorPage(w, e)
		return
	}
	refuse := func(f Failure) {
		e, _ := s.errorFor(f, "")
		redirect(w, r, redirectURI, "error", e.Code, "error_description", e.Description, "state", state)
	}
	if s.denyNext {
		s.denyNext = false
		refuse(AccessDenied)
		return
	}
	scopes := s.canonicalScopes(asked)
	known := !slices.ContainsFunc(scopes, func(sc string) bool { return !u.consented[sc] })
	promptNone, promptConsent := slices.Contains(prompt, "none"), slices.Contains(prompt, "consent")
	if promptNone && !known {
		refuse(ConsentRequired)
		return
	}
	consentShown := !promptNone && (promptConsent || !known)
	if consentShown && s.grantOnly != nil {
		basic := s.canonicalScopes(s.cfg.Scopes.Basic)
		scopes = slices.DeleteFunc(scopes, func(sc string) bool {
			return !slices.Contains(basic, sc) && !slices.Contains(s.grantOnly, sc)
		})
	}
	for _, sc := range scopes {
		u.consented[sc] = true
	}
	if s.cfg.Authorize.IncludeGranted(q) {
		scopes = setToList(u.consented)
	}
	c := Consent{Request: cloneValues(q), User: u.User, Asked: asked, Granted: slices.Clone(scopes), Shown: consentShown}
	code := s.newSecret(s.cfg.Tokens.Code)
	s.codes[code] = &authCode{
		user: u, tenant: tenant, redirectURI: redirectURI, challenge: q.Get("code_challenge"), scopes: scopes,
		plain: s.challengeMethod(q) == "plain", nonce: q.Get("nonce"), expiry: s.Now().Add(s.cfg.CodeTTL),
		refresh: s.cfg.Authorize.RefreshToken(c),
	}
	redirect(w, r, redirectURI, s.cfg.Authorize.Redirect(c, code)...)
}

// checkAuthorizeParams checks the parameters after client and redirect:
// response_type, scope, PKCE, prompt, then the provider's own.
func (s *Server) checkAuthorizeParams(q url.Values, scopes, prompt []string) *Error {
	fail := func(f Failure, detail string) *Error {
		e, _ := s.errorFor(f, detail)
		return &e
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return fail(AuthMissingResponseType, "")
	case rt != "code":
		return fail(AuthUnsupportedResponseType, rt)
	}
	if len(scopes) == 0 {
		return fail(AuthMissingScope, "")
	}
	if valid := s.cfg.Scopes.Valid; valid != nil {
		for _, sc := range scopes {
			if !valid(s.canonical(sc)) {
				return fail(AuthInvalidScope, sc)
			}
		}
	}
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	switch challenge, method := q.Get("code_challenge"), s.challengeMethod(q); {
	case challenge == "" && s.cfg.Authorize.PKCEOptional:
	case challenge == "":
		return fail(AuthMissingChallenge, "")
	case !slices.Contains(s.cfg.Authorize.PKCEMethods, method):
		return fail(AuthChallengeMethod, q.Get("code_challenge_method"))
	case method == "S256" && (len(challenge) != 43 || strings.Trim(challenge, unreserved) != "" || strings.ContainsAny(challenge, ".~")),
		method == "plain" && (len(challenge) < 43 || len(challenge) > 128 || strings.Trim(challenge, unreserved) != ""):
		// S256: base64url of 32 bytes; plain: a verifier (RFC 7636 4.1).
		return fail(AuthInvalidChallenge, "")
	}
	for _, p := range prompt {
		if !slices.Contains(s.cfg.Authorize.Prompts, p) || p == "none" && len(prompt) > 1 {
			return fail(AuthInvalidPrompt, strings.Join(prompt, " "))
		}
	}
	if check := s.cfg.Authorize.CheckParams; check != nil {
		return check(q)
	}
	return nil
}

// challengeMethod is the request's code_challenge_method; without one,
// "plain" where it is accepted (RFC 7636 4.3), else "".
func (s *Server) challengeMethod(q url.Values) string {
	if m := q.Get("code_challenge_method"); m != "" || !slices.Contains(s.cfg.Authorize.PKCEMethods, "plain") {
		return m
	}
	return "plain"
}

// redirectAllowed accepts an absolute http(s) URL without fragment; with
// Config.RedirectURIs, only those (any port on a loopback host).
func (s *Server) redirectAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return false
	}
	if len(s.cfg.RedirectURIs) == 0 {
		return true
	}
	for _, reg := range s.cfg.RedirectURIs {
		ru, err := url.Parse(reg)
		if reg == raw || err == nil && isLoopback(u.Hostname()) && ru.Hostname() == u.Hostname() &&
			ru.Scheme == u.Scheme && ru.Path == u.Path {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && ip.IsLoopback()
}

// redirect sends a 302 to base with the parameters appended in order,
// escaped as real providers do (spaces as %20; "/" and ":" left as they are). An
// empty state or error_description is left out.
func redirect(w http.ResponseWriter, r *http.Request, base string, kv ...string) {
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	esc := strings.NewReplacer("+", "%20", "%2F", "/", "%3A", ":")
	for i := 0; i+1 < len(kv); i += 2 {
		if (kv[i] == "state" || kv[i] == "error_description") && kv[i+1] == "" {
			continue
		}
		b.WriteString(sep + kv[i] + "=" + esc.Replace(url.QueryEscape(kv[i+1])))
		sep = "&"
	}
	http.Redirect(w, r, b.String(), http.StatusFound)
}
