// Package public keeps the message an error shows to clients apart from
// its cause, which goes to the log only (as tailscale's util/vizerror).
//
// An [*Error] carries a message chosen where the error is made, an
// optional hint, an optional kind (a sentinel such as access.ErrInvalid,
// still matched with [errors.Is]) and an optional cause. Its Error method
// is for logs: the message and, after it, the cause's text. What a client
// may see is [Message]: the message of the outermost *Error of a chain,
// never the text of the chain.
//
//	return public.Errorf(access.ErrInvalid, "field %q has no lookup index", name) // a field name: public
//	return public.WrapWithMessage(err, "the store is unavailable")             // err's text: log only
package public

import (
	"errors"
	"fmt"
)

// Error is an error with a public face. Build it with [Errorf] or
// [WrapWithMessage]; the zero value is not useful.
type Error struct {
	// Msg is shown to clients.
	Msg string
	// Hint, when set, says what to do about it (also public).
	Hint string
	// Kind is a sentinel the error is matched as with errors.Is (nil:
	// none). Its text is not shown, only Msg is.
	Kind  error
	cause error
}

// Errorf returns an error of kind whose public message is the formatted
// text. Everything formatted into it must be fit for clients: names from
// the configuration or the request, numbers, never stored values or an
// error's text.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// WrapWithMessage wraps cause with a message that is safe to show to
// clients. The cause stays matchable with errors.Is and errors.As, and its
// text appears in Error (for logs) but never in [Message].
func WrapWithMessage(cause error, msg string) *Error {
	return &Error{Msg: msg, cause: cause}
}

// WithHint sets the hint and returns e.
func (e *Error) WithHint(hint string) *Error {
	e.Hint = hint
	return e
}

// Error returns the public message followed by the cause's text: for logs.
func (e *Error) Error() string {
	if e.cause == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.cause.Error()
}

// Unwrap returns the kind and the cause, those that are set.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// As returns the outermost *Error of err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Message returns the public message of err's outermost *Error, or
// fallback when the chain holds none. It never returns err's own text.
func Message(err error, fallback string) string {
	if e, ok := As(err); ok && e.Msg != "" {
		return e.Msg
	}
	return fallback
}

// Hint returns the hint of err's outermost *Error, or fallback when it
// has none.
func Hint(err error, fallback string) string {
	if e, ok := As(err); ok && e.Hint != "" {
		return e.Hint
	}
	return fallback
}
