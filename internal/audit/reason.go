package audit

import (
	"fmt"
	"strconv"

	"github.com/coffre/coffre/internal/envelope"
)

// reasonLabel binds a sealed reason to the entry's time, as a field name
// binds a field's ciphertext; the data key binds the subject and its
// version ("coffre/field/v1" associated data, package envelope). It
// cannot be a schema field's name (those are [a-z_0-9]).
func reasonLabel(e *Entry) string {
	return "audit/reason/" + strconv.FormatInt(e.Time.UnixMicro(), 10)
}

// SealReason seals e.Reason under dk, the data key of e.Subject, so that
// e's leaf (v2) holds the ciphertext: once the key is erased, the reason
// cannot be read, and the leaf is unchanged. e.Time must be set (it is
// bound). An empty reason is left as it is. The reason stays in e.Reason
// for the caller (it is not part of the leaf).
func SealReason(dk *envelope.DataKey, e *Entry) {
	if e.Reason == "" {
		return
	}
	e.SealedReason, e.ReasonDropped = dk.Seal(reasonLabel(e), []byte(e.Reason)), false
}

// DropReason marks e's reason as given and not kept (leaf v2): for an
// entry naming a subject that has no data key (unknown, or erased),
// whose reason nothing could make unreadable later. An empty reason is
// left as it is.
func DropReason(e *Entry) {
	if e.Reason == "" {
		return
	}
	e.Reason, e.SealedReason, e.ReasonDropped = "", nil, true
}

// OpenReason opens e's sealed reason with dk, the data key of e.Subject,
// into e.Reason. An entry whose reason is not sealed is left as it is.
func OpenReason(dk *envelope.DataKey, e *Entry) error {
	if len(e.SealedReason) == 0 {
		return nil
	}
	pt, err := dk.Open(reasonLabel(e), e.SealedReason)
	if err != nil {
		return fmt.Errorf("reason of entry %d: %w", e.Seq, err)
	}
	e.Reason = string(pt)
	return nil
}

// OpenReasons opens the sealed reasons of es in place, with key, which
// returns the data key of a subject, or nil when it has none any more
// (erased: the reason stays unreadable, [Entry.ReasonErased]). key is
// called once per subject. A reason that does not open under a live key
// (a leaf altered, which audit verify names) stays unreadable too: a
// view shows it as erased rather than fail. Only key's error is
// returned.
func OpenReasons(es []Entry, key func(subject string) (*envelope.DataKey, error)) error {
	keys := map[string]*envelope.DataKey{}
	for i := range es {
		e := &es[i]
		if len(e.SealedReason) == 0 {
			continue
		}
		dk, ok := keys[e.Subject]
		if !ok {
			var err error
			if dk, err = key(e.Subject); err != nil {
				return fmt.Errorf("open reasons: %w", err)
			}
			keys[e.Subject] = dk
		}
		e.Reason = ""
		if dk == nil {
			continue
		}
		_ = OpenReason(dk, e) // on failure e.Reason stays ""
	}
	return nil
}
