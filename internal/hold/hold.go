// Package hold is the legal hold on a person (issue 16): while litigation
// or an open case needs a person's record kept, an operator of a role that
// holds the hold permission places a hold on the subject, with a reason;
// while any hold on a subject is in force, the record is neither erased
// (an erasure, or a person's erasure request accepted) nor purged by the
// retention rules. Lifting the hold, with a reason, ends it; the hold's
// row stays, as the record of what was held, by whom and when.
//
// # What is stored
//
// A [Hold] holds ids and dates in clear, so that the vault can tell
// whether a subject is held without opening anyone's record; the reasons
// (the placing one and the lifting one) are sealed under the person's
// data key, as the persons' requests' texts are, so that an erasure once
// the hold is lifted shreds them with the record.
package hold

import (
	"context"
	"strings"
	"time"
)

// Hold is one legal hold on one subject.
type Hold struct {
	// ID is "hold_" and random characters (see ValidID).
	ID      string
	Subject string
	// Reason is why the hold was placed, sealed under the subject's data
	// key.
	Reason   []byte
	PlacedBy string // the operator's id
	Placed   time.Time
	// LiftedBy, Lifted and LiftReason (sealed as Reason) are set once the
	// hold is lifted; a zero Lifted is a hold in force.
	LiftedBy   string
	Lifted     time.Time
	LiftReason []byte
}

// InForce reports whether the hold still holds.
func (h *Hold) InForce() bool { return h.Lifted.IsZero() }

// Store keeps the holds. Methods report the store's ErrNotFound and
// ErrConflict wrapped.
type Store interface {
	// PutHold adds a hold in force; ErrConflict when its id is taken.
	PutHold(ctx context.Context, h *Hold) error
	// GetHold returns one hold; ErrNotFound when there is none of id.
	GetHold(ctx context.Context, id string) (*Hold, error)
	// SubjectHolds returns a subject's holds, in force or lifted, oldest
	// placed first (then by id).
	SubjectHolds(ctx context.Context, subject string) ([]Hold, error)
	// LiftHold lifts hold id at at, by an operator, with a sealed reason:
	// ErrNotFound when there is no such hold, ErrConflict when it is
	// lifted already (nothing changes then).
	LiftHold(ctx context.Context, id, by string, at time.Time, reason []byte) error
	// Held reports whether any hold on subject is in force.
	Held(ctx context.Context, subject string) (bool, error)
}

// Prefix begins every hold id.
const Prefix = "hold_"

// ValidID reports whether s is shaped like a hold id: the prefix and 16
// lowercase letters or digits (what the vault makes; anything else is
// refused before a store sees it).
func ValidID(s string) bool {
	if len(s) != len(Prefix)+16 || !strings.HasPrefix(s, Prefix) {
		return false
	}
	for _, c := range s[len(Prefix):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
