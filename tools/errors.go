package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/auth/tokens"
	"github.com/mailcal/mailcal/providers"
)

// userError is a failure the model can act on; it is shown as it is.
type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }

func userErrorf(format string, a ...any) error { return &userError{fmt.Sprintf(format, a...)} }

// providerError turns a provider failure into advice the model can act on:
// what happened and what to do next.
func (h *handlers) providerError(ctx context.Context, err error, g grants.Grant, doing, notFoundWhat string) error {
	var ue *userError
	if errors.As(err, &ue) {
		return err
	}
	title := h.opts.Providers.Title(g.Provider)
	var re *tokens.ReauthError
	var rfe *tokens.RefreshError
	var fe *providers.FieldError
	var pe *providers.Error
	switch {
	case errors.As(err, &re):
		return &userError{re.Error() + h.reconnectHint(ctx, g.Tenant, g, g.Scopes)}
	case errors.As(err, &rfe) && !rfe.Temporary && rfe.Code != "":
		return userErrorf("%s: %s. This will not pass by itself: %s refused mailcal's refresh request; check the OAuth client mailcal is configured with (its client id and secret)", doing, rfe.Error(), title)
	case errors.As(err, &rfe) && rfe.RetryIn > 0:
		return userErrorf("%s: %s: call again after that", doing, rfe.Error())
	case errors.As(err, &rfe):
		return userErrorf("%s: %s; try again in a little while", doing, rfe.Error())
	case errors.Is(err, providers.ErrNotConfigured):
		return userErrorf("%s: %v", doing, err)
	case errors.As(err, &fe):
		return argError(fe.Field, "%s", fe.Msg)
	case !errors.As(err, &pe):
		return fmt.Errorf("%s with %s: %w", doing, g.Account, err)
	}
	switch {
	case errors.Is(pe.Kind, providers.ErrNotFound):
		msg := fmt.Sprintf("%s: %s was not found in %s", doing, strings.TrimSpace(notFoundWhat), g.Account)
		// Keep what the provider adds beyond its generic 404 text (the
		// labels that do exist, say).
		if d := pe.Message; d != "" && !genericNotFound(d) {
			msg += " (" + d + ")"
		}
		return &userError{msg}
	case errors.Is(pe.Kind, providers.ErrUnauthorized):
		return userErrorf("%s: %s refused a freshly refreshed access token for %s; call check_account later, or reconnect the account with connect_account", doing, title, g.Account)
	case errors.Is(pe.Kind, providers.ErrForbidden):
		return userErrorf("%s: %s refused access for %s (%s). If the account lacks the needed access, reconnect it with connect_account and the right scopes.", doing, title, g.Account, pe.Message)
	case errors.Is(pe.Kind, providers.ErrRateLimited):
		wait := "a minute"
		if pe.RetryAfter > 0 {
			wait = pe.RetryAfter.Round(time.Second).String()
		}
		return userErrorf("%s: %s is rate-limiting %s; wait %s before trying again", doing, title, g.Account, wait)
	case errors.Is(pe.Kind, providers.ErrInvalid):
		return userErrorf("%s: %s refused the request: %s", doing, title, pe.Message)
	case errors.Is(pe.Kind, providers.ErrTooLarge):
		return userErrorf("%s: %s", doing, pe.Message)
	case errors.Is(pe.Kind, providers.ErrUncertain):
		// pe.Message says what may have happened and how to check (the
		// provider knows whether it was a message or an event).
		return userErrorf("%s: the connection to %s failed after the request may have been carried out (%s). Check before trying again.", doing, title, pe.Message)
	case errors.Is(pe.Kind, providers.ErrInvalidAnswer):
		return userErrorf("%s: %s answered something mailcal cannot read (%s); retrying will not help: report it to mailcal's maintainers", doing, title, pe.Message)
	case errors.Is(pe.Kind, providers.ErrUnavailable):
		return userErrorf("%s: %s is not answering properly right now (%s); try again in a little while", doing, title, pe.Message)
	}
	return userErrorf("%s: %s", doing, pe.Error())
}

func genericNotFound(s string) bool {
	switch strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") {
	case "not found", "requested entity was not found", "notfound":
		return true
	}
	return false
}
