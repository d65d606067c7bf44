package google

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

// Google's OAuth endpoints and scopes.
const (
	defaultAuthURL     = "https://accounts.google.com/o/oauth2/auth"
	defaultTokenURL    = "https://oauth2.googleapis.com/token"
	defaultRevokeURL   = "https://oauth2.googleapis.com/revoke"
	defaultUserinfoURL = "https://openidconnect.googleapis.com/v1/userinfo"

	gmailReadonly    = "https://www.googleapis.com/auth/gmail.readonly"
	gmailSend        = "https://www.googleapis.com/auth/gmail.send"
	gmailModify      = "https://www.googleapis.com/auth/gmail.modify"
	calendarReadonly = "https://www.googleapis.com/auth/calendar.readonly"
	calendarEvents   = "https://www.googleapis.com/auth/calendar.events"
)

// The environment variables of the Google provider.
const (
	EnvClientID     = "MAILCAL_GOOGLE_CLIENT_ID"
	EnvClientSecret = "MAILCAL_GOOGLE_CLIENT_SECRET"
	EnvAuthURL      = "MAILCAL_GOOGLE_AUTH_URL"
	EnvTokenURL     = "MAILCAL_GOOGLE_TOKEN_URL"
	EnvRevokeURL    = "MAILCAL_GOOGLE_REVOKE_URL"
	EnvUserinfoURL  = "MAILCAL_GOOGLE_USERINFO_URL"
	EnvAPIURL       = "MAILCAL_GOOGLE_API_URL"
)

// Spec is Gmail and Google Calendar.
var Spec = providers.Spec{
	Name:     "google",
	Title:    "Google",
	Products: "Gmail and Google Calendar",
	Aliases: []providers.Alias{
		{Name: "gmail", Scopes: []string{providers.MailRead, providers.MailSend, providers.MailModify}, What: "Gmail only"},
		{Name: "calendar", Scopes: []string{providers.CalendarRead, providers.CalendarWrite}, What: "Google Calendar only"},
	},
	Settings: []providers.Setting{
		{Env: EnvClientID, Help: "OAuth client id"},
		{Env: EnvClientSecret, Help: "OAuth client secret", Secret: true},
		{Env: EnvAuthURL, Default: defaultAuthURL, Help: "authorization endpoint"},
		{Env: EnvTokenURL, Default: defaultTokenURL, Help: "token endpoint"},
		{Env: EnvRevokeURL, Default: defaultRevokeURL, Help: "revocation endpoint"},
		{Env: EnvUserinfoURL, Default: defaultUserinfoURL, Help: "OpenID userinfo endpoint (who the account is)"},
		{Env: EnvAPIURL, Help: "base URL of the Gmail and Calendar APIs ({base}/gmail/v1/…, {base}/calendar/v3/…); default: the client libraries'"},
	},
	Configure: configure,
	SetupHelp: "create an OAuth client at https://console.cloud.google.com/apis/credentials (Create credentials → OAuth client ID; " +
		"type \"Desktop app\" for `mailcal connect`, \"Web application\" with redirect URI MAILCAL_BASE_URL/oauth/callback for http mode), " +
		"enable the Gmail API and the Google Calendar API for its project, then set " + EnvClientID + " and " + EnvClientSecret,
	Scopes: map[string][]string{
		providers.MailRead:      {gmailReadonly},
		providers.MailSend:      {gmailSend},
		providers.MailModify:    {gmailModify},
		providers.CalendarRead:  {calendarReadonly},
		providers.CalendarWrite: {calendarEvents},
	},
	// gmail.modify reads and sends; calendar.events reads events.
	Implies: map[string][]string{
		providers.MailModify:    {providers.MailRead, providers.MailSend},
		providers.CalendarWrite: {providers.CalendarRead},
	},
	IdentityScopes: []string{"openid", "email"},
	AuthParams: []oauth2.AuthCodeOption{
		oauth2.AccessTypeOffline,
		oauth2.ApprovalForce, // prompt=consent: Google sends a refresh token only on consent
		oauth2.SetAuthURLParam("include_granted_scopes", "true"),
	},
	NewAPI: func(cfg providers.Config, hc *http.Client) (providers.API, error) {
		return New(Options{APIURL: cfg.APIURL, UserinfoURL: cfg.Extra[EnvUserinfoURL], HTTPClient: hc})
	},
	// Google revokes the app's whole grant for the person, whichever token
	// is revoked.
	Revoke: func(ctx context.Context, hc *http.Client, cfg providers.Config, token string) error {
		return providers.RevokeRFC7009(ctx, hc, cfg, token)
	},
	RevokeHelp:      "https://myaccount.google.com/permissions",
	DeadGrantAdvice: testingModeAdvice,
	Limits: providers.Limits{
		// 35 MB, headers and encoded attachments included.
		MaxMessageBytes: 35 << 20,
		// Gmail accepts up to 500 recipients per message for consumer
		// accounts (Workspace: more, but 500 external).
		MaxRecipients: 500,
	},
	Words: providers.Words{
		Mail:         "Gmail",
		Calendar:     "Google Calendar",
		SearchSyntax: `Gmail search syntax, e.g. "from:bob@example.com has:attachment newer_than:7d" or "subject:invoice"`,
		Labels:       "Gmail: INBOX, SENT, STARRED, IMPORTANT, DRAFT, SPAM, TRASH or a label's name",
		Invitations:  "Google Calendar emails the invitations",
		Tags:         "Gmail: a label's name, or STARRED, IMPORTANT, UNREAD",
		// Forward builds the subject with mimemsg.ForwardSubject.
		ForwardPrefix: "Fwd:",
		Conference:    "meet for a Google Meet link (Google accounts)",
		Reminders:     "Google Calendar keeps up to 5",
	},
}

func configure(get func(string) string) (providers.Config, error) {
	val := func(env, def string) string {
		if v := strings.TrimSpace(get(env)); v != "" {
			return v
		}
		return def
	}
	cfg := providers.Config{
		ClientID:     val(EnvClientID, ""),
		ClientSecret: val(EnvClientSecret, ""),
		AuthURL:      val(EnvAuthURL, defaultAuthURL),
		TokenURL:     val(EnvTokenURL, defaultTokenURL),
		RevokeURL:    val(EnvRevokeURL, defaultRevokeURL),
		APIURL:       val(EnvAPIURL, ""),
		Extra:        map[string]string{EnvUserinfoURL: val(EnvUserinfoURL, defaultUserinfoURL)},
	}
	for env, v := range map[string]string{
		EnvAuthURL: cfg.AuthURL, EnvTokenURL: cfg.TokenURL, EnvRevokeURL: cfg.RevokeURL,
		EnvUserinfoURL: cfg.Extra[EnvUserinfoURL], EnvAPIURL: cfg.APIURL,
	} {
		if v == "" {
			continue
		}
		if err := providers.CheckEndpoint(v); err != nil {
			return cfg, fmt.Errorf("%s: %v", env, err)
		}
	}
	return cfg, nil
}

// Google refresh tokens of an app whose OAuth consent screen is in
// "Testing" status expire 7 days after consent. mailcal notices at the next
// refresh (at the latest at the next health check), so allow some slack.
const (
	testingModeMin = 6*24*time.Hour + 12*time.Hour
	testingModeMax = 7*24*time.Hour + 12*time.Hour
)

// testingModeAdvice names the likely cause of a grant that died about 7
// days after it was connected.
func testingModeAdvice(d providers.DeadGrant) string {
	if d.ConnectedAt.IsZero() || d.FailedAt.IsZero() {
		return ""
	}
	if age := d.FailedAt.Sub(d.ConnectedAt); age < testingModeMin || age > testingModeMax {
		return ""
	}
	return `It died about 7 days after it was connected: the Google Cloud project's OAuth consent screen is probably in "Testing" status, whose refresh tokens expire after 7 days; publish the app (In production) to stop this.`
}
