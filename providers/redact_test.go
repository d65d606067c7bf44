package providers

import (
	"strings"
	"testing"
)

// Secrets of the kinds upstreams have been seen to echo.
const (
	accessToken  = "ya29.a0AfB_byC3xQ-EXAMPLE_access_token_0123456789"
	refreshToken = "1//0gEXAMPLE-refresh-token_0123456789abcdef"
	authCode     = "4/0AeanS0EXAMPLEauthorizationcode0123"
	apiKey       = "AIzaSyEXAMPLEapikey0123456789abcdefghi"
	clientSecret = "GOCSPX-EXAMPLEclientsecret0123"
	mailcalKey   = "mck_EXAMPLEtenantkey0123456789"
	jwt          = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
	basicCreds   = "Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ="
	opaque       = "EwBwA8l6BAAUEXAMPLEopaqueMicrosoftToken0123456789"
	given        = "some-other-secret-value"
)

// TestRedactHostile: whatever form the upstream echoes a secret in, none
// survives, and the text around it does.
func TestRedactHostile(t *testing.T) {
	for _, in := range []string{
		"Request had invalid credentials: Authorization: Bearer " + accessToken,
		`{"headers":{"Authorization":"Bearer ` + accessToken + `"}}`,
		"authorization=" + accessToken,
		"Authorization: Basic " + basicCreds,
		"proxy-authorization: " + opaque,
		"GET https://gmail.googleapis.com/gmail/v1/users/me/messages?access_token=" + accessToken + "&key=" + apiKey + " failed",
		"refresh_token=" + refreshToken + "&client_secret=" + clientSecret + "&grant_type=refresh_token",
		`{"refresh_token": "` + refreshToken + `", "id_token": "` + jwt + `"}`,
		"bad code=" + authCode + " for redirect_uri",
		"the token " + accessToken + " expired",
		"grant " + refreshToken + " revoked",
		"code " + authCode + " already used",
		"key " + apiKey + " invalid",
		"client " + clientSecret + " unknown",
		"tenant key " + mailcalKey + " refused",
		"id token " + jwt + " has a bad signature",
		"opaque " + opaque + " refused",
		"the secret " + given + " is wrong",
		"code_verifier=" + strings.Repeat("v", 43) + " mismatch",
		"password: hunter2hunter2 in URL",
	} {
		out := Redact(in, given, refreshToken)
		if strings.Contains(out, "]]") || strings.Contains(out, "[[") {
			t.Errorf("Redact(%q) = %q: redacted twice", in, out)
		}
		for _, sec := range []string{accessToken, refreshToken, authCode, apiKey, clientSecret, mailcalKey, jwt, basicCreds, opaque, given,
			strings.Repeat("v", 43), "hunter2hunter2", "0gEXAMPLE", "AfB_byC3xQ"} {
			if strings.Contains(out, sec) {
				t.Errorf("Redact(%q) = %q: %s… left in", in, out, sec[:8])
			}
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("Redact(%q) = %q: nothing marked as redacted", in, out)
		}
	}
}

// TestRedactKeepsPlainText: Google's ordinary error messages, ids, URLs
// with ids, numeric codes and prose about tokens come through unchanged;
// control characters become spaces; long text is cut.
func TestRedactKeepsPlainText(t *testing.T) {
	for _, in := range []string{
		"Requested entity was not found.",
		"Rate Limit Exceeded",
		"Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed",
		"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
		"Invalid bearer token",
		`{"error":{"code": 400,"message":"Bad Request","status":"INVALID_ARGUMENT"}}`,
		"Get \"https://gmail.googleapis.com/gmail/v1/users/me/messages/18c0ffee00d1?format=full\": context deadline exceeded",
		"Delegation denied for alice@example.com",
		"the calendar gone@group.calendar.google.com was not found",
		"Token has been expired or revoked.",
	} {
		if out := Redact(in); out != in {
			t.Errorf("Redact(%q) = %q, want it unchanged", in, out)
		}
	}
	if out := Redact("a\r\nb\tc\x00d"); out != "a  b c d" {
		t.Errorf("control characters: %q", out)
	}
	if out := Redact(strings.Repeat("word ", 300)); len([]rune(out)) != maxRedacted+1 || !strings.HasSuffix(out, "…") {
		t.Errorf("long text: %d runes", len([]rune(out)))
	}
}

func TestSafeCode(t *testing.T) {
	if got := SafeCode("invalid_grant\r\n<script>" + strings.Repeat("x", 100)); got != "invalid_grantscript"+strings.Repeat("x", 64-len("invalid_grant\r\n<script>")) {
		t.Errorf("SafeCode = %q", got)
	}
}
