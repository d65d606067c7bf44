package tokens

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// ErrNeedsReauth matches every *ReauthError with errors.Is.
var ErrNeedsReauth = errors.New("account needs to be reconnected")

// ReauthError says that an account's grant no longer works (the provider
// refused its refresh token, or the grant is marked needs_reauth or revoked
// in the store): the person has to connect the account again. Callers add the
// reconnect URL or command; they know how a flow is started.
type ReauthError struct {
	Tenant   string
	Provider string // provider name
	Account  string
	// Reason says why, e.g. "<Title> refused its refresh token
	// (invalid_grant: Token has been expired or revoked.)". It never holds a
	// token.
	Reason string
	// ConnectedAt is when the account was connected (zero if unknown).
	ConnectedAt time.Time
	// FailedAt is when the grant was found dead (zero if unknown).
	FailedAt time.Time
	// Advice names the likely cause and its cure, from the provider's spec
	// (e.g. an app left in a testing status); "" if none.
	Advice string
}

func (e *ReauthError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = "its grant no longer works"
	}
	s := fmt.Sprintf("account %s (%s) needs to be reconnected: %s", e.Account, e.Provider, reason)
	if e.Advice != "" {
		if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ".)") {
			s += "."
		}
		s += " " + e.Advice
	}
	return s
}

// Is makes errors.Is(err, ErrNeedsReauth) true.
func (e *ReauthError) Is(target error) bool { return target == ErrNeedsReauth }

// RefreshError is a failed refresh that does not (yet) mean the grant is
// dead: the token endpoint was unreachable, overloaded, or refused the OAuth
// client. Its text holds only the HTTP status, the OAuth error code and
// description: never a token, code, client secret or raw response body.
type RefreshError struct {
	Tenant, Provider, Account string
	Attempts                  int    // token-endpoint requests made
	Status                    int    // HTTP status of the last answer; 0 if none
	Code                      string // OAuth error code of the last answer, e.g. "invalid_client"
	Description               string // its error_description, sanitised
	// Temporary is true for failures worth retrying later (5xx, 429,
	// network errors, timeouts).
	Temporary bool
	// RetryAfter is the provider's Retry-After, if it sent one.
	RetryAfter time.Duration
	// RetryIn is how long from when the error was handed out until mailcal
	// refreshes again; 0 if not said.
	RetryIn time.Duration

	detail string // sanitised description of the cause
	cause  error  // a cause without secrets (context or network error), for errors.Is
}

func (e *RefreshError) Error() string {
	attempts := ""
	if e.Attempts > 1 {
		attempts = fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	s := fmt.Sprintf("refreshing the access token of account %s (%s) failed%s: %s", e.Account, e.Provider, attempts, e.detail)
	if e.RetryIn > 0 {
		s += "; mailcal tries again in " + inSeconds(e.RetryIn)
	}
	return s
}

// retryIn returns err saying that the next refresh is made in d: a copy of
// a *RefreshError with RetryIn set, another error wrapped.
func retryIn(err error, d time.Duration) error {
	var fe *RefreshError
	if errors.As(err, &fe) {
		c := *fe
		c.RetryIn = d
		return &c
	}
	return &laterError{err: err, in: d}
}

// laterError is a failure other than the token endpoint's (a store error, a
// provider not configured), with when the next refresh is made.
type laterError struct {
	err error
	in  time.Duration
}

func (e *laterError) Error() string {
	return e.err.Error() + "; mailcal tries again in " + inSeconds(e.in)
}

func (e *laterError) Unwrap() error { return e.err }

// inSeconds is a delay in whole seconds, rounded up: "3s".
func inSeconds(d time.Duration) string {
	return (max(d, 0) + time.Second - 1).Truncate(time.Second).String()
}

// Unwrap returns the cause when it is known to carry no secret (a context or
// network error); never the *oauth2.RetrieveError, whose Body is the raw
// token-endpoint answer.
func (e *RefreshError) Unwrap() error { return e.cause }

// sanitize makes a provider-supplied string safe for an error message or a
// log line: providers.Redact, the one sanitiser of upstream text, with the
// grant's refresh token and the client secret named.
func sanitize(s string, secrets ...string) string { return providers.Redact(s, secrets...) }

// errReplaced stops a grant update when the stored grant is no longer the
// one the refresh used (reconnected meanwhile).
var errReplaced = errors.New("grant replaced")
