package oauth

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSanitizeErrorRedacts: a code exchange's error description that echoes
// the code, the client secret and the verifier keeps its words, not them.
func TestSanitizeErrorRedacts(t *testing.T) {
	const code, verifier = "4/0AeanSHOSTILEcode0123456789", "hostile-verifier-0123456789-abcdefghijklmnop"
	err := SanitizeError(&oauth2.RetrieveError{
		Response:         &http.Response{StatusCode: 400},
		ErrorCode:        "invalid_grant",
		ErrorDescription: "Malformed auth code " + code + " (client_secret=GOCSPX-hostile0123 code_verifier=" + verifier + ")",
	})
	text := err.Error()
	for _, s := range []string{code, "GOCSPX-hostile0123", verifier} {
		if strings.Contains(text, s) {
			t.Errorf("the error holds %s: %s", s, text)
		}
	}
	if !strings.HasPrefix(text, "invalid_grant: Malformed auth code [redacted]") {
		t.Errorf("error %q: the provider's words are lost", text)
	}
}
