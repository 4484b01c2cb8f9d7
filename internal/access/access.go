// Package access names the outcomes of an access attempt that callers
// branch on with errors.Is and errors.As: refused by the policy, malformed,
// a reason or a fresh second factor missing, the account locked, a budget
// spent. The vault returns them, auth returns some of them, and the HTTP
// API maps each to its status (400, 401, 403, 423, 429). The store's own
// outcomes (not found, conflict, unavailable) are in package store.
package access

import (
	"errors"
	"fmt"
	"time"
)

// Outcomes of an access attempt.
var (
	// ErrForbidden: the role may not declare the purpose, or lacks the
	// permission for the action.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: the input is malformed; the error says which part.
	ErrInvalid = errors.New("invalid input")
	// ErrReasonRequired: the purpose requires a Coffre-Reason.
	ErrReasonRequired = errors.New("reason required")
	// ErrStepUpRequired: the purpose needs a fresh second factor in this
	// session (or a hardware key's).
	ErrStepUpRequired = errors.New("step-up required")
	// ErrLocked: the operator's account is locked; a security officer must
	// unlock it.
	ErrLocked = errors.New("account locked")
	// ErrLimited: a soft limit was reached; see [LimitError].
	ErrLimited = errors.New("limit reached")
	// ErrRestricted: the person's record is restricted (GDPR art. 18):
	// only the roles the policy names reach it until the restriction is
	// lifted.
	ErrRestricted = errors.New("record restricted")
	// ErrBlockedByPerson: the person blocked the actor's unit or partner
	// organisation from their record.
	ErrBlockedByPerson = errors.New("blocked by the person")
)

// FreshFactor is how recent the second factor of an act that gives power
// must be — an account, a role, a partner's credentials, a factor reset, a
// caseload assignment: proved at login or by a step-up within that time,
// so that a stolen session token alone administers nothing.
const FreshFactor = 2 * time.Minute

// LimitError is a soft-limit refusal: retry after RetryAfter, or ask for an
// extension.
type LimitError struct {
	Code       string // the budget: rate, subjects_per_hour, …
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit reached: %s, retry in %s", e.Code, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrLimited) hold.
func (e *LimitError) Unwrap() error { return ErrLimited }
