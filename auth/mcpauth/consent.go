package mcpauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mailcal/mailcal/auth/oauth"
)

// The person's own consent, before they are sent to their mail provider.
//
// mailcal signs everyone in with one OAuth client of its own at Google and
// Microsoft, for whichever MCP client asked; the provider's consent page
// names mailcal, never that client. Without a page of our own, anyone could
// register a client with their own redirect URI and send a victim a link to
// /authorize: the victim would approve "mailcal" at Google and the code
// would go to the attacker (the confused deputy of the MCP authorization
// spec's security best practices). So /authorize always shows which app
// asks and where it will be answered, and goes on to the provider only from
// that page's form: a POST carrying the token a cookie of this browser
// holds too (SameSite=Strict: a form another site submits, or a link made
// to skip the page, does not carry it).

const (
	consentCookie = "mailcal_consent_"
	consentField  = "consent"
)

// consentCookieName is the cookie of one authorization request (its client,
// state and challenge): two sign-ins begun in two tabs do not overwrite each
// other's.
func consentCookieName(params url.Values) string {
	sum := sha256.Sum256([]byte(params.Get("client_id") + "\x00" + params.Get("state") + "\x00" + params.Get("code_challenge")))
	return consentCookie + hex.EncodeToString(sum[:8])
}

// consented reports whether the request is the consent page's form,
// submitted by the browser that was shown the page.
func consented(r *http.Request, params url.Values) bool {
	if r.Method != http.MethodPost {
		return false
	}
	token := params.Get(consentField)
	c, err := r.Cookie(consentCookieName(params))
	if token == "" || err != nil || len(c.Value) != len(token) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) == 1
}

// consentPage asks the person whether the app may sign in as them, and where
// their mailbox is: one button per configured provider, or only the one the
// request already chose.
func (s *Server) consentPage(w http.ResponseWriter, params url.Values, client Client, tenant, redirect, provider string) {
	token := randomString(32)
	http.SetCookie(w, &http.Cookie{
		Name: consentCookieName(params), Value: token, Path: "/authorize", MaxAge: int(oauth.StateTTL.Seconds()),
		HttpOnly: true, Secure: strings.HasPrefix(s.base, "https://"), SameSite: http.SameSiteStrictMode,
	})
	f := &form{Action: s.base + "/authorize"}
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "provider" && k != consentField {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.Hidden = append(f.Hidden, formField{Name: k, Value: params.Get(k)})
	}
	f.Hidden = append(f.Hidden, formField{Name: consentField, Value: token})
	for _, p := range s.cfg.Providers.All() {
		if p.Configured() == nil && (provider == "" || p.Name == provider) {
			f.Buttons = append(f.Buttons, formField{Name: "provider", Value: p.Name, Text: "Sign in with " + p.Title})
		}
	}
	who := "An app"
	if client.Name != "" {
		who = "The app “" + clip(client.Name, 100) + "”"
	}
	from := "It registered with mailcal itself."
	if client.Document {
		if u, err := url.Parse(client.ID); err == nil {
			from = "It is described at " + u.Host + "."
		}
	}
	host := redirect
	if u, err := url.Parse(redirect); err == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	}
	w.Header().Set("Cache-Control", "no-store")
	writePage(w, http.StatusOK, page{
		Title: "Sign in to mailcal",
		Paragraphs: []string{
			who + " asks to read and send your mail and use your calendar through mailcal, in the workspace " + tenant + ". " + from,
			"mailcal will hand it access at " + host + ". Signing in connects your mailbox to the workspace.",
			"Continue only if you started this from that app just now; otherwise close this page.",
		},
		Form: f,
	})
}

// form is a page's form: hidden fields, and one submit button per choice.
type form struct {
	Action  string
	Hidden  []formField
	Buttons []formField
}

type formField struct{ Name, Value, Text string }
