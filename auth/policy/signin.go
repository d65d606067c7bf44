package policy

import "strings"

// SigninAllowed reports whether addr (an email address, any case) may sign
// in through mailcal's OAuth server for this tenant: listed in
// AllowedSignins, or in a listed *@domain (that domain exactly, not its
// subdomains). Unlike the recipient allowlist, an empty list allows
// NOBODY: signing in connects a mailbox to the tenant and hands its tools to
// the person's assistant, so an operator opts people in
// (`mailcal policy set --tenant T --allowed-signins 'a@x.com,*@x.com'`).
func (p *Policy) SigninAllowed(addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || local == "*" || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	for _, e := range p.AllowedSignins {
		if e == addr || e == "*@"+domain {
			return true
		}
	}
	return false
}
