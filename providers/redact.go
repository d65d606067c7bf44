package providers

import (
	"regexp"
	"strings"
	"unicode"
)

// Redact makes text that came from outside mailcal (a provider's error
// message or OAuth error description, a transport error quoting a URL) safe
// for an error message, a tool result or a log line, whatever the provider
// echoed: every provider's error mapping and the token manager pass such text
// through it, and nothing else does. It replaces with "[redacted]":
//
//   - the secrets given (a refresh token, a client secret), as they are;
//   - credentials after Bearer or Basic, and the value of an Authorization
//     header;
//   - the values of parameters and JSON fields that carry secrets
//     (access_token, refresh_token, id_token, code, client_secret,
//     code_verifier, assertion, password, key, api_key, token…), in a URL's
//     query, a form or JSON;
//   - tokens recognisable by their form: Google's access tokens (ya29.…),
//     refresh tokens (1//…), authorization codes (4/…), API keys (AIza…) and
//     client secrets (GOCSPX-…), mailcal's API keys (mck_…), JWTs (eyJ….….…)
//     and any run of 40 or more letters, digits, - and _ that has both
//     letters and digits (an opaque token of another kind).
//
// It also turns control characters into spaces and cuts the text at 1000
// characters.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = headerRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := headerRE.FindStringSubmatch(m)
		if strings.HasPrefix(sub[3], "[redacted") {
			return m
		}
		return sub[1] + sub[2] + redacted
	})
	s = schemeRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := schemeRE.FindStringSubmatch(m)
		if len(sub[2]) < 16 {
			return m // prose ("an invalid bearer token"), not credentials
		}
		return sub[1] + " " + redacted
	})
	s = paramRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := paramRE.FindStringSubmatch(m)
		name, value := strings.ToLower(sub[1]), sub[3]
		if strings.HasPrefix(value, "[redacted") || name == "code" && allDigits(value) {
			return m // an HTTP or error code, not an authorization code
		}
		return sub[1] + sub[2] + redacted
	})
	s = tokenRE.ReplaceAllString(s, redacted)
	s = opaqueRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.ContainsAny(m, "0123456789") && strings.IndexFunc(m, unicode.IsLetter) >= 0 {
			return redacted
		}
		return m
	})
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxRedacted {
		s = string(r[:maxRedacted]) + "…"
	}
	return s
}

const (
	redacted    = "[redacted]"
	maxRedacted = 1000
)

var (
	// headerRE: an Authorization header's credentials, after its scheme.
	headerRE = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization"?\s*[:=]\s*"?)((?:bearer|basic|token|mac|digest|negotiate)\s+)?([^\s"',;&]+)`)
	// schemeRE: credentials after Bearer or Basic anywhere else.
	schemeRE = regexp.MustCompile(`(?i)\b(bearer|basic)\s+([A-Za-z0-9\-._~+/]+=*)`)
	// paramRE: name=value or "name": "value" for names that carry secrets.
	paramRE = regexp.MustCompile(`(?i)\b(access_token|refresh_token|id_token|client_secret|client_assertion|code_verifier|assertion|password|passwd|api_key|apikey|key|code|token|secret|sig|signature)("?\s*[:=]\s*"?)([^\s"'&,;<>}\]]+)`)
	// tokenRE: tokens known by their form.
	tokenRE = regexp.MustCompile(`ya29\.[A-Za-z0-9_\-.]+|\b1//[A-Za-z0-9_\-]+|\b4/[A-Za-z0-9_\-]{10,}|AIza[A-Za-z0-9_\-]{20,}|GOCSPX-[A-Za-z0-9_\-]+|\bmck_[A-Za-z0-9_\-]+|\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*`)
	// opaqueRE: long runs that look like opaque tokens.
	opaqueRE = regexp.MustCompile(`[A-Za-z0-9_\-]{40,}`)
)

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// SafeCode keeps an OAuth error code printable and short: letters, digits,
// _, - and ., at most 64 of them.
func SafeCode(s string) string {
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
