package microsoft

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

// The Microsoft identity platform's endpoints (v2.0), per tenant, and
// Microsoft Graph's.
const (
	loginBase       = "https://login.microsoftonline.com/"
	defaultTenant   = "common"
	defaultGraphURL = "https://graph.microsoft.com/v1.0"
	graphResource   = "https://graph.microsoft.com/"
)

// The environment variables of the Microsoft provider.
const (
	EnvClientID     = "MAILCAL_MICROSOFT_CLIENT_ID"
	EnvClientSecret = "MAILCAL_MICROSOFT_CLIENT_SECRET"
	EnvTenant       = "MAILCAL_MICROSOFT_TENANT"
	EnvAuthURL      = "MAILCAL_MICROSOFT_AUTH_URL"
	EnvTokenURL     = "MAILCAL_MICROSOFT_TOKEN_URL"
	EnvGraphURL     = "MAILCAL_MICROSOFT_GRAPH_URL"
)

// Graph's delegated permissions for mailcal's scope names.
const (
	scopeMailRead      = "Mail.Read"
	scopeMailSend      = "Mail.Send"
	scopeMailReadWrite = "Mail.ReadWrite"
	scopeCalRead       = "Calendars.Read"
	scopeCalReadWrite  = "Calendars.ReadWrite"
)

// Spec is Outlook mail and calendar in Microsoft 365 (work or school
// accounts) and Outlook.com (personal accounts), over Microsoft Graph.
var Spec = providers.Spec{
	Name:     "microsoft",
	Title:    "Microsoft 365",
	Products: "Outlook mail and calendar",
	Aliases: []providers.Alias{
		{Name: "outlook", Scopes: []string{providers.MailRead, providers.MailSend, providers.MailModify}, What: "Outlook mail only"},
		{Name: "outlook-calendar", Scopes: []string{providers.CalendarRead, providers.CalendarWrite}, What: "Outlook calendar only"},
	},
	Settings: []providers.Setting{
		{Env: EnvClientID, Help: "application (client) id of the app registration"},
		{Env: EnvClientSecret, Help: "client secret (web apps only; leave unset for a public desktop client)", Secret: true},
		{Env: EnvTenant, Default: defaultTenant, Help: "who may sign in: common, organizations, consumers, or a tenant id or domain"},
		{Env: EnvAuthURL, Default: loginBase + "{tenant}/oauth2/v2.0/authorize", Help: "authorization endpoint"},
		{Env: EnvTokenURL, Default: loginBase + "{tenant}/oauth2/v2.0/token", Help: "token endpoint"},
		{Env: EnvGraphURL, Default: defaultGraphURL, Help: "base URL of Microsoft Graph"},
	},
	Configure: configure,
	SetupHelp: "register an app in the Microsoft Entra admin center (https://entra.microsoft.com → App registrations → New registration; " +
		"for personal accounts too, choose \"Accounts in any organizational directory and personal Microsoft accounts\"). " +
		"For `mailcal connect`, add the platform \"Mobile and desktop applications\" with the redirect URI http://localhost/oauth/callback " +
		"(Microsoft ignores the port of a localhost redirect) and set \"Allow public client flows\" to Yes; " +
		"for http mode add the platform \"Web\" with MAILCAL_BASE_URL/oauth/callback and create a client secret. " +
		"Under API permissions add the Microsoft Graph delegated permissions offline_access, openid, profile, email, User.Read, MailboxSettings.Read, " +
		"Mail.Read, Mail.Send, Mail.ReadWrite, Calendars.Read and Calendars.ReadWrite. Then set " + EnvClientID +
		" (and " + EnvClientSecret + " for a web app; " + EnvTenant + " to limit who may sign in)",
	SecretOptional: true,
	Scopes: map[string][]string{
		providers.MailRead:      {scopeMailRead},
		providers.MailSend:      {scopeMailSend},
		providers.MailModify:    {scopeMailReadWrite},
		providers.CalendarRead:  {scopeCalRead},
		providers.CalendarWrite: {scopeCalReadWrite},
	},
	// Mail.ReadWrite reads (but does not send); Calendars.ReadWrite reads.
	Implies: map[string][]string{
		providers.MailModify:    {providers.MailRead},
		providers.CalendarWrite: {providers.CalendarRead},
	},
	// User.Read: who the account is (/me). MailboxSettings.Read: the
	// mailbox's time zone, in which events and mail times are shown when
	// no zone is asked for (without it, UTC).
	IdentityScopes: []string{"openid", "profile", "email", "offline_access", "User.Read", "MailboxSettings.Read"},
	// The account picker, so that connecting a second account does not
	// silently take the one the browser is signed in to.
	AuthParams: []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "select_account")},
	ScopeKey:   scopeKey,
	// An app registration takes http://localhost (any port) from the
	// portal, but http://127.0.0.1 only by editing its manifest.
	LoopbackHost: "localhost",
	NewAPI: func(cfg providers.Config, hc *http.Client) (providers.API, error) {
		return New(Options{GraphURL: cfg.APIURL, HTTPClient: hc})
	},
	// The identity platform has no revocation endpoint for refresh tokens.
	Revoke: nil,
	RevokeHelp: "personal Microsoft accounts: https://account.live.com/consent/Manage (remove the app); " +
		"work or school accounts: https://myapps.microsoft.com (the app's … menu → Manage your application → Revoke permissions), " +
		"or ask the organization's administrator to remove its permissions in the Entra admin center (Enterprise applications)",
	DeadGrantAdvice: deadGrantAdvice,
	Limits: providers.Limits{
		// Exchange Online's default send limit, 35 MB with encoded
		// attachments (an administrator may set up to 150 MB; Outlook.com
		// accepts less): Exchange refuses what is over the mailbox's
		// limit, which mailcal reports as too large.
		MaxMessageBytes: 35 << 20,
		// Exchange Online: 500 recipients per message.
		MaxRecipients: 500,
	},
	Words: providers.Words{
		Mail:         "Outlook",
		Calendar:     "Outlook Calendar",
		SearchSyntax: `Outlook search (KQL), e.g. "from:bob@example.com subject:invoice" or "hasAttachments:true"`,
		Labels:       "Outlook folders: inbox, sentitems, drafts, archive, deleteditems, junkemail, a folder's name (Inbox/Projects for a subfolder), or a category's name",
		Invitations:  "Outlook emails the invitations, always: it refuses send_updates none for an event with attendees",
		Tags:         "Outlook: a category's name",
		// createForward writes "FW: " and the original's subject.
		ForwardPrefix: "FW:",
		Conference:    "teams for a Microsoft Teams meeting (Microsoft work or school accounts; personal ones cannot)",
		Reminders:     "Outlook keeps one",
	},
}

// scopeKey compares scopes as the identity platform answers them: without
// Graph's resource prefix and without regard to case ("mail.read",
// "https://graph.microsoft.com/Mail.Read").
func scopeKey(s string) string {
	if len(s) >= len(graphResource) && strings.EqualFold(s[:len(graphResource)], graphResource) {
		s = s[len(graphResource):]
	}
	return strings.ToLower(s)
}

var (
	tenantGUID   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	tenantDomain = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// checkTenant accepts common, organizations, consumers, a tenant id (GUID)
// or a verified domain name, in lower case.
func checkTenant(t string) (string, error) {
	t = strings.ToLower(strings.TrimSpace(t))
	switch {
	case t == "common" || t == "organizations" || t == "consumers":
		return t, nil
	case tenantGUID.MatchString(t):
		return t, nil
	case len(t) <= 253 && tenantDomain.MatchString(t):
		return t, nil
	}
	return "", fmt.Errorf("%s %q: use common, organizations, consumers, a tenant id (a GUID) or a tenant's domain (contoso.onmicrosoft.com)", EnvTenant, clip(t))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func configure(get func(string) string) (providers.Config, error) {
	val := func(env, def string) string {
		if v := strings.TrimSpace(get(env)); v != "" {
			return v
		}
		return def
	}
	tenant, err := checkTenant(val(EnvTenant, defaultTenant))
	if err != nil {
		return providers.Config{}, err
	}
	cfg := providers.Config{
		ClientID:     val(EnvClientID, ""),
		ClientSecret: val(EnvClientSecret, ""),
		AuthURL:      val(EnvAuthURL, loginBase+tenant+"/oauth2/v2.0/authorize"),
		TokenURL:     val(EnvTokenURL, loginBase+tenant+"/oauth2/v2.0/token"),
		APIURL:       strings.TrimRight(val(EnvGraphURL, defaultGraphURL), "/"),
		Extra:        map[string]string{EnvTenant: tenant},
	}
	for _, c := range []struct{ env, v string }{{EnvAuthURL, cfg.AuthURL}, {EnvTokenURL, cfg.TokenURL}, {EnvGraphURL, cfg.APIURL}} {
		if err := providers.CheckEndpoint(c.v); err != nil {
			return cfg, fmt.Errorf("%s: %v", c.env, err)
		}
	}
	return cfg, nil
}

// aadsts finds the identity platform's error number in an error
// description ("AADSTS700082: The refresh token has expired …").
var aadsts = regexp.MustCompile(`AADSTS(\d{4,7})\b`)

// deadGrantAdvice names, from the AADSTS code in the token endpoint's
// answer, why Microsoft refused a refresh token, and what to do.
func deadGrantAdvice(d providers.DeadGrant) string {
	m := aadsts.FindStringSubmatch(d.Description)
	if m == nil {
		return ""
	}
	switch m[1] {
	case "70000", "70008", "700082":
		return "Microsoft let the refresh token expire (unused for 90 days, or past its lifetime): reconnect the account."
	case "50173", "50133", "50132":
		return "The account's password was changed or reset, or its sessions were revoked, which ends every refresh token: reconnect the account."
	case "65001":
		return "The person or the organization's administrator has not consented to (or withdrew consent for) the permissions mailcal asks for: " +
			"reconnect and accept them; a work account may need an administrator to grant consent in the Entra admin center."
	case "500011", "700016", "90002", "50020":
		return "Microsoft does not know the app in the account's tenant (wrong " + EnvClientID + " or " + EnvTenant +
			", or an app registered for one organization only): check the app registration's supported account types and the tenant setting, then reconnect."
	case "50076", "50079", "50078", "53003", "50158", "70043", "50097":
		return "The organization's sign-in policy (multi-factor authentication, Conditional Access or sign-in frequency) requires the person to sign in again: reconnect the account."
	case "50057", "50034", "50053", "50055":
		return "The account is disabled, locked, deleted or its password expired: sort that out with the account's administrator, then reconnect."
	case "9002313", "900144", "7000218":
		return "Microsoft refused the refresh request as malformed or from a client it does not accept (a public client needs \"Allow public client flows\" set to Yes): check the app registration, then reconnect."
	}
	return "Microsoft's error AADSTS" + m[1] + " is explained at https://login.microsoftonline.com/error?code=" + m[1] + "; reconnect the account once it is resolved."
}
