package oauth

import (
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/providers"
)

// OAuthError is a provider's OAuth error answer, sanitised.
type OAuthError struct {
	Code   string // e.g. invalid_grant
	Msg    string
	Status int
}

func (e *OAuthError) Error() string { return e.Msg }

// SanitizeError turns an x/oauth2 error into one that carries the OAuth
// error code and description but never the response body or a token.
func SanitizeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := providers.SafeCode(re.ErrorCode)
		msg := code
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		if d := providers.Redact(re.ErrorDescription); d != "" {
			msg += ": " + d
		}
		return &OAuthError{Code: code, Msg: msg, Status: re.Response.StatusCode}
	}
	return providers.ScrubURLError(err)
}
