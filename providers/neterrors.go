package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// NetworkError is a request that got no answer from service (a name such
// as "Example Mail"): cancelled, timed out, no connection, or another
// network error, with its cause less the URL's path and query (they may
// carry ids or keys). A failed dial is marked as not sent, so that
// Uncertain leaves it as it is: the request never left.
func NetworkError(err error, service string) error {
	msg := "network error"
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		msg = "the request was cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		msg = "the request timed out"
	case dialFailed(err):
		msg = "could not connect to " + service
	}
	pe := &Error{Kind: ErrUnavailable, Message: fmt.Sprintf("%s (%s)", msg, Redact(ScrubURLError(err).Error()))}
	if dialFailed(err) {
		return &notSentError{pe}
	}
	return pe
}

func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// notSentError is a failure before the request left (a failed dial).
type notSentError struct{ pe *Error }

func (e *notSentError) Error() string { return e.pe.Error() }
func (e *notSentError) Unwrap() error { return e.pe }

// Uncertain is for the mapped error of a request that changes something:
// a failure after which the request may have reached the provider (a 5xx,
// a timeout, a connection lost after sending: ErrUnavailable, not marked
// as not sent) becomes ErrUncertain, with advice on how to check; answers
// that say the request was not processed (4xx, rate limits, a failed dial)
// are returned as they are.
func Uncertain(err error, advice string) error {
	var pe *Error
	var ns *notSentError
	if !errors.As(err, &pe) || !errors.Is(pe.Kind, ErrUnavailable) || errors.As(err, &ns) {
		return err
	}
	msg := pe.Message
	if advice != "" {
		msg += "; " + advice
	}
	return &Error{Kind: ErrUncertain, Status: pe.Status, Message: msg}
}
