package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// mapError turns the error of a Google API call into a *providers.Error.
// Messages carry Google's error text through providers.Redact (whatever
// Google echoes, no token, code or key survives), never a raw body.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return err
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return fromAPIError(ge)
	}
	var te *providers.TokenError
	if errors.As(err, &te) {
		return te // no access token: the caller advises (reconnect, retry later)
	}
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &ute) {
		// Google answered, with something that is not the JSON it
		// documents: trying again will not help.
		return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Google's answer is not the JSON its API documents"}
	}
	return networkError(err)
}

// mapUncertain is mapError for calls that change something and may have
// reached Google before failing (see providers.Uncertain).
func mapUncertain(err error, advice string) error {
	return providers.Uncertain(mapError(err), advice)
}

func networkError(err error) error { return providers.NetworkError(err, "Google") }

func fromAPIError(ge *googleapi.Error) error {
	reason := ""
	for _, it := range ge.Errors {
		if it.Reason != "" {
			reason = it.Reason
			break
		}
	}
	if reason == "" {
		reason = errorReason([]byte(ge.Body))
	}
	msg := providers.Redact(ge.Message)
	if msg == "" {
		msg = http.StatusText(ge.Code)
	}
	if ge.Code == http.StatusBadRequest && strings.Contains(msg, "pageToken") {
		// The only page tokens Google refuses are ones it did not issue for
		// this listing: the argument is wrong, not the request.
		return &providers.FieldError{Field: "page_token", Msg: "Google does not know this page token (" + msg +
			"); pass the next_page_token of the previous page of the same listing, or leave page_token out to start again"}
	}
	msg = fmt.Sprintf("%s (HTTP %d)", msg, ge.Code)
	e := &providers.Error{Status: ge.Code, Message: msg}
	switch code := ge.Code; {
	case code == http.StatusUnauthorized:
		e.Kind = providers.ErrUnauthorized
	case code == http.StatusTooManyRequests:
		e.Kind, e.RetryAfter = providers.ErrRateLimited, httpretry.RetryAfter(ge.Header, time.Now())
	case code == http.StatusForbidden:
		switch reason {
		case "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded":
			e.Kind, e.RetryAfter = providers.ErrRateLimited, httpretry.RetryAfter(ge.Header, time.Now())
		case "insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
			e.Kind = providers.ErrForbidden
			if sc := wantedScopes(ge.Header); sc != "" {
				e.Message = fmt.Sprintf("%s; the call needs one of these scopes: %s", msg, sc)
			}
		default:
			e.Kind = providers.ErrForbidden
		}
	case code == http.StatusNotFound || code == http.StatusGone:
		e.Kind = providers.ErrNotFound
	case code == http.StatusRequestEntityTooLarge:
		e.Kind = providers.ErrTooLarge
	case code >= 500:
		e.Kind = providers.ErrUnavailable
	default:
		e.Kind = providers.ErrInvalid
	}
	return e
}

// wantedScopes reads the scopes Google names in WWW-Authenticate:
// Bearer ..., error="insufficient_scope", scope="a b".
func wantedScopes(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		i := strings.Index(v, `scope="`)
		if i < 0 {
			continue
		}
		rest := v[i+len(`scope="`):]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return strings.Join(strings.Fields(rest[:j]), ", ")
		}
	}
	return ""
}
